"""The Flask extension: registration of resources and their URL rules.

``Api(app, db)`` or ``api = Api(db=db)`` + ``api.init_app(app)``; per-app state lives in
``app.extensions["tablerest"]``, so one ``Api`` can serve several apps. Generated routes are
ordinary Flask URL rules, so the application's ``before_request``/``after_request`` hooks, error
handlers and extensions apply to them as to any other route.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Flask,
    Request,
    Response,
    current_app,
    has_request_context,
    request,
    send_from_directory,
)
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from . import http, openapi
from .auth.access import Access
from .auth.policies import Identity, PermissionSpec, Policy
from .auth.service import Auth, remembered
from .calls import Calls
from .changes import ChangeFeed
from .changes.fanout import Feeds
from .changes.stream import ChangeStream
from .errors import (
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFound,
    TablerestError,
    TooManyRequests,
    Unauthorized,
)
from .keys import derive
from .limits import Limits
from .observe import Observability
from .operations.context import Config
from .operations.registry import Registry
from .ratelimit import Limiter, RateLimits
from .reflect.selection import AUTH_PATH, BATCH_PATH, reserved_names
from .relations import Relation
from .render.json import dumps
from .render.jsonapi import JSONAPI
from .render.problem import error_response, problem_response
from .resource import Resource, WriteContext
from .routes.batch import Batch
from .routes.common import Settings, handles_errors
from .routes.endpoint import Endpoint
from .store import Database, ReadReplicas, replica_reads

__all__ = ["Api"]

EXTENSION = "tablerest"
#: What browsers may read and send across origins (``Api(cors=...)``).
CORS_EXPOSED = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
CORS_ALLOWED = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Accept"]
DEFAULT_MAX_BODY = 1024 * 1024
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
#: The page that shows change feeds live (``{prefix}/changes.html``).
CHANGES_PAGE = Path(__file__).parent / "static" / "changes.html"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{assets}/docs/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{assets}/docs/swagger-ui-bundle.js"></script>
<script src="{assets}/docs/init.js"></script>
</body>
</html>
"""

ErrorHandler = Callable[[Any], Any]
#: OpenAPI documents kept per app: one per distinct view of the API (callers' roles).
OPENAPI_VIEWS = 16


class _AppState:
    """What one application holds for one Api: its database handle and endpoints.

    It is also the catalog the stages use to follow relations to other resources.
    """

    def __init__(self, api: Api, app: Flask, db: Database, secret: bytes) -> None:
        self.api = api
        self.app = app
        self.db = db
        self.secret = secret
        #: Every resource's operations (the layer under HTTP) and the catalog they share.
        self.registry = Registry(db, Config(api.settings.limits, secret))
        self.endpoints: dict[str, Endpoint] = {}
        #: Each resource's operations as the application's code calls them (``books.create``).
        self.calls: dict[str, Calls] = {}
        identify = remembered(api.identify) if api.identify is not None else None
        if identify is None and api.auth is not None:
            identify = api.auth.identify  # remembers by itself
        self.identify: Callable[[Request], Identity | None] | None = identify
        #: The app's rate limiter (``Api(rate_limits=...)``), once installed.
        self.limits: Limiter | None = None
        #: The change feed's outboxes, hubs and recorders (resources with ``changes``).
        self.feeds: Feeds | None = None
        #: The OpenAPI documents as served, by what the caller may see (openapi.view_key),
        #: each built on its first request (Flask takes no more routes, hence no more
        #: resources, once the app has served a request).
        self.openapi: dict[Any, bytes] = {}
        #: Whether ``Api(cors=...)`` lets a page of this origin use the API.
        self.cors_allows: Callable[[str], bool] = lambda _origin: False

    def target(self, relation: Relation) -> Resource | None:
        return self.registry.target(relation)

    def by_name(self, name: str) -> Resource | None:
        return self.registry.by_name(name)

    def prepare_writes(self) -> None:
        """What must exist before a write (the change feed's outbox tables)."""
        if self.feeds is not None:
            self.feeds.prepare()

    def authorize(self, req: Request) -> Access | None:
        """The request's caller and their grants; None when nothing is guarded (no
        authentication and no permissions anywhere: every request is served as before)."""
        if self.identify is None and not self.api.guarded:
            return None
        return Access(self.identify(req) if self.identify is not None else None)


