"""The parameters of operations: the path key, and the query language of lists and reads
(pages, sort, fields, include, search, grouping and aggregates, format, filters), each with a
schema (and pattern) that says what the query parser takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..columns.typeops import groupable, operators, sortable
from ..limits import MAX_OFFSET, MAX_PAGE_NUMBER
from ..resource import Resource
from .common import query
from .context import Context
from .fields import SCALAR_OPS, filter_schema, key_schema

#: At most this many include paths or sort keys are spelled out in a parameter's pattern.
MAX_LISTED = 200


def _pattern_escape(text: str) -> str:
    """Text matched literally by an ECMA-262 pattern (JSON Schema's regex dialect)."""
    return re.sub(r"([\\^$.*+?()\[\]{}|/])", r"\\\1", text)


def list_pattern(items: Iterable[str], sign: str = "") -> str:
    """A comma-separated list of ``items`` (each optionally preceded by ``sign``), as the
    query parser reads it: spaces and tabs around an item and empty items are ignored."""
    one = f"[ \t]*(?:{sign}(?:" + "|".join(_pattern_escape(i) for i in items) + "))?[ \t]*"
    return f"^{one}(?:,{one})*$"


def required_list_pattern(items: Iterable[str]) -> str:
    """:func:`list_pattern` with at least one item: for a parameter whose empty value is a 400
    (``group_by=``, ``aggregate=``, ``distinct=``)."""
    names = "|".join(_pattern_escape(i) for i in items)
    some = f"[ \t]*(?:{names})[ \t]*"
    return f"^(?:[ \t]*,)*{some}(?:,[ \t]*(?:{names})?[ \t]*)*$"


def key_parameter(res: Resource) -> tuple[dict[str, Any], str]:
    """The path parameter naming a row of ``res``, and how the path spells it."""
    if len(res.pk_fields) == 1:
        f = res.pk_fields[0]
        return {
            "name": f.name,
            "in": "path",
            "required": True,
            "schema": key_schema(f),
            "description": f"The primary key ({f.name})",
        }, f"{{{f.name}}}"
    names = ",".join(f.name for f in res.pk_fields)
    return {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": f"The composite key: {names}, comma-separated, in this order",
    }, "{key}"


def list_params(ctx: Context, res: Resource) -> list[dict[str, Any]]:
    """The query parameters of a list of ``res``: pages, sort, fields, include, search,
    grouping, format and one filter per readable field."""
    sortable = sort_keys(ctx, res)
    params = [
        *page_params(res),
        query("sort", {"type": "string", "pattern": list_pattern(sortable, "-?")},
               "Comma-separated sort keys, each once, '-' for descending"),
        *item_params(ctx, res),
    ]  # fmt: skip
    if res.searchable and not {f.name for f in res.searchable} & ctx.concealed(res):
        names = ", ".join(f.name for f in res.searchable)
        params.append(query("q", {"type": "string"}, f"Search in {names}"))
    groupable = ", ".join(f.name for f in ctx.readable(res))
    group_keys = {"type": "string", "pattern": required_list_pattern(group_paths(ctx, res))}
    params += [
        query("group_by", group_keys,
               f"Comma-separated fields (own: {groupable}; or through to-one relations, "
               "dotted) to group by: data then holds one object per group"),
        query("aggregate", {"type": "string", "pattern": required_list_pattern(
                  aggregates(ctx, res))},
               "Comma-separated count(), count(f), sum(f), avg(f), min(f), max(f); each "
               "group gets them as count, count_f, sum_f, avg_f, min_f, max_f"),
        query("distinct", group_keys,
               "Comma-separated fields: their distinct combinations (group_by without "
               "aggregates)"),
        {"name": "having", "in": "query", "required": False, "style": "deepObject",
         "explode": True, "schema": {"type": "object", "propertyNames": {
             "enum": aggregates(ctx, res)}, "additionalProperties": {"type": "string"}},
         "description": "having[avg(f)][ge]=3: conditions on aggregates, after grouping"},
    ]  # fmt: skip
    formats = ["json", "jsonapi", "csv", "ndjson"] if res.export else ["json", "jsonapi"]
    params.append(
        query(
            "format",
            {"type": "string", "enum": formats},
            "The representation; wins over Accept",
        )
    )
    for f in ctx.readable(res):
        params.append(
            query(
                f"filter[{f.name}]",
                filter_schema(f),
                f"Rows whose {f.name} equals this; filter[{f.name}][op] takes the "
                f"operators {' '.join(operators(f.column.type, SCALAR_OPS))}",
            )
        )
    return params


def page_params(res: Resource) -> list[dict[str, Any]]:
    """Offset and keyset pages, and counts, within the resource's page sizes."""
    top = res.max_page_size
    return [
        query("page[size]", {"type": "integer", "minimum": 1, "maximum": top},
               f"Rows per page (default {res.page_size})"),
        query("page[number]", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
               "Page number, from 1"),
        query("page[after]", {"type": "string"}, "Keyset page after this cursor ('' for "
               "the first page); follow links.next. Not with page[number], limit, offset"),
        query("page[before]", {"type": "string"}, "Keyset page before this cursor ('' "
               "for the last page); follow links.prev"),
        query("limit", {"type": "integer", "minimum": 1, "maximum": top},
               "Rows per page (instead of page[size])"),
        query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
               "Rows to skip (instead of page[number])"),
        query("page[limit]", {"type": "integer", "minimum": 1, "maximum": top},
               "limit as JSON:API libraries spell it (not with limit/offset or page[size])"),
        query("page[offset]", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
               "offset as JSON:API libraries spell it (not with limit/offset or "
               "page[number]); links.next keeps using it"),
        query("count", {"type": "string", "enum": ["exact", "estimated", "capped", "true",
                                                   "false", ""]},
               "Add meta.total: COUNT(*) (exact, true), the planner's estimate "
               "(estimated; meta.total_estimated), or counted up to a cap (capped; "
               "meta.total_capped)"),
    ]  # fmt: skip


