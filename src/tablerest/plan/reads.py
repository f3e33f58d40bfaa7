"""Read intents -> SELECT statements: lists, items, relation routes and includes. Pure.

Planning needs the declarations and the parsed intent, never a connection. Every statement
returns positional columns: first the fields the client sees, then the extra columns the
pipeline needs (primary keys, the keys that link included rows, sort values for cursors), as
described by a :class:`Shape`.

How the query language becomes SQL:

- filters are conditions, through relations ``EXISTS`` sub-queries (:mod:`.filters`);
- a sort through to-one relations is a correlated scalar sub-query; the primary key always ends
  the ordering, so pages never overlap or skip rows; ``NULL`` sorts as the smallest value;
- keyset pages compare the sort values of the cursor's row, with the same ``NULL`` rule;
- a to-one include onto the target's primary key is a ``LEFT JOIN`` of the same statement (see
  :class:`Joined`); any other include loads with one query per relation path (``IN`` the parent
  keys), to-many ones cut to ``Limits.include_limit`` rows per parent with ``ROW_NUMBER()``,
  each statement fetching at most ``:inc_cap`` rows (what is left of ``Limits.max_included``,
  plus one to tell that it would be exceeded);

Statements are built once per query *shape* and reused: every value of a request is a named
bind parameter, and ``*_values`` functions give the values of one request under the same names
(``f0`` the first filter, ``c1`` the second cursor value, ``k0`` the key, ``lim`` the limit...).
What changes the SQL (which filters and operators, the sort, the fields, which cursor values
are ``NULL``, the length of an ``IN`` list rounded up to a power of two) is in the signature
that the caller caches statements by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from ..columns.decimals import as_shown, rounded_aggregate
from ..columns.rowkeys import key_match
from ..columns.sqlite_time import comparable as time_comparable
from ..columns.sqlite_time import compared_type
from ..columns.typeops import base_type
from ..columns.untyped import Untyped
from ..decode.queries import Aggregate, Grouping, Include, ListIntent, Path, SortKey
from ..decode.values import value_parser
from ..errors import InvalidParameter
from ..fields import Field
from ..relations import Relation
from ..resource import Resource
from .filters import (
    RowScope,
    filter_values,
    filters_signature,
    linked,
    padded,
    padded_list,
    where_condition,
)
from .filters import adapt as _adapt
from .filters import as_base as _as_base
from .filters import bind as _bind
from .filters import join_on as _join
from .filters import scoped as _scoped
from .portable import Explain, like_escape, ordered

__all__ = [
    "Joined",
    "RowScope",
    "Shape",
    "aggregate_statement",
    "count_statement",
    "grouping_columns",
    "grouping_signature",
    "grouping_values",
    "include_statement",
    "include_values",
    "item_statement",
    "key_values",
    "link_statement",
    "list_signature",
    "list_statement",
    "list_values",
    "padded",
    "shape_for",
    "shape_signature",
    "sort_positions",
    "sort_signature",
]


@dataclass(frozen=True, slots=True)
class Joined:
    """A to-one include read in the same statement (``LEFT JOIN``) at ``offset`` in a row."""

    include: Include
    shape: Shape
    offset: int


@dataclass(frozen=True, slots=True)
class Shape:
    """What a statement selects for one resource: visible fields, then extra columns, then the
    columns of the to-one includes joined in (each a :class:`Joined` shape of its own)."""

    resource: Resource
    visible: tuple[Field, ...]
    extra: tuple[sa.Column[Any], ...]
    #: Included relations loaded after this statement by statements of their own.
    include: tuple[Include, ...]
    #: This table's columns: ``visible`` then ``extra``.
    columns: tuple[sa.Column[Any], ...]
    positions: dict[sa.Column[Any], int]
    joined: tuple[Joined, ...] = ()
    #: Every column a row holds, the joined ones included.
    width: int = 0

    def index(self, col: sa.Column[Any]) -> int:
        """Position of a table column in a selected row."""
        return self.positions[col]

    def values(self, row: Sequence[Any], cols: Sequence[sa.Column[Any]]) -> tuple[Any, ...]:
        return tuple(row[self.index(c)] for c in cols)


def joinable(rel: Relation) -> bool:
    """A to-one relation onto the target's primary key: a join finds at most one row."""
    key = set(rel.target.primary_key.columns)
    return not rel.to_many and bool(key) and set(rel.remote) == key


