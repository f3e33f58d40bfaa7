"""The Flask extension: registration of resources and their URL rules.

``Api(app, db)`` or ``api = Api(db=db)`` + ``api.init_app(app)``; per-app state lives in
``app.extensions["tablerest"]``, so one ``Api`` can serve several apps. Generated routes are
ordinary Flask URL rules, so the application's ``before_request``/``after_request`` hooks, error
handlers and extensions apply to them as to any other route.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Flask, Request, current_app, has_request_context, request

from . import http
from .auth.policies import Identity, PermissionSpec, Policy
from .changes import ChangeFeed
from .errors import ErrorRendererSpec, Unauthorized, UniqueViolationMode
from .execute.store import Database, ReadReplicas
from .keys import derive
from .limits import Limits
from .mount import cors, guards, pages
from .mount.observe import Observability
from .mount.ratelimit import RateLimits
from .mount.routing import (
    mount_auth,
    mount_batch,
    mount_nest,
    mount_resource,
    mount_toggle,
    route,
)
from .mount.state import EXTENSION, AppState
from .names import Aliases
from .nests import Nest, add_nest
from .reflect.selection import AUTH_PATH, BATCH_PATH, reserved_names
from .render.problem import renderer_of
from .resource import Resource, WriteContext
from .routes.common import Settings
from .toggles import Toggle, add_toggle

if TYPE_CHECKING:
    from .auth.service import Auth

__all__ = ["Api"]

DEFAULT_MAX_BODY = 1024 * 1024


class Api:
    """A REST JSON API over SQLAlchemy models, mounted on a Flask app.

    ::

        db = SQLAlchemy(app)                 # or an Engine / sessionmaker
        api = Api(app, db)
        api.resource(Book, hidden=["secret"], read_only=["created_at"])

    Options: ``prefix`` (default ``/api``), ``max_body_size`` in bytes (default 1 MiB), and the
    defaults ``page_size`` / ``max_page_size`` / ``csv_formula_guard`` that resources inherit.

    Errors: ``error_renderer`` (an :class:`~tablerest.errors.ErrorRenderer`, or a function of
    the error returning a dict: the document every error of the API's routes is written as,
    instead of an RFC 9457 problem; JSON:API requests keep JSON:API errors) and
    ``unique_violation`` (``"validation"``: a value another row holds in a unique key is a 422
    with a field error per column, not a 409). A resource can say otherwise for its routes.

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
        aliases: Aliases | None = None,
        datetime_format: str = "iso",
        error_renderer: ErrorRendererSpec | None = None,
        unique_violation: UniqueViolationMode = "conflict",
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
        #: The names clients use for every resource's fields and relations, unless a resource
        #: says (``to_camel``): see ``api.resource(aliases=...)``.
        self.aliases = aliases
        #: The membership toggles (:meth:`toggle`), mounted with the resources.
        self.toggles: list[Toggle] = []
        #: The sub-resources scoped to a parent row (:meth:`nest`).
        self.nests: list[Nest] = []
        #: How every resource writes timestamps, unless it says (``"utc-ms"``).
        self.datetime_format = datetime_format
        #: How every route of the API writes its error documents (None: RFC 9457 problems),
        #: unless a resource says (``api.resource(error_renderer=...)``).
        self.error_renderer = renderer_of(error_renderer)
        if unique_violation not in ("conflict", "validation"):
            raise ValueError("unique_violation must be 'conflict' or 'validation'")
        #: What a taken unique value answers, unless a resource says: 409 or 422.
        self.unique_violation: UniqueViolationMode = unique_violation
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
        self._states: list[AppState] = []
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
        ``GET /<name>/changes`` on or off for this resource, whatever ``Api(changes=...)`` says),
        ``aliases`` (the names clients use for fields and relations: a function such as
        pydantic's ``to_camel``, or a mapping of the names to change; default ``Api(aliases=)``),
        ``lookup`` (a unique NOT NULL field, or a tuple of them, naming rows in URLs instead of
        the primary key: ``lookup="slug"`` serves ``/api/articles/{slug}``),
        ``error_renderer`` / ``unique_violation`` (this resource's routes' errors; default the
        Api's), ``get_or_create`` (many-to-many relations whose writes create the rows they
        name by a value no row holds: ``get_or_create=["tags"]``), ``value_lists`` (field name ->
        ``"relation.field"``: a many-to-many relation read and written as a list of one unique
        field of its rows, ``value_lists={"tag_list": "tags.name"}``), ``sort`` (the order of
        lists whose client sends no ``sort``: ``"-created_at"``), ``put`` (``"update"``: PUT
        changes the fields sent, as PATCH), ``create_status`` (``200``: a create answers 200
        instead of 201), ``path`` (where it is served under the prefix, default its name:
        ``"articles/feed"``).
        """
        permissions = options.pop("permissions", None)
        field_rules = {
            "hidden_unless": options.pop("hidden_unless", None),
            "read_only_unless": options.pop("read_only_unless", None),
        }
        options.setdefault("page_size", self.page_size)
        options.setdefault("format", self.format)
        options.setdefault("csv_formula_guard", self.csv_formula_guard)
        options.setdefault("aliases", self.aliases)
        options.setdefault("datetime_format", self.datetime_format)
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
        taken = [r.name for r in self.resources.values() if r.path == resource.path]
        if taken:
            raise ValueError(f"{resource.name}: {taken[0]} is served at {resource.path!r}")
        self._check_name(resource.path.split("/")[0])
        resource.error_renderer = renderer_of(resource.error_renderer)  # a wrong one: now
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
        if resource.where is not None and resource.changes:
            raise ValueError(f"{resource.name}: a view (where=) has no change feed of its own")
        if resource.changes is None:
            resource.changes = bool(self.changes) and resource.where is None
        self.resources[resource.name] = resource
        resource._calls = lambda: self._current_state().calls[resource.name]
        for state in self._states:
            self._mount(state, resource)
        return resource

    def toggle(self, name: str, *, on: Resource, through: Resource, mine: str, theirs: str) -> None:
        """A membership toggle: ``POST {prefix}/{on}/{key}/{name}`` makes the caller's row of
        ``through`` (``mine``: the caller's id, ``theirs``: the row's key) unless it is there,
        ``DELETE`` removes it if it is; both answer the row as its GET does. For a favourite,
        a follow, a like::

            api.toggle("favorite", on=articles, through=favorites,
                       mine="user_id", theirs="article_id")
        """
        found = add_toggle(
            self.toggles, self.resources, name, on=on, through=through, mine=mine, theirs=theirs
        )
        for state in self._states:
            mount_toggle(state, found)

    def nest(self, child: Resource, *, under: Resource, by: str) -> None:
        """Serve ``child`` rows under their row of ``under`` too, through the child's to-one
        relation ``by``: ``{prefix}/{under}/{key}/{child rows}`` lists them and creates one
        (its foreign key filled in), ``.../{child key}`` reads, changes and deletes one that is
        under that row (404 otherwise)::

            api.nest(comments, under=articles, by="article")  # /articles/{slug}/comments/{id}
        """
        found = add_nest(self.nests, self.resources, child, under, by)
        for state in self._states:
            mount_nest(state, found)

    def _count_sign_up(self, _ctx: WriteContext) -> None:
        """A new user counts against the sign-up limit of the address creating it."""
        if not has_request_context():
            return  # a script or an import: no address to count against
        state = current_app.extensions.get(EXTENSION, {}).get(self.settings.prefix)
        if isinstance(state, AppState) and state.limits is not None:
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
        state = AppState(self, app, database, derive(_bytes(secret), "cursor"))
        app.extensions.setdefault(EXTENSION, {})[self.settings.prefix] = state
        self._states.append(state)
        prefix = self.settings.prefix
        # First, so that its clock starts before any other hook runs (and stops after them).
        if self.observability is not None:
            self.observability.install(app, state.db, state.identify)
        if self.rate_limits is not None:
            state.limits = self.rate_limits.install(app, state.identify)
        guards.install_origin_check(state, app)
        guards.install_options_headers(state, app)
        route(state, prefix, "index", lambda req: pages.index(state, req), ["GET"])
        if self.docs:
            document = lambda req: pages.openapi_document(state, req)  # noqa: E731
            route(state, f"{prefix}/openapi.json", "openapi", document, ["GET"])
            app.add_url_rule(f"{prefix}/docs", f"{EXTENSION}.docs", lambda: pages.docs_page(state))
            app.add_url_rule(
                f"{prefix}/docs/<path:asset>", f"{EXTENSION}.docs_asset", pages.docs_asset
            )
        if self.auth is not None:
            mount_auth(state, self.auth)
        if self.batch:
            mount_batch(state)
        for res in self.resources.values():
            self._mount(state, res)
        for toggle in self.toggles:
            mount_toggle(state, toggle)
        for nest in self.nests:
            mount_nest(state, nest)
        guards.install_error_handler(state, app)
        cors.install_cors(state, app)
        if self.read_replicas is not None:
            guards.route_reads(app, self.read_replicas.read_your_writes)

    def _mount(self, state: AppState, res: Resource) -> None:
        self._check_name(res.name)
        mount_resource(state, res)

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

    def _current_state(self) -> AppState:
        state = current_app.extensions.get(EXTENSION, {}).get(self.settings.prefix)
        if state is None or state.api is not self:
            raise RuntimeError("this Api is not mounted on the current app")
        return state  # type: ignore[no-any-return]

    @property
    def authenticates(self) -> bool:
        """Whether requests can carry a caller (``auth`` or ``identify``)."""
        return self.auth is not None or self.identify is not None


def _bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()
