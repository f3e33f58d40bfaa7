"""The lean path: tablerest's own routes served without Flask's request machinery.

:func:`install` puts :class:`LeanApp` in front of an app's ``wsgi_app`` (``tablerest serve``'s
database-first app does). For a request to one of tablerest's URL rules it runs exactly what
Flask would run for it: the same hooks in the same order (each a function of the request,
:mod:`tablerest.mount.hooks`), the rule's handler, the same error handlers, the same teardown;
it leaves out what such a request does not use: pushing an app and a request context, opening
a session, looking the request up through proxies, sending signals nobody receives. That is a
third of a read's Python calls. Routing is Flask's own: the app's URL map.

Everything else goes to Flask, unchanged:

- for the whole app, decided at its first request (Flask takes no hooks or rules after it):
  any hook, error handler, blueprint, URL value preprocessor or app-context teardown that is
  not tablerest's (flask-cors, an application's own, a Flask-Limiter of one's own), rate
  limits on every route (``RateLimits(anonymous=..., user=...)``), a ``Flask`` subclass, debug
  mode, trapped HTTP errors, ``TRUSTED_HOSTS``, ``SERVER_NAME``, host or subdomain matching, a
  session interface of one's own;
- per request: ``OPTIONS`` (Flask's automatic answer), any write when sign-ins and sign-ups
  are rate-limited (a write may create a user row: Flask-Limiter counts it), an ``Upgrade``
  request, a path the URL map does not match or redirects (Flask answers 404, 405, 308), an
  endpoint that is not a tablerest view (the docs page, probes, metrics, an application's
  routes, or a view someone wrapped), a receiver on any of Flask's request signals, a test
  client that keeps the request context.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, signals
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import MapAdapter, Rule
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Request, Response

from . import hooks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["LeanApp", "install"]

#: Flask's signals around a request: with a receiver on any, Flask serves (it sends them).
_SIGNALS = (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
    signals.appcontext_pushed,
    signals.appcontext_popped,
    signals.appcontext_tearing_down,
)
_PRESERVE = "werkzeug.debug.preserve_context"
_READS = frozenset({"GET", "HEAD"})


def install(app: Flask) -> LeanApp:
    """Put the lean path in front of ``app``: ``app.wsgi_app`` becomes a :class:`LeanApp` that
    hands Flask whatever it does not serve itself."""
    lean = LeanApp(app)
    app.wsgi_app = lean  # type: ignore[method-assign]
    return lean


@dataclass(frozen=True)
class _Plan:
    """What the lean path runs for the app, in Flask's order."""

    urls: MapAdapter
    views: dict[str, Callable[..., Response]]
    before: list[Callable[[Request], Response | None]]
    after: list[Callable[[Request, Response], Response]]  # reversed, as Flask runs them
    teardown: list[Callable[[Request, BaseException | None], None]]  # reversed too
    errors: dict[type[Exception], Callable[[Request, Any], Any]]
    propagate: bool
    #: Only GET and HEAD: the app counts sign-ins and sign-ups (Flask-Limiter, which needs
    #: Flask's request context), and any write may create a user row.
    reads_only: bool


