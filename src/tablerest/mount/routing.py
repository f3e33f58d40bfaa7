"""The URL rules of one mounted API: each resource's collection, item, relation and
relationship routes, its change feed, the batch and the token routes. Every rule goes
through :func:`route`: security headers, ``Vary`` by caller, rate limits."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

from flask import request
from werkzeug.wrappers import Request, Response

from .. import http
from ..auth.service import Auth
from ..calls import Calls
from ..changes.fanout import Feeds
from ..changes.stream import ChangeStream
from ..errors import NotFound, TablerestError
from ..reflect.selection import AUTH_PATH
from ..render.problem import error_response
from ..resource import Resource
from ..routes.batch import Batch
from ..routes.common import POINTERS
from ..routes.endpoint import Endpoint
from .pages import changes_page
from .state import EXTENSION, AppState

__all__ = [
    "SECURITY_HEADERS",
    "handles_errors",
    "mount_auth",
    "mount_batch",
    "mount_resource",
    "private",
    "route",
    "secure",
]

#: OWASP's REST guidance for responses that are data, not pages: no sniffing the type, no
#: framing, no loading anything. (The two pages have their own: http.DOCS_PAGE_CSP and
#: http.CHANGES_PAGE_CSP.)
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
]


def handles_errors(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Turn tablerest errors raised inside a handler into problem responses."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except TablerestError as error:
            environ = request.environ
            return error_response(
                error,
                jsonapi=environ.get(http.JSONAPI_REQUEST, False),
                pointers=environ.get(POINTERS),
            )

    return wrapper


def route(
    state: AppState,
    rule: str,
    name: str,
    view: Callable[..., Response],
    methods: Sequence[str],
    kind: str = "api",
    **options: Any,
) -> None:
    """Add one of the API's URL rules, under its rate limit when there is one."""
    endpoint = f"{EXTENSION}.{name}"
    if state.api.security_headers:
        view = _secured(view)
    if state.api.authenticates:
        view = _per_caller(view)
    # Flask-Limiter files limits under a view's qualified name: each view needs its own.
    view.__name__ = view.__qualname__ = endpoint
    if state.limits is not None:
        view = state.limits.sign_in_route(view) if kind == "sign-in" else state.limits.route(view)
    state.app.add_url_rule(rule, endpoint, view, methods=methods, **options)


def mount_resource(state: AppState, res: Resource) -> None:
    """A resource's operations, endpoint, calls and URL rules on this app."""
    ops = state.registry.add(res)
    ep = state.endpoints[res.name] = Endpoint(ops, state.route_context)
    state.calls[res.name] = Calls(ops, state.registry, ep.writes.decoder, state.prepare_writes)
    base = res.name
    if res.changes:
        _mount_changes(state, ep)
    collection: list[str] = [m for m in ("GET", "POST") if m in res.methods]
    if "PATCH" in res.methods and res.primary_key:
        collection.append("PATCH")  # a bulk update: an array of rows with their keys
    route(state, ep.path, f"{base}.collection", handles_errors(_collection_view(ep)), collection)
    if not res.primary_key:
        return
    item = [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in res.methods]
    if item:
        route(state, f"{ep.path}/<key>", f"{base}.item", handles_errors(_item_view(ep)), item)
    if res.relations and "GET" in res.methods:
        route(
            state,
            f"{ep.path}/<key>/<relation>",
            f"{base}.related",
            handles_errors(lambda key, relation: ep.reads.related(request, key, relation)),
            ["GET"],
        )
        # JSON:API relationship endpoints; changing a to-many one is a 403 there.
        # OPTIONS is answered by the endpoint: the methods differ per relationship.
        route(
            state,
            f"{ep.path}/<key>/relationships/<relation>",
            f"{base}.relationship",
            handles_errors(lambda key, relation: ep.relationship(request, key, relation)),
            ["GET", "PATCH", "POST", "DELETE", "OPTIONS"],
            provide_automatic_options=False,
        )