def shape_for(
    resource: Resource,
    intent: ListIntent,
    include: tuple[Include, ...],
    also: Sequence[sa.Column[Any]] = (),
) -> Shape:
    """The shape of ``resource`` rows for this request (sparse fields, linking columns)."""
    names = intent.fields.get(resource.name)
    visible = resource.readable if names is None else tuple(resource.fields[n] for n in names)
    shown = {f.column for f in visible}
    extra: list[sa.Column[Any]] = []
    for col in [
        *resource.key,
        *resource.primary_key,
        *(c for inc in include for c in inc.relation.local),
        *also,
    ]:
        if col not in shown and col not in extra:
            extra.append(col)
    columns = (*(f.column for f in visible), *extra)
    joined: list[Joined] = []
    width = len(columns)
    for inc in include:
        if joinable(inc.relation):
            child = shape_for(inc.resource, intent, inc.children, also=inc.relation.remote)
            joined.append(Joined(inc, child, width))
            width += child.width
    return Shape(
        resource,
        tuple(visible),
        tuple(extra),
        tuple(inc for inc in include if not joinable(inc.relation)),
        columns,
        {c: i for i, c in enumerate(columns)},
        tuple(joined),
        width,
    )


def _selected(
    shape: Shape, source: FromClause, scope: RowScope | None = None
) -> tuple[list[ColumnElement[Any]], list[tuple[FromClause, ColumnElement[bool]]]]:
    """The columns of a shape read from ``source``, with the outer joins its includes need
    (a joined row the caller may not see is no row)."""
    cols: list[ColumnElement[Any]] = [f.selected(source) for f in shape.visible]
    # A link table's column (the parent key of a many-to-many include) is read from the link.
    own = shape.resource.table
    cols += [_adapt(source, c) if c.table is own else c for c in shape.extra]
    joins: list[tuple[FromClause, ColumnElement[bool]]] = []
    for j in shape.joined:
        rel = j.include.relation
        alias = rel.target.alias()
        on = sa.and_(_join(rel, source, alias), *_scoped(scope, j.shape.resource, alias))
        joins.append((alias, on))
        more, deeper = _selected(j.shape, alias, scope)
        cols += more
        joins += deeper
    return cols, joins


def _select(
    shape: Shape, source: FromClause, scope: RowScope | None = None, start: FromClause | None = None
) -> sa.Select[Any]:
    """The shape's columns from ``source`` (joined from ``start``, when given)."""
    cols, joins = _selected(shape, source, scope)
    return sa.select(*cols).select_from(_chain(start if start is not None else source, joins))


def _chain(
    start: FromClause, joins: Sequence[tuple[FromClause, ColumnElement[bool]]]
) -> FromClause:
    for alias, on in joins:
        start = start.outerjoin(alias, on)
    return start


def sort_signature(resource: Resource, sort: Sequence[SortKey]) -> str:
    spec = ",".join(("-" if k.descending else "") + k.path.dotted for k in sort)
    return f"{resource.name}:{spec}"


def _sort_expr(source: FromClause, path: Path, scope: RowScope | None = None) -> ColumnElement[Any]:
    """A sort value: a column here, or a scalar sub-query along to-one relations."""
    if not path.steps:
        field = path.field
        # Decimals as shown (columns/decimals.py), date-times as instants (columns/sqlite_time.py).
        return time_comparable(as_shown(field.column.type, field.on(source)), field.column.type)
    rel, target = path.steps[0]
    inner = rel.target.alias()
    rest = _sort_expr(inner, Path(path.steps[1:], path.field), scope)
    return (
        sa.select(rest)
        .where(_join(rel, source, inner), *_scoped(scope, target, inner))
        .limit(1)
        .scalar_subquery()
    )


