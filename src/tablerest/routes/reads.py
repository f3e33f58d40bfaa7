"""The read routes of one resource: negotiate the format, parse the query string into an
intent (as the caller sees the API), call the read operation, render the rows with their
links and page meta."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import http
from ..decode.queries import ListIntent
from ..decode.urlkeys import parse_key
from ..errors import InvalidParameter
from ..operations.caller import Caller, Scope
from ..operations.reads import Page
from ..relations import Relation
from ..resource import Resource, linkage_columns
from .common import Routes
from .respond import (
    enveloped,
    export_response,
    keyset_links,
    link_header,
    offset_links,
    page_meta,
    refuse_page_params,
    root,
    self_link,
    tagged,
)

__all__ = ["ReadRoutes"]

_FIELDS_PARAM = re.compile(r"^fields(?:\[([^\[\]]+)\])?$")
#: An item read with no query string: every visible field, nothing included.
_PLAIN_ITEM = ListIntent(1)


class ReadRoutes(Routes):
    """``GET`` on the collection, an item, a relation and a relationship."""

    def list_rows(self, request: Request) -> Response:
        res = self.resource
        reads = self.ops.reads
        caller = self.caller(request)
        caller.require(res, "list")  # before the query is read: it may name hidden fields
        fmt = http.list_format(request, res.export, res.format)
        parsed, sparse = self._query_args(request, res, fmt, caller)
        intent = self.queries.list_intent(res, parsed, caller.access)
        intent, scope = reads.guard_list(caller, intent)
        # Links keep the client's own parameters (JSON:API's were rewritten for the parser).
        args = request.args.to_dict(flat=False) if sparse else parsed
        if intent.grouping is not None:
            return self._groups(request, intent, args, fmt, scope)
        if fmt in ("csv", "ndjson"):
            refuse_page_params(args, "row")
            return export_response(res, fmt, reads.export(res, intent, scope))
        page = reads.page(res, intent, scope)
        return self._page(request, caller, res, intent, args, page, fmt=fmt, sparse=sparse)

    def read(self, request: Request, key: str) -> Response:
        res = self.resource
        caller = self.caller(request)
        caller.require(res, "read")
        fmt = http.representation(request, res.format)
        # An item's query string holds no values (only fields and include), so its parse is
        # cached like a plan; errors raise before anything is cached.
        query = request.query_string
        sparse: dict[str, set[str]] = {}
        queries = self.queries
        if fmt == "jsonapi":
            args, sparse = self._query_args(request, res, fmt, caller)
            intent = queries.item_intent(res, args, caller.access)
        elif query and caller.access is not None:
            # The caller's view decides what the names mean: a parse of its own, not shared.
            intent = queries.item_intent(res, request.args.to_dict(flat=False), caller.access)
        elif query:
            intent = self.ops.shared.plan(
                ("item-query", query),
                lambda: queries.item_intent(res, request.args.to_dict(flat=False)),
            )
        else:
            intent = _PLAIN_ITEM
        row = self.ops.reads.item(caller, parse_key(res, key), intent)
        if fmt == "jsonapi":
            url = self_link(request)
            doc = self.jsonapi.single(res, row, url, sparse, caller.access, root=root(request))
            return tagged(request, doc, res, media=http.JSONAPI)
        return tagged(request, enveloped(res, row), res)

    def row(self, request: Request, key: str, caller: Caller) -> dict[str, Any]:
        """The row ``key`` as ``caller`` reads it (404 when they cannot): its plain fields."""
        caller.require(self.resource, "read")
        return self.ops.reads.item(caller, parse_key(self.resource, key), _PLAIN_ITEM)

    def own(
        self,
        request: Request,
        subject: str,
        caller: Caller | None = None,
        extra: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        """The caller's own row (``/auth/me``), whatever the resource's ``read`` permission;
        ``caller``: one who just signed in or up (the request's own by default); ``extra``:
        members added to the row (an access token)."""
        res = self.resource
        caller = caller if caller is not None else self.caller(request)
        # A token's subject is the user's primary key, whatever names the row in URLs.
        pk = parse_key(res, subject, res.primary_key)
        row = self.ops.reads.own(caller, pk, _PLAIN_ITEM)
        return tagged(
            request, enveloped(res, {**row, **(extra or {})}), res, status, read=not extra
        )

    def related(self, request: Request, key: str, name: str) -> Response:
        """``GET /books/1/author`` (one row or null), ``GET /authors/1/books`` (a list)."""
        res = self.resource
        caller = self.caller(request)
        rel, target = caller.relation(res, name, "No such resource or route")
        caller.require(res, "read")
        caller.require(target, "list" if rel.to_many else "read")
        fmt: http.ListFormat = (
            http.list_format(request, target.export, target.format)
            if rel.to_many
            else http.representation(request, target.format)
        )
        parsed, sparse = self._query_args(request, target, fmt, caller)
        args = request.args.to_dict(flat=False) if sparse else parsed  # as in list_rows
        if rel.to_many:
            intent = self.queries.list_intent(target, parsed, caller.access)
            _rows_only(intent, parsed)
        else:
            intent = self.queries.item_intent(target, parsed, caller.access)
        reads = self.ops.reads
        through, row, intent, scope = reads.related(
            caller, parse_key(res, key), rel, target, intent
        )
        if rel.to_many and fmt in ("csv", "ndjson"):
            refuse_page_params(args, "row")
            return export_response(target, fmt, reads.export(target, intent, scope, through))
        if rel.to_many:
            page = reads.page(target, intent, scope, through)
            return self._page(request, caller, target, intent, args, page, fmt=fmt, sparse=sparse)
        if fmt == "jsonapi":
            url = self_link(request)
            view = caller.access
            doc = self.jsonapi.single(target, row, url, sparse, view, root=root(request))
            return tagged(request, doc, target, media=http.JSONAPI)
        return tagged(request, enveloped(target, row), target)

    def linkage(
        self, request: Request, caller: Caller, key: str, rel: Relation, target: Resource
    ) -> Response:
        """``GET /books/1/relationships/author``: the linkage of one relationship."""
        res = self.resource
        name = rel.name
        caller.require(res, "read")
        caller.require(target, "list" if rel.to_many else "read")
        args = request.args.to_dict(flat=False)
        only_keys = {target.name: tuple(f.name for f in target.key_fields)}
        reads = self.ops.reads
        values = parse_key(res, key)
        if rel.to_many:
            intent = self.queries.list_intent(target, args, caller.access)
            _rows_only(intent, args)
            intent = dataclasses.replace(intent, fields=only_keys, include=())
            through, _row, intent, scope = reads.related(caller, values, rel, target, intent)
            page = reads.page(target, intent, scope, through)
            return self._page(request, caller, target, intent, args, page, linkage=(res, name, key))
        if args:
            raise InvalidParameter(next(iter(args)), "A relationship takes no query parameters")
        intent = ListIntent(1, fields=only_keys)
        _through, row, _intent, _scope = reads.related(caller, values, rel, target, intent)
        data = (
            None if row is None else {"type": target.name, "id": self.jsonapi.key_text(target, row)}
        )
        doc = self.jsonapi.linkage(res, name, key, data, root=root(request))
        return tagged(request, doc, res, media=http.JSONAPI)

    def _page(
        self,
        request: Request,
        caller: Caller,
        res: Resource,
        intent: ListIntent,
        args: Mapping[str, list[str]],
        page: Page,
        *,
        fmt: str = "jsonapi",
        sparse: Mapping[str, set[str]] | None = None,
        linkage: tuple[Resource, str, str] | None = None,
    ) -> Response:
        """A page of ``res`` rows as plain JSON or JSON:API; ``linkage`` (the owner,
        relationship and key) makes it a JSON:API relationship document: the rows'
        identifiers only."""
        if intent.direction is None:
            links = offset_links(request, args, intent, page.more)
        else:
            links = keyset_links(request, args, intent, page.more, page.cursors)
        meta: dict[str, Any] = {"page": page_meta(intent)}
        if page.total is not None:
            meta.update(page.total)
        if linkage is not None:
            owner, name, key = linkage
            ids = [{"type": res.name, "id": self.jsonapi.key_text(res, r)} for r in page.rows]
            doc = self.jsonapi.linkage(owner, name, key, ids, root=root(request))
            doc["links"].update({k: v for k, v in links.items() if v and k != "self"})
            doc["meta"] = meta
            resp = tagged(request, doc, res, media=http.JSONAPI)
        elif fmt == "jsonapi":
            view = caller.access
            doc = self.jsonapi.collection(
                res, page.rows, links, meta, sparse or {}, view, root=root(request)
            )
            resp = tagged(request, doc, res, media=http.JSONAPI)
        else:
            env = res.envelope
            if env is None:
                resp = tagged(request, {"data": page.rows, "links": links, "meta": meta}, res)
            else:
                resp = tagged(request, env.page(page.rows, links, meta), res)
        header = link_header(links)
        if header:
            resp.headers["Link"] = header
        return resp

    def _groups(
        self,
        request: Request,
        intent: ListIntent,
        args: Mapping[str, list[str]],
        fmt: str,
        scope: Scope,
    ) -> Response:
        """A grouped list: one row per group (plain JSON ``data``, JSON:API ``meta.groups``,
        or every group as CSV / NDJSON)."""
        res = self.resource
        export = fmt in ("csv", "ndjson")
        if export:
            refuse_page_params(args, "group")
        if export:
            return export_response(res, fmt, self.ops.reads.export_groups(intent, scope))
        groups = self.ops.reads.groups(intent, scope)
        links = offset_links(request, args, intent, groups.more)
        meta: dict[str, Any] = {"page": page_meta(intent)}
        if groups.total is not None:
            meta["total"] = groups.total
        if fmt == "jsonapi":
            doc = {"data": [], "links": links, "meta": {**meta, "groups": groups.rows}}
            return tagged(request, doc, res, media=http.JSONAPI)
        return tagged(request, {"data": groups.rows, "links": links, "meta": meta}, res)

    def _query_args(
        self, request: Request, res: Resource, fmt: str, caller: Caller
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
            of = self.registry.by_name(m.group(1)) if m.group(1) else res
            if of is None:
                continue  # the parser names the unknown type
            asked = [n.strip(" \t") for n in ",".join(values).split(",") if n.strip(" \t")]
            sparse[of.name] = set(asked)
            relations = {n: (rel, t) for n, rel, t in self.jsonapi.relations(of, caller.access)}
            columns: list[str] = [f.name for f in of.key_fields]
            for n in asked:
                if n in relations:
                    rel, t = relations[n]
                    columns.extend(linkage_columns(of, rel, t) or ())
                else:
                    columns.append(n)
            args[name] = [",".join(dict.fromkeys(columns))]
        return args, sparse


def _rows_only(intent: ListIntent, args: Mapping[str, Any]) -> None:
    """A relation route lists rows: groups (``group_by`` and the like) are the collection's,
    which a filter through a relation narrows as well; ignoring them would answer rows where
    the client asked for groups."""
    if intent.grouping is None:
        return
    asked = [n for n in ("group_by", "distinct", "aggregate") if n in args]
    name = asked[0] if asked else next(n for n in args if n.startswith("having["))
    raise InvalidParameter(
        name, "A relation route lists rows, not groups: group the collection instead"
    )
