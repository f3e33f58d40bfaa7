"""The URL rules of one mounted API: each resource's collection, item, relation and
relationship routes, its change feed, the batch and the token routes. Every rule goes
through :func:`route`: security headers, ``Vary`` by caller, rate limits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .. import http
from ..auth.access import Access
from ..calls import Calls
from ..envelopes import pointed
from ..errors import Conflict, MethodNotAllowed, NotFound, TablerestError
from ..render.problem import error_response, renderer_of
from ..resource import Resource
from ..routes.common import POINTERS
from ..routes.endpoint import Endpoint
from ..routes.nested import collection as nested_collection
from ..routes.nested import item as nested_item
from ..routes.toggles import handle as handle_toggle
from . import hooks
from .pages import changes_page
from .state import EXTENSION, AppState

if TYPE_CHECKING:
    from ..auth.service import Auth
    from ..nests import Nest
    from ..routes.batch import Batch
    from ..toggles import Toggle

__all__ = [
    "SECURITY_HEADERS",
    "mount_auth",
    "mount_batch",
    "mount_nest",
    "mount_resource",
    "mount_toggle",
    "private",
    "route",
    "secure",
    "settled",
]

#: OWASP's REST guidance for responses that are data, not pages: no sniffing the type, no
#: framing, no loading anything. (The two pages have their own: http.DOCS_PAGE_CSP and
#: http.CHANGES_PAGE_CSP.)
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
]


def route(
    state: AppState,
    rule: str,
    name: str,
    handler: Callable[..., Response],
    methods: Sequence[str],
    kind: str = "api",
    resource: Resource | None = None,
    **options: Any,
) -> None:
    """Add one of the API's URL rules, under its rate limit when there is one.

    ``handler`` takes the request and the rule's arguments; tablerest's errors it raises
    answer as problem documents. Flask's view for the rule calls it with Flask's request; the
    lean path calls it itself.

    A trailing slash is answered as if it were not there (``/api/books/``, ``/api/books/1/``):
    some clients (jsonapi-requests) add one to every URL. Answered, not redirected: a 308
    costs a round trip and some clients drop a redirected body or method. No rule ends with a
    slash and no key or relation name is empty, so no URL can mean two routes.

    Errors are written by ``resource``'s error renderer, else the API's."""
    endpoint = f"{EXTENSION}.{name}"
    options.setdefault("strict_slashes", False)
    # Flask-Limiter files limits under a view's qualified name: each view needs its own.
    view = hooks.view(_answering(state, handler, resource), endpoint)
    if state.limits is not None:
        view = state.limits.sign_in_route(view) if kind == "sign-in" else state.limits.route(view)
    state.app.add_url_rule(rule, endpoint, view, methods=methods, **options)


def _answering(
    state: AppState, handler: Callable[..., Response], resource: Resource | None
) -> Callable[..., Response]:
    """``handler`` with its errors answered as problems (or the renderer's documents), the
    security headers, and ``Vary`` by caller when requests can carry one."""
    secured = state.api.security_headers
    per_caller = state.api.authenticates
    own = renderer_of(resource.error_renderer) if resource is not None else None
    renderer = own or state.api.error_renderer

    def answered(req: Request, **args: Any) -> Response:
        try:
            resp = handler(req, **args)
        except TablerestError as error:
            environ = req.environ
            resp = error_response(
                settled(state, error),
                jsonapi=environ.get(http.JSONAPI_REQUEST, False),
                pointers=environ.get(POINTERS),
                renderer=renderer,
            )
        if secured:
            resp = secure(resp)
        return private(req, resp) if per_caller else resp

    return answered


def settled(state: AppState, error: TablerestError) -> TablerestError:
    """``error`` as the API answers it: a taken unique value is a 422 where the resource
    whose key it is (or else the API) says ``unique_violation="validation"``."""
    if not isinstance(error, Conflict) or error.taken is None:
        return error
    res = state.registry.by_name(error.taken)
    mode = (res.unique_violation if res is not None else None) or state.api.unique_violation
    return error.as_validation() if mode == "validation" else error


def mount_resource(state: AppState, res: Resource) -> None:
    """A resource's operations, endpoint, calls and URL rules on this app."""
    ops = state.registry.add(res)
    ep = state.endpoints[res.name] = Endpoint(ops, state.route_context)
    auth = state.api.auth
    if auth is not None and auth.token_field and res.name == auth.users_name:
        ep.writes.signed_up = _signed_up(state, auth)  # a sign-up answers with a token
    state.calls[res.name] = Calls(ops, state.registry, ep.writes.decoder, state.prepare_writes)
    base = res.name
    if res.changes:
        _mount_changes(state, ep)
    collection: list[str] = [m for m in ("GET", "POST") if m in res.methods]
    if "PATCH" in res.methods and res.primary_key:
        collection.append("PATCH")  # a bulk update: an array of rows with their keys
    route(state, ep.path, f"{base}.collection", _collection_handler(ep), collection, resource=res)
    if not res.primary_key:
        return
    item = [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in res.methods]
    if item:
        route(state, f"{ep.path}/<key>", f"{base}.item", _item_handler(ep), item, resource=res)
    if res.relations and "GET" in res.methods:
        route(
            state,
            f"{ep.path}/<key>/<relation>",
            f"{base}.related",
            lambda req, key, relation: ep.reads.related(req, key, relation),
            ["GET"],
            resource=res,
        )
        # JSON:API relationship endpoints; changing a to-many one is a 403 there.
        # OPTIONS is answered by the endpoint: the methods differ per relationship.
        route(
            state,
            f"{ep.path}/<key>/relationships/<relation>",
            f"{base}.relationship",
            lambda req, key, relation: ep.relationship(req, key, relation),
            ["GET", "PATCH", "POST", "DELETE", "OPTIONS"],
            resource=res,
            provide_automatic_options=False,
        )


def _mount_changes(state: AppState, ep: Endpoint) -> None:
    """The resource's writes record events; ``GET <url>/changes`` streams them."""
    # Imported by the first resource with the feed on: an app without it never loads them.
    from ..changes.fanout import Feeds
    from ..changes.stream import ChangeStream

    res = ep.resource
    api = state.api
    if state.feeds is None:
        feeds = state.feeds = Feeds(api.change_feed, state.db)
        hooks.before(state.app, lambda _req: feeds.prepare())  # the outbox, before any write
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
            stream.view,
            # Other methods are a 405 here, not a write to a row keyed "changes".
            ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            resource=res,
            provide_automatic_options=False,  # the view answers: Allow names GET only
        )