def _conditions(
    resource: Resource, intent: ListIntent, scope: RowScope | None = None
) -> list[ColumnElement[bool]]:
    table = resource.table
    found = where_condition(table, intent, scope)
    out = [] if found is None else [found]
    if intent.search is not None:
        pattern = _bind("q", sa.String())
        out.append(sa.or_(*(f.on(table).ilike(pattern, escape="\\") for f in resource.searchable)))
    return out


def _key_where(columns: Sequence[sa.Column[Any]]) -> list[ColumnElement[bool]]:
    """The row whose ``columns`` hold the key ``:k0, :k1...`` from a URL (:func:`key_match`:
    an untyped column's number names the same text too)."""
    return [key_match(c, _bind(f"k{i}", c.type)) for i, c in enumerate(columns)]


def key_values(key: Sequence[Any], prefix: str = "k") -> dict[str, Any]:
    return {f"{prefix}{i}": v for i, v in enumerate(key)}


# -- statements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    expr: ColumnElement[Any]
    descending: bool
    nullable: bool
    field: Field
    #: The table column, when the key is one of this table (not through a relation).
    column: sa.Column[Any] | None = None


def sort_keys(
    resource: Resource, sort: Sequence[SortKey], scope: RowScope | None = None
) -> list[_Key]:
    """The requested sort, then the primary key as a tie-break."""
    table = resource.table
    keys = [
        _Key(
            _as_base(_sort_expr(table, k.path, scope), k.path.field.column.type),
            k.descending,
            k.path.field.nullable or bool(k.path.steps),
            k.path.field,
            None if k.path.steps else k.path.field.column,
        )
        for k in sort
    ]
    sorted_cols = {k.path.field.column for k in sort if not k.path.steps}
    keys += [
        _Key(time_comparable(table.c[f.column.key], f.column.type), False, False, f, f.column)
        for f in resource.pk_fields
        if f.column not in sorted_cols
    ]
    return keys


def _after(key: _Key, i: int, is_null: bool, forward: bool) -> ColumnElement[bool]:
    """Rows strictly beyond cursor value ``c<i>`` on ``key`` in the direction of travel
    (NULL smallest)."""
    value = None if is_null else _bind(f"c{i}", compared_type(base_type(key.field.column.type)))
    # Forward on an ascending key, or backward on a descending one, goes to greater values.
    if key.descending != forward:
        return key.expr.is_not(None) if value is None else key.expr > value
    if value is None:
        return sa.false()
    below = key.expr < value
    return sa.or_(below, key.expr.is_(None)) if key.nullable else below


def _keyset(keys: Sequence[_Key], nulls: Sequence[bool], forward: bool) -> ColumnElement[bool]:
    terms = []
    for i, key in enumerate(keys):
        equal = [
            k.expr.is_(None)
            if null
            else k.expr == _bind(f"c{j}", compared_type(base_type(k.field.column.type)))
            for j, (k, null) in enumerate(zip(keys[:i], nulls[:i], strict=True))
        ]
        terms.append(sa.and_(*equal, _after(key, i, nulls[i], forward)))
    return sa.or_(*terms)


def decode_values(keys: Sequence[_Key], raw: Sequence[Any], parameter: str) -> list[Any]:
    if len(raw) != len(keys):
        raise InvalidParameter(parameter, "The cursor is not valid for this list and sort")
    out: list[Any] = []
    for key, value in zip(keys, raw, strict=True):
        if value is None or isinstance(key.field.column.type, Untyped):
            # An untyped column's value is kept as JSON has it: a number stays a number.
            out.append(value)
            continue
        try:
            out.append(value_parser(key.field.column.type)(str(value)))
        except (ValueError, TypeError):
            raise InvalidParameter(
                parameter, "The cursor is not valid for this list and sort"
            ) from None
    return out


def shape_signature(intent: ListIntent, include: tuple[Include, ...]) -> tuple[Any, ...]:
    """What decides a :class:`Shape`: the sparse fieldsets and the include tree."""
    return (tuple(intent.fields.items()) if intent.fields else (), _include_signature(include))