class Api:
    """A REST JSON API over SQLAlchemy models, mounted on a Flask app.

    ::

        db = SQLAlchemy(app)                 # or an Engine / sessionmaker
        api = Api(app, db)
        api.resource(Book, hidden=["secret"], read_only=["created_at"])

    Options: ``prefix`` (default ``/api``), ``max_body_size`` in bytes (default 1 MiB), and the
    defaults ``page_size`` / ``max_page_size`` / ``csv_formula_guard`` that resources inherit.

    Where requests may come from: ``allowed_hosts`` (the ``Host`` values the API answers to, see
    :class:`~tablerest.http.AllowedHosts`; default: any) and ``cross_site_writes`` (whether a
    page of another site may send writes: default no when the API has no ``auth`` and no
    ``identify``, since then every browser on the machine is a full client; origins that
    ``cors`` allows may).
    """

    def __init__(
        self,
        app: Flask | None = None,
        db: Any = None,
        *,
        prefix: str = "/api",
        max_body_size: int = DEFAULT_MAX_BODY,
        page_size: int = 20,
        max_page_size: int = 100,
        limits: Limits | None = None,
        secret_key: str | bytes | None = None,
        docs: bool = True,
        format: str = "json",
        title: str = "tablerest API",
        version: str = "1.0.0",
        description: str = "A REST JSON API served by tablerest.",
        auth: Auth | None = None,
        permissions: PermissionSpec | None = None,
        identify: Callable[[Request], Identity | None] | None = None,
        rate_limits: RateLimits | None = None,
        cors: bool | Mapping[str, Any] | None = None,
        security_headers: bool = True,
        observability: Observability | None = None,
        read_replicas: ReadReplicas | None = None,
        batch: bool = True,
        changes: bool | ChangeFeed = False,
        csv_formula_guard: bool = True,
        allowed_hosts: Sequence[str] | None = None,
        cross_site_writes: bool | None = None,
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/api'")
        self.db_handle = db
        self.settings = Settings(
            prefix=prefix, max_body_size=max_body_size, limits=limits or Limits()
        )
        self.secret_key = secret_key
        self.docs = docs
        self.batch = batch
        self.format = format
        #: What resources get unless they say: CSV exports neutralise formula-like cells.
        self.csv_formula_guard = csv_formula_guard
        self.title, self.version, self.description = title, version, description
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.resources: dict[str, Resource] = {}
        self.auth = auth
        #: What resources registered without ``permissions=`` get (None: public).
        self.permissions = permissions
        self.identify = identify
        self.rate_limits = rate_limits
        self.cors = cors
        self.security_headers = security_headers
        self.allowed_hosts = http.AllowedHosts(allowed_hosts) if allowed_hosts is not None else None
        self.cross_site_writes = cross_site_writes
        self.observability = observability
        self.read_replicas = read_replicas
        #: The live change feed: on for every resource (``True`` or a :class:`ChangeFeed`
        #: with options), or only for those registered with ``changes=True``.
        self.changes = changes
        self.change_feed = changes if isinstance(changes, ChangeFeed) else ChangeFeed()
        #: Whether any resource has permissions (requests then work out their caller).
        self.guarded = False
        self._states: list[_AppState] = []
        if app is not None:
            self.init_app(app)

    # -- registration ---------------------------------------------------------------------

    def resource(self, model: type[Any] | sa.Table, **options: Any) -> Resource:
        """Expose a model (or a ``Table``) as a resource and return its declaration.

        Options: ``name``, ``fields`` / ``exclude``, ``hidden``, ``read_only``, ``write_only``,
        ``methods`` (HTTP methods, default all), ``page_size``, ``max_page_size``, ``orm``
        (force writes through the ORM session or not; detected by default), ``searchable``
        (text fields ``q=`` searches), ``export`` (``False``: lists cannot be exported whole as
        CSV / NDJSON), ``csv_formula_guard`` (``False``: CSV exports write cells that start
        like a spreadsheet formula as stored, for programs rather than spreadsheets),
        ``permissions`` (one permission for every action, or a mapping from
        ``list``/``read``/``create``/``update``/``delete`` to one; see
        :mod:`tablerest.auth.policies`), ``hidden_unless`` / ``read_only_unless`` (field ->
        permission about the caller: the field is hidden from, or read-only for, callers it
        does not grant), ``computed`` (field name -> SQL expression over the table, or the
        name of a hybrid property: read-only fields the database computes),
        ``changes`` (``True``/``False``: the live change feed
        ``GET /<name>/changes`` on or off for this resource, whatever ``Api(changes=...)`` says).
        """
        permissions = options.pop("permissions", None)
        field_rules = {
            "hidden_unless": options.pop("hidden_unless", None),
            "read_only_unless": options.pop("read_only_unless", None),
        }
        options.setdefault("page_size", self.page_size)
        options.setdefault("format", self.format)
        options.setdefault("csv_formula_guard", self.csv_formula_guard)
        options.setdefault("max_page_size", max(self.max_page_size, options["page_size"]))
        if isinstance(model, sa.Table):
            res = Resource(model, **options)
        else:
            mapper = sa.inspect(model, raiseerr=False)
            if mapper is None or not hasattr(mapper, "local_table"):
                raise TypeError(f"{model!r} is neither a mapped class nor a Table")
            res = Resource(mapper.local_table, model=model, **options)
        return self.add(res, permissions=permissions, **field_rules)

    def add(
        self,
        resource: Resource,
        *,
        permissions: PermissionSpec | None = None,
        hidden_unless: Mapping[str, Any] | None = None,
        read_only_unless: Mapping[str, Any] | None = None,
    ) -> Resource:
        """Register a ready-made :class:`Resource` (used by database reflection), with the
        same ``permissions`` and field rules as :meth:`resource` takes."""
        if resource.name in self.resources:
            raise ValueError(f"a resource named {resource.name!r} is already registered")
        self._check_name(resource.name)
        if permissions is None:
            permissions = self.permissions
        if permissions is not None or hidden_unless or read_only_unless:
            resource.policy = Policy(
                resource,
                permissions if permissions is not None else {},
                len(self.resources),
                hidden_unless=hidden_unless,
                read_only_unless=read_only_unless,
            )
            self.guarded = True
        if self.auth is not None and resource.name == self.auth.users_name:
            self.auth.bind(resource)
            if self.rate_limits is not None and self.rate_limits.sign_up is not None:
                # A hook, so that every path that creates a user counts: a POST, an array,
                # a batch, a nested write, an upsert.
                resource.hook("before_create")(self._count_sign_up)
        if resource.changes is None:
            resource.changes = bool(self.changes)
        self.resources[resource.name] = resource
        resource._calls = lambda: self._current_state().calls[resource.name]
        for state in self._states:
            self._mount(state, resource)
        return resource

    def _count_sign_up(self, _ctx: WriteContext) -> None:
        """A new user counts against the sign-up limit of the address creating it."""
        if not has_request_context():
            return  # a script or an import: no address to count against
        state = current_app.extensions.get(EXTENSION, {}).get(self.settings.prefix)
        if isinstance(state, _AppState) and state.limits is not None:
            state.limits.sign_up()

    def init_app(self, app: Flask, db: Any = None) -> None:
        """Mount the API on ``app``: the index, every resource's routes, the error handlers."""
        handle = db if db is not None else self.db_handle
        if handle is None:
            handle = app.extensions.get("sqlalchemy")
        if handle is None:
            raise TypeError(
                "Api needs a database: Api(app, db) with Flask-SQLAlchemy, "
                "an Engine or a sessionmaker"
            )
        secret = (
            self.secret_key or app.config.get("SECRET_KEY") or f"tablerest:{self.settings.prefix}"
        )
        database = Database(handle, self.read_replicas)
        if self.auth is not None:
            key = self.secret_key or app.config.get("SECRET_KEY")
            self.auth.configure(_bytes(key) if key else None, database)
        # Cursors get a key of their own, never the secret that (derived) signs tokens.
        state = _AppState(self, app, database, derive(_bytes(secret), "cursor"))
        app.extensions.setdefault(EXTENSION, {})[self.settings.prefix] = state
        self._states.append(state)
        prefix = self.settings.prefix
        # First, so that its clock starts before any other hook runs (and stops after them).
        if self.observability is not None:
            self.observability.install(app, state.db, state.identify)
        if self.rate_limits is not None:
            state.limits = self.rate_limits.install(app, state.identify)
        app.before_request(lambda: self._check_origin(state))
        _route(state, prefix, "index", handles_errors(lambda: self._index(state)), ["GET"])
        if self.docs:
            _route(
                state,
                f"{prefix}/openapi.json",
                "openapi",
                handles_errors(lambda: self._openapi(state)),
                ["GET"],
            )
            app.add_url_rule(
                f"{prefix}/docs", f"{EXTENSION}.docs", self._docs_page, methods=["GET"]
            )
            app.add_url_rule(
                f"{prefix}/docs/<path:asset>",
                f"{EXTENSION}.docs_asset",
                _docs_asset,
                methods=["GET"],
            )
        if self.auth is not None:
            self._mount_auth(state, self.auth)
        if self.batch:
            batch = Batch(state.endpoints, state.registry, self.settings, state.authorize)
            _route(
                state,
                f"{prefix}/batch",
                "batch",
                handles_errors(lambda: batch.run(request)),
                ["POST"],
            )
        for res in self.resources.values():
            self._mount(state, res)
        self._install_error_handler(app)
        self._install_cors(state, app)
        if self.read_replicas is not None:
            _route_reads(app, self.read_replicas.read_your_writes)

    def _mount_auth(self, state: _AppState, auth: Auth) -> None:
        base = f"{self.settings.prefix}/{AUTH_PATH}"
        limit = self.settings.max_body_size
        attempt = state.limits.attempt if state.limits is not None else None
        routes: list[tuple[str, str, Callable[[], Response]]] = [
            ("token", "POST", lambda: auth.token_view(request, state.db, limit, attempt)),
            ("refresh", "POST", lambda: auth.refresh_view(request, state.db, limit)),
            ("logout", "POST", lambda: auth.logout_view(request)),
            ("me", "GET", lambda: self._me(state, auth)),
        ]
        for name, method, view in routes:
            kind = "sign-in" if name in ("token", "refresh") else "api"
            _route(state, f"{base}/{name}", f"auth.{name}", handles_errors(view), [method], kind)

    def _me(self, state: _AppState, auth: Auth) -> Response:
        """The caller's own row of the users resource, whatever its ``read`` permission."""
        identity = auth.me(request)
        ep = state.endpoints.get(auth.users_name)
        if ep is None:
            raise NotFound(f"No resource named {auth.users_name!r} is registered for Auth")
        return ep.reads.own(request, identity.id)

    def _check_name(self, name: str) -> None:
        """Refuse a resource name the API serves something else at (``reserved_names``),
        naming both ways out: another name for the resource, or that endpoint off."""
        reserved = reserved_names(docs=self.docs, batch=self.batch, auth=self.auth is not None)
        if name not in reserved:
            return
        what, off = (
            ("atomic batches", "Api(batch=False)")
            if name == BATCH_PATH
            else ("its token routes", "no Api(auth=...)")
            if name == AUTH_PATH
            else ("its change-feed page", "no change feed")
            if name == "changes.html" and not self.docs
            else ("its OpenAPI document and docs pages", "Api(docs=False)")
        )
        raise ValueError(
            f"a resource cannot be named {name!r}: the API serves {what} at "
            f"{self.settings.prefix}/{name}. Give the resource another name "
            f"(api.resource(..., name={name + '_'!r})), or turn that off ({off})"
        )

    def _mount(self, state: _AppState, res: Resource) -> None:
        self._check_name(res.name)
        ops = state.registry.add(res)
        ep = state.endpoints[res.name] = Endpoint(
            ops, state.registry, self.settings, state.authorize
        )
        state.calls[res.name] = Calls(ops, state.registry, state.prepare_writes)
        base = res.name
        if res.changes:
            self._mount_changes(state, ep)
        collection: list[str] = [m for m in ("GET", "POST") if m in res.methods]
        if "PATCH" in res.methods and res.primary_key:
            collection.append("PATCH")  # a bulk update: an array of rows with their keys
        _route(
            state, ep.path, f"{base}.collection", handles_errors(_collection_view(ep)), collection
        )
        if res.primary_key:
            item = [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in res.methods]
            if item:
                _route(
                    state, f"{ep.path}/<key>", f"{base}.item", handles_errors(_item_view(ep)), item
                )
            if res.relations and "GET" in res.methods:
                _route(
                    state,
                    f"{ep.path}/<key>/<relation>",
                    f"{base}.related",
                    handles_errors(lambda key, relation: ep.reads.related(request, key, relation)),
                    ["GET"],
                )
                # JSON:API relationship endpoints; changing a to-many one is a 403 there.
                # OPTIONS is answered by the endpoint: the methods differ per relationship.
                _route(
                    state,
                    f"{ep.path}/<key>/relationships/<relation>",
                    f"{base}.relationship",
                    handles_errors(lambda key, relation: ep.relationship(request, key, relation)),
                    ["GET", "PATCH", "POST", "DELETE", "OPTIONS"],
                    provide_automatic_options=False,
                )

    def _mount_changes(self, state: _AppState, ep: Endpoint) -> None:
        """The resource's writes record events; ``GET <url>/changes`` streams them."""
        res = ep.resource
        if state.feeds is None:
            feeds = state.feeds = Feeds(self.change_feed, state.db)
            state.app.before_request(feeds.prepare)  # the outbox exists before any write
            state.app.add_url_rule(
                f"{self.settings.prefix}/changes.html",
                f"{EXTENSION}.changes_page",
                lambda: self._changes_page(state),
                methods=["GET"],
            )
        ep.ops.changes = state.feeds.recorder(res)
        if "GET" in res.methods:
            stream = ChangeStream(res, state, self.settings.limits, state.authorize, state.feeds)
            _route(
                state,
                f"{ep.path}/changes",
                f"{res.name}.changes",
                handles_errors(lambda: stream.view(request)),
                # Other methods are a 405 here, not a write to a row keyed "changes".
                ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                provide_automatic_options=False,  # the view answers: Allow names GET only
            )

    def _changes_page(self, state: _AppState) -> Response:
        """A page that follows a resource's change feed live (EventSource)."""
        names = [n for n, ep in state.endpoints.items() if ep.resource.changes]
        options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in names)
        base = f"{request.script_root}{self.settings.prefix}"
        nonce = secrets.token_urlsafe(18)  # new per answer: the page's inline script and style
        page = CHANGES_PAGE.read_text().replace("{{options}}", options)
        page = page.replace("{{base}}", str(escape(base))).replace(
            "{{title}}", str(escape(self.title))
        )
        resp = Response(page.replace("{{nonce}}", nonce), mimetype="text/html")
        if self.security_headers:
            resp.headers.extend(http.page_headers(http.CHANGES_PAGE_CSP.format(nonce=nonce)))
        return resp

    # -- for the application's own routes --------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction for several calls on resources (``books.create(...)``, ...): they
        all commit when the block ends, or none does when it raises. Inside a request or an
        app context; blocks nest."""
        with self._current_state().db.atomic():
            yield

    def identity(self, *, required: bool = False) -> Identity | None:
        """Who is asking, in a request to an app this API is mounted on.

        ``None`` for an anonymous caller (or 401 ``Unauthorized`` with ``required=True``);
        a request with a bad token is a 401 either way, as on generated routes.
        """
        state = self._current_state()
        identity = state.identify(request) if state.identify is not None else None
        if identity is None and required:
            scheme = self.auth.scheme if self.auth is not None else "Bearer"
            raise Unauthorized("Sign in first", scheme=scheme)
        return identity

    def sign_in(self, login: str, password: str) -> dict[str, Any]:
        """Check credentials against the ``auth`` users resource and open a session.

        Returns what ``POST {prefix}/auth/token`` answers (``access_token``, ``token_type``,
        ``expires_in``, ``refresh_token``); raises 401 ``Unauthorized`` for a wrong login or
        password, and counts towards the sign-in rate limit.
        """
        state = self._current_state()
        attempt = state.limits.attempt if state.limits is not None else None
        return self._auth().sign_in(state.db, login, password, attempt)

    def open_session(self, user_key: Any) -> dict[str, Any]:
        """A token pair for the user with primary key ``user_key``, e.g. right after a
        registration route created them (the same answer as :meth:`sign_in`)."""
        return self._auth().open_session(self._current_state().db, user_key)

    def _auth(self) -> Auth:
        if self.auth is None:
            raise RuntimeError("this Api has no auth: Api(..., auth=Auth(...))")
        return self.auth

    def _current_state(self) -> _AppState:
        state = current_app.extensions.get(EXTENSION, {}).get(self.settings.prefix)
        if state is None or state.api is not self:
            raise RuntimeError("this Api is not mounted on the current app")
        return state  # type: ignore[no-any-return]

    # -- the index and errors outside any resource -----------------------------------------

    def _index(self, state: _AppState) -> Response:
        """Each resource's name, URL, fields and methods: the fields this caller may see."""
        view = state.authorize(request)
        out = []
        for name, ep in state.endpoints.items():
            res = ep.resource
            hidden = view.concealed(res) if view is not None else frozenset()
            out.append(
                {
                    "name": name,
                    "url": ep.url,
                    "fields": [f.name for f in res.readable if f.name not in hidden],
                    "primary_key": [f.name for f in res.pk_fields],
                    "methods": sorted(res.methods),
                }
            )
        return Response(dumps({"resources": out}), mimetype="application/json")

    def _openapi(self, state: _AppState) -> Response:
        # The document of what this caller may see: the one of their token, if any.
        view = state.authorize(request)
        key = openapi.view_key(state, view)
        found = state.openapi.get(key)
        if found is None:
            if len(state.openapi) >= OPENAPI_VIEWS:
                del state.openapi[next(iter(state.openapi))]
            found = state.openapi[key] = dumps(openapi.document(state, view))
        return Response(found, mimetype="application/json")

    def _docs_page(self) -> Response:
        """Swagger UI over the OpenAPI document, from assets shipped with tablerest."""
        base = f"{request.script_root}{self.settings.prefix}"
        page = DOCS_PAGE.format(
            title=escape(self.title), spec=escape(f"{base}/openapi.json"), assets=escape(base)
        )
        resp = Response(page, mimetype="text/html")
        if self.security_headers:
            resp.headers.extend(http.page_headers(http.DOCS_PAGE_CSP))
        return resp

    @property
    def authenticates(self) -> bool:
        """Whether requests can carry a caller (``auth`` or ``identify``)."""
        return self.auth is not None or self.identify is not None

    def _check_origin(self, state: _AppState) -> Response | None:
        """Refuse, before any view runs, a request for a ``Host`` the API does not answer to
        (DNS rebinding: 400) and a write sent by another site's page when those are not
        allowed (403). Paths outside the prefix are the app's own business."""
        path = request.path
        prefix = self.settings.prefix
        if not (path == prefix or path.startswith(prefix + "/")):
            return None
        error: TablerestError | None = None
        host = request.environ.get("HTTP_HOST")
        if self.allowed_hosts is not None and not self.allowed_hosts.allows(host, request.scheme):
            error = BadRequest(
                f"Host {host!r} is not a name this API answers to"
                if host
                else "The request has no Host header"
            )
        elif request.method in http.UNSAFE_METHODS and (
            self.cross_site_writes is False
            or (self.cross_site_writes is None and not self.authenticates)
        ):
            origin = http.cross_site(request)
            if origin is not None and not state.cors_allows(origin):
                why = (
                    "this API takes writes from its own pages only"
                    if self.authenticates
                    else "this API has no authentication, so any page the browser shows "
                    "could change its data"
                )
                error = Forbidden(f"A write from another site's page ({origin}) is refused: {why}")
        return None if error is None else self._early_problem(error)

    def _early_problem(self, error: TablerestError) -> Response:
        """The answer to an error found before any view ran (routing, Host, origin)."""
        # Before negotiation: a client that named JSON:API anywhere gets a JSON:API document.
        named = request.headers.get("Accept", "") + request.headers.get("Content-Type", "")
        resp = error_response(error, jsonapi=JSONAPI in named)
        if self.authenticates:
            resp = _private(resp)
        return _secure(resp) if self.security_headers else resp

    def _install_cors(self, state: _AppState, app: Flask) -> None:
        """CORS for the API's routes, when asked for (flask-cors)."""
        prefix = self.settings.prefix
        if self.cors is not None:
            from flask_cors import CORS

            # True: any origin, as "*" (which browsers never pair with credentials).
            options: dict[str, Any] = (
                {"send_wildcard": True} if self.cors is True else dict(self.cors or {})
            )
            options.setdefault("expose_headers", CORS_EXPOSED)
            options.setdefault("allow_headers", CORS_ALLOWED)
            options.setdefault("max_age", 600)
            CORS(app, resources={f"{prefix}(/.*)?$": options})
            state.cors_allows = _cors_origins(app, options)

    def _install_error_handler(self, app: Flask) -> None:
        """Problem responses for HTTP errors under the prefix (404, 405, 500, ...).

        Routing errors happen before any view runs, so this is an app-level handler; it only
        answers for paths under the API prefix and leaves every other path to the handler the
        app had before (or Flask's default).
        """
        previous: ErrorHandler | None = app.error_handler_spec[None][None].get(HTTPException)
        prefix = self.settings.prefix

        def handle(exc: HTTPException) -> Any:
            path = request.path
            if path == prefix or path.startswith(prefix + "/"):
                return self._early_problem(_from_http(exc))
            if previous is not None:
                return previous(exc)
            return exc

        app.register_error_handler(HTTPException, handle)
        # tablerest's errors raised in the app's own routes (or its before_request hooks)
        # answer as they do in generated routes.
        app.register_error_handler(TablerestError, problem_response)