class LeanApp:
    """``app``'s WSGI callable with the lean path in front (see the module's documentation).

    ``flask_reason`` says, once the app has served its first request, why Flask serves every
    request (None when the lean path is on)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask = app.wsgi_app  # Flask's own, for everything the lean path leaves to it
        self.flask_reason: str | None = None
        self._plan: _Plan | None = None
        self._prepared = False
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        plan = self._plan if self._prepared else self._prepare()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if (
            plan is None
            or method == "OPTIONS"
            or (plan.reads_only and method not in _READS)
            or "HTTP_UPGRADE" in environ  # Flask matches websocket requests apart
            or _PRESERVE in environ
            or _signalled()
        ):
            return self.flask(environ, start_response)
        # As Flask matches: the path as WSGI carries it (latin-1), read as UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode(errors="replace")
        try:
            rule, args = plan.urls.match(path, method, return_rule=True)
        except HTTPException:  # not found, wrong method, a redirect: Flask answers
            return self.flask(environ, start_response)
        view = plan.views.get(rule.endpoint)
        if view is None:
            return self.flask(environ, start_response)
        return self._serve(plan, environ, start_response, rule, args, view)

    def _serve(
        self,
        plan: _Plan,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        rule: Rule,
        args: Mapping[str, Any],
        view: Callable[..., Response],
    ) -> Iterable[bytes]:
        app = self.app
        req = app.request_class(environ)
        req.json_module = app.json
        req.url_rule, req.view_args = rule, cast("dict[str, Any]", args)
        error: BaseException | None = None
        try:
            try:
                resp = self._dispatch(plan, req, view, args)
            except Exception as exc:  # as Flask's handle_exception
                error = exc
                if plan.propagate:
                    raise
                app.logger.error(f"Exception on {req.path} [{req.method}]", exc_info=exc)
                server_error = InternalServerError(original_exception=exc)
                answer = self._handled(plan, req, server_error)
                if answer is None:
                    answer = server_error.get_response(environ)
                resp = self._finalize(plan, req, answer, from_error_handler=True)
            except BaseException as exc:  # an exit or interrupt: teardown hears of it, as on Flask
                error = exc
                raise
            plain = _as_is(resp, method=req.method)
            if plain is not None:
                start_response(resp.status, plain[0])
                return plain[1]
            body = resp(environ, start_response)
            if resp.is_streamed:
                return body
            # A body already in memory, as one bytes in a list: a server writes it in one go
            # (granian's fast path) instead of pulling chunks through an iterator.
            try:
                return [b"".join(body)]
            finally:
                getattr(body, "close", lambda: None)()
        finally:
            for fn in plan.teardown:
                fn(req, error)
            req.close()
            environ["werkzeug.request"] = None  # as Flask: no cycle left for the GC

    def _dispatch(
        self, plan: _Plan, req: Request, view: Callable[..., Response], args: Mapping[str, Any]
    ) -> Response:
        """As Flask's ``full_dispatch_request``."""
        try:
            resp = None
            for fn in plan.before:
                resp = fn(req)
                if resp is not None:
                    break
            else:
                resp = view(req, **args)
        except Exception as exc:  # as Flask's handle_user_exception: no handler, a 500
            resp = self._handled(plan, req, exc)
            if resp is None:
                raise
        return self._finalize(plan, req, resp)

    def _handled(self, plan: _Plan, req: Request, exc: Exception) -> Response | None:
        """The answer of the app's handler for ``exc`` (None: it has none)."""
        handler = next((plan.errors[c] for c in type(exc).__mro__ if c in plan.errors), None)
        if handler is None:
            return None
        answer = handler(req, exc)
        if isinstance(answer, HTTPException):  # a handler may hand the error back
            answer = answer.get_response(req.environ)
        if not isinstance(answer, Response):
            raise TypeError(f"an error handler answered {type(answer).__name__}")
        return answer

    def _finalize(
        self, plan: _Plan, req: Request, resp: Response, from_error_handler: bool = False
    ) -> Response:
        try:
            for fn in plan.after:
                resp = fn(req, resp)
        except Exception:
            if not from_error_handler:
                raise
            self.app.logger.exception(
                "Request finalizing failed with an error while handling an error"
            )
        return resp

    def _prepare(self) -> _Plan | None:
        with self._lock:
            if not self._prepared:
                self.flask_reason = _flask_needed(self.app)
                if self.flask_reason is None:
                    self._plan = _plan(self.app)
                    # As Flask's first request does: no more hooks or rules from now on.
                    self.app._got_first_request = True
                else:
                    logging.getLogger(__name__).debug("lean path off: %s", self.flask_reason)
                self._prepared = True
        return self._plan


def _as_is(resp: Response, *, method: str) -> tuple[list[tuple[str, str]], list[bytes]] | None:
    """The header list and body Werkzeug would send for ``resp``, when they are simply its
    own; None for anything else, which goes through ``Response.__call__``.

    ``Response.__call__`` copies the headers to rewrite a few (IRIs in ``Location`` and
    ``Content-Location``, ``Content-Length`` for bodiless statuses and buffered bodies without
    one) and wraps the body in an iterator that closes the response. For a buffered body of one
    bytes with its ``Content-Length``, to anything but HEAD, with a status that has a body, only
    the IRIs change (rewritten here as Werkzeug does). That is most answers of a JSON API, and
    the copy and iterator cost about as much as the rest of Werkzeug's work on the response.
    """
    body = resp.response
    if (
        method == "HEAD"
        or not (200 <= resp.status_code < 300 or 400 <= resp.status_code < 600)
        or resp.status_code == 204
        or resp.direct_passthrough
        or type(body) is not list
        or len(body) != 1
        or type(body[0]) is not bytes
    ):
        return None
    headers = resp.headers.to_wsgi_list()
    length = None
    for i, (key, value) in enumerate(headers):
        lowered = key.lower()
        if lowered == "content-length":
            length = value
        elif lowered in _REWRITTEN:
            if resp.autocorrect_location_header:
                return None
            headers[i] = (_REWRITTEN[lowered], iri_to_uri(value))
    if length is None:
        return None
    resp.close()  # as the iterator Werkzeug wraps the body in does at its end
    return headers, body


#: Headers ``Response.get_wsgi_headers`` rewrites (IRI to URI), by their lowercase names.
_REWRITTEN = {"location": "Location", "content-location": "Content-Location"}