def _mount_changes(state: AppState, ep: Endpoint) -> None:
    """The resource's writes record events; ``GET <url>/changes`` streams them."""
    res = ep.resource
    api = state.api
    if state.feeds is None:
        feeds = state.feeds = Feeds(api.change_feed, state.db)
        state.app.before_request(feeds.prepare)  # the outbox exists before any write
        state.app.add_url_rule(
            f"{api.settings.prefix}/changes.html",
            f"{EXTENSION}.changes_page",
            lambda: changes_page(state),
            methods=["GET"],
        )
    ep.ops.changes = state.feeds.recorder(res)
    if "GET" in res.methods:
        stream = ChangeStream(res, state.route_context, state.feeds)
        route(
            state,
            f"{ep.path}/changes",
            f"{res.name}.changes",
            handles_errors(lambda: stream.view(request)),
            # Other methods are a 405 here, not a write to a row keyed "changes".
            ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            provide_automatic_options=False,  # the view answers: Allow names GET only
        )


def mount_batch(state: AppState) -> None:
    """``POST {prefix}/batch``."""
    settings = state.api.settings
    batch = Batch(state.endpoints, state.route_context)
    view = handles_errors(lambda: batch.run(request))
    route(state, f"{settings.prefix}/batch", "batch", view, ["POST"])


def mount_auth(state: AppState, auth: Auth) -> None:
    """The token routes: sign in, refresh, sign out, and the caller's own row."""
    settings = state.api.settings
    base = f"{settings.prefix}/{AUTH_PATH}"
    limit = settings.max_body_size
    attempt = state.limits.attempt if state.limits is not None else None
    routes: list[tuple[str, str, Callable[[], Response]]] = [
        ("token", "POST", lambda: auth.token_view(request, state.db, limit, attempt)),
        ("refresh", "POST", lambda: auth.refresh_view(request, state.db, limit)),
        ("logout", "POST", lambda: auth.logout_view(request)),
        ("me", "GET", lambda: _me(state, auth)),
    ]
    for name, method, view in routes:
        kind = "sign-in" if name in ("token", "refresh") else "api"
        route(state, f"{base}/{name}", f"auth.{name}", handles_errors(view), [method], kind)


def _me(state: AppState, auth: Auth) -> Response:
    """The caller's own row of the users resource, whatever its ``read`` permission."""
    identity = auth.me(request)
    ep = state.endpoints.get(auth.users_name)
    if ep is None:
        raise NotFound(f"No resource named {auth.users_name!r} is registered for Auth")
    return ep.reads.own(request, identity.id)


def secure(resp: Response) -> Response:
    resp.headers.extend(SECURITY_HEADERS)
    return resp


def _secured(view: Callable[..., Response]) -> Callable[..., Response]:
    def secured(*args: Any, **kwargs: Any) -> Response:
        return secure(view(*args, **kwargs))

    return secured


def private(resp: Response) -> Response:
    return http.vary_by_caller(resp, "HTTP_AUTHORIZATION" in request.environ)


def _per_caller(view: Callable[..., Response]) -> Callable[..., Response]:
    def per_caller(*args: Any, **kwargs: Any) -> Response:
        return private(view(*args, **kwargs))

    return per_caller


def _current() -> Request:
    """The request being served itself, not Flask's proxy to it: the routes read many of its
    attributes, and each read through the proxy looks the request up again."""
    found: Request = cast(Any, request)._get_current_object()
    return found


def _collection_view(ep: Endpoint) -> Callable[[], Response]:
    def view() -> Response:
        req = _current()
        if req.method == "POST":
            return ep.writes.create(req)
        if req.method == "PATCH":
            return ep.writes.update_many(req)
        return ep.reads.list_rows(req)

    return view


def _item_view(ep: Endpoint) -> Callable[[str], Response]:
    handlers: dict[str, Callable[[Request, str], Response]] = {
        "GET": ep.reads.read,
        "HEAD": ep.reads.read,
        "PUT": ep.writes.replace,
        "PATCH": ep.writes.update,
        "DELETE": ep.writes.delete,
    }

    def view(key: str) -> Response:
        req = _current()
        return handlers[req.method](req, key)

    return view
