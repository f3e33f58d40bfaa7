"""CORS for the API's routes (``Api(cors=...)``, ``tablerest serve --cors ORIGIN``, whose
origins :func:`tablerest.http.cors_for_origins` reads): flask-cors decides, tablerest's own
hook applies its answer.

flask-cors works out the headers from its options (origins, methods, preflights, ``Vary``);
the hook that adds them to every response under the prefix is tablerest's (a function of the
request, :mod:`.hooks`), not flask-cors's ``after_request``, so that the lean path stays on
(:mod:`.lean` hands an app with anyone else's hook to Flask whole) and both paths answer the
same. The hook sees every answer: a view's, an error's (404, 405, 422, a 500), an early
refusal's (Host, origin) and Flask's automatic ``OPTIONS``, which preflights get.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.wrappers import Request, Response

from . import hooks
from .state import AppState

__all__ = ["CORS_ALLOWED", "CORS_EXPOSED", "install_cors"]

#: What browsers may read across origins: the paging, caching and rate-limit headers.
CORS_EXPOSED = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
#: What pages of other origins may send.
CORS_ALLOWED = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Accept"]


def install_cors(state: AppState, app: Flask) -> None:
    """CORS for the API's routes, when ``Api(cors=...)`` asks for it."""
    cors = state.api.cors
    if cors is None or cors is False:
        return
    from flask_cors.core import ACL_ORIGIN, get_cors_headers, get_cors_options, get_cors_origins

    # True: any origin, as "*" (which browsers never pair with credentials).
    options: dict[str, Any] = {"send_wildcard": True} if cors is True else dict(cors)
    options.setdefault("expose_headers", CORS_EXPOSED)
    options.setdefault("allow_headers", CORS_ALLOWED)
    options.setdefault("max_age", 600)
    computed = get_cors_options(app, options)
    prefix = state.api.settings.prefix

    def add(request: Request, resp: Response) -> Response:
        path = request.path
        if not (path == prefix or path.startswith(prefix + "/")):
            return resp  # the app's own routes: its business
        if ACL_ORIGIN in resp.headers:  # set by a view itself (flask-cors does the same)
            return resp
        headers: Mapping[str, Any] = get_cors_headers(computed, request.headers, request.method)
        for name, value in headers.items():
            resp.headers.add(name, value)
        return resp

    hooks.after(app, add)

    def allows(origin: str) -> bool:
        """Whether a page of ``origin`` may read the API (so write too: see check_origin)."""
        return get_cors_origins(computed, origin) is not None

    state.cors_allows = allows