def _signalled() -> bool:
    started, finished, tearing_down, exception, pushed, popped, app_down = _SIGNALS
    return bool(
        started.receivers
        or finished.receivers
        or tearing_down.receivers
        or exception.receivers
        or pushed.receivers
        or popped.receivers
        or app_down.receivers
    )


def _flask_needed(app: Flask) -> str | None:
    """Why Flask must serve every request of ``app`` (None: the lean path may serve)."""
    config = app.config
    if type(app) is not Flask:
        return "the app is a Flask subclass"
    if app.debug or config["TRAP_HTTP_EXCEPTIONS"] or config["TRAP_BAD_REQUEST_ERRORS"]:
        return "debug mode or trapped HTTP errors"
    if config["TRUSTED_HOSTS"] is not None or config["SERVER_NAME"] is not None:
        return "TRUSTED_HOSTS or SERVER_NAME is set"
    if app.url_map.host_matching or app.subdomain_matching:
        return "host or subdomain matching"
    if app.blueprints or app.url_value_preprocessors or app.teardown_appcontext_funcs:
        return "blueprints, URL value preprocessors or app-context teardowns"
    if type(app.session_interface) is not SecureCookieSessionInterface:
        return "a session interface of its own"
    limiters = _limiters(app)
    if limiters is None:
        return "rate limits on every route"
    for name, registry in (
        ("before_request", app.before_request_funcs),
        ("after_request", app.after_request_funcs),
        ("teardown_request", app.teardown_request_funcs),
    ):
        funcs: dict[Any, list[Callable[..., Any]]] = dict(registry)
        if set(funcs) - {None} or not all(_ours(f, limiters) for f in funcs.get(None, [])):
            return f"a {name} hook that is not tablerest's"
    spec: dict[Any, dict[Any, dict[Any, Any]]] = {
        k: dict(v) for k, v in app.error_handler_spec.items()
    }
    if set(spec) - {None} or set(spec.get(None, {})) - {None}:
        return "error handlers by blueprint or status code"
    if any(hooks.of_request(h) is None for h in spec.get(None, {}).get(None, {}).values()):
        return "an error handler that is not tablerest's"
    return None


def _limiters(app: Flask) -> list[Any] | None:
    """The Flask-Limiter of each of the app's tablerest APIs that has one; None when one
    limits every route (a budget per caller), which only Flask's dispatch can count."""
    found = []
    for state in app.extensions.get("tablerest", {}).values():
        limiter = getattr(state, "limits", None)
        if limiter is None:
            continue
        if limiter.limits.anonymous is not None or limiter.limits.user is not None:
            return None
        found.append(limiter.limiter)
    return found


def _ours(hook: Callable[..., Any], limiters: list[Any]) -> bool:
    """Whether ``hook`` is tablerest's: one of its own, or a hook of the Flask-Limiter it
    installed for sign-in and sign-up limits. Those hooks check and report the limits of the
    views they decorate (sign-in: never a lean view) and do nothing for any other request;
    sign-ups are counted by writes, which go to Flask (``_Plan.reads_only``)."""
    if hooks.of_request(hook) is not None:
        return True
    owner = hook.args[0] if isinstance(hook, functools.partial) and hook.args else None
    owner = getattr(hook, "__self__", owner)
    return any(owner is limiter for limiter in limiters)


def _plan(app: Flask) -> _Plan:
    limiters = _limiters(app) or []
    views = {}
    for endpoint, view in app.view_functions.items():
        fn = hooks.of_request(view)
        if fn is not None:
            views[endpoint] = fn
    before = _own(app.before_request_funcs.get(None, []))
    after = _own(app.after_request_funcs.get(None, []))
    teardown = _own(app.teardown_request_funcs.get(None, []))
    errors = app.error_handler_spec.get(None, {}).get(None, {})
    propagate = app.config["PROPAGATE_EXCEPTIONS"]
    return _Plan(
        # Matching reads the bound adapter and never changes it: one serves every thread.
        urls=app.url_map.bind("localhost", subdomain=app.url_map.default_subdomain or ""),
        views=views,
        before=[_fn(f) for f in before],
        after=[_fn(f) for f in reversed(after)],
        teardown=[_fn(f) for f in reversed(teardown)],
        errors={cls: _fn(h) for cls, h in errors.items()},
        propagate=bool(app.testing or app.debug) if propagate is None else bool(propagate),
        reads_only=bool(limiters),
    )


def _own(funcs: list[Callable[..., Any]]) -> list[Callable[..., Any]]:
    """tablerest's own hooks (of the request) among ``funcs``, leaving out Flask-Limiter's."""
    return [f for f in funcs if hooks.of_request(f) is not None]


def _fn(adapter: Callable[..., Any]) -> Callable[..., Any]:
    fn = hooks.of_request(adapter)
    assert fn is not None  # checked by _flask_needed
    return fn
