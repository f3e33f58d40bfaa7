"""The request pipeline for one resource: negotiate -> parse -> plan -> execute -> render.

This is the only module that ties the stages together. Each handler takes the Flask request
explicitly and returns a Flask response; tablerest's own errors become problem responses here,
and anything else propagates to Flask's error handling.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus

import orjson
import sqlalchemy as sa
from flask import Request, Response
from flask import request as flask_request
from sqlalchemy import exc as sa_exc

from . import http
from .auth.access import Access
from .auth.policies import Grant, Rows
from .changes.outbox import NO_CHANGES, Recorder
from .checks import check_failure
from .columns.untyped import keys_agree
from .cursor import decode_cursor, encode_cursor
from .dberrors import Failure, classify
from .errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TablerestError,
    UnsupportedMediaType,
    ValidationFailed,
)
from .jsonapi_body import decode as decode_document
from .jsonapi_body import decode_linkage, decode_nested
from .jsonapi_body import document_data as _document_data
from .nested import Node, field_names, nestable, parse_document, rows_in, typed_value
from .portable import Explain, estimated_rows
from .prepared import Prepared, Runner, execute, fetch_all
from .query import Statements, upsert_statement
from .readplan import (
    Shape,
    aggregate_statement,
    count_statement,
    decode_values,
    grouping_columns,
    grouping_signature,
    grouping_values,
    include_statement,
    include_values,
    item_statement,
    key_values,
    link_statement,
    list_signature,
    list_statement,
    list_values,
    padded,
    shape_for,
    shape_signature,
    sort_keys,
    sort_positions,
    sort_signature,
)
from .render.export import CSV, NDJSON, CsvEncoder, ndjson
from .render.json import RowEncoder, dumps
from .render.jsonapi import JSONAPI, Renderer, key_text
from .render.problem import error_response
from .request import (
    PAGE_PARAMETERS,
    Include,
    Limits,
    ListIntent,
    load_exact,
    parse_item_query,
    parse_key,
    parse_list_query,
    reject_query,
    unreachable_keys,
)
from .resource import (
    Catalog,
    Relation,
    Resource,
    WriteContext,
    enum_to_label,
    linkage_columns,
)
from .schema import Variant
from .store import (
    Database,
    Readable,
    diagnose_integrity,
    refers_unreadable,
    translate,
    unique_sets,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Endpoint", "Settings", "handles_errors"]

JSON = "application/json"
#: Plans (statements, shapes) kept per endpoint; a plan is one query shape, not one request.
PLAN_CACHE = 512
#: Query parameters that shape pages, which an export (every matching row) has no use for.
_NOT_EXPORTED = (*PAGE_PARAMETERS, "count", "include")

_FIELDS_PARAM = re.compile(r"^fields(?:\[([^\[\]]+)\])?$")
#: WSGI environ key: where the fields of a JSON:API body came from (for error pointers).
POINTERS = "tablerest.pointers"

log = logging.getLogger("tablerest")

_P = TypeVar("_P")


class _Budget:
    """``Limits.max_included`` for one response's includes: rows fetched so far (so that no
    statement reads much beyond it), and rows embedded (what the answer would hold)."""

    __slots__ = ("left", "most")

    def __init__(self, most: int) -> None:
        self.most = self.left = most

    def fetched(self, n: int) -> None:
        """Count ``n`` more rows read for includes (each is embedded at least once)."""
        self.left -= n
        if self.left < 0:
            self._refuse()

    def embedded(self, n: int) -> None:
        """``n`` rows are embedded below one level of rows (a part of the answer's total)."""
        if n > self.most:
            self._refuse()

    def _refuse(self) -> None:
        # The whole request is a 400: never an answer cut short without saying so.
        raise InvalidParameter(
            "include",
            f"include would embed more than {self.most} rows in one response: include "
            "fewer relations or ask for a smaller page",
        )


@dataclass(slots=True)
class _ItemPlan:
    shape: Shape
    rows: Prepared


@dataclass(slots=True)
class _ListPlan:
    shape: Shape
    keys: list[Any]
    #: Where each sort key's value is in a row (keyset pages).
    positions: list[int]
    rows: Prepared
    #: The count statements built so far, per kind (``exact``, ``estimated``, ``capped``).
    counts: dict[str, Prepared] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _ExportPlan:
    shape: Shape
    statement: sa.Select[Any]


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the caller may see, for planning: ``sig`` is part of every plan's cache key (the
    grants that change the SQL), ``values`` the caller's id for the row grants' parameters."""

    sig: Any = None
    values: Mapping[str, Any] = field(default_factory=dict)
    rows: Access | None = None
    #: The fields and relations that do not exist for the caller (None: no permissions).
    view: Access | None = None


_OPEN = _Scope()


class _Unreadable(Exception):
    """A write referred to a row the caller may not read: roll it back, then diagnose it
    as the dangling reference it is to them."""


#: Works out a request's access (None: the API has no permissions and no authentication).
Authorize = Callable[[Request], Access | None]


@dataclass(frozen=True, slots=True)
class Settings:
    """API-wide options, fixed when ``Api`` is created."""

    prefix: str
    max_body_size: int
    limits: Limits = field(default_factory=Limits)


def handles_errors(
    fn: Callable[..., Response],
) -> Callable[..., Response]:
    """Turn tablerest errors raised inside a handler into problem responses."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except TablerestError as error:
            environ = flask_request.environ
            return error_response(
                error,
                jsonapi=environ.get(http.JSONAPI_REQUEST, False),
                pointers=environ.get(POINTERS),
            )

    return wrapper


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, mimetype=JSON)


def _tagged(
    request: Request,
    payload: Any,
    res: Resource,
    status: int = 200,
    *,
    read: bool = True,
    media: str = JSON,
) -> Response:
    """A JSON representation with its strong ``ETag``; for a read whose ``If-None-Match``
    names it, a 304 instead (same headers, no body). Every representation depends on
    ``Accept`` (JSON or JSON:API; lists can be exports too): ``Vary: Accept``."""
    body = dumps(payload)
    tag = http.etag(body)
    if read and http.not_modified(request, tag):
        resp = Response(status=304)
        del resp.headers["Content-Type"]
    else:
        resp = Response(body, status=status, mimetype=media)
    headers = resp.headers
    # add(), not item assignment: these names are not there yet, so skip the search.
    headers.add("ETag", f'"{tag}"')
    headers.add("Vary", "Accept")
    if read and res.cache_control is not None:
        headers.add("Cache-Control", res.cache_control)
    return resp


def _self_link(request: Request) -> str:
    """The request's own path and query string (a JSON:API ``self`` link)."""
    query = request.query_string.decode("latin-1")
    path = _uri(request.path)
    return f"{path}?{query}" if query else path


#: What a path keeps unescaped in links: RFC 3986's ``pchar`` but ``%`` (a decoded ``%25``).
_PATH_SAFE = "/:@!$&'()*+,;="


def _uri(path: str) -> str:
    """A decoded request path as it goes in a link or a header: percent-encoded, so that
    names in any script (and keys with spaces) make valid URLs and latin-1 headers."""
    return quote(path, safe=_PATH_SAFE)


def _prepare(build: Callable[..., Any], *args: Any) -> Prepared:
    return Prepared(build(*args))


def _no_content() -> Response:
    resp = Response(status=204)
    del resp.headers["Content-Type"]
    return resp


