"""Filters -> SQL conditions and their bind values. Pure.

A filter on a field of the table is a condition on its column; a filter through relations
(``author.country``, ``books.year``) is an ``EXISTS`` sub-query along them (over the rows the
caller may see), so rows are never duplicated and a to-many filter means "has at least one".
Every value is a named bind parameter (``f0`` the first filter, ``f0_1`` the second value of
its ``IN`` list...); what changes the SQL (the field, the operator, :func:`arity`) is what a
statement's signature holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from ..columns.decimals import as_shown
from ..columns.sqlite_time import comparable as time_comparable
from ..columns.sqlite_time import compared_type
from ..columns.typeops import arity, base_type, comparable, condition, family
from ..columns.untyped import LOOSE_OPS, Loose, Untyped, loose_condition, loose_params
from ..decode.queries import Filter, Group, ListIntent
from ..relations import Relation
from ..resource import Resource
from .portable import case_sensitive_like, like_escape, to_glob

__all__ = [
    "RowScope",
    "adapt",
    "as_base",
    "bind",
    "filter_arity",
    "filter_condition",
    "filter_values",
    "filters_signature",
    "join_on",
    "linked",
    "padded",
    "padded_list",
    "scoped",
    "where_condition",
]


class RowScope(Protocol):
    """Which rows of a table the caller may see (the authorize stage answers)."""

    def where(
        self, resource: Resource, source: FromClause, many: bool
    ) -> ColumnElement[bool] | None:
        """The condition on ``source`` (the table or an alias of it) that keeps the rows the
        caller may see, None for every row; ``many`` when rows are read as a collection."""


def scoped(
    scope: RowScope | None, resource: Resource, source: FromClause, many: bool = False
) -> list[ColumnElement[bool]]:
    """The conditions on ``source`` that keep the rows of ``resource`` a read may see: its
    own ``where=`` (a view of the table), and the caller's row scope."""
    out = [] if resource.where is None else [resource.where_on(source)]
    found = scope.where(resource, source, many) if scope is not None else None
    return out if found is None else [*out, found]


# -- parameters ------------------------------------------------------------------------------

_LIKE = {"like": "{}", "contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}


def padded(n: int) -> int:
    """``IN`` lists are padded (repeating their last value) to a power of two, so that a
    statement serves every length up to it and the number of statements stays small."""
    return 1 << (n - 1).bit_length() if n > 0 else 0


def bind(name: str, col_type: Any) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=col_type)


def padded_list(values: Sequence[Any]) -> list[Any]:
    items = list(values)
    return items + [items[-1]] * (padded(len(items)) - len(items)) if items else items


def filter_values(filters: Sequence[Filter], out: dict[str, Any]) -> None:
    for i, f in enumerate(filters):
        name = f"f{i}"
        if f.op == "null":
            continue
        if _loose(f):
            many = f.op in ("in", "nin")
            out.update(loose_params(name, f.op, padded_list(f.value) if many else f.value))
        elif f.op in ("in", "nin"):
            for j, value in enumerate(padded_list(f.value)):
                out[f"{name}_{j}"] = value
        elif f.op in _LIKE:
            text = f.value if f.op == "like" else _LIKE[f.op].format(like_escape(f.value))
            out[name] = text
            out[f"{name}g"] = to_glob(text)
        else:
            out[name] = f.value


def filter_arity(f: Filter) -> Any:
    if f.op == "null":
        return bool(f.value)
    if family(f.path.field.column.type) != "scalar":
        return arity(f.path.field.column.type, f.value)
    if f.op in ("in", "nin"):
        return padded(len(f.value))
    if isinstance(f.value, Loose):  # an ordering: numbers, or texts
        return f.value.number is not None
    return None


def _loose(f: Filter) -> bool:
    """Whether ``f`` is on an untyped column, with an operator :mod:`.untyped` decides."""
    return isinstance(f.path.field.column.type, Untyped) and f.op in LOOSE_OPS


# -- conditions ------------------------------------------------------------------------------


def adapt(source: FromClause, col: sa.Column[Any]) -> ColumnElement[Any]:
    return source.c[col.key]


def join_on(rel: Relation, outer: FromClause, inner: FromClause) -> ColumnElement[bool]:
    """``inner`` (the target table, or an alias) holds the row(s) related to ``outer``'s, for
    a relation without a link table (see :func:`_hop` for one with)."""
    assert rel.through is None
    return sa.and_(*(adapt(inner, remote) == adapt(outer, local) for local, remote in rel.pairs))


def _hop(rel: Relation, outer: FromClause, inner: FromClause) -> tuple[FromClause, Any]:
    """The rows of ``inner`` related to ``outer``'s: what to select from, and the condition.
    Through a link table, its rows are joined to ``inner``'s and matched to ``outer``'s."""
    if rel.through is None:
        return inner, join_on(rel, outer, inner)
    link = rel.through.alias()
    reach = sa.and_(*(adapt(link, near) == adapt(inner, reached) for near, reached in rel.far))
    near = sa.and_(*(adapt(link, remote) == adapt(outer, local) for local, remote in rel.pairs))
    return inner.join(link, reach), near


