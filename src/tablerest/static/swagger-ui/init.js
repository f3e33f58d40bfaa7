// Starts Swagger UI on the page that includes this file; the document's URL is in the
// data-spec attribute of #swagger-ui (no inline script, so a strict CSP can apply).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // no badge from validator.swagger.io: the page loads nothing remote
  });
});