class Endpoint:
    """Everything needed to serve one resource, built once at registration."""

    def __init__(
        self,
        resource: Resource,
        db: Database,
        settings: Settings,
        catalog: Catalog,
        secret: bytes,
        authorize: Authorize | None = None,
        peers: Mapping[str, Endpoint] | None = None,
    ) -> None:
        self.resource = resource
        #: Every endpoint of the API by resource name (nested writes go through the others).
        self.peers: Mapping[str, Endpoint] = peers if peers is not None else {resource.name: self}
        #: The relation names a create may nest rows under, and how they look in JSON.
        self._nests: tuple[frozenset[str], tuple[bytes, ...]] | None = None
        self.authorize: Authorize = authorize or (lambda request: None)
        self.db = db
        self.settings = settings
        self._json_depth = settings.limits.max_json_depth
        self.catalog = catalog
        self.secret = secret
        self._encoders: dict[tuple[str, tuple[str, ...]], RowEncoder] = {}
        self._plans: dict[tuple[Any, ...], Any] = {}
        self._plain_item = ListIntent(1)
        self.statements = Statements(resource)
        self.encoder = RowEncoder(resource, self.statements.keys)
        select_one = self.statements.select_one
        self._select_one = Prepared(select_one) if select_one is not None else None
        #: The collection's URL rule (the name as it is: routing matches decoded paths), and
        #: its URL in links (percent-encoded: ``/api/%C3%9Cn%C3%AFc%C3%B6d%C3%A9``).
        self.path = f"{settings.prefix}/{resource.name}"
        self.url = f"{settings.prefix}/{quote(resource.name)}"
        self.jsonapi = Renderer(catalog, settings.prefix)
        #: Records the change events of writes (the live change feed; see tablerest.changes).
        self.changes: Recorder = NO_CHANGES

    # -- reads ----------------------------------------------------------------------------

    def list_rows(self, request: Request) -> Response:
        res = self.resource
        access = self.authorize(request)
        if access is not None:
            access.require(res, "list")
        fmt = http.list_format(request, res.export, res.format)
        parsed, sparse = self._query_args(request, res, fmt, access)
        intent, scope = _guard(
            access, res, parse_list_query(res, parsed, self.catalog, self.settings.limits, access)
        )
        # Links keep the client's own parameters (JSON:API's were rewritten for the parser).
        args = request.args.to_dict(flat=False) if sparse else parsed
        if intent.grouping is not None:
            return self._groups(request, res, intent, args, fmt, scope)
        if fmt in ("csv", "ndjson"):
            return self._export(res, intent, args, fmt, scope=scope)
        return self._list(request, res, intent, args, fmt=fmt, sparse=sparse, scope=scope)

    def read(self, request: Request, key: str) -> Response:
        res = self.resource
        access = self.authorize(request)
        if access is not None:
            access.require(res, "read")
        fmt = http.representation(request, res.format)
        # An item's query string holds no values (only fields and include), so its parse is
        # cached like a plan; errors raise before anything is cached.
        query = request.query_string
        sparse: dict[str, set[str]] = {}
        if fmt == "jsonapi":
            args, sparse = self._query_args(request, res, fmt, access)
            intent = parse_item_query(res, args, self.catalog, self.settings.limits, access)
        elif query and access is not None:
            # The caller's view decides what the names mean: a parse of its own, not shared.
            args = request.args.to_dict(flat=False)
            intent = parse_item_query(res, args, self.catalog, self.settings.limits, access)
        elif query:
            intent = self._plan(
                ("item-query", query),
                lambda: parse_item_query(
                    res, request.args.to_dict(flat=False), self.catalog, self.settings.limits
                ),
            )
        else:
            intent = self._plain_item
        values = parse_key(res, key)
        intent, scope = _guard(access, res, intent)
        plan = self._item_plan(res, intent, None, scope)
        with self.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, {**key_values(values), **scope.values})
            if not rows:
                raise NotFound(f"No {res.name} row with key {_key_text(values)}")
            (row,) = self._materialize(conn, plan.shape, rows, intent, scope)
        if fmt == "jsonapi":
            doc = self.jsonapi.single(res, row, _self_link(request), sparse, access)
            return _tagged(request, doc, res, media=JSONAPI)
        return _tagged(request, row, res)

    def own(self, request: Request, subject: str) -> Response:
        """The caller's own row (``/auth/me``), whatever the resource's ``read`` permission;
        the fields it shows are those every reader sees."""
        res = self.resource
        values = parse_key(res, subject)
        plan = self._item_plan(res, self._plain_item, None)
        with self.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, key_values(values))
            if not rows:
                raise NotFound("Your user no longer exists")
            (row,) = self._materialize(conn, plan.shape, rows, self._plain_item)
        return _tagged(request, _visible(self.authorize(request), res, row), res)

    def related(self, request: Request, key: str, name: str) -> Response:
        """``GET /books/1/author`` (one row or null), ``GET /authors/1/books`` (a list)."""
        res = self.resource
        access = self.authorize(request)
        rel, target = self._relation(name, access, "No such resource or route")
        if access is not None:
            access.require(res, "read")
            access.require(target, "list" if rel.to_many else "read")
        fmt: http.ListFormat = (
            http.list_format(request, target.export, target.format)
            if rel.to_many
            else http.representation(request, target.format)
        )
        parsed, sparse = self._query_args(request, target, fmt, access)
        args = request.args.to_dict(flat=False) if sparse else parsed  # as in list_rows
        limits = self.settings.limits
        if rel.to_many:
            intent = parse_list_query(target, parsed, self.catalog, limits, access)
        else:
            intent = parse_item_query(target, parsed, self.catalog, limits, access)
        values = parse_key(res, key)
        intent, scope = _guard(access, target, intent, res)
        link, found = self._follow(res, rel, target, values, intent, scope)
        if rel.to_many and fmt in ("csv", "ndjson"):
            return self._export(target, intent, args, fmt, rel, link, scope=scope)
        if rel.to_many:
            return self._list(
                request, target, intent, args, rel, link, fmt=fmt, sparse=sparse, scope=scope
            )
        row = found[0] if found else None
        if fmt == "jsonapi":
            doc = self.jsonapi.single(target, row, _self_link(request), sparse, access)
            return _tagged(request, doc, target, media=JSONAPI)
        return _tagged(request, row, target)

    def relationship(self, request: Request, key: str, name: str) -> Response:
        """``/books/1/relationships/author``: the linkage of one relationship (JSON:API)."""
        request.environ[http.JSONAPI_REQUEST] = True  # a JSON:API route: its errors too
        res = self.resource
        access = self.authorize(request)
        rel, target = self._relation(name, access, "No such relationship")
        if request.method == "OPTIONS":
            resp = Response(status=200)
            resp.headers["Allow"] = ", ".join(self._relationship_methods(rel, target))
            return resp
        http.representation(request, "jsonapi")
        if request.method not in ("GET", "HEAD"):
            return self._set_relationship(request, key, rel, target, access)
        if access is not None:
            access.require(res, "read")
            access.require(target, "list" if rel.to_many else "read")
        args = request.args.to_dict(flat=False)
        only_keys = {target.name: tuple(f.name for f in target.pk_fields)}
        if rel.to_many:
            intent = parse_list_query(target, args, self.catalog, self.settings.limits, access)
            intent = dataclasses.replace(intent, fields=only_keys, include=())
            values = parse_key(res, key)
            intent, scope = _guard(access, target, intent, res)
            link, _found = self._follow(res, rel, target, values, intent, scope)
            return self._list(
                request,
                target,
                intent,
                args,
                rel,
                link,
                fmt="jsonapi",
                linkage=(res, name, key),
                scope=scope,
            )
        if args:
            raise InvalidParameter(next(iter(args)), "A relationship takes no query parameters")
        intent, scope = _guard(access, target, ListIntent(1, fields=only_keys), res)
        _link, found = self._follow(res, rel, target, parse_key(res, key), intent, scope)
        data = None if not found else {"type": target.name, "id": key_text(target, found[0])}
        return _tagged(request, self.jsonapi.linkage(res, name, key, data), res, media=JSONAPI)

    def _relation(
        self, name: str, access: Access | None, missing: str
    ) -> tuple[Relation, Resource]:
        """The relation ``name`` of this resource and its target, as the caller sees them:
        one whose target is not served, or that is concealed from them, is a 404."""
        res = self.resource
        rel = res.relations.get(name)
        target = self.catalog.target(rel) if rel is not None else None
        if rel is None or target is None:
            raise NotFound(missing)
        if access is not None and name in access.concealed_relations(res, self.catalog):
            raise NotFound(missing)
        return rel, target

    def _relationship_methods(self, rel: Relation, target: Resource) -> list[str]:
        """What a relationship route takes: changing a to-many one is a 403 (JSON:API)."""
        methods = ["GET", "HEAD", "OPTIONS"]
        if rel.to_many:
            methods += ["PATCH", "POST", "DELETE"]
        elif "PATCH" in self.resource.methods and linkage_columns(self.resource, rel, target):
            methods.append("PATCH")
        return methods

    def _set_relationship(
        self, request: Request, key: str, rel: Relation, target: Resource, access: Access | None
    ) -> Response:
        """``PATCH /books/1/relationships/author`` with ``{"data": {"type", "id"} | null}``."""
        res = self.resource
        grant = access.require(res, "update") if access is not None else True
        columns = linkage_columns(res, rel, target)
        if rel.to_many or columns is None:
            raise Forbidden(
                f"{res.name}.{rel.name} cannot be changed here: set the key on the related "
                f"{target.name} rows instead"
            )
        if request.method not in self._relationship_methods(rel, target):
            raise MethodNotAllowed(self._relationship_methods(rel, target))
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(res, key)
        conditional = self._condition(request)
        body = http.read_body(request, self.settings.max_body_size, self._json_depth)
        if body.kind != "json":
            raise UnsupportedMediaType('Send a JSON:API document: {"data": ...}')
        linkage = decode_linkage(_document_data(body.raw), target, "/data")
        request.environ[POINTERS] = {f"/{c}": "/data" for c in columns}
        data = res.schema.validate_json(dumps(dict(zip(columns, linkage, strict=True))), "patch")
        _check_writable(access, res, data)
        self._change(request, values, data, "patch", conditional, "jsonapi", access, grant)
        return _no_content()

    def _follow(
        self,
        res: Resource,
        rel: Relation,
        target: Resource,
        values: tuple[Any, ...],
        intent: ListIntent,
        scope: _Scope = _OPEN,
    ) -> tuple[tuple[Any, ...], list[dict[str, Any]] | None]:
        """The values a relation of the row ``values`` links by, and for a to-one relation
        the related row (None when unset or not visible); 404 when there is no such row."""
        link_plan = self._plan(
            ("link", rel.name, scope.sig),
            lambda: Prepared(link_statement(res, rel, scope.rows)),
        )
        with self.db.reading(res.table) as conn:
            links = fetch_all(conn, link_plan, {**key_values(values), **scope.values})
            if not links:
                raise NotFound(f"No {res.name} row with key {_key_text(values)}")
            link = tuple(links[0])
            if rel.to_many or any(v is None for v in link):
                return link, None
            plan = self._item_plan(target, intent, rel, scope)
            rows = fetch_all(conn, plan.rows, {**key_values(link), **scope.values})
            return link, self._materialize(conn, plan.shape, rows, intent, scope)

    def _query_args(
        self, request: Request, res: Resource, fmt: str, access: Access | None
    ) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
        """The query string as the parser takes it. JSON:API's sparse fieldsets name
        relationships too (those the caller may follow): those become the foreign keys behind
        them (for linkage), and the key is always selected (for ``id``); the names asked for
        come back as ``sparse``."""
        args = request.args.to_dict(flat=False)
        sparse: dict[str, set[str]] = {}
        if fmt != "jsonapi":
            return args, sparse
        for name, values in list(args.items()):
            m = _FIELDS_PARAM.match(name)
            if m is None:
                continue
            of = self.catalog.by_name(m.group(1)) if m.group(1) else res
            if of is None:
                continue  # the parser names the unknown type
            asked = [n.strip(" \t") for n in ",".join(values).split(",") if n.strip(" \t")]
            sparse[of.name] = set(asked)
            relations = {n: (rel, t) for n, rel, t in self.jsonapi.relations(of, access)}
            columns: list[str] = [f.name for f in of.pk_fields]
            for n in asked:
                if n in relations:
                    rel, t = relations[n]
                    columns.extend(linkage_columns(of, rel, t) or ())
                else:
                    columns.append(n)
            args[name] = [",".join(dict.fromkeys(columns))]
        return args, sparse

    def _plan(self, key: tuple[Any, ...], build: Callable[[], _P]) -> _P:
        """The plan cached under ``key``, built on first use (at most ``PLAN_CACHE`` kept)."""
        plans = self._plans
        found = plans.get(key)
        if found is None:
            if len(plans) >= PLAN_CACHE:
                del plans[next(iter(plans))]
            found = plans[key] = build()
        return found

    def _item_plan(
        self, res: Resource, intent: ListIntent, rel: Relation | None, scope: _Scope = _OPEN
    ) -> _ItemPlan:
        """One row by key, or the target row of a to-one relation (by the remote columns)."""

        def build() -> _ItemPlan:
            shape = shape_for(res, intent, intent.include)
            columns = None if rel is None else rel.remote
            return _ItemPlan(shape, Prepared(item_statement(shape, columns, scope.rows)))

        sig = shape_signature(intent, intent.include)
        return self._plan(("item", res.name, rel.name if rel else None, sig, scope.sig), build)

    def _list(
        self,
        request: Request,
        res: Resource,
        intent: ListIntent,
        args: Mapping[str, list[str]],
        rel: Relation | None = None,
        link: tuple[Any, ...] = (),
        *,
        fmt: str = "json",
        sparse: Mapping[str, set[str]] | None = None,
        linkage: tuple[Resource, str, str] | None = None,
        scope: _Scope = _OPEN,
    ) -> Response:
        """A page of ``res`` rows; with ``rel``, only those whose ``rel.remote`` equal ``link``.
        ``fmt`` is ``json`` or ``jsonapi``; ``linkage`` (the owner, relationship and key) makes
        it a JSON:API relationship document: the rows' identifiers only."""
        signature = sort_signature(res, intent.sort)
        cursor_values = None
        if intent.cursor:
            parameter = f"page[{intent.direction}]"
            raw = decode_cursor(intent.cursor, signature, self.secret, parameter)
            keys = sort_keys(res, intent.sort)
            cursor_values = decode_values(keys, raw, parameter)
        nulls = None if cursor_values is None else tuple(v is None for v in cursor_values)
        where = rel.remote if rel is not None else ()

        def build() -> _ListPlan:
            shape = shape_for(res, intent, intent.include)
            stmt = list_statement(shape, intent, where=where, cursor_nulls=nulls, scope=scope.rows)
            keys = sort_keys(res, intent.sort)
            return _ListPlan(shape, keys, sort_positions(shape, keys), Prepared(stmt))

        sig = list_signature(intent, nulls, rel.name if rel is not None else None)
        plan = self._plan(("list", res.name, sig, scope.sig), build)
        values = list_values(intent, cursor_values, link)
        values.update(scope.values)
        shape = plan.shape
        with self.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, values)
            total = self._count(conn, plan, res, intent, where, scope, values)
            more = len(rows) > intent.limit
            rows = rows[: intent.limit]
            if intent.direction == "before":
                rows.reverse()
            data = self._materialize(conn, shape, rows, intent, scope)
        if intent.direction is None:
            links = self._offset_links(request, args, intent, more)
        else:
            cursors = [
                encode_cursor(
                    _cursor_json(plan.keys, [r[i] for i in plan.positions]),
                    signature,
                    self.secret,
                )
                for r in (rows[:1] + rows[-1:] if rows else [])
            ]
            links = self._keyset_links(request, args, intent, more, cursors)
        meta: dict[str, Any] = {"page": self._page_meta(intent)}
        if total is not None:
            meta.update(total)
        if linkage is not None:
            owner, name, key = linkage
            doc = self.jsonapi.linkage(
                owner, name, key, [{"type": res.name, "id": key_text(res, r)} for r in data]
            )
            doc["links"].update({k: v for k, v in links.items() if v and k != "self"})
            doc["meta"] = meta
            resp = _tagged(request, doc, res, media=JSONAPI)
        elif fmt == "jsonapi":
            doc = self.jsonapi.collection(res, data, links, meta, sparse or {}, scope.view)
            resp = _tagged(request, doc, res, media=JSONAPI)
        else:
            resp = _tagged(request, {"data": data, "links": links, "meta": meta}, res)
        link_header = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url)
        if link_header:
            resp.headers["Link"] = link_header
        return resp

    def _groups(
        self,
        request: Request,
        res: Resource,
        intent: ListIntent,
        args: Mapping[str, list[str]],
        fmt: str,
        scope: _Scope,
    ) -> Response:
        """A grouped list: one row per group (plain JSON ``data``, JSON:API ``meta.groups``,
        or every group as CSV / NDJSON)."""
        export = fmt in ("csv", "ndjson")
        if export:
            _refuse_page_params(args, "group")
        sig = (list_signature(intent, None), grouping_signature(intent), export, scope.sig)

        def build() -> Prepared:
            return Prepared(aggregate_statement(res, intent, scope.rows, paged=not export))

        plan = self._plan(("groups", res.name, sig), build)
        values = list_values(intent, None, ())
        grouping_values(intent, values)
        values.update(scope.values)
        assert intent.grouping is not None
        names = grouping_columns(intent.grouping)
        total = None
        with self.db.reading(res.table, blame="aggregate") as conn:
            rows = [dict(zip(names, r, strict=True)) for r in fetch_all(conn, plan, values)]
            for path in intent.grouping.keys:  # enums as their labels, as in rows
                col_type = path.field.column.type
                if isinstance(col_type, sa.Enum):
                    label = enum_to_label(col_type)
                    for row in rows:
                        row[path.dotted] = label(row[path.dotted])
            if intent.count is not None and not export:
                counted = self._plan(
                    ("groups-count", res.name, sig),
                    lambda: Prepared(
                        sa.select(sa.func.count()).select_from(
                            aggregate_statement(res, intent, scope.rows, paged=False).subquery()
                        )
                    ),
                )
                total = fetch_all(conn, counted, values)[0][0]
        if export:
            if fmt == "csv":
                out = CsvEncoder(names, guard=res.csv_formula_guard)
                body = out.header() + out.rows(rows)
            else:
                body = ndjson(rows)
            resp = Response(body, mimetype=None)
            resp.headers["Content-Type"] = CSV if fmt == "csv" else NDJSON
            resp.headers["Vary"] = "Accept"
            return resp
        more = len(rows) > intent.limit
        rows = rows[: intent.limit]
        links = self._offset_links(request, args, intent, more)
        meta: dict[str, Any] = {"page": self._page_meta(intent)}
        if total is not None:
            meta["total"] = total
        if fmt == "jsonapi":
            doc = {"data": [], "links": links, "meta": {**meta, "groups": rows}}
            return _tagged(request, doc, res, media=JSONAPI)
        return _tagged(request, {"data": rows, "links": links, "meta": meta}, res)

    def _count(
        self,
        conn: Runner,
        plan: _ListPlan,
        res: Resource,
        intent: ListIntent,
        where: Sequence[sa.Column[Any]],
        scope: _Scope,
        values: dict[str, Any],
    ) -> dict[str, Any] | None:
        """``meta``'s count members: ``total``, with ``total_capped`` or ``total_estimated``
        (see :func:`count_statement`)."""
        kind = intent.count
        if kind is None:
            return None
        dialect = conn.dialect.name
        prepared = plan.counts.get(kind)
        if prepared is None:
            statement: Any = count_statement(res, intent, where, scope.rows, dialect)
            # EXPLAIN is an executable clause Prepared compiles like a SELECT.
            prepared = plan.counts[kind] = Prepared(statement)
        if isinstance(prepared.statement, Explain):
            plan_doc = fetch_all(conn, prepared, values)[0][0]
            return {"total": estimated_rows(dialect, plan_doc), "total_estimated": True}
        if kind == "exact":
            return {"total": fetch_all(conn, prepared, values)[0][0]}
        cap = res.count_cap
        found = fetch_all(conn, prepared, {**values, "cap": cap + 1})[0][0]
        return {"total": min(found, cap), "total_capped": found > cap}

    def _export(
        self,
        res: Resource,
        intent: ListIntent,
        args: Mapping[str, list[str]],
        fmt: http.ListFormat,
        rel: Relation | None = None,
        link: tuple[Any, ...] = (),
        *,
        scope: _Scope = _OPEN,
    ) -> Response:
        """Every matching row as CSV or NDJSON, streamed a batch at a time."""
        _refuse_page_params(args, "row")
        where = rel.remote if rel is not None else ()

        def build() -> _ExportPlan:
            shape = shape_for(res, intent, ())
            stmt = list_statement(shape, intent, where=where, paged=False, scope=scope.rows)
            return _ExportPlan(shape, stmt)

        sig = list_signature(intent, None, rel.name if rel is not None else None)
        plan = self._plan(("export", res.name, sig, scope.sig), build)
        values = list_values(intent, None, link)
        values.update(scope.values)
        del values["lim"]
        encoder = self._encoder(plan.shape)
        csv_out = CsvEncoder(encoder.keys, guard=res.csv_formula_guard) if fmt == "csv" else None

        def body() -> Generator[bytes]:
            with (
                self.db.streaming(res.table) as conn,
                conn.execute(plan.statement, values) as result,
            ):
                yield csv_out.header() if csv_out is not None else b""
                try:
                    for batch in result.partitions():
                        rows = encoder.rows(batch)
                        yield csv_out.rows(rows) if csv_out is not None else ndjson(rows)
                except Exception:
                    # The status line is sent: all that is left is to cut the body short.
                    log.exception("export of %s stopped part way", res.name)
                    raise

        stream = body()
        first = next(stream)  # runs the statement: its errors still get a problem response
        resp = Response(itertools.chain((first,), stream), mimetype=None)
        # The chain has no close(): the server's close of the response must reach the stream,
        # or its connection (and on SQLite its read lock) lasts until garbage collection.
        resp.call_on_close(stream.close)
        resp.headers["Content-Type"] = CSV if fmt == "csv" else NDJSON
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", res.name)
        disposition = f'attachment; filename="{filename}.{fmt}"'
        if filename != res.name:  # RFC 6266: the name in its own letters, for those who can
            disposition += f"; filename*=UTF-8''{quote(res.name, safe='')}.{fmt}"
        resp.headers["Content-Disposition"] = disposition
        resp.headers["Vary"] = "Accept"
        return resp

    def _materialize(
        self,
        conn: Runner,
        shape: Shape,
        rows: Sequence[Any],
        intent: ListIntent,
        scope: _Scope = _OPEN,
    ) -> list[dict[str, Any]]:
        """Rows as the client sees them, with included relations: the to-one ones joined into
        the rows already, the others loaded with one statement per relation path.

        The rows embedded in them, counted each time one appears (at every depth: with
        ``books.author.books`` an author's books count once per book of theirs shown), may
        not be more than ``Limits.max_included``: beyond, the request is a 400. Statements
        fetch at most one row more than is left, so such a request is refused without
        reading all it asked for."""
        budget = _Budget(self.settings.limits.max_included)
        return self._embed(conn, shape, rows, intent, scope, budget)[0]

    def _embed(
        self,
        conn: Runner,
        shape: Shape,
        rows: Sequence[Any],
        intent: ListIntent,
        scope: _Scope,
        budget: _Budget,
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """:meth:`_materialize`'s work: the rows, and how many rows each one is in the answer
        (itself and every row embedded in it)."""
        out = self._encoder(shape).rows(rows)
        sizes = [1] * len(out)
        for joined in shape.joined:
            name, sub, at = joined.include.relation.name, joined.shape, joined.offset
            probe = at + sub.index(joined.include.relation.remote[0])  # NULL: no row joined
            present = [i for i, r in enumerate(rows) if r[probe] is not None]
            budget.fetched(len(present))
            items, item_sizes = self._embed(
                conn, sub, [rows[i][at : at + sub.width] for i in present], intent, scope, budget
            )
            for parent in out:
                parent[name] = None
            for i, item, size in zip(present, items, item_sizes, strict=True):
                out[i][name] = item
                sizes[i] += size
        for inc in shape.include:
            rel = inc.relation
            parent_keys = [shape.values(r, rel.local) for r in rows]
            wanted = sorted({k for k in parent_keys if None not in k}, key=repr)
            child_sig = shape_signature(intent, inc.children)
            child: Shape = self._plan(
                ("child", shape.resource.name, rel.name, child_sig),
                functools.partial(shape_for, inc.resource, intent, inc.children, rel.remote),
            )
            children: list[Any] = []
            if wanted:
                n = padded(len(wanted))
                limit = self.settings.limits.include_limit
                stmt: Prepared = self._plan(
                    ("include", shape.resource.name, rel.name, child_sig, n, scope.sig),
                    lambda: Prepared(include_statement(inc, child, n, limit, scope.rows)),  # noqa: B023
                )
                cap = budget.left + 1
                children = fetch_all(conn, stmt, {**include_values(wanted, cap), **scope.values})
                budget.fetched(len(children))
            rendered, rendered_sizes = self._embed(conn, child, children, intent, scope, budget)
            groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], int]]] = {}
            for raw, item, size in zip(children, rendered, rendered_sizes, strict=True):
                groups.setdefault(child.values(raw, rel.remote), []).append((item, size))
            for i, (parent, pkey) in enumerate(zip(out, parent_keys, strict=True)):
                found = groups.get(pkey, [])
                items = [item for item, _ in found]
                parent[rel.name] = items if rel.to_many else (items[0] if items else None)
                sizes[i] += sum(size for _, size in found)
        # A row shared by several parents is in the answer once for each: count it so.
        budget.embedded(sum(sizes) - len(sizes))
        return out, sizes

    def _encoder(self, shape: Shape) -> RowEncoder:
        names = tuple(f.name for f in shape.visible)
        key = (shape.resource.name, names)
        enc = self._encoders.get(key)
        if enc is None:
            enc = self._encoders[key] = RowEncoder(shape.resource, names)
        return enc

    def _fetch_one(self, key: Sequence[Any], conn: sa.Connection | Session) -> Any:
        """The row after a write, in the same transaction."""
        st = self.statements
        assert st.select_one is not None
        row = conn.execute(st.select_one, st.key_params(key)).first()
        if row is None:
            raise NotFound(f"No {self.resource.name} row with key {_key_text(key)}")
        return self.encoder.row(row)

    # -- writes ---------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        res = self.resource
        access = self.authorize(request)
        grant = access.require(res, "create") if access is not None else True
        fmt = http.representation(request, res.format)
        args = request.args.to_dict(flat=False)
        on_conflict = args.pop("on_conflict", None)
        reject_query(args)
        body = http.read_body(request, self.settings.max_body_size, self._json_depth)
        schema = res.schema
        if on_conflict is not None:
            return self._upsert(request, body, on_conflict, access, fmt)
        if body.kind == "json" and request.mimetype == JSONAPI and b'"included"' in body.raw:
            nested = decode_nested(body.raw, res, self._seen(access))
            if nested is not None:
                request.environ[POINTERS] = nested[1]
                return self._create_nested(request, nested[0], access, fmt)
        doc = self._nested_body(request, body, access)
        if doc is not None:
            return self._create_nested(request, doc, access, fmt)
        if body.kind == "json" and request.mimetype != JSONAPI and body.raw.lstrip()[:1] == b"[":
            items = schema.validate_json_many(body.raw)
            for i, item in enumerate(items):
                _check_writable(access, res, item, f"/{i}")
            if not items:
                raise ValidationFailed(
                    [FieldError("", "The array is empty")], detail="Nothing to create"
                )
            created = self._write_many(items, access, grant)
            return _json_response([_visible(access, res, r) for r in created], 201)
        data = self._body_data(request, body, "create", access=access)
        _check_writable(access, res, data)
        (row,) = self._write_many([data], access, grant)
        resp = self._written(request, row, fmt, 201, access)
        self._locate(resp, row)
        return resp

    def _seen(self, access: Access | None) -> Catalog:
        """The catalog as this caller sees it: a relation concealed from them leads nowhere,
        so a write body naming it gets the answer of a name that does not exist."""
        if access is None:
            return self.catalog
        return _SeenCatalog(self.catalog, access, self.peers)

    def _nested_body(self, request: Request, body: http.Body, access: Access | None) -> Any:
        """The decoded plain-JSON create body when it nests rows under a relation (an object,
        or an array of objects, with such a key); None otherwise, or when it is not JSON at all
        (the plain path then says what is wrong). A cheap look at the bytes comes first: a
        body that names no such relation is never parsed twice. A relation concealed from the
        caller is no relation to them: a body naming only such ones takes the plain path."""
        if body.kind != "json" or request.mimetype == JSONAPI:
            return None
        if self._nests is None:
            names = frozenset(nestable(self.resource, self.catalog))
            self._nests = (names, tuple(orjson.dumps(n) for n in names))
        names, patterns = self._nests
        if not any(p in body.raw for p in patterns):
            return None
        try:
            doc = load_exact(body.raw)
        except ValueError:
            return None
        if access is not None:
            names = names - access.concealed_relations(self.resource, self.catalog)
        items = doc if isinstance(doc, list) else [doc]
        return doc if any(isinstance(d, dict) and names & d.keys() for d in items) else None

    def _create_nested(
        self,
        request: Request,
        doc: Any,
        access: Access | None,
        fmt: str,
        on_conflict: list[str] | None = None,
    ) -> Response:
        """A create with related rows nested in it (see :mod:`tablerest.nested`): every row is
        validated first, then all are written in one transaction, each through its own
        resource (permissions, field rules, hooks); 201 with the rows as stored, nested as
        they were sent. With ``on_conflict``, the top rows are upserted (200 when changed)."""
        seen = self._seen(access)
        if access is not None:  # refused outright before the rows are looked at
            for res, at in rows_in(self.resource, seen, doc).values():
                if on_conflict is not None and res is self.resource:
                    continue  # an upsert may only change rows: its grants come per row
                try:
                    access.require(res, "create")
                except TablerestError as exc:
                    raise exc.under(at) from None
        many = isinstance(doc, list)
        docs = doc if many else [doc]
        nodes: list[Node] = []
        errors: list[FieldError] = []
        for i, item in enumerate(docs):
            try:
                nodes.append(parse_document(self.resource, seen, item, f"/{i}" if many else ""))
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        if errors:
            raise ValidationFailed(errors)
        upsert = None if on_conflict is None else (request, on_conflict)
        try:
            with self.db.atomic():
                stored = [self._store_nested(node, access, upsert) for node in nodes]
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        if many:
            return _json_response(
                [out for _row, out, _made in stored], 201 if upsert is None else 200
            )
        row, out, made = stored[0]
        # The ETag stays that of the row as a GET shows it; the body adds the nested rows.
        resp = self._written(request, row, fmt, 201 if made else 200, access)
        if fmt == "jsonapi":
            resp.set_data(dumps(self.jsonapi.single(self.resource, out, self._item_url(row))))
        else:
            resp.set_data(dumps(out))
        if made:
            self._locate(resp, row)
        return resp

    def _store_nested(
        self,
        node: Node,
        access: Access | None,
        upsert: tuple[Request, list[str]] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Write one row of a nested document with the rows it links to (upserting it on
        ``upsert``'s key); the row as stored, as answered (with the nested rows), and whether
        it was created."""
        res = node.resource
        nested: dict[str, Any] = {}
        for rel, parent in node.parents:
            stored, nested[rel.name], _made = self._store_nested(parent, access)
            names = field_names(parent.resource, rel.remote) or []
            for local, column, name in zip(
                field_names(res, rel.local) or [], rel.remote, names, strict=True
            ):
                node.data[local] = typed_value(column, stored[name])
        ep = self.peers[res.name]
        try:
            _check_writable(access, res, node.data)  # under node.at just below, like the rest
            if upsert is not None:
                row, made = ep._upsert_one(upsert[0], node.data, upsert[1], access)
            else:
                grant = access.require(res, "create") if access is not None else True
                (row,), made = ep._write_many([node.data], access, grant), True
        except TablerestError as exc:
            raise exc.under(node.at) from None
        for rel, children in node.children:
            target = children[0].resource if children else None
            rows = []
            for child in children:
                assert target is not None
                pairs = zip(
                    field_names(target, rel.remote) or [],
                    rel.local,
                    field_names(res, rel.local) or [],
                    strict=True,
                )
                for remote, column, local in pairs:
                    child.data[remote] = typed_value(column, row[local])
                rows.append(self._store_nested(child, access)[1])
            nested[rel.name] = rows
        return row, {**_visible(access, res, row), **nested}, made

    def update_many(self, request: Request) -> Response:
        """``PATCH`` on the collection: an array of rows, each with its key and the fields to
        change. All or nothing; 200 with the rows as stored, in the order given."""
        res = self.resource
        table = res.table
        access = self.authorize(request)
        grant = access.require(res, "update") if access is not None else True
        reject_query(request.args.to_dict(flat=False))
        body = http.read_body(request, self.settings.max_body_size, self._json_depth)
        if body.kind != "json" or body.raw.lstrip()[:1] != b"[":
            raise BadRequest("Send a JSON array of rows: each with its key, and fields to change")
        items = res.schema.validate_json_patch_many(body.raw)
        if not items:
            raise ValidationFailed([FieldError("", "The array is empty")], detail="Nothing to do")
        pk = res.pk_fields
        pk_names = {f.name for f in pk}
        pk_columns = [f.column for f in pk]
        errors: list[FieldError] = []
        keys: list[tuple[Any, ...]] = []
        for i, item in enumerate(items):
            changes = {k: v for k, v in item.items() if k not in pk_names}
            _check_writable(access, res, changes, f"/{i}")
            missing = [f.name for f in pk if item.get(f.name) is None]
            errors += [FieldError(f"/{i}/{n}", "Field required: the key of the row to change")
                       for n in missing]  # fmt: skip
            keys.append(tuple(item.get(f.name) for f in pk))  # twice: applied in order
        if errors:
            raise ValidationFailed(errors)
        if grant is not True or not self._core or self._references(access) is not None:
            rows = self._each(
                lambda i: self._change(request, keys[i], items[i], "patch", False, "json",
                                       access, grant),
                len(items),
            )  # fmt: skip
            return _json_response([_visible(access, res, r) for r in rows], 200)
        written = [
            {res.fields[k].column: v for k, v in item.items() if k not in pk_names}
            for item in items
        ]
        rows = []
        try:
            with self.db.transaction(table) as conn:
                assert isinstance(conn, sa.Connection)
                for i, (key, values) in enumerate(zip(keys, written, strict=True)):
                    match = sa.and_(*(f.column == v for f, v in zip(pk, key, strict=True)))
                    if values:
                        changed = conn.execute(sa.update(table).where(match).values(values))
                        found = changed.rowcount > 0
                    else:
                        found = (
                            conn.execute(sa.select(*pk_columns).where(match)).first() is not None
                        )
                    if not found:
                        raise NotFound(f"Item /{i}: no row {_key_text(key)!r}")
                    rows.append(self.encoder.row(self._read_back(conn, key)[0]))
        except sa.exc.IntegrityError as exc:
            raise self._diagnose(exc, written) from None
        return _json_response([_visible(access, res, r) for r in rows], 200)

    def _upsert(
        self,
        request: Request,
        body: http.Body,
        on_conflict: list[str],
        access: Access | None,
        fmt: str,
    ) -> Response:
        """``POST ?on_conflict=f``: create each row, or change the one that already has its
        value(s) of ``f`` (a unique key; a row without them, or with a null, is created). All
        or nothing; 201 with ``Location`` for a single new row, 200 otherwise."""
        res = self.resource
        table = res.table
        if len(on_conflict) != 1:
            raise InvalidParameter("on_conflict", "on_conflict is given more than once")
        names = [n.strip(" \t") for n in on_conflict[0].split(",") if n.strip(" \t")]
        fields = [res.fields.get(n) for n in names]
        hidden = access.concealed(res) if access is not None else frozenset()  # as unknown
        if not names or any(f is None or not f.readable or f.name in hidden for f in fields):
            raise InvalidParameter("on_conflict", "on_conflict names unknown fields")
        columns = [f.column for f in fields if f is not None]
        if set(columns) not in [set(u) for u in unique_sets(table)]:
            raise InvalidParameter(
                "on_conflict", f"{', '.join(names)} is not a unique key of {res.name}"
            )
        doc = self._nested_body(request, body, access)
        if doc is not None:
            return self._create_nested(request, doc, access, fmt, names)
        many = body.kind == "json" and body.raw.lstrip()[:1] == b"["
        items = (
            res.schema.validate_json_many(body.raw)
            if many
            else [self._body_data(request, body, "create", access=access)]
        )
        if not items:
            raise ValidationFailed([FieldError("", "The array is empty")], detail="Nothing to do")
        for i, item in enumerate(items):
            _check_writable(access, res, item, f"/{i}" if many else "")
        _reachable(res, items, many)
        rows: list[dict[str, Any]] = []
        created: list[bool] = []
        every_row = access is None or all(
            access.grant(res, action) is True for action in ("create", "update")
        )
        if not (every_row and self._core and self._references(access) is None):
            # Owner rules, hooks or ORM behaviour: each row as the create or update it is.
            def one(i: int) -> dict[str, Any]:
                row, made = self._upsert_one(request, items[i], names, access)
                created.append(made)
                return row

            rows = self._each(one, len(items), "" if not many else None)
        else:
            rows = self._upsert_core(items, names, columns, created)
        if many:
            return _json_response([_visible(access, res, r) for r in rows], 200)
        resp = self._written(request, rows[0], fmt, 201 if created[0] else 200, access)
        if created[0]:
            self._locate(resp, rows[0])
        return resp

    def _upsert_core(
        self,
        items: list[dict[str, Any]],
        names: list[str],
        columns: list[sa.Column[Any]],
        created: list[bool],
    ) -> list[dict[str, Any]]:
        """Upsert rows with one ``INSERT ... ON CONFLICT`` statement each."""
        res = self.resource
        table = res.table
        rows: list[dict[str, Any]] = []
        written = [{res.fields[k].column: v for k, v in item.items()} for item in items]
        try:
            with self.db.transaction(table) as conn:
                assert isinstance(conn, sa.Connection)
                pk = list(table.primary_key.columns)
                for values in written:
                    if any(values.get(c) is None for c in columns):
                        # No value (or null) for the key matches no row: a plain create.
                        result = conn.execute(sa.insert(table).values(values))
                        key = tuple(result.inserted_primary_key or ())
                        found = None
                    else:
                        match = sa.and_(*(c == values[c] for c in columns))
                        found = conn.execute(sa.select(*pk).where(match)).first()
                        conn.execute(upsert_statement(conn.dialect.name, table, values, columns))
                        key = tuple(conn.execute(sa.select(*pk).where(match)).one())
                    rows.append(self.encoder.row(self._read_back(conn, key)[0]))
                    created.append(found is None)
        except sa.exc.IntegrityError as exc:
            # The rows holding the on_conflict values are the ones meant: not the clash.
            diagnosed = self._diagnose(exc, written)
            if isinstance(diagnosed, ValidationFailed):  # a CHECK: the value, not a clash
                raise diagnosed from None
            kept = [e for e in diagnosed.errors if e.pointer.rsplit("/", 1)[-1] not in names]
            if kept:
                where = ", ".join(sorted({e.pointer for e in kept}))
                raise Conflict(f"Conflict on {where}", errors=kept) from None
            if not diagnosed.errors:
                raise diagnosed from None
            raise Conflict("The change conflicts with data already stored") from None
        return rows

    def _upsert_one(
        self,
        request: Request,
        data: dict[str, Any],
        names: list[str],
        access: Access | None,
    ) -> tuple[dict[str, Any], bool]:
        """One row of an upsert as the create or update it is (permissions, hooks); the row
        and whether it was created. Runs inside :meth:`Database.atomic`."""
        res = self.resource
        key = None
        if all(data.get(n) is not None for n in names):
            match = sa.and_(*(res.fields[n].column == data[n] for n in names))
            with self.db.connection(res.table) as conn:
                found = conn.execute(sa.select(*res.table.primary_key.columns).where(match))
                key = found.first()
        if key is None:
            grant = access.require(res, "create") if access is not None else True
            (row,) = self._write_many([data], access, grant)
            return row, True
        # A row holding the key that the caller may not change, seen by them or not, is the
        # same 409 a create of that key would meet: neither 403 (seen) nor 404 (not) says more.
        taken = Conflict(
            f"A {res.name} row with this {', '.join(names)} exists that you may not change",
            errors=[FieldError(f"/{n}", "A row you may not change has this value") for n in names],
        )
        grant = access.grant(res, "update") if access is not None else True
        if grant is not True:
            with self.db.connection(res.table) as conn:
                if not self._matches(conn, tuple(key), grant, access):
                    raise taken
        try:
            return self._change(
                request, tuple(key), data, "patch", False, "json", access, grant
            ), False
        except NotFound:  # deleted, or gone out of the caller's reach, since the look-up
            raise taken from None

    def _each(
        self, write: Callable[[int], dict[str, Any]], count: int, at: str | None = None
    ) -> list[dict[str, Any]]:
        """``write(i)`` for each item of a bulk write, in one transaction (all or nothing);
        errors point at the item (``/i``, or ``at`` for a single row)."""
        rows = []
        try:
            with self.db.atomic():
                for i in range(count):
                    try:
                        rows.append(write(i))
                    except TablerestError as exc:
                        raise exc.under(f"/{i}" if at is None else at) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return rows

    def _body_data(
        self,
        request: Request,
        body: http.Body,
        variant: Variant,
        key: str | None = None,
        access: Access | None = None,
    ) -> dict[str, Any]:
        """The validated fields of a write's body: JSON, a JSON:API document or a form."""
        schema = self.resource.schema
        if body.kind == "form":
            return schema.validate_form(body.form or {}, variant, body.files)
        if request.mimetype == JSONAPI:
            decoded = decode_document(body.raw, self.resource, self._seen(access), key=key)
            request.environ[POINTERS] = decoded.pointers
            return schema.validate_json(decoded.raw, variant)
        return schema.validate_json(body.raw, variant)

    def _written(
        self,
        request: Request,
        row: dict[str, Any],
        fmt: str,
        status: int,
        access: Access | None = None,
    ) -> Response:
        """The row a write stored, in the representation the client negotiated."""
        res = self.resource
        row = _visible(access, res, row)
        if fmt == "jsonapi":
            doc = self.jsonapi.single(res, row, self._item_url(row), view=access)
            return _tagged(request, doc, res, status, read=False, media=JSONAPI)
        return _tagged(request, row, res, status, read=False)

    def replace(self, request: Request, key: str) -> Response:
        return self._update(request, key, "replace")

    def update(self, request: Request, key: str) -> Response:
        return self._update(request, key, "patch")

    @property
    def _core(self) -> bool:
        """Whether writes run as Core statements on a connection: when no ORM session is needed
        (no ORM behaviour on the model, no hooks, which are given the session) and no change
        feed records them (bulk updates and upserts then go row by row too)."""
        res = self.resource
        return not res.use_orm and not any(res.hooks.values()) and self.changes is NO_CHANGES

    def delete(self, request: Request, key: str) -> Response:
        st = self.statements
        res = self.resource
        access = self.authorize(request)
        grant = access.require(res, "delete") if access is not None else True
        fmt = http.representation(request, res.format)
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(res, key)
        conditional = self._condition(request)
        try:
            if self._core and not conditional and grant is True:
                plan = self._plan(("delete",), lambda: Prepared(st.delete_statement()))
                with self.db.transaction(res.table, statements=1, plans=(plan,)) as conn:
                    if execute(conn, plan, st.write_values({}, values)) == 0:
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                return _no_content()
            with self.db.writing(self.resource.table) as session:
                if grant is not True:
                    self._reach(session, values, grant, access, "delete")
                if conditional:
                    self._check_current(request, session, values, fmt, access)
                ctx = WriteContext(res, "delete", session, "DELETE", key=values)
                self._run_hooks("before_delete", ctx)
                self.changes.deleting(session, values)
                if res.use_orm:
                    obj = session.get(res.model, values)  # type: ignore[arg-type]
                    if obj is None:
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                    session.delete(obj)
                    session.flush()
                else:
                    result = session.execute(self.statements.delete(values))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                self._run_hooks("after_delete", ctx)
        except sa_exc.IntegrityError as exc:
            raise self._diagnose(exc, [], key=values, deleting=True) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return _no_content()

    def _update(self, request: Request, key: str, variant: Variant) -> Response:
        access = self.authorize(request)
        grant = access.require(self.resource, "update") if access is not None else True
        fmt = http.representation(request, self.resource.format)
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(self.resource, key)
        conditional = self._condition(request)
        body = http.read_body(request, self.settings.max_body_size, self._json_depth)
        res = self.resource
        restricted = access.concealed(res) | access.locked(res) if access else frozenset()
        if variant == "replace" and restricted:
            # What the caller may not write or see is not theirs to replace: not required
            # of them, and kept as it is (see _with_resets).
            data = self._body_data(request, body, "patch", key, access)
            missing = [
                f.name
                for f in res.writable
                if f.required_on_replace and f.name not in data and f.name not in restricted
            ]
            if missing:
                raise ValidationFailed([FieldError(f"/{n}", "Field required") for n in missing])
        else:
            data = self._body_data(request, body, variant, key, access)
        _check_writable(access, res, data)
        row = self._change(request, values, data, variant, conditional, fmt, access, grant)
        return self._written(request, row, fmt, 200, access)

    def _change(
        self,
        request: Request,
        values: tuple[Any, ...],
        data: dict[str, Any],
        variant: Variant,
        conditional: bool,
        fmt: str,
        access: Access | None = None,
        grant: Grant = True,
    ) -> dict[str, Any]:
        """Update the row ``values`` with validated ``data``; the row as stored."""
        self._check_key_unchanged(data, values)
        res = self.resource
        if variant == "replace":
            kept = access.locked(res) | access.concealed(res) if access else frozenset()
            data = self._with_resets(data, kept)
        written: dict[sa.Column[Any], Any] = {}
        readable = self._references(access)
        try:
            if self._core and not conditional and grant is True and readable is None:
                written = self.statements.values(data)
                return self._update_core(values, data)
            with self.db.writing(self.resource.table) as session:
                if grant is not True:
                    self._reach(session, values, grant, access, "update")
                if conditional:
                    self._check_current(request, session, values, fmt, access)
                was = self.changes.current(session, values)  # the feed records what changed
                ctx = WriteContext(res, "update", session, request.method, data=data, key=values)
                self._run_hooks("before_update", ctx)
                written = self.statements.values(ctx.data)
                if res.use_orm:
                    obj = session.get(res.model, values)  # type: ignore[arg-type]
                    if obj is None:
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                    for name, value in ctx.data.items():
                        setattr(obj, self._attr(name), value)
                    session.flush()
                elif ctx.data:
                    result = session.execute(self.statements.update(values, ctx.data))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                if grant is not True:
                    self._hold(session, values, grant, access)
                if readable is not None:
                    self._refer(session, written, readable)
                row: dict[str, Any] = self._fetch_one(values, session)
                ctx.row = row
                self._run_hooks("after_update", ctx)
                self.changes.record(session, "update", [row], before=[was])
        except (sa_exc.IntegrityError, _Unreadable) as exc:
            raise self._diagnose(exc, [written], key=values, readable=readable) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return row

    def _condition(self, request: Request) -> bool:
        """Whether a write carries ``If-Match``; 428 when the resource requires it."""
        if "HTTP_IF_MATCH" in request.environ:
            return True
        if self.resource.require_if_match:
            raise PreconditionRequired(
                f"Changes to {self.resource.name} must send If-Match with the ETag of the row "
                "as last read, so that they cannot overwrite someone else's change"
            )
        return False

    def _check_current(
        self,
        request: Request,
        session: Session,
        key: tuple[Any, ...],
        fmt: str,
        access: Access | None,
    ) -> None:
        """412 unless ``If-Match`` names the row as it is now, as this caller would GET it
        (without the fields hidden from them: a tag over those could never match theirs, and
        200-vs-412 would tell whether a guessed hidden value is right). The row is locked
        until the write's transaction ends (``FOR UPDATE``; on SQLite the write lock, taken
        first), so no other write can slip in between the check and the change."""
        stmt = self.statements.select_one
        assert stmt is not None  # a table without a key has no item routes
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            dbapi: Any = conn.connection.dbapi_connection
            if not dbapi.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt, self.statements.key_params(key)).first()
        if row is None:
            raise NotFound(f"No {self.resource.name} row with key {_key_text(key)}")
        current = _visible(access, self.resource, self.encoder.row(row))
        if fmt == "jsonapi":  # the tag the client holds is that of the JSON:API document
            current = self.jsonapi.single(self.resource, current, self._item_url(current))
        if not http.if_match(request, http.etag(dumps(current))):
            raise PreconditionFailed(
                f"This {self.resource.name} row has changed since the ETag in If-Match was "
                "read; read it again and reapply the change"
            )

    def _update_core(self, key: tuple[Any, ...], data: dict[str, Any]) -> dict[str, Any]:
        res = self.resource
        st = self.statements
        missing = f"No {res.name} row with key {_key_text(key)}"
        returning = st.returnable and self.db.engine(res.table).dialect.update_returning
        assert self._select_one is not None  # a table without a key has no item routes
        plans = [self._select_one]
        if data:
            names = tuple(data)
            plan: Prepared = self._plan(
                ("update", names, returning),
                lambda: Prepared(st.update_statement(names, returning)),
            )
            plans = [plan] if returning else [plan, self._select_one]
        statements = 1 if returning or not data else 2
        with self.db.transaction(res.table, statements=statements, plans=plans) as conn:
            if not data:
                rows = self._read_back(conn, key)
            else:
                params = st.write_values(data, key)
                if returning:
                    rows = fetch_all(conn, plan, params)
                elif execute(conn, plan, params) == 0:
                    rows = []
                else:
                    rows = self._read_back(conn, key)
            if not rows:
                raise NotFound(missing)
            return self.encoder.row(rows[0])

    def _read_back(self, conn: Runner, key: Sequence[Any]) -> list[Any]:
        """The row with this key, in the write's transaction (where RETURNING is missing)."""
        assert self._select_one is not None  # a table without a key has no item routes
        return fetch_all(conn, self._select_one, self.statements.key_params(key))

    def _create_core(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        res = self.resource
        st = self.statements
        created = []
        returning = st.returnable and self.db.engine(res.table).dialect.insert_returning
        statements = len(items) * (1 if returning else 2)
        plans: list[Prepared] = [
            self._plan(
                ("insert", tuple(data), returning),
                functools.partial(_prepare, st.insert_statement, tuple(data), returning),
            )
            for data in items
        ]
        # Without RETURNING the new key comes from Connection.execute's inserted_primary_key.
        direct_plans = plans if returning else []
        with self.db.transaction(res.table, statements=statements, plans=direct_plans) as conn:
            for data, plan in zip(items, plans, strict=True):
                params = st.write_values(data)
                if returning:
                    row = fetch_all(conn, plan, params)[0]
                else:
                    assert isinstance(conn, sa.Connection)
                    result = conn.execute(plan.statement, params)
                    key = tuple(result.inserted_primary_key or ())
                    row = self._read_back(conn, key)[0]
                created.append(self.encoder.row(row))
        return created

    def _write_many(
        self, items: list[dict[str, Any]], access: Access | None = None, grant: Grant = True
    ) -> list[dict[str, Any]]:
        """Create every item in one transaction: all are stored, or none."""
        res = self.resource
        st = self.statements
        written: list[dict[sa.Column[Any], Any]] = []
        created: list[dict[str, Any]] = []
        readable = self._references(access)
        _reachable(res, items)
        try:
            if self._core and grant is True and readable is None:
                for i, data in enumerate(items):
                    _require_filled(res, data, f"/{i}" if len(items) > 1 else "")
                written = [st.values(data) for data in items]
                return self._create_core(items)
            with self.db.writing(self.resource.table) as session:
                for i, data in enumerate(items):
                    at = f"/{i}" if len(items) > 1 else ""
                    if isinstance(grant, Rows):
                        self._claim(data, grant, access, at)
                    _require_filled(res, data, at)
                    ctx = WriteContext(res, "create", session, "POST", data=data)
                    self._run_hooks("before_create", ctx)
                    written.append(st.values(ctx.data))
                    key = self._insert(session, ctx.data)
                    if grant is not True:
                        self._hold(session, key, grant, access)
                    if readable is not None:
                        self._refer(session, written[-1], readable)
                    row = self._fetch_one(key, session)
                    ctx.row, ctx.key = row, key
                    self._run_hooks("after_create", ctx)
                    created.append(row)
                self.changes.record(session, "create", created)
        except (sa_exc.IntegrityError, _Unreadable) as exc:
            # Every item, as the Core path diagnoses them: the pointers then carry the index
            # of an array's item whichever item failed first.
            rest = [st.values(data) for data in items[len(written) :]]
            raise self._diagnose(exc, [*written, *rest], readable=readable) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return created

    def _insert(self, session: Session, data: Mapping[str, Any]) -> tuple[Any, ...]:
        res = self.resource
        if res.use_orm:
            assert res.mapper is not None
            assert res.model is not None
            obj = res.model(**{self._attr(k): v for k, v in data.items()})
            session.add(obj)
            session.flush()
            return tuple(res.mapper.primary_key_from_instance(obj))
        result = session.execute(self.statements.insert(data))
        return tuple(result.inserted_primary_key or ())  # type: ignore[attr-defined]

    # -- helpers --------------------------------------------------------------------------

    def _attr(self, name: str) -> str:
        """The mapped attribute for a field or column name (hooks may use either)."""
        mapper = self.resource.mapper
        assert mapper is not None
        if name in mapper.attrs:
            return name
        col = self.statements.values({name: None})
        (column,) = col
        return mapper.get_property_by_column(column).key

    def _claim(self, data: dict[str, Any], grant: Rows, access: Access | None, at: str) -> None:
        """A create under an owner rule: the owner fields are the caller's (filled in when
        left out; someone else's id is a 403)."""
        assert access is not None
        assert access.identity is not None
        policy = self.resource.policy
        assert policy is not None
        for name, mine in policy.owner_values(grant, access.identity).items():
            if name not in data:
                data[name] = mine
            elif data[name] != mine:
                raise Forbidden(
                    f"{name} must be your own id: you may only create rows you own",
                    errors=[FieldError(f"{at}/{name}", "Must be your own id")],
                )

    def _matches(
        self,
        session: Session | sa.Connection,
        key: Sequence[Any],
        grant: Grant,
        access: Access | None,
    ) -> bool:
        """Whether the row ``key`` exists and falls within ``grant``."""
        if grant is False:
            return False
        res = self.resource
        stmt = sa.select(sa.literal(1)).select_from(res.table).where(self.statements.key_where(key))
        params: dict[str, Any] = {}
        if isinstance(grant, Rows):
            assert res.policy is not None
            assert access is not None
            stmt = stmt.where(res.policy.clause(grant, res.table))
            if not res.policy.values(grant, access.identity, params):
                return False
        return session.execute(stmt, params).first() is not None

    def _reach(
        self,
        session: Session,
        key: Sequence[Any],
        grant: Grant,
        access: Access | None,
        verb: str,
    ) -> None:
        """Before changing the row ``key``: 404 when the caller cannot see it, 403 when they
        can see it but not change it."""
        if self._matches(session, key, grant, access):
            return
        res = self.resource
        read = access.grant(res, "read") if access is not None else True
        if self._matches(session, key, read, access):
            raise Forbidden(f"You may not {verb} this {res.name} row")
        raise NotFound(f"No {res.name} row with key {_key_text(key)}")

    def _hold(
        self, session: Session, key: Sequence[Any], grant: Grant, access: Access | None
    ) -> None:
        """After a write: the row must still be within the caller's grant (a row cannot be
        created for, or handed over to, someone else); 403 and nothing stored otherwise."""
        if not self._matches(session, key, grant, access):
            raise Forbidden(f"The {self.resource.name} row would not be yours after this change")

    def _references(self, access: Access | None) -> Readable | None:
        """Which referenced rows the caller may read, where not all (see
        :meth:`Access.references`); None when nothing is hidden from them, and the fast
        paths, which do not check references, may run."""
        return access.references(self.resource, self._reader) if access is not None else None

    def _reader(self, table: sa.Table) -> Resource | None:
        """The resource that serves reads of ``table`` (as relations find it), if any."""
        for ep in self.peers.values():
            if ep.resource.table is table and "GET" in ep.resource.methods:
                return ep.resource
        return None

    def _refer(
        self, session: Session, written: Mapping[sa.Column[Any], Any], readable: Readable
    ) -> None:
        """After writing ``written``, in the same transaction: when it refers to a row the
        caller may not read, undo the write and answer as for a dangling reference (the
        write's ``except`` diagnoses it, with the same words; see :meth:`_references`)."""
        if refers_unreadable(session.connection(), self.resource, written, readable):
            raise _Unreadable

    def _run_hooks(self, event: str, ctx: WriteContext) -> None:
        for hook in self.resource.hooks[event]:
            hook(ctx)

    def _check_key_unchanged(self, data: dict[str, Any], key: Sequence[Any]) -> None:
        errors = []
        for f, value in zip(self.resource.pk_fields, key, strict=True):
            if f.name in data:
                agree = keys_agree(f.column.type, data[f.name], value)
                if not agree:
                    errors.append(
                        FieldError(
                            f"/{f.name}", "The primary key cannot be changed; it must match the URL"
                        )
                    )
                if not f.writable or agree:
                    del data[f.name]
        if errors:
            raise ValidationFailed(errors)

    def _with_resets(self, data: dict[str, Any], kept: frozenset[str]) -> dict[str, Any]:
        """PUT replaces: every writable field left out goes back to its default, or null (but
        not those the caller may not write or see)."""
        out = dict(data)
        for f in self.resource.writable:
            if f.name in out or f.primary_key or not f.readable or f.name in kept:
                continue  # write-only fields cannot be resent by a client, so PUT keeps them
            default = f.column.default
            if isinstance(default, sa.ColumnDefault) and default.is_scalar:
                out[f.name] = default.arg
            elif isinstance(default, sa.ColumnDefault) and default.is_callable:
                out[f.name] = default.arg(None)
            elif f.nullable:
                out[f.name] = None
        return out

    def _diagnose(
        self,
        failed: Exception,
        written: list[dict[sa.Column[Any], Any]],
        *,
        key: Sequence[Any] | None = None,
        deleting: bool = False,
        readable: Readable | None = None,
    ) -> TablerestError:
        # A CHECK constraint's failure is the client's value (422), not a clash with stored
        # rows (409).
        if isinstance(failed, sa_exc.IntegrityError) and classify(failed) is Failure.CHECK:
            return check_failure(failed, self.resource, written)
        try:
            with self.db.connection(self.resource.table) as conn:
                return diagnose_integrity(
                    conn, self.resource, written, key=key, deleting=deleting, readable=readable
                )
        except TablerestError as error:
            return error

    def _locate(self, resp: Response, row: Mapping[str, Any]) -> None:
        """``Location`` of a created row, unless no URL can name it: a key the database made
        (a default, a trigger) with a ``/`` in it, which clients cannot send themselves."""
        if not unreachable_keys(self.resource, row):
            resp.headers["Location"] = self._item_url(row)

    def _item_url(self, row: Mapping[str, Any]) -> str:
        parts = [quote(str(row[f.name]), safe="") for f in self.resource.pk_fields]
        return f"{self.url}/{','.join(parts)}"

    def _page_meta(self, intent: ListIntent) -> dict[str, int]:
        if intent.page_number is not None:
            return {"number": intent.page_number, "size": intent.limit}
        if intent.direction is not None:
            return {"size": intent.limit}
        return {"offset": intent.offset, "limit": intent.limit}

    def _offset_links(
        self, request: Request, base: Mapping[str, list[str]], intent: ListIntent, more: bool
    ) -> dict[str, str | None]:
        query = _Query(request.path, base)
        name = "page[number]" if intent.page_number is not None else "offset"

        def at(offset: int) -> str:
            value = offset // intent.limit + 1 if intent.page_number is not None else offset
            return query.url(name, str(value))

        return {
            "self": query.url(),
            "first": at(0),
            "prev": at(max(intent.offset - intent.limit, 0)) if intent.offset > 0 else None,
            "next": at(intent.offset + intent.limit) if more else None,
        }

    def _keyset_links(
        self,
        request: Request,
        base: Mapping[str, list[str]],
        intent: ListIntent,
        more: bool,
        cursors: list[str],
    ) -> dict[str, str | None]:
        query = _Query(request.path, base)
        rest = _Query(
            request.path,
            {k: v for k, v in base.items() if k not in ("page[after]", "page[before]")},
        )
        forward = intent.direction == "after"
        has_next = more if forward else bool(intent.cursor)
        has_prev = bool(intent.cursor) if forward else more
        return {
            "self": query.url(),
            "first": rest.url("page[after]", ""),
            "prev": rest.url("page[before]", cursors[0]) if has_prev and cursors else None,
            "next": rest.url("page[after]", cursors[-1]) if has_next and cursors else None,
        }


class _SeenCatalog:
    """The resources as one caller sees them (:meth:`Endpoint._seen`): ``target`` of a
    relation concealed from the caller is None, as for a relation to a table not served."""

    __slots__ = ("_access", "_catalog", "_owners")

    def __init__(self, catalog: Catalog, access: Access, peers: Mapping[str, Endpoint]) -> None:
        self._catalog = catalog
        self._access = access
        self._owners = {ep.resource.table: ep.resource for ep in peers.values()}

    def target(self, relation: Relation) -> Resource | None:
        found = self._catalog.target(relation)
        owner = self._owners.get(relation.pairs[0][0].table) if relation.pairs else None
        if found is None or owner is None:
            return found
        concealed = self._access.concealed_relations(owner, self._catalog)
        return None if relation.name in concealed else found

    def by_name(self, name: str) -> Resource | None:
        return self._catalog.by_name(name)


class _Query:
    """A request's query string, encoded once, for links that change one parameter."""

    __slots__ = ("pairs", "path")

    def __init__(self, path: str, args: Mapping[str, list[str]]) -> None:
        self.path = _uri(path)
        self.pairs = [(k, f"{_quoted(k)}={quote_plus(v)}") for k, vs in args.items() for v in vs]

    def url(self, name: str | None = None, value: str = "") -> str:
        """The URL, with parameter ``name`` set to ``value`` (in its place, or last)."""
        if name is None:
            parts = [encoded for _, encoded in self.pairs]
        else:
            new = f"{_quoted(name)}={quote_plus(value)}"
            parts, placed = [], False
            for key, encoded in self.pairs:
                if key != name:
                    parts.append(encoded)
                elif not placed:
                    parts.append(new)
                    placed = True
            if not placed:
                parts.append(new)
        return f"{self.path}?{'&'.join(parts)}" if parts else self.path


@functools.lru_cache(maxsize=256)
def _quoted(name: str) -> str:
    return quote_plus(name)


def _cursor_json(keys: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """Sort values as JSON for a cursor: enum members as their labels."""
    out = []
    for key, value in zip(keys, values, strict=True):
        col_type = key.field.column.type
        if value is not None and isinstance(col_type, sa.Enum):
            value = enum_to_label(col_type)(value)
        out.append(value)
    return out


def _key_text(key: Sequence[Any]) -> str:
    return ",".join(str(v) for v in key)


def _involved(res: Resource, intent: ListIntent) -> list[Resource]:
    """The resources a read of ``res`` touches: itself, those its filters and sorts go
    through, and those it includes."""
    out = {res.name: res}
    grouped = intent.grouping.keys if intent.grouping is not None else ()
    for path in [*(f.path for f in intent.filters), *(k.path for k in intent.sort), *grouped]:
        for _rel, through in path.steps:
            out.setdefault(through.name, through)

    def walk(includes: Sequence[Include]) -> None:
        for inc in includes:
            out.setdefault(inc.resource.name, inc.resource)
            walk(inc.children)

    walk(intent.include)
    return list(out.values())


def _guard(
    access: Access | None, res: Resource, intent: ListIntent, *also: Resource
) -> tuple[ListIntent, _Scope]:
    """A read of ``res`` as this caller may make it: the intent without the fields hidden
    from them, and the row scope of every resource it touches (and of ``also``: a relation's
    owner). Reaching a resource the caller may not read at all (a filter, sort or include
    through it) is a 401 or 403, not an empty answer. The intent was parsed with the caller's
    view (``access``): the fields and relations concealed from them are not in it."""
    if access is None:
        return intent, _OPEN
    involved = _involved(res, intent)
    for other in involved[1:]:
        access.require(other, "read")
    intent = _restrict(access, intent, involved)
    sig, values = access.scope([*involved, *also])
    return intent, _Scope(sig, values, access, access) if sig else _Scope(view=access)


def _refuse_page_params(args: Mapping[str, list[str]], what: str) -> None:
    """An export holds every matching row (or group): page parameters are a 400 there."""
    for name in _NOT_EXPORTED:
        if name in args:
            raise InvalidParameter(
                name, f"An export has every matching {what}: {name} is for pages"
            )


def _require_filled(res: Resource, data: Mapping[str, Any], at: str) -> None:
    """A field an owner rule fills in for others is still required from a caller whose
    grant covers every row (an admin creating a row for someone)."""
    missing = [
        n for n in res.filled_on_create if res.fields[n].required_on_create and n not in data
    ]
    if missing:
        raise ValidationFailed([FieldError(f"{at}/{n}", "Field required") for n in missing])


def _restrict(access: Access, intent: ListIntent, involved: list[Resource]) -> ListIntent:
    """The intent without the fields the caller may not see (``hidden_unless``), so that rows
    leave them out. (Naming one anywhere was an unknown field already, in the parse.)"""
    fields = dict(intent.fields)
    narrowed = False
    for resource in involved:
        names = access.concealed(resource)
        if names and resource.name not in fields:
            fields[resource.name] = tuple(f.name for f in resource.readable if f.name not in names)
            narrowed = True
    return dataclasses.replace(intent, fields=fields) if narrowed else intent


def _reachable(res: Resource, items: Sequence[Mapping[str, Any]], many: bool | None = None) -> None:
    """422 for new rows whose key no item URL could name (see :func:`unreachable_keys`);
    pointers carry the item's index when ``many`` (by default: when there are several)."""
    many = len(items) > 1 if many is None else many
    errors = [
        e
        for i, data in enumerate(items)
        for e in unreachable_keys(res, data, f"/{i}" if many else "")
    ]
    if errors:
        raise ValidationFailed(errors)


def _check_writable(
    access: Access | None, res: Resource, data: Mapping[str, Any], at: str = ""
) -> None:
    """422 for fields the caller may not write (``read_only_unless``) or see."""
    if access is None:
        return
    locked, hidden = access.locked(res), access.concealed(res)
    errors = [
        FieldError(f"{at}/{n}", "Unknown field" if n in hidden else "Field is read-only")
        for n in data
        if n in locked or n in hidden
    ]
    if errors:
        raise ValidationFailed(errors)


def _visible(access: Access | None, res: Resource, row: dict[str, Any]) -> dict[str, Any]:
    """A written row as this caller may see it."""
    if access is None:
        return row
    hidden = access.concealed(res)
    return {k: v for k, v in row.items() if k not in hidden} if hidden else row
