"""Read operations: a page of rows, one row, the rows a relation leads to, groups, and every
matching row as a stream (exports). Each takes the caller's view and a parsed intent, and
returns rows as the caller may see them; links and representations are the HTTP layer's."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..decode.queries import ListIntent
from ..errors import NotFound
from ..execute.prepared import Prepared, Runner, fetch_all
from ..plan.cursor import decode_cursor, encode_cursor
from ..plan.portable import Explain, estimated_rows
from ..plan.reads import (
    Shape,
    aggregate_statement,
    count_statement,
    decode_values,
    grouping_columns,
    grouping_signature,
    grouping_values,
    item_statement,
    key_values,
    link_statement,
    list_signature,
    list_statement,
    list_values,
    shape_for,
    shape_signature,
    sort_keys,
    sort_positions,
    sort_signature,
)
from ..relations import Relation
from ..resource import Resource, enum_to_label
from .caller import OPEN_SCOPE, Caller, Scope
from .context import Shared
from .embed import materialize

__all__ = ["Export", "Groups", "Page", "Reads", "Through"]

log = logging.getLogger("tablerest")


@dataclass(frozen=True, slots=True)
class Through:
    """The rows of a to-many relation of one row, whose ``rel.local`` values are ``link``."""

    rel: Relation
    link: tuple[Any, ...]


@dataclass(slots=True)
class Page:
    """One page of rows, as the caller may see them."""

    rows: list[dict[str, Any]]
    #: Whether rows follow this page (in the direction of the page).
    more: bool
    #: ``meta``'s count members (``total`` and ``total_capped`` / ``total_estimated``).
    total: dict[str, Any] | None
    #: Keyset pages: the cursors of the first and last rows.
    cursors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Groups:
    """Grouped rows (``group_by``): one per group, named by ``names``."""

    names: list[str]
    rows: list[dict[str, Any]]
    more: bool
    total: int | None


@dataclass(slots=True)
class Export:
    """Every matching row, in batches read from the database as they are consumed. The
    statement has run already (its errors were raised by the call); close the batches to end
    it early."""

    names: tuple[str, ...]
    batches: Generator[list[dict[str, Any]]]


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


class Reads:
    """The read operations of one resource."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.resource = shared.resource

    # -- one row ---------------------------------------------------------------------------

    def item(self, caller: Caller, key: tuple[Any, ...], intent: ListIntent) -> dict[str, Any]:
        """The row ``key`` with what ``intent`` includes; 404 when the caller cannot see it."""
        res = self.resource
        caller.require(res, "read")
        intent, scope = caller.guard(res, intent)
        plan = self._item_plan(res, intent, None, scope)
        with self.shared.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, {**key_values(key), **scope.values})
            if not rows:
                raise self.shared.missing(key)
            (row,) = materialize(self.shared, conn, plan.shape, rows, intent, scope)
        return row

    def own(self, caller: Caller, pk: tuple[Any, ...], intent: ListIntent) -> dict[str, Any]:
        """The caller's own row (``/auth/me``, by its primary key), whatever the resource's
        ``read`` permission; the fields it shows are those every reader sees, less those
        hidden from the caller."""
        res = self.resource
        plan = self._item_plan(res, intent, None, by_pk=True)
        with self.shared.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, key_values(pk))
            if not rows:
                raise NotFound("Your user no longer exists")
            (row,) = materialize(self.shared, conn, plan.shape, rows, intent, OPEN_SCOPE)
        return caller.visible(res, row)

    def related(
        self,
        caller: Caller,
        key: tuple[Any, ...],
        rel: Relation,
        target: Resource,
        intent: ListIntent,
    ) -> tuple[Through, dict[str, Any] | None, ListIntent, Scope]:
        """Follow ``rel`` from the row ``key`` (404 when the caller cannot see that row): for
        a to-one relation the related row (None when unset or not visible); the link to the
        related rows, and the guarded intent and scope to read them with."""
        res = self.resource
        caller.require(res, "read")
        caller.require(target, "list" if rel.to_many else "read")
        intent, scope = caller.guard(target, intent, res)
        link_plan = self.shared.plan(
            ("link", rel.name, scope.sig),
            lambda: Prepared(link_statement(res, rel, scope.rows)),
        )
        with self.shared.db.reading(res.table) as conn:
            links = fetch_all(conn, link_plan, {**key_values(key), **scope.values})
            if not links:
                raise self.shared.missing(key)
            through = Through(rel, tuple(links[0]))
            if rel.to_many or any(v is None for v in through.link):
                return through, None, intent, scope
            plan = self._item_plan(target, intent, rel, scope)
            rows = fetch_all(conn, plan.rows, {**key_values(through.link), **scope.values})
            found = materialize(self.shared, conn, plan.shape, rows, intent, scope)
        return through, (found[0] if found else None), intent, scope

    def _item_plan(
        self,
        res: Resource,
        intent: ListIntent,
        rel: Relation | None,
        scope: Scope = OPEN_SCOPE,
        *,
        by_pk: bool = False,
    ) -> _ItemPlan:
        """One row by its URL key (``by_pk``: its primary key), or the target row of a to-one
        relation (by the remote columns)."""

        def build() -> _ItemPlan:
            shape = shape_for(res, intent, intent.include)
            columns = rel.remote if rel is not None else res.primary_key if by_pk else None
            return _ItemPlan(shape, Prepared(item_statement(shape, columns, scope.rows)))

        sig = shape_signature(intent, intent.include)
        key = ("item", res.name, rel.name if rel else None, by_pk, sig, scope.sig)
        return self.shared.plan(key, build)

    # -- many rows -------------------------------------------------------------------------

    def guard_list(self, caller: Caller, intent: ListIntent) -> tuple[ListIntent, Scope]:
        """Authorize a list of this resource: the guarded intent and its scope (for
        :meth:`page`, :meth:`groups` or :meth:`export`)."""
        caller.require(self.resource, "list")
        return caller.guard(self.resource, intent)

    def page(
        self,
        res: Resource,
        intent: ListIntent,
        scope: Scope,
        through: Through | None = None,
    ) -> Page:
        """A page of ``res`` rows (this resource's, or a relation's target's ``through``), by
        an intent :meth:`guard_list` or :meth:`related` guarded."""
        shared = self.shared
        signature = sort_signature(res, intent.sort)
        cursor_values = None
        if intent.cursor:
            parameter = f"page[{intent.direction}]"
            raw = decode_cursor(intent.cursor, signature, shared.config.secret, parameter)
            cursor_values = decode_values(sort_keys(res, intent.sort), raw, parameter)
        nulls = None if cursor_values is None else tuple(v is None for v in cursor_values)
        where = through.rel if through is not None else None

        def build() -> _ListPlan:
            shape = shape_for(res, intent, intent.include)
            stmt = list_statement(
                shape, intent, through=where, cursor_nulls=nulls, scope=scope.rows
            )
            keys = sort_keys(res, intent.sort)
            return _ListPlan(shape, keys, sort_positions(shape, keys), Prepared(stmt))

        sig = list_signature(intent, nulls, through.rel.name if through is not None else None)
        plan = shared.plan(("list", res.name, sig, scope.sig), build)
        values = list_values(intent, cursor_values, through.link if through is not None else ())
        values.update(scope.values)
        with shared.db.reading(res.table) as conn:
            rows = fetch_all(conn, plan.rows, values)
            total = self._count(conn, plan, res, intent, where, scope, values)
            more = len(rows) > intent.limit
            rows = rows[: intent.limit]
            if intent.direction == "before":
                rows.reverse()
            data = materialize(shared, conn, plan.shape, rows, intent, scope)
        cursors = []
        if intent.direction is not None:
            cursors = [
                encode_cursor(
                    _cursor_json(plan.keys, [r[i] for i in plan.positions]),
                    signature,
                    shared.config.secret,
                )
                for r in (rows[:1] + rows[-1:] if rows else [])
            ]
        return Page(data, more, total, cursors)

    def _count(
        self,
        conn: Runner,
        plan: _ListPlan,
        res: Resource,
        intent: ListIntent,
        where: Relation | None,
        scope: Scope,
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

    def groups(self, intent: ListIntent, scope: Scope) -> Groups:
        """A page of the groups of an intent :meth:`guard_list` guarded, one row per group."""
        res = self.resource
        shared = self.shared
        sig = (list_signature(intent, None), grouping_signature(intent), False, scope.sig)
        plan, values, names = self._grouping(intent, scope, sig, paged=True)
        total = None
        with shared.db.reading(res.table, blame="aggregate") as conn:
            rows = _relabeled(intent, names, fetch_all(conn, plan, values))
            if intent.count is not None:
                counted = shared.plan(
                    ("groups-count", res.name, sig),
                    lambda: Prepared(
                        sa.select(sa.func.count()).select_from(
                            aggregate_statement(res, intent, scope.rows, paged=False).subquery()
                        )
                    ),
                )
                total = fetch_all(conn, counted, values)[0][0]
        return Groups(names, rows[: intent.limit], len(rows) > intent.limit, total)

    def export_groups(self, intent: ListIntent, scope: Scope) -> Export:
        """Every group of an intent :meth:`guard_list` guarded, streamed a batch at a time as
        :meth:`export` streams rows: grouped by a column of distinct values, there are as many
        groups as rows. The first batch is read before this returns, so that an error of the
        statement (a sum that overflows) is still the caller's to answer; the database has
        grouped every row by then."""
        res = self.resource
        sig = (list_signature(intent, None), grouping_signature(intent), True, scope.sig)
        plan, values, names = self._grouping(intent, scope, sig, paged=False)
        return self._streamed(
            tuple(names),
            res.table,
            plan.statement,
            values,
            lambda batch: _relabeled(intent, names, batch),
            f"the groups of {res.name}",
            blame="aggregate",
            first=True,
        )

    def _grouping(
        self, intent: ListIntent, scope: Scope, sig: tuple[Any, ...], *, paged: bool
    ) -> tuple[Prepared, dict[str, Any], list[str]]:
        """The statement of an intent's groups (a page of them, or all), its values and the
        names of its columns."""
        res = self.resource

        def build() -> Prepared:
            return Prepared(aggregate_statement(res, intent, scope.rows, paged=paged))

        plan = self.shared.plan(("groups", res.name, sig), build)
        values = list_values(intent, None, ())
        grouping_values(intent, values)
        values.update(scope.values)
        if not paged:
            del values["lim"]
        assert intent.grouping is not None
        return plan, values, grouping_columns(intent.grouping)

    def export(
        self,
        res: Resource,
        intent: ListIntent,
        scope: Scope,
        through: Through | None = None,
    ) -> Export:
        """Every matching row (of ``res`` as in :meth:`page`), streamed a batch at a time."""
        shared = self.shared
        where = through.rel if through is not None else None

        def build() -> _ExportPlan:
            shape = shape_for(res, intent, ())
            stmt = list_statement(shape, intent, through=where, paged=False, scope=scope.rows)
            return _ExportPlan(shape, stmt)

        sig = list_signature(intent, None, through.rel.name if through is not None else None)
        plan = shared.plan(("export", res.name, sig, scope.sig), build)
        values = list_values(intent, None, through.link if through is not None else ())
        values.update(scope.values)
        del values["lim"]
        encoder = shared.encoder_for(plan.shape)
        return self._streamed(
            encoder.keys, res.table, plan.statement, values, encoder.rows, res.name
        )

    def _streamed(
        self,
        keys: tuple[str, ...],
        table: sa.Table,
        statement: Any,
        values: dict[str, Any],
        convert: Callable[[Sequence[Any]], list[dict[str, Any]]],
        what: str,
        *,
        blame: str | None = None,
        first: bool = False,
    ) -> Export:
        """An export of ``statement``'s rows, a batch at a time from a server-side cursor, each
        batch ``convert``-ed. The statement has run when this returns, and with ``first`` its
        first batch is read too (a database may report an error, such as an overflowing sum,
        only then): until that point its errors are the caller's to answer."""

        def batches() -> Generator[list[dict[str, Any]]]:
            with (
                self.shared.db.streaming(table, blame=blame) as conn,
                conn.execute(statement, values) as result,
            ):
                parts = result.partitions()
                head = [next(parts, [])] if first else []
                yield []  # the caller answers from here on
                try:
                    for batch in itertools.chain(head, parts):
                        yield convert(batch)
                except Exception:
                    # The answer has begun: all that is left is to cut it short.
                    log.exception("export of %s stopped part way", what)
                    raise

        stream = batches()
        next(stream)
        return Export(keys, stream)


def _relabeled(
    intent: ListIntent, names: list[str], rows: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """Groups as dicts of ``names``, enum keys as their labels (as in rows)."""
    out = [dict(zip(names, r, strict=True)) for r in rows]
    assert intent.grouping is not None
    for path in intent.grouping.keys:
        col_type = path.field.column.type
        if isinstance(col_type, sa.Enum):
            label = enum_to_label(col_type)
            for row in out:
                row[path.dotted] = label(row[path.dotted])
    return out


def _cursor_json(keys: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """Sort values as JSON for a cursor: enum members as their labels."""
    out = []
    for key, value in zip(keys, values, strict=True):
        col_type = key.field.column.type
        if value is not None and isinstance(col_type, sa.Enum):
            value = enum_to_label(col_type)(value)
        out.append(value)
    return out