def mount_batch(state: AppState) -> None:
    """``POST {prefix}/batch``.

    Its runner (routes.batch) is imported and built by the first batch request, once: the
    batch is on by default, few clients send one, and every serve worker would hold it."""
    settings = state.api.settings
    runner: list[Batch] = []

    def run(req: Request) -> Response:
        if not runner:
            from ..routes.batch import Batch

            runner.append(Batch(state.endpoints, state.route_context))  # a race builds two
        return runner[0].run(req)

    route(state, f"{settings.prefix}/batch", "batch", run, ["POST"])


def mount_auth(state: AppState, auth: Auth) -> None:
    """The token routes: sign in, refresh, sign out, and the caller's own row (read, and
    changed when the users resource takes PUT or PATCH), at ``Auth(paths=...)``."""
    prefix = state.api.settings.prefix
    routes: list[tuple[str, list[str], Callable[[Request], Response]]] = [
        ("token", ["POST"], lambda req: _sign_in(state, auth, req)),
        ("refresh", ["POST"], lambda req: auth.refresh_view(req, state.db, _limit(state))),
        ("logout", ["POST"], auth.logout_view),
        ("me", ["GET", "PUT", "PATCH"], lambda req: _me(state, auth, req)),
    ]
    for name, methods, handler in routes:
        kind = "sign-in" if name in ("token", "refresh") else "api"
        route(state, prefix + auth.paths[name], f"auth.{name}", handler, methods, kind)


def mount_toggle(state: AppState, toggle: Toggle) -> None:
    """``POST`` and ``DELETE {prefix}/{on}/{key}/{name}``: the caller's link, made or removed."""
    rule = f"{state.api.settings.prefix}/{toggle.on.path}/<key>/{toggle.name}"

    def handler(req: Request, key: str) -> Response:
        target = state.endpoints[toggle.on.name]
        return handle_toggle(toggle, req, key, target, state.calls[toggle.through.name])

    name = f"{toggle.on.name}.toggle.{toggle.name}"
    route(state, rule, name, handler, ["POST", "DELETE"], resource=toggle.on)


def mount_nest(state: AppState, nest: Nest) -> None:
    """The child's rows under a parent row: ``{parent}/<key>/{step}`` (GET, POST) and
    ``{parent}/<key>/{step}/<child_key>`` (the child's item methods)."""
    base = f"{state.api.settings.prefix}/{nest.parent.path}/<key>/{nest.step}"
    name = f"{nest.parent.name}.nest.{nest.step}"

    def endpoints() -> tuple[Endpoint, Endpoint]:
        return state.endpoints[nest.parent.name], state.endpoints[nest.child.name]

    def listed(req: Request, key: str) -> Response:
        return nested_collection(nest, req, key, *endpoints())

    def one(req: Request, key: str, child_key: str) -> Response:
        return nested_item(nest, req, key, child_key, *endpoints())

    methods = [m for m in ("GET", "POST") if m in nest.child.methods]
    route(state, base, f"{name}.collection", listed, methods, resource=nest.child)
    item = [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in nest.child.methods]
    route(state, f"{base}/<child_key>", f"{name}.item", one, item, resource=nest.child)


