"""What runs around every request to a mounted API: the ``Host`` and cross-site checks before
any view, problem answers to routing errors under the prefix, and the choice of a read
replica (read-your-writes). CORS is :mod:`.cors`."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .. import http
from ..errors import (
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFound,
    TablerestError,
    TooManyRequests,
)
from ..execute.store import replica_reads
from ..render.problem import error_response
from . import hooks
from .routing import private, secure
from .scoped import RequestScoped
from .state import AppState

__all__ = [
    "WROTE_COOKIE",
    "check_origin",
    "http_problem",
    "install_error_handler",
    "install_options_headers",
    "install_origin_check",
    "route_reads",
]

ErrorHandler = Callable[[Any], Any]
#: Set on the answer to a write: its client reads from the primary for a while after.
WROTE_COOKIE = "tablerest_wrote"


def _under(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def install_origin_check(state: AppState, app: Flask) -> None:
    """:func:`check_origin` before every request."""
    hooks.before(app, lambda req: check_origin(state, req))


def install_options_headers(state: AppState, app: Flask) -> None:
    """The security headers on Flask's automatic answers to ``OPTIONS`` under the prefix,
    which no view of the API makes (those that answer ``OPTIONS`` themselves have them)."""
    if not state.api.security_headers:
        return
    prefix = state.api.settings.prefix

    def options(req: Request, resp: Response) -> Response:
        if (
            req.method == "OPTIONS"
            and _under(prefix, req.path)
            and "X-Content-Type-Options" not in resp.headers
        ):
            secure(resp)
        return resp

    hooks.after(app, options)


def check_origin(state: AppState, request: Request) -> Response | None:
    """Refuse, before any view runs, a request for a ``Host`` the API does not answer to
    (DNS rebinding: 400) and a write sent by another site's page when those are not
    allowed (403). Paths outside the prefix are the app's own business."""
    api = state.api
    if not _under(api.settings.prefix, request.path):
        return None
    error: TablerestError | None = None
    host = request.environ.get("HTTP_HOST")
    if api.allowed_hosts is not None and not api.allowed_hosts.allows(host, request.scheme):
        error = BadRequest(
            f"Host {host!r} is not a name this API answers to"
            if host
            else "The request has no Host header"
        )
    elif request.method in http.UNSAFE_METHODS and (
        api.cross_site_writes is False or (api.cross_site_writes is None and not api.authenticates)
    ):
        origin = http.cross_site(request)
        if origin is not None and not state.cors_allows(origin):
            why = (
                "this API takes writes from its own pages only"
                if api.authenticates
                else "this API has no authentication, so any page the browser shows "
                "could change its data"
            )
            error = Forbidden(f"A write from another site's page ({origin}) is refused: {why}")
    return None if error is None else early_problem(state, error, request)


def early_problem(state: AppState, error: TablerestError, request: Request) -> Response:
    """The answer to an error found before any view ran (routing, Host, origin), written by
    the API's error renderer: no resource is known yet."""
    # Before negotiation: a client that named JSON:API anywhere gets a JSON:API document.
    named = request.headers.get("Accept", "") + request.headers.get("Content-Type", "")
    resp = error_response(error, jsonapi=http.JSONAPI in named, renderer=state.api.error_renderer)
    if state.api.authenticates:
        resp = private(request, resp)
    return secure(resp) if state.api.security_headers else resp


def install_error_handler(state: AppState, app: Flask) -> None:
    """Problem responses for HTTP errors under the prefix (404, 405, 500, ...).

    Routing errors happen before any view runs, so this is an app-level handler; it only
    answers for paths under the API prefix and leaves every other path to the handler the
    app had before (or Flask's default).
    """
    previous: ErrorHandler | None = app.error_handler_spec[None][None].get(HTTPException)
    prefix = state.api.settings.prefix

    def handle(req: Request, exc: HTTPException) -> Any:
        if _under(prefix, req.path):
            return http_problem(state, req, exc)
        if previous is not None:
            return previous(exc)
        return exc

    if previous is None:
        hooks.error_handler(app, HTTPException, handle)
    else:  # an application's handler, called as Flask calls it (not on the lean path)
        app.register_error_handler(HTTPException, lambda exc: handle(hooks.current(), exc))
    # tablerest's errors raised in the app's own routes (or its before_request hooks)
    # answer as they do in generated routes.
    renderer = state.api.error_renderer
    hooks.error_handler(
        app, TablerestError, lambda _req, exc: error_response(exc, jsonapi=False, renderer=renderer)
    )


def http_problem(state: AppState, req: Request, exc: HTTPException) -> Response:
    """The answer, under the prefix, to werkzeug's HTTP errors (routing, a body too large,
    and the 500 that stands for any unexpected error)."""
    return early_problem(state, _from_http(exc), req)


def route_reads(app: Flask, window: float) -> None:
    """Per request, whether reads may go to a replica: GET and HEAD may, unless the client
    wrote within ``window`` seconds (read-your-writes; the cookie says when)."""
    replica = RequestScoped(app, replica_reads)

    def choose(request: Request) -> None:
        allowed = request.method in ("GET", "HEAD")
        wrote = request.cookies.get(WROTE_COOKIE)
        if allowed and wrote:
            with contextlib.suppress(ValueError):  # not ours: ignore it
                allowed = time.time() - float(wrote) >= window
        replica.set(request, allowed)

    def mark(request: Request, resp: Response) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS") and resp.status_code < 400:
            resp.set_cookie(
                WROTE_COOKIE,
                f"{time.time():.3f}",
                max_age=math.ceil(window),
                httponly=True,
                samesite="Lax",
            )
        return resp

    hooks.before(app, choose)
    hooks.after(app, mark)


def _from_http(exc: HTTPException) -> TablerestError:
    code = exc.code or 500
    if code == 404:
        return NotFound("No such resource or route")
    if code == 405:
        allowed = [m for m in (getattr(exc, "valid_methods", None) or []) if m]
        return MethodNotAllowed(allowed)
    if code == 429:  # Flask-Limiter's; its after_request hook adds Retry-After
        return TooManyRequests(f"Rate limit exceeded: {exc.description}")
    if code >= 500:
        return InternalError()
    err = TablerestError(exc.description)
    err.status, err.title = code, exc.name
    err.code = exc.name.lower().replace(" ", "-")
    return err
