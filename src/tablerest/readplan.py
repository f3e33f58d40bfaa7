"""Read intents -> SELECT statements: lists, items, relation routes and includes. Pure.

Planning needs the declarations and the parsed intent, never a connection. Every statement
returns positional columns: first the fields the client sees, then the extra columns the
pipeline needs (primary keys, the keys that link included rows, sort values for cursors), as
described by a :class:`Shape`.

How the query language becomes SQL:

- a filter on a field of this table is a condition; a filter through relations
  (``author.country``, ``books.year``) is an ``EXISTS`` sub-query along them, so rows are never
  duplicated and a to-many filter means "has at least one";
- a sort through to-one relations is a correlated scalar sub-query; the primary key always ends
  the ordering, so pages never overlap or skip rows; ``NULL`` sorts as the smallest value;
- keyset pages compare the sort values of the cursor's row, with the same ``NULL`` rule;
- includes load with one query per relation path (``IN`` the parent keys); to-many includes are
  cut to ``Limits.include_limit`` rows per parent with ``ROW_NUMBER()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from .errors import InvalidParameter
from .portable import case_sensitive_like, like_escape, ordered
from .request import Filter, Include, ListIntent, Path, SortKey, value_parser
from .resource import Field, Relation, Resource

__all__ = [
    "Shape",
    "count_statement",
    "include_statement",
    "list_statement",
    "shape_for",
    "sort_signature",
]


@dataclass(frozen=True, slots=True)
class Shape:
    """What a statement selects for one resource: visible fields, then extra columns."""

    resource: Resource
    visible: tuple[Field, ...]
    extra: tuple[sa.Column[Any], ...]
    #: Included relations, loaded after this statement by their own statements.
    include: tuple[Include, ...]
    columns: tuple[sa.Column[Any], ...]
    positions: dict[sa.Column[Any], int]

    def index(self, col: sa.Column[Any]) -> int:
        """Position of a table column in a selected row."""
        return self.positions[col]

    def values(self, row: Sequence[Any], cols: Sequence[sa.Column[Any]]) -> tuple[Any, ...]:
        return tuple(row[self.index(c)] for c in cols)


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
    for col in [*resource.primary_key, *(c for inc in include for c in inc.relation.local), *also]:
        if col not in shown and col not in extra:
            extra.append(col)
    columns = (*(f.column for f in visible), *extra)
    return Shape(
        resource,
        tuple(visible),
        tuple(extra),
        include,
        columns,
        {c: i for i, c in enumerate(columns)},
    )


def sort_signature(resource: Resource, sort: Sequence[SortKey]) -> str:
    spec = ",".join(("-" if k.descending else "") + k.path.dotted for k in sort)
    return f"{resource.name}:{spec}"


# -- conditions ------------------------------------------------------------------------------


def _adapt(source: FromClause, col: sa.Column[Any]) -> ColumnElement[Any]:
    return source.c[col.key]


def _join(rel: Relation, outer: FromClause, inner: FromClause) -> ColumnElement[bool]:
    return sa.and_(*(_adapt(inner, remote) == _adapt(outer, local) for local, remote in rel.pairs))


def _compare(col: Any, op: str, value: Any, nullable: bool) -> Any:
    if op == "eq":
        return col == value
    if op == "ne":
        return sa.or_(col != value, col.is_(None)) if nullable else col != value
    if op == "lt":
        return col < value
    if op == "le":
        return col <= value
    if op == "gt":
        return col > value
    if op == "ge":
        return col >= value
    if op == "in":
        return col.in_(value)
    if op == "nin":
        return sa.or_(col.not_in(value), col.is_(None)) if nullable else col.not_in(value)
    if op == "null":
        return col.is_(None) if value else col.is_not(None)
    if op == "like":
        return case_sensitive_like(col, value)
    if op == "ilike":
        return col.ilike(value, escape="\\")
    if op == "contains":
        return case_sensitive_like(col, f"%{like_escape(value)}%")
    if op == "startswith":
        return case_sensitive_like(col, f"{like_escape(value)}%")
    if op == "endswith":
        return case_sensitive_like(col, f"%{like_escape(value)}")
    raise ValueError(op)  # request parsing admits only the operators above


def _through(
    source: FromClause, steps: Sequence[tuple[Relation, Resource]], leaf: Any
) -> ColumnElement[bool]:
    """``leaf(table)`` on the row(s) reached from ``source`` along ``steps``, as EXISTS."""
    if not steps:
        return leaf(source)  # type: ignore[no-any-return]
    rel, _ = steps[0]
    inner = rel.target.alias()
    return sa.exists().where(_join(rel, source, inner), _through(inner, steps[1:], leaf))


def filter_condition(source: FromClause, f: Filter) -> ColumnElement[bool]:
    field = f.path.field
    return _through(
        source,
        f.path.steps,
        lambda t: _compare(_adapt(t, field.column), f.op, f.value, field.nullable),
    )


def _sort_expr(source: FromClause, path: Path) -> ColumnElement[Any]:
    """A sort value: a column here, or a scalar sub-query along to-one relations."""
    if not path.steps:
        return _adapt(source, path.field.column)
    rel, _ = path.steps[0]
    inner = rel.target.alias()
    rest = _sort_expr(inner, Path(path.steps[1:], path.field))
    return sa.select(rest).where(_join(rel, source, inner)).limit(1).scalar_subquery()


def _conditions(resource: Resource, intent: ListIntent) -> list[ColumnElement[bool]]:
    table = resource.table
    out = [filter_condition(table, f) for f in intent.filters]
    if intent.search is not None:
        pattern = f"%{like_escape(intent.search)}%"
        out.append(sa.or_(*(f.column.ilike(pattern, escape="\\") for f in resource.searchable)))
    return out


# -- statements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    expr: ColumnElement[Any]
    descending: bool
    nullable: bool
    field: Field


def sort_keys(resource: Resource, sort: Sequence[SortKey]) -> list[_Key]:
    """The requested sort, then the primary key as a tie-break."""
    table = resource.table
    keys = [
        _Key(
            _sort_expr(table, k.path),
            k.descending,
            k.path.field.nullable or bool(k.path.steps),
            k.path.field,
        )
        for k in sort
    ]
    sorted_cols = {k.path.field.column for k in sort if not k.path.steps}
    keys += [
        _Key(table.c[f.column.key], False, False, f)
        for f in resource.pk_fields
        if f.column not in sorted_cols
    ]
    return keys


def _after(key: _Key, value: Any, forward: bool) -> ColumnElement[bool]:
    """Rows strictly beyond ``value`` on ``key`` in the direction of travel (NULL smallest)."""
    # Forward on an ascending key, or backward on a descending one, goes to greater values.
    if key.descending != forward:
        return key.expr.is_not(None) if value is None else key.expr > value
    if value is None:
        return sa.false()
    below = key.expr < value
    return sa.or_(below, key.expr.is_(None)) if key.nullable else below


def _keyset(keys: Sequence[_Key], values: Sequence[Any], forward: bool) -> ColumnElement[bool]:
    terms = []
    for i, key in enumerate(keys):
        equal = [
            k.expr.is_(None) if v is None else k.expr == v
            for k, v in zip(keys[:i], values[:i], strict=True)
        ]
        terms.append(sa.and_(*equal, _after(key, values[i], forward)))
    return sa.or_(*terms)


def decode_values(keys: Sequence[_Key], raw: Sequence[Any], parameter: str) -> list[Any]:
    if len(raw) != len(keys):
        raise InvalidParameter(parameter, "The cursor is not valid for this list and sort")
    out: list[Any] = []
    for key, value in zip(keys, raw, strict=True):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(value_parser(key.field.column.type)(str(value)))
        except (ValueError, TypeError):
            raise InvalidParameter(
                parameter, "The cursor is not valid for this list and sort"
            ) from None
    return out


def list_statement(
    shape: Shape,
    intent: ListIntent,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    cursor_values: Sequence[Any] | None = None,
) -> sa.Select[Any]:
    """One page of rows (plus one, to tell whether another page follows).

    The sort values are selected after the shape's columns, for the cursors of the page.
    With ``intent.direction == "before"`` the rows come in reverse order.
    """
    resource = shape.resource
    keys = sort_keys(resource, intent.sort)
    forward = intent.direction != "before"
    stmt = sa.select(*shape.columns, *(k.expr for k in keys)).where(
        *_conditions(resource, intent), *where
    )
    if cursor_values is not None:
        stmt = stmt.where(_keyset(keys, cursor_values, forward))
    stmt = stmt.order_by(*(ordered(k.expr, k.descending == forward) for k in keys)).limit(
        intent.limit + 1
    )
    if intent.offset:
        stmt = stmt.offset(intent.offset)
    return stmt


def count_statement(
    resource: Resource, intent: ListIntent, where: Sequence[ColumnElement[bool]] = ()
) -> sa.Select[Any]:
    return (
        sa.select(sa.func.count())
        .select_from(resource.table)
        .where(*_conditions(resource, intent), *where)
    )


def item_statement(shape: Shape, key: Sequence[Any]) -> sa.Select[Any]:
    table = shape.resource.table
    return sa.select(*shape.columns).where(
        *(table.c[c.key] == v for c, v in zip(shape.resource.primary_key, key, strict=True))
    )


def include_statement(
    inc: Include, child: Shape, parents: Sequence[tuple[Any, ...]], limit: int
) -> sa.Select[Any]:
    """The rows of ``inc`` for every parent key tuple (the relation's local values)."""
    rel = inc.relation
    remote = list(rel.remote)
    match = (
        remote[0].in_([p[0] for p in parents])
        if len(remote) == 1
        else sa.tuple_(*remote).in_(list(parents))
    )
    cols = child.columns
    if not rel.to_many:
        return sa.select(*cols).where(match)
    pk = list(inc.resource.primary_key)
    rank = sa.func.row_number().over(partition_by=remote, order_by=pk).label("rank")
    labelled = [c.label(f"c{i}") for i, c in enumerate(cols)]
    inner = sa.select(*labelled, rank).where(match).subquery()
    return (
        sa.select(*(inner.c[f"c{i}"] for i in range(len(cols))))
        .where(inner.c.rank <= limit)
        .order_by(*(inner.c[f"c{child.index(c)}"] for c in [*remote, *pk]))
    )