def _limit(state: AppState) -> int:
    return state.api.settings.max_body_size


def _users(state: AppState, auth: Auth) -> Endpoint:
    ep = state.endpoints.get(auth.users_name)
    if ep is None:
        raise NotFound(f"No resource named {auth.users_name!r} is registered for Auth")
    return ep


def _sign_in(state: AppState, auth: Auth, request: Request) -> Response:
    """A token pair for the credentials; with ``Auth(token_field=...)``, the user's row
    (in its envelope) with the access token in that field."""
    # Imported here, as tablerest.auth is: an API without Auth never loads it.
    from ..auth.views import credentials, login_of, token_response

    users = auth.users
    envelope = users.envelope if users is not None and auth.token_field else None
    attempt = state.limits.attempt if state.limits is not None else None
    fields = credentials(request, _limit(state), envelope)
    # A form's fields are never enveloped (nor pointed into): only a JSON body is.
    enveloped = request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data")
    try:
        login, named = login_of(fields, auth.login_fields)
        tokens = auth.sign_in(state.db, login, fields["password"], attempt, field=named)
    except TablerestError as exc:
        if envelope is None or not enveloped:
            raise
        raise pointed(envelope, exc, False) from None
    if auth.token_field is None:
        return token_response(tokens)
    return _with_token(state, auth, request, tokens["access_token"], 200)


def _with_token(state: AppState, auth: Auth, request: Request, token: str, status: int) -> Response:
    """The row of the user ``token`` is for, as they see it, with the token in it."""
    assert auth.token_field is not None
    identity = auth.identity_of({"access_token": token})
    caller = state.registry.caller(Access(identity))
    resp = _users(state, auth).reads.own(
        request, identity.id, caller, {auth.token_field: token}, status
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _signed_up(state: AppState, auth: Auth) -> Callable[[Request, dict[str, Any]], Response]:
    """An anonymous sign-up's answer with ``Auth(token_field=...)``: the new user's row as
    they see it, with the access token of a session opened for them."""
    users = auth.users
    assert users is not None

    def answer(request: Request, row: dict[str, Any]) -> Response:
        key = ",".join(str(row[f.name]) for f in users.pk_fields)
        token = auth.open_session(state.db, key)["access_token"]
        return _with_token(state, auth, request, token, 201)

    return answer


def _me(state: AppState, auth: Auth, request: Request) -> Response:
    """The caller's own row of the users resource, whatever its ``read`` permission; PUT
    and PATCH change it (as the users resource lets them: 405 where it takes neither)."""
    identity = auth.me(request)
    ep = _users(state, auth)
    if request.method in ("PUT", "PATCH") and request.method not in ep.resource.methods:
        raise MethodNotAllowed(["GET", *sorted(ep.resource.methods & WRITES)])
    token = request.environ["HTTP_AUTHORIZATION"].strip().partition(" ")[2].strip()
    extra = {auth.token_field: token} if auth.token_field else {}
    if request.method == "GET":
        resp = ep.reads.own(request, identity.id, extra=extra)
    else:
        replace = request.method == "PUT"
        resp = ep.writes.update_own(request, identity.id, extra, replace=replace)
    if extra:
        resp.headers["Cache-Control"] = "no-store"
    return resp


#: The methods of the caller's own row that change it.
WRITES = frozenset({"PUT", "PATCH"})


def secure(resp: Response) -> Response:
    resp.headers.extend(SECURITY_HEADERS)
    return resp


def private(req: Request, resp: Response) -> Response:
    return http.vary_by_caller(resp, "HTTP_AUTHORIZATION" in req.environ)


def _collection_handler(ep: Endpoint) -> Callable[[Request], Response]:
    def collection(req: Request) -> Response:
        if req.method == "POST":
            return ep.writes.create(req)
        if req.method == "PATCH":
            return ep.writes.update_many(req)
        return ep.reads.list_rows(req)

    return collection


def _item_handler(ep: Endpoint) -> Callable[[Request, str], Response]:
    handlers: dict[str, Callable[[Request, str], Response]] = {
        "GET": ep.reads.read,
        "HEAD": ep.reads.read,
        "PUT": ep.writes.replace,
        "PATCH": ep.writes.update,
        "DELETE": ep.writes.delete,
    }

    def item(req: Request, key: str) -> Response:
        return handlers[req.method](req, key)

    return item