def linked(rel: Relation | None, target: FromClause) -> list[ColumnElement[bool]]:
    """The rows of ``target`` related to the row whose ``rel.local`` values are the
    parameters ``w0, w1...`` (a relation route); no condition without ``rel``."""
    if rel is None:
        return []
    values = [bind(f"w{i}", local.type) for i, local in enumerate(rel.local)]
    if rel.through is None:
        return [adapt(target, remote) == v for remote, v in zip(rel.remote, values, strict=True)]
    link = rel.through.alias()
    return [
        sa.exists()
        .where(
            *(adapt(link, remote) == v for remote, v in zip(rel.remote, values, strict=True)),
            *(adapt(link, near) == adapt(target, reached) for near, reached in rel.far),
        )
        .correlate_except(link)
    ]


def _compare(col: Any, f: Filter, name: str, nullable: bool) -> Any:
    op = f.op
    col_type = base_type(f.path.field.column.type)
    col = as_base(col, f.path.field.column.type)
    if op == "null":
        return col.is_(None) if f.value else col.is_not(None)
    if family(col_type) != "scalar":  # arrays, ranges, jsonb: their own operators
        return condition(col, col_type, op, f.value, lambda t: bind(name, t), nullable)
    if _loose(f):
        count = padded(len(f.value)) if op in ("in", "nin") else 1
        return loose_condition(col, op, name, count, bool(filter_arity(f)), nullable)
    if op in ("eq", "ne", "lt", "le", "gt", "ge", "in", "nin"):
        # A SQLite date-time column compared in the formats its values are stored in.
        col = time_comparable(col, col_type)
    col_type = compared_type(col_type)
    if op in ("in", "nin"):
        n = padded(len(f.value))
        if n == 0:
            return sa.false() if op == "in" else sa.true()
        binds = [bind(f"{name}_{j}", col_type) for j in range(n)]
        if op == "in":
            return col.in_(binds)
        return sa.or_(col.not_in(binds), col.is_(None)) if nullable else col.not_in(binds)
    if op == "ilike":
        return col.ilike(bind(name, sa.String()), escape="\\")
    if op in _LIKE:
        return case_sensitive_like(col, bind(name, sa.String()), bind(f"{name}g", sa.String()))
    value = bind(name, col_type)
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
    raise ValueError(op)  # request parsing admits only the operators above


def _through(
    source: FromClause,
    steps: Sequence[tuple[Relation, Resource]],
    leaf: Any,
    scope: RowScope | None = None,
) -> ColumnElement[bool]:
    """``leaf(table)`` on the row(s) reached from ``source`` along ``steps``, as EXISTS (over
    the rows the caller may see)."""
    if not steps:
        return leaf(source)  # type: ignore[no-any-return]
    rel, target = steps[0]
    inner = rel.target.alias()
    # FROM said outright: with a further step after this one, nothing else here would name
    # ``inner`` (this EXISTS would have no FROM of its own).
    found, on = _hop(rel, source, inner)
    return (
        sa.exists()
        .select_from(found)
        .where(on, *scoped(scope, target, inner), _through(inner, steps[1:], leaf, scope))
    )


def filter_condition(
    source: FromClause, f: Filter, name: str, scope: RowScope | None = None
) -> ColumnElement[bool]:
    field = f.path.field
    return _through(
        source,
        f.path.steps,
        lambda t: _compare(as_shown(field.column.type, field.on(t)), f, name, field.nullable),
        scope,
    )


def as_base(expr: ColumnElement[Any], col_type: Any) -> ColumnElement[Any]:
    """A column compared as :func:`~tablerest.columns.typeops.comparable` says: a domain as its
    type, ``money`` untyped (SQLAlchemy has no operators for either)."""
    base = comparable(col_type)
    return expr if base is col_type else sa.type_coerce(expr, base)


def where_condition(
    source: FromClause, intent: ListIntent, scope: RowScope | None = None
) -> ColumnElement[bool] | None:
    """The filters of ``intent`` (its conditions and OR/NOT groups) as one condition on
    ``source``, None without any. Bind names follow :meth:`ListIntent.leaves`."""
    if not intent.filters and not intent.groups:
        return None
    names = (f"f{i}" for i in itertools.count())
    return _group(source, Group("and", intent.filters, intent.groups), names, scope)


def _group(
    source: FromClause, group: Group, names: Iterator[str], scope: RowScope | None
) -> ColumnElement[bool]:
    # Leaves first, then groups: the order of Group.leaves, which numbers the binds.
    parts = [filter_condition(source, f, next(names), scope) for f in group.filters]
    parts += [_group(source, g, names, scope) for g in group.groups]
    if group.kind == "or":
        return sa.or_(*parts)
    both = sa.and_(*parts)
    if group.kind == "and":
        return both
    # NOT is the complement of what the group selects: a row whose condition is unknown (a
    # NULL compared) is not selected by the group, so NOT selects it, as ``ne`` selects NULL
    # where ``eq`` does not. SQL's NOT alone would leave it out (NOT NULL is NULL, not
    # true): COALESCE first makes "unknown" false.
    return sa.not_(sa.func.coalesce(both, sa.false(), type_=sa.Boolean()))


def filters_signature(intent: ListIntent) -> tuple[Any, ...]:
    """What about the filters of ``intent`` changes their SQL: each condition's field,
    operator and :func:`filter_arity`, and how groups hold them."""
    return _group_signature(Group("and", intent.filters, intent.groups))


def _group_signature(group: Group) -> tuple[Any, ...]:
    return (
        group.kind,
        tuple((f.path.dotted, f.op, filter_arity(f)) for f in group.filters),
        tuple(_group_signature(g) for g in group.groups),
    )
