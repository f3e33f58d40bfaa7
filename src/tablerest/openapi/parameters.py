"""The parameters of operations: the path key, and the query language of lists and reads
(pages, sort, fields, include, search, grouping and aggregates, format, filters), each with a
schema (and pattern) that says what the query parser takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..columns.typeops import aggregates, family, groupable, operators, sortable
from ..decode.filtergroups import MAX_BRANCH, MAX_GROUP_DEPTH
from ..decode.queries import HAVING_OPS
from ..fields import Field
from ..limits import MAX_OFFSET, MAX_PAGE_NUMBER, Limits
from ..resource import Resource
from .common import query
from .context import Context
from .fields import SCALAR_OPS, filter_schema, key_schema

#: At most this many include paths or sort keys are spelled out in a parameter's pattern.
MAX_LISTED = 200


def _pattern_escape(text: str) -> str:
    """Text matched literally by an ECMA-262 pattern (JSON Schema's regex dialect)."""
    return re.sub(r"([\\^$.*+?()\[\]{}|/])", r"\\\1", text)


def list_pattern(items: Iterable[str], sign: str = "", *, nonempty: bool = False) -> str:
    """A comma-separated list of ``items`` (each optionally preceded by ``sign``), as the
    query parser reads it: spaces and tabs around an item and empty items are ignored
    (``nonempty``: at least one item is there)."""
    item = f"{sign}(?:" + "|".join(_pattern_escape(i) for i in items) + ")"
    one = f"[ \t]*(?:{item})?[ \t]*"
    if nonempty:  # the first item is there (empty ones may come before it)
        return f"^[ \t,]*{item}[ \t]*(?:,{one})*$"
    return f"^{one}(?:,{one})*$"


def key_parameter(res: Resource) -> tuple[dict[str, Any], str]:
    """The path parameter naming a row of ``res``, and how the path spells it."""
    if len(res.key_fields) == 1:
        f = res.key_fields[0]
        return {
            "name": f.name,
            "in": "path",
            "required": True,
            "schema": key_schema(f),
            "description": f"The key ({f.name})"
            if res.looked_up
            else f"The primary key ({f.name})",
        }, f"{{{f.name}}}"
    names = ",".join(f.name for f in res.key_fields)
    return {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": f"The composite key: {names}, comma-separated, in this order",
    }, "{key}"


def list_params(ctx: Context, res: Resource, *, groups: bool = True) -> list[dict[str, Any]]:
    """The query parameters of a list of ``res``: pages, sort, fields, include, search,
    grouping (unless not ``groups``: a relation route), format and one filter per readable
    field."""
    # Groups (group_by, aggregate) sort by their keys and aggregates.
    sortable = sort_keys(ctx, res) + (aggregate_texts(ctx, res) if groups else [])
    params = [
        *page_params(res),
        query("sort", {"type": "string", "pattern": list_pattern(sortable, "-?")},
               "Comma-separated sort keys, each once, '-' for descending (groups: their "
               "keys and aggregates, such as -count())"),
        *item_params(ctx, res),
    ]  # fmt: skip
    if res.searchable and not {f.name for f in res.searchable} & ctx.concealed(res):
        names = ", ".join(f.name for f in res.searchable)
        params.append(query("q", {"type": "string"}, f"Search in {names}"))
    if groups:
        params += grouping_params(ctx, res)
    params += filter_params(ctx, res)
    params.append(filter_groups_param(ctx, res))
    params += [
        query(
            name,
            {"type": "string"},
            f"Stands for filter[{dotted}]" + (f"[{op}]" if op != "eq" else ""),
        )
        for name, (dotted, op) in res.parameters.items()
    ]
    return params


def grouping_params(ctx: Context, res: Resource) -> list[dict[str, Any]]:
    """``group_by``, ``aggregate``, ``distinct`` and ``having``: what each takes, spelled out
    as patterns (own fields; ``group_by`` also takes to-one relations' fields, dotted)."""
    own = [f for f in ctx.readable(res) if groupable(f.column.type)]
    keys = [f.name for f in own]
    for name, rel, target in ctx.relations(res):
        if not rel.to_many:
            keys += [f"{name}.{f.name}" for f in ctx.readable(target) if groupable(f.column.type)]
    texts = aggregate_texts(ctx, res)
    one_of = "|".join(_pattern_escape(t) for t in texts)
    ops = "|".join(HAVING_OPS)
    by = {"type": "string", "pattern": list_pattern(keys[:MAX_LISTED], nonempty=True)}
    return [
        query("group_by", by,
               "Comma-separated fields (own, or through to-one relations, dotted) to group "
               "by: data then holds one object per group"),
        query("aggregate", {"type": "string", "pattern": list_pattern(texts, nonempty=True)},
               "Comma-separated aggregates; each group gets them as count, count_f, sum_f, "
               "avg_f, min_f, max_f"),
        query("distinct", by,
               "Comma-separated fields: their distinct combinations (group_by without "
               "aggregates)"),
        # Form-exploded: each member is a parameter of its own, named in full
        # (having[avg(pages)][ge]=300), which generated clients send as it is.
        {"name": "having", "in": "query", "required": False, "style": "form",
         "explode": True, "schema": {
             "type": "object",
             "propertyNames": {"pattern": rf"^having\[(?:{one_of})\](?:\[(?:{ops})\])?$"},
             "additionalProperties": {"type": "string"}},
         "description": "Conditions on the aggregates asked for, after grouping, one "
                        "parameter each: having[avg(pages)][ge]=300 (operators "
                        f"{', '.join(HAVING_OPS)}; without one, eq)"},
    ]  # fmt: skip


def aggregate_texts(ctx: Context, res: Resource) -> list[str]:
    """Every aggregate ``aggregate`` takes: ``count()``, and ``fn(f)`` per field."""
    each = (f"{fn}({f.name})" for f in ctx.readable(res) for fn in aggregates(f.column.type))
    return ["count()", *each]


def filter_params(ctx: Context, res: Resource) -> list[dict[str, Any]]:
    """One filter per readable field and operator: ``filter[f]`` (equality) and
    ``filter[f][op]``, each with the schema of what the parser reads."""
    limits = ctx.state.api.settings.limits
    params = []
    for f in ctx.readable(res):
        for op in operators(f.column.type, SCALAR_OPS):
            if op == "eq":  # spelled without the operator
                text = f"Rows whose {f.name} equals this"
                params.append(query(f"filter[{f.name}]", filter_schema(f), text))
                continue
            schema, text = _operator_filter(f, op, limits)
            params.append(query(f"filter[{f.name}][{op}]", schema, text))
            if op in ("in", "nin"):
                params[-1].update(style="form", explode=False)
    return params


def filter_groups_param(ctx: Context, res: Resource, *, related: bool = True) -> dict[str, Any]:
    """``filter[or][i][...]`` and ``filter[not][...]``: OpenAPI has no nested deepObject, so
    the groups are one form-exploded object whose property names are the parameters, sent as
    they are (as ``having``), their pattern the group syntax over the filters above. With
    ``related`` (not the change feed), the same object holds the filters through a relation
    (``filter[tags.name]``; one step is spelled out), in groups or not."""
    own = _filter_leaves(ctx, res, "")
    through = []
    if related:
        for name, _rel, target in ctx.relations(res):
            through += _filter_leaves(ctx, target, f"{name}.")
    group = r"(?:\[or\]\[1?[0-9]\]|\[not\])"
    leaf = "|".join((own + through)[:MAX_LISTED])
    alone = "|".join(through[:MAX_LISTED])
    grouped = rf"{group}{{1,{MAX_GROUP_DEPTH}}}(?:{leaf})"
    pattern = rf"^filter(?:{grouped}|{alone})$" if alone else rf"^filter{grouped}$"
    dotted = (
        "; fields may be dotted through relations, as in filter[author.country]=NZ (through "
        "a to-many relation: has at least one such row), in a group or on their own"
        if related
        else ""
    )
    return {
        "name": "filter", "in": "query", "required": False, "style": "form", "explode": True,
        "schema": {"type": "object", "propertyNames": {"pattern": pattern},
                   "additionalProperties": {"type": "string"}},
        "description": (
            "OR and NOT groups of the filters above, one parameter each: "
            "filter[or][0][year][lt]=1950&filter[or][1][genre]=fantasy selects rows matching "
            "any branch (the conditions under one index are ANDed); "
            "filter[not][genre]=fantasy&filter[not][year][lt]=1950 the rows the ANDed "
            "conditions do not select (NULL rows included, as for ne). Groups nest "
            f"(filter[or][0][not][...]) up to {MAX_GROUP_DEPTH} deep; branch indexes are 0 "
            f"to {MAX_BRANCH - 1}; every condition counts toward the filter limit{dotted}"
        ),
        "x-tablerest-filter-groups": {"or": "filter[or][<index>]", "not": "filter[not]",
                                      "max_depth": MAX_GROUP_DEPTH, "max_branch": MAX_BRANCH - 1},
    }  # fmt: skip


def _filter_leaves(ctx: Context, res: Resource, prefix: str) -> list[str]:
    """``[f]`` or ``[f][op]`` for each readable field of ``res`` (named ``prefix`` + its name)
    and the operators its type takes, as patterns."""
    out = []
    for f in ctx.readable(res):
        ops = "|".join(operators(f.column.type, SCALAR_OPS))
        out.append(rf"\[{_pattern_escape(prefix + f.name)}\](?:\[(?:{ops})\])?")
    return out


_COMPARISONS = {"ne": "does not equal", "lt": "is below", "le": "is at most",
                "gt": "is above", "ge": "is at least", "cs": "contains", "cd": "is contained by",
                "ov": "overlaps"}  # fmt: skip


def _operator_filter(f: Field, op: str, limits: Limits) -> tuple[dict[str, Any], str]:
    """The schema and description of ``filter[f][op]``."""
    name = f.name
    if op == "null":
        return {"type": "boolean"}, f"true: rows whose {name} is null; false: is not null"
    if op in ("in", "nin"):
        item = filter_schema(f)
        if family(f.column.type) == "scalar" and item.get("type") == "string":
            # The values are comma-separated: a value cannot hold a comma.
            item = {**item, "pattern": item.get("pattern", "^[^,]*$")}
        list_schema = {"type": "array", "items": item, "minItems": 1,
                       "maxItems": limits.max_in_values}  # fmt: skip
        which = "equals one" if op == "in" else "equals none"
        return list_schema, f"Rows whose {name} {which} of these (comma-separated)"
    if op in ("like", "ilike"):
        # At most so many unescaped % and _; a backslash escapes the next character.
        plain = r"(?:[^%_\\]|\\[\s\S])*"
        pattern = rf"^{plain}(?:[%_]{plain}){{0,{limits.max_like_wildcards}}}$"
        case = "" if op == "like" else ", ignoring case"
        return (
            {"type": "string", "maxLength": limits.max_like_length, "pattern": pattern},
            f"Rows whose {name} matches this SQL pattern (% any text, _ one character, \\ "
            f"escapes){case}",
        )
    if op in ("contains", "startswith", "endswith"):
        return {"type": "string"}, f"Rows whose {name} {op} this text (no wildcards)"
    return filter_schema(f), f"Rows whose {name} {_COMPARISONS[op]} this"


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