def _include_signature(include: tuple[Include, ...]) -> tuple[Any, ...]:
    return tuple((inc.relation.name, _include_signature(inc.children)) for inc in include)


def list_signature(
    intent: ListIntent, cursor_nulls: tuple[bool, ...] | None, where: Any = None
) -> tuple[Any, ...]:
    """Everything about a list request that changes its SQL; values are parameters."""
    return (
        filters_signature(intent),
        intent.search is not None,
        tuple((k.path.dotted, k.descending) for k in intent.sort),
        intent.direction,
        cursor_nulls,
        intent.offset > 0,
        where,
        shape_signature(intent, intent.include),
    )


def list_values(
    intent: ListIntent,
    cursor_values: Sequence[Any] | None = None,
    where: Sequence[Any] = (),
) -> dict[str, Any]:
    """The parameters of :func:`list_statement` and :func:`count_statement` for one request."""
    out: dict[str, Any] = {"lim": intent.limit + 1}
    filter_values(intent.leaves(), out)
    if intent.search is not None:
        out["q"] = f"%{like_escape(intent.search)}%"
    if intent.offset:
        out["off"] = intent.offset
    for i, value in enumerate(cursor_values or ()):
        if value is not None:
            out[f"c{i}"] = value
    out.update(key_values(where, "w"))
    return out


def sort_positions(shape: Shape, keys: Sequence[_Key]) -> list[int]:
    """Where each sort value is in a row of :func:`list_statement` (for cursors): a column the
    shape selects anyway, or one selected after the shape's columns."""
    out, after = [], shape.width
    for key in keys:
        if key.column is not None and key.column in shape.positions:
            out.append(shape.positions[key.column])
        else:
            out.append(after)
            after += 1
    return out


def list_statement(
    shape: Shape,
    intent: ListIntent,
    *,
    through: Relation | None = None,
    cursor_nulls: Sequence[bool] | None = None,
    paged: bool = True,
    scope: RowScope | None = None,
) -> sa.Select[Any]:
    """One page of rows (plus one, to tell whether another page follows), or with
    ``paged=False`` every matching row (an export).

    ``through``: the rows related to the row whose ``through.local`` values are parameters
    ``w0, w1...`` (a relation route, :func:`~.filters.linked`);
    ``cursor_nulls`` says which cursor values are NULL, when there is a cursor. Sort values
    that are not among the shape's columns are selected after them, for the cursors of a
    keyset page (see :func:`sort_positions`; selecting a column twice makes PostgreSQL sort
    wider rows). With ``intent.direction == "before"`` the rows come in reverse order.
    """
    resource = shape.resource
    keys = sort_keys(resource, intent.sort, scope)
    forward = intent.direction != "before"
    extra = [
        k.expr
        for k, at in zip(keys, sort_positions(shape, keys), strict=True)
        if at >= shape.width and intent.direction is not None
    ]
    table = resource.table
    stmt = (
        _select(shape, table, scope)
        .add_columns(*extra)
        .where(
            *_scoped(scope, resource, table, many=True),
            *_conditions(resource, intent, scope),
            *linked(through, table),
        )
    )
    if cursor_nulls is not None:
        stmt = stmt.where(_keyset(keys, cursor_nulls, forward))
    stmt = stmt.order_by(*(ordered(k.expr, k.descending == forward, k.nullable) for k in keys))
    return _paged(stmt, intent) if paged else stmt


def _paged(stmt: sa.Select[Any], intent: ListIntent) -> sa.Select[Any]:
    """A page of ``stmt``: ``LIMIT :lim`` (one row more than shown) and ``OFFSET :off``."""
    stmt = stmt.limit(_bind("lim", sa.Integer()))
    if intent.offset:
        stmt = stmt.offset(_bind("off", sa.Integer()))
    return stmt


