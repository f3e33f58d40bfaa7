"""The Flask extension: registration of resources and their URL rules.

``Api(app, db)`` or ``api = Api(db=db)`` + ``api.init_app(app)``; per-app state lives in
``app.extensions["tablerest"]``, so one ``Api`` can serve several apps. Generated routes are
ordinary Flask URL rules, so the application's ``before_request``/``after_request`` hooks, error
handlers and extensions apply to them as to any other route.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, Response, request, send_from_directory
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from . import openapi
from .dispatch import Endpoint, Settings, handles_errors
from .errors import InternalError, MethodNotAllowed, NotFound, TablerestError
from .render.json import dumps
from .render.jsonapi import JSONAPI
from .render.problem import error_response, problem_response
from .request import Limits
from .resource import Relation, Resource
from .store import Database

__all__ = ["Api"]

EXTENSION = "tablerest"
DEFAULT_MAX_BODY = 1024 * 1024
#: Paths under the prefix that the API itself serves (with ``docs=True``).
RESERVED_NAMES = frozenset({"openapi.json", "docs"})
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
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


class _AppState:
    """What one application holds for one Api: its database handle and endpoints.

    It is also the catalog the stages use to follow relations to other resources.
    """

    def __init__(self, api: Api, app: Flask, db: Database, secret: bytes) -> None:
        self.api = api
        self.app = app
        self.db = db
        self.secret = secret
        self.endpoints: dict[str, Endpoint] = {}
        #: The OpenAPI document as served, built on its first request (Flask takes no more
        #: routes, hence no more resources, once the app has served a request).
        self.openapi: bytes | None = None

    def target(self, relation: Relation) -> Resource | None:
        # A resource that cannot be read (no GET) is never reached through a relation either.
        for ep in self.endpoints.values():
            if ep.resource.table is relation.target and "GET" in ep.resource.methods:
                return ep.resource
        return None

    def by_name(self, name: str) -> Resource | None:
        ep = self.endpoints.get(name)
        return ep.resource if ep is not None and "GET" in ep.resource.methods else None


class Api:
    """A REST JSON API over SQLAlchemy models, mounted on a Flask app.

    ::

        db = SQLAlchemy(app)                 # or an Engine / sessionmaker
        api = Api(app, db)
        api.resource(Book, hidden=["secret"], read_only=["created_at"])

    Options: ``prefix`` (default ``/api``), ``max_body_size`` in bytes (default 1 MiB), and the
    defaults ``page_size`` / ``max_page_size`` that resources inherit.
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
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/api'")
        self.db_handle = db
        self.settings = Settings(
            prefix=prefix, max_body_size=max_body_size, limits=limits or Limits()
        )
        self.secret_key = secret_key
        self.docs = docs
        self.format = format
        self.title, self.version, self.description = title, version, description
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.resources: dict[str, Resource] = {}
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
        CSV / NDJSON).
        """
        options.setdefault("page_size", self.page_size)
        options.setdefault("format", self.format)
        options.setdefault("max_page_size", max(self.max_page_size, options["page_size"]))
        if isinstance(model, sa.Table):
            res = Resource(model, **options)
        else:
            mapper = sa.inspect(model, raiseerr=False)
            if mapper is None or not hasattr(mapper, "local_table"):
                raise TypeError(f"{model!r} is neither a mapped class nor a Table")
            res = Resource(mapper.local_table, model=model, **options)
        return self.add(res)

    def add(self, resource: Resource) -> Resource:
        """Register a ready-made :class:`Resource` (used by database reflection)."""
        if resource.name in self.resources:
            raise ValueError(f"a resource named {resource.name!r} is already registered")
        self.resources[resource.name] = resource
        for state in self._states:
            self._mount(state, resource)
        return resource

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
        state = _AppState(self, app, Database(handle), _bytes(secret))
        app.extensions.setdefault(EXTENSION, {})[self.settings.prefix] = state
        self._states.append(state)
        prefix = self.settings.prefix
        app.add_url_rule(
            prefix,
            f"{EXTENSION}.index",
            handles_errors(lambda: self._index(state)),
            methods=["GET"],
        )
        if self.docs:
            app.add_url_rule(
                f"{prefix}/openapi.json",
                f"{EXTENSION}.openapi",
                handles_errors(lambda: self._openapi(state)),
                methods=["GET"],
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
        for res in self.resources.values():
            self._mount(state, res)
        self._install_error_handler(app)

    def _mount(self, state: _AppState, res: Resource) -> None:
        if self.docs and res.name in RESERVED_NAMES:
            raise ValueError(
                f"a resource cannot be named {res.name!r} while the API serves its OpenAPI "
                "document and docs page there: pass name=... or Api(docs=False)"
            )
        ep = Endpoint(res, state.db, self.settings, state, state.secret)
        state.endpoints[res.name] = ep
        app = state.app
        base = f"{EXTENSION}.{res.name}"
        collection = [m for m in ("GET", "POST") if m in res.methods]
        app.add_url_rule(
            ep.url, f"{base}.collection", handles_errors(_collection_view(ep)), methods=collection
        )
        if res.primary_key:
            item = [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in res.methods]
            if item:
                app.add_url_rule(
                    f"{ep.url}/<key>", f"{base}.item", handles_errors(_item_view(ep)), methods=item
                )
            if res.relations and "GET" in res.methods:
                app.add_url_rule(
                    f"{ep.url}/<key>/<relation>",
                    f"{base}.related",
                    handles_errors(lambda key, relation: ep.related(request, key, relation)),
                    methods=["GET"],
                )
                # JSON:API relationship endpoints; changing a to-many one is a 403 there.
                # OPTIONS is answered by the endpoint: the methods differ per relationship.
                app.add_url_rule(
                    f"{ep.url}/<key>/relationships/<relation>",
                    f"{base}.relationship",
                    handles_errors(lambda key, relation: ep.relationship(request, key, relation)),
                    methods=["GET", "PATCH", "POST", "DELETE", "OPTIONS"],
                    provide_automatic_options=False,
                )

    # -- the index and errors outside any resource -----------------------------------------

    def _index(self, state: _AppState) -> Response:
        out = []
        for name, ep in state.endpoints.items():
            res = ep.resource
            out.append(
                {
                    "name": name,
                    "url": ep.url,
                    "fields": [f.name for f in res.readable],
                    "primary_key": [f.name for f in res.pk_fields],
                    "methods": sorted(res.methods),
                }
            )
        return Response(dumps({"resources": out}), mimetype="application/json")

    def _openapi(self, state: _AppState) -> Response:
        if state.openapi is None:
            state.openapi = dumps(openapi.document(state))
        return Response(state.openapi, mimetype="application/json")

    def _docs_page(self) -> Response:
        """Swagger UI over the OpenAPI document, from assets shipped with tablerest."""
        base = f"{request.script_root}{self.settings.prefix}"
        page = DOCS_PAGE.format(
            title=escape(self.title), spec=escape(f"{base}/openapi.json"), assets=escape(base)
        )
        return Response(page, mimetype="text/html")

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
                # Routing errors come before negotiation: a client that named JSON:API
                # anywhere gets a JSON:API error document.
                named = request.headers.get("Accept", "") + request.headers.get("Content-Type", "")
                return error_response(_from_http(exc), jsonapi=JSONAPI in named)
            if previous is not None:
                return previous(exc)
            return exc

        app.register_error_handler(HTTPException, handle)
        # tablerest's errors raised in the app's own routes (or its before_request hooks)
        # answer as they do in generated routes.
        app.register_error_handler(TablerestError, problem_response)


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
    if code >= 500:
        return InternalError()
    err = TablerestError(exc.description)
    err.status, err.title = code, exc.name
    err.code = exc.name.lower().replace(" ", "-")
    return err


def _collection_view(ep: Endpoint) -> Callable[[], Response]:
    def view() -> Response:
        if request.method == "POST":
            return ep.create(request)
        return ep.list_rows(request)

    return view


def _item_view(ep: Endpoint) -> Callable[[str], Response]:
    handlers: dict[str, Callable[[Request, str], Response]] = {
        "GET": ep.read,
        "HEAD": ep.read,
        "PUT": ep.replace,
        "PATCH": ep.update,
        "DELETE": ep.delete,
    }

    def view(key: str) -> Response:
        return handlers[request.method](request, key)

    return view