def _route(
    state: _AppState,
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


#: OWASP's REST guidance for responses that are data, not pages: no sniffing the type, no
#: framing, no loading anything. (The two pages have their own: http.DOCS_PAGE_CSP and
#: http.CHANGES_PAGE_CSP.)
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
]


def _secure(resp: Response) -> Response:
    resp.headers.extend(SECURITY_HEADERS)
    return resp


def _secured(view: Callable[..., Response]) -> Callable[..., Response]:
    def secured(*args: Any, **kwargs: Any) -> Response:
        return _secure(view(*args, **kwargs))

    return secured


def _private(resp: Response) -> Response:
    return http.vary_by_caller(resp, "HTTP_AUTHORIZATION" in request.environ)


def _per_caller(view: Callable[..., Response]) -> Callable[..., Response]:
    def per_caller(*args: Any, **kwargs: Any) -> Response:
        return _private(view(*args, **kwargs))

    return per_caller


#: Set on the answer to a write: its client reads from the primary for a while after.
WROTE_COOKIE = "tablerest_wrote"
_REPLICA_RESET = "tablerest.replica_reads"


def _route_reads(app: Flask, window: float) -> None:
    """Per request, whether reads may go to a replica: GET and HEAD may, unless the client
    wrote within ``window`` seconds (read-your-writes; the cookie says when)."""

    def choose() -> None:
        allowed = request.method in ("GET", "HEAD")
        wrote = request.cookies.get(WROTE_COOKIE)
        if allowed and wrote:
            with contextlib.suppress(ValueError):  # not ours: ignore it
                allowed = time.time() - float(wrote) >= window
        request.environ[_REPLICA_RESET] = replica_reads.set(allowed)

    def mark(resp: Response) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS") and resp.status_code < 400:
            resp.set_cookie(
                WROTE_COOKIE,
                f"{time.time():.3f}",
                max_age=math.ceil(window),
                httponly=True,
                samesite="Lax",
            )
        return resp

    def forget(_exc: BaseException | None) -> None:
        token = request.environ.pop(_REPLICA_RESET, None)
        if token is not None:
            replica_reads.reset(token)

    app.before_request(choose)
    app.after_request(mark)
    app.teardown_request(forget)


def _cors_origins(app: Flask, options: Mapping[str, Any]) -> Callable[[str], bool]:
    """Whether flask-cors, with these options, lets a page of an origin read the API."""
    from flask_cors.core import get_cors_options, get_cors_origins

    computed = get_cors_options(app, options)
    return lambda origin: get_cors_origins(computed, origin) is not None


def _docs_asset(asset: str) -> Response:
    # send_from_directory refuses paths that leave the directory.
    return send_from_directory(ASSETS, asset, max_age=24 * 3600)


def _bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


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


def _collection_view(ep: Endpoint) -> Callable[[], Response]:
    def view() -> Response:
        if request.method == "POST":
            return ep.writes.create(request)
        if request.method == "PATCH":
            return ep.writes.update_many(request)
        return ep.reads.list_rows(request)

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
        return handlers[request.method](request, key)

    return view