def count_statement(
    resource: Resource,
    intent: ListIntent,
    through: Relation | None = None,
    scope: RowScope | None = None,
    dialect: str = "",
) -> sa.Select[Any] | Explain:
    """How ``intent.count`` counts the rows a list would return (all pages): ``COUNT(*)``;
    the count of at most ``count_cap + 1`` rows (bounded work; the planner may stop early);
    or the planner's estimate (``EXPLAIN``), which SQLite has not: a capped count there."""
    table = resource.table
    conditions = (
        *_scoped(scope, resource, table, many=True),
        *_conditions(resource, intent, scope),
        *linked(through, table),
    )
    if intent.count == "exact":
        return sa.select(sa.func.count()).select_from(table).where(*conditions)
    rows = sa.select(sa.literal(1)).select_from(table).where(*conditions)
    if intent.count == "estimated" and dialect in ("postgresql", "mysql", "mariadb"):
        return Explain(rows)
    capped = rows.limit(_bind("cap", sa.Integer())).subquery()
    return sa.select(sa.func.count()).select_from(capped)


def grouping_columns(grouping: Grouping) -> list[str]:
    """The keys of a group in the answer: the group fields' dotted names, then the
    aggregates' names."""
    return [k.dotted for k in grouping.keys] + [a.name for a in grouping.aggregates]


def aggregate_statement(
    resource: Resource,
    intent: ListIntent,
    scope: RowScope | None = None,
    *,
    paged: bool = True,
) -> sa.Select[Any]:
    """One row per group of the rows a list would return: the filtered rows (with their group
    keys, through to-one relations, and the fields aggregated) in a sub-query, grouped,
    ``having`` applied, ordered, paged."""
    grouping = intent.grouping
    assert grouping is not None
    table = resource.table
    inner_cols: list[Any] = [
        _sort_expr(table, path, scope).label(f"g{i}") for i, path in enumerate(grouping.keys)
    ]
    inner_cols += [
        (
            time_comparable(a.field.on(table), a.field.column.type)
            if a.fn in ("min", "max")
            else a.field.on(table)
        ).label(f"a{j}")
        for j, a in enumerate(grouping.aggregates)
        if a.field is not None
    ]
    rows = (
        sa.select(*(inner_cols or [sa.literal(1).label("one")]))
        .select_from(table)
        .where(*_scoped(scope, resource, table, many=True), *_conditions(resource, intent, scope))
        .subquery("rows")
    )
    keys = {path.dotted: rows.c[f"g{i}"] for i, path in enumerate(grouping.keys)}
    exprs: dict[str, ColumnElement[Any]] = {}
    for j, a in enumerate(grouping.aggregates):
        arg = rows.c[f"a{j}"] if a.field is not None else None
        if a.fn == "count":
            exprs[a.name] = sa.func.count() if arg is None else sa.func.count(arg)
        elif a.fn == "avg":
            # numeric on PostgreSQL, decimal on MariaDB, float on SQLite: a number everywhere.
            exprs[a.name] = sa.type_coerce(_rounded(a, sa.func.avg(arg)), sa.Float())
        elif a.fn == "sum" and a.field is not None and isinstance(a.field.column.type, sa.Integer):
            # MariaDB sums integers as decimals: an integer everywhere.
            exprs[a.name] = sa.cast(sa.func.sum(arg), sa.BigInteger())
        else:
            exprs[a.name] = _rounded(a, getattr(sa.func, a.fn)(arg))
    stmt = (
        sa.select(
            *(col.label(name) for name, col in keys.items()),
            *(e.label(name) for name, e in exprs.items()),
        )
        .select_from(rows)  # count() alone names no column of it
        .group_by(*keys.values())
    )
    for i, h in enumerate(grouping.having):
        expr = exprs[h.aggregate.name]
        stmt = stmt.having(_HAVING_OPS[h.op](expr, _bind(f"h{i}", expr.type)))
    ordering = [
        ordered(keys[name] if name in keys else exprs[name], descending, True)
        for name, descending in grouping.order
    ]
    # Then every group key: a stable order, so pages neither overlap nor skip.
    ordering += [
        ordered(col, False, True) for name, col in keys.items() if name not in dict(grouping.order)
    ]
    stmt = stmt.order_by(*ordering)
    return _paged(stmt, intent) if paged else stmt


