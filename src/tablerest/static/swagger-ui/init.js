// Starts Swagger UI on the page that includes this file; the document's URL is in the
// data-spec attribute of #swagger-ui (no inline script, so a strict CSP can apply).

// A change feed (text/event-stream) stays open for minutes: Try it out on one shows the
// events that arrive in its first seconds, then stops listening (changes.html follows a
// feed live). Swagger UI would otherwise wait for the end of the stream.
var STREAM_SAMPLE_MS = 3000;

function sampleStream(url, init) {
  return fetch(url, init).then(function (res) {
    var type = res.headers.get("Content-Type") || "";
    if (!res.body || type.indexOf("text/event-stream") !== 0) {
      return res;
    }
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var text = "";
    var timer;
    var elapsed = new Promise(function (resolve) {
      timer = setTimeout(function () { resolve({ done: true }); }, STREAM_SAMPLE_MS);
    });
    function pump() {
      return Promise.race([reader.read(), elapsed]).then(function (chunk) {
        if (chunk.done) {
          clearTimeout(timer);
          reader.cancel();
          return text;
        }
        text += decoder.decode(chunk.value, { stream: true });
        return pump();
      });
    }
    return pump().then(function (body) {
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    });
  });
}

function streamSampler(req) {
  var headers = req.headers || {};
  var accept = headers.Accept || headers.accept || "";
  if (accept.indexOf("text/event-stream") !== -1) {
    req.userFetch = sampleStream; // swagger-client fetches with it instead of fetch
  }
  return req;
}

window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // no badge from validator.swagger.io: the page loads nothing remote
    requestInterceptor: streamSampler,
  });
});
