"""The Flask side of the extension: one ``Api`` mounted on one app.

- ``state``: what an app holds for an ``Api`` (database, registry, endpoints, feeds).
- ``routing``: the URL rules of the resources, the batch and the token routes.
- ``pages``: the index, the OpenAPI document, the docs and change-feed pages.
- ``guards``: what runs around every request (Host and origin checks, problem answers
  to routing errors, replica routing); ``cors``: CORS headers (flask-cors's answer).
- ``observe``: what ``Observability`` adds to the whole app (health probes, request ids,
  metrics, access logs); ``ratelimit``: what ``RateLimits`` adds (Flask-Limiter on the API's
  routes).
- ``scoped``: context variables set for one request, for the store (which has no Flask).
"""