def _rounded(a: Aggregate, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """An aggregate of a decimal column rounded to its scale (see :mod:`.decimals`)."""
    if a.field is None:
        return expr
    found = rounded_aggregate(a.fn, a.field.column.type, expr)
    return expr if found is None else found


def grouping_signature(intent: ListIntent) -> tuple[Any, ...]:
    """Everything about a grouped list that changes its SQL (with :func:`list_signature`)."""
    g = intent.grouping
    assert g is not None
    return (
        tuple(k.dotted for k in g.keys),
        tuple(a.text for a in g.aggregates),
        tuple((h.aggregate.name, h.op) for h in g.having),
        g.order,
    )


def grouping_values(intent: ListIntent, out: dict[str, Any]) -> None:
    """The ``having`` values of a grouped list, by their bind names."""
    assert intent.grouping is not None
    for i, h in enumerate(intent.grouping.having):
        out[f"h{i}"] = h.value


_HAVING_OPS: dict[str, Any] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def item_statement(
    shape: Shape,
    columns: Sequence[sa.Column[Any]] | None = None,
    scope: RowScope | None = None,
) -> sa.Select[Any]:
    """The row whose ``columns`` (default: the URL key) equal ``k0, k1...``; at most one."""
    resource = shape.resource
    table = resource.table
    cols = resource.key if columns is None else columns
    stmt = _select(shape, table, scope).where(
        *_scoped(scope, resource, table), *_key_where([table.c[c.key] for c in cols])
    )
    return stmt if columns is None else stmt.limit(1)


def link_statement(
    resource: Resource, rel: Relation, scope: RowScope | None = None
) -> sa.Select[Any]:
    """The local columns of ``rel`` on the row whose key equals ``k0, k1...``."""
    table = resource.table
    return sa.select(*rel.local).where(
        *_scoped(scope, resource, table),
        *_key_where([table.c[c.key] for c in resource.key]),
    )


def include_values(parents: Sequence[tuple[Any, ...]], cap: int) -> dict[str, Any]:
    """The parameters of :func:`include_statement` for these parent keys, fetching at most
    ``cap`` rows."""
    out: dict[str, Any] = {"inc_cap": cap}
    for j, key in enumerate(padded_list(parents)):
        for m, value in enumerate(key):
            out[f"p{j}_{m}"] = value
    return out


def include_statement(
    inc: Include, child: Shape, n: int, limit: int, scope: RowScope | None = None
) -> sa.Select[Any]:
    """The rows of ``inc`` for ``n`` parent key tuples (``p<j>_<m>``: the relation's local
    values; ``n`` a power of two, see :func:`padded`), at most ``:inc_cap`` of them."""
    rel = inc.relation
    remote = list(rel.remote)
    if len(remote) == 1:
        match = remote[0].in_([_bind(f"p{j}_0", remote[0].type) for j in range(n)])
    else:
        match = sa.tuple_(*remote).in_(
            [
                sa.tuple_(*(_bind(f"p{j}_{m}", c.type) for m, c in enumerate(remote)))
                for j in range(n)
            ]
        )
    visible = _scoped(scope, inc.resource, rel.target, many=rel.to_many)
    cap = _bind("inc_cap", sa.Integer())
    # Through a link table: its rows joined to the target's, a target row once per parent.
    start: FromClause = rel.target
    if rel.through is not None:
        start = rel.target.join(
            rel.through, sa.and_(*(near == reached for near, reached in rel.far))
        )
    if not rel.to_many:
        return _select(child, rel.target, scope).where(match, *visible).limit(cap)
    pk = list(inc.resource.primary_key)
    rank = sa.func.row_number().over(partition_by=remote, order_by=pk).label("rank")
    cols, joins = _selected(child, rel.target, scope)
    labelled = [c.label(f"c{i}") for i, c in enumerate(cols)]
    inner = sa.select(*labelled, rank).where(match, *visible).select_from(_chain(start, joins))
    sub = inner.subquery()
    return (
        sa.select(*(sub.c[f"c{i}"] for i in range(len(cols))))
        .where(sub.c.rank <= limit)
        .order_by(*(sub.c[f"c{child.index(c)}"] for c in [*remote, *pk]))
        .limit(cap)
    )