def item_params(ctx: Context, res: Resource) -> list[dict[str, Any]]:
    """The query parameters of a read: sparse fields, and include where relations allow."""
    names = (f.name for f in ctx.readable(res))
    fields = {"type": "string", "pattern": list_pattern(names)}
    params = [query("fields", fields, "Comma-separated fields to return")]
    paths = include_paths(ctx, res)
    if paths:
        include = {"type": "string", "pattern": list_pattern(paths)}
        params.append(query("include", include, "Comma-separated relations to embed"))
    return params


def include_paths(ctx: Context, res: Resource) -> list[str]:
    """Every relation path ``include`` takes, up to the depth limit (and a sane count)."""
    depth = ctx.state.api.settings.limits.max_include_depth
    out: list[str] = []

    def walk(r: Resource, prefix: str, level: int) -> None:
        for name, _rel, target in ctx.relations(r):
            if len(out) >= MAX_LISTED:
                continue
            out.append(prefix + name)
            if level + 1 < depth:
                walk(target, f"{prefix}{name}.", level + 1)

    walk(res, "", 0)
    return out


def sort_keys(ctx: Context, res: Resource) -> list[str]:
    """The resource's fields and those of its to-one relations (one level)."""
    keys = [f.name for f in ctx.readable(res) if sortable(f.column.type)]
    for name, rel, target in ctx.relations(res):
        if not rel.to_many:
            keys.extend(f"{name}.{f.name}" for f in ctx.readable(target) if sortable(f.column.type))
    return keys[:MAX_LISTED]


def group_paths(ctx: Context, res: Resource) -> list[str]:
    """The fields ``group_by`` and ``distinct`` take: those with an equality, the resource's
    own and its to-one relations' (one level; the parser takes deeper paths too)."""
    keys = [f.name for f in ctx.readable(res) if groupable(f.column.type)]
    for name, rel, target in ctx.relations(res):
        if not rel.to_many:
            keys.extend(
                f"{name}.{f.name}" for f in ctx.readable(target) if groupable(f.column.type)
            )
    return keys[:MAX_LISTED]


#: The column types ``sum()`` and ``avg()`` take, and those ``min()``/``max()`` cannot compare
#: (as the query parser decides).
_NUMBERS = (sa.Integer, sa.Numeric, sa.Float)
_UNORDERED = (sa.JSON, sa.LargeBinary, sa.Boolean, sa.Enum, sa.Uuid)


def aggregates(ctx: Context, res: Resource) -> list[str]:
    """Every aggregate ``aggregate`` takes, spelled as the parser reads it."""
    out = ["count()"]
    for f in ctx.readable(res):
        t = f.column.type
        out.append(f"count({f.name})")
        if isinstance(t, _NUMBERS):
            out += [f"sum({f.name})", f"avg({f.name})"]
        if sortable(t) and not isinstance(t, _UNORDERED):
            out += [f"min({f.name})", f"max({f.name})"]
    return out[:MAX_LISTED]
