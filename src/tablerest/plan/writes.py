"""Write intents -> SQLAlchemy statements (and the read-back after a write). Pure.

Identifiers come from ``Table``/``Column`` objects, never from client text; every value is a
bound parameter. The parts that do not depend on the request (the column list, the key
condition) are built once per resource in :class:`Statements`. Reads are planned in
:mod:`tablerest.plan.reads`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..columns.rowkeys import key_match
from ..resource import Resource

__all__ = ["Statements", "upsert_statement"]


class Statements:
    """Statement builders for one resource, with the request-independent parts precomputed."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        table = resource.table
        self.columns = [f.selected(table) for f in resource.readable]
        #: Whether a write can return the row (RETURNING): not when a computed field is
        #: readable (a sub-query there sees the tables as they were before the write).
        self.returnable = all(f.expression is None for f in resource.readable)
        #: The JSON keys of a selected row, in column order.
        self.keys = tuple(f.name for f in resource.readable)
        #: The columns a row is found by: its URL key (the primary key, or ``lookup=``).
        self.pk = resource.key
        self._params: list[sa.BindParameter[Any]] = [
            sa.bindparam(f"pk_{i}") for i in range(len(self.pk))
        ]
        self.select_one = (
            sa.select(*self.columns).where(
                *(key_match(c, p) for c, p in zip(self.pk, self._params, strict=True))
            )
            if self.pk
            else None
        )
        self._table = table
        self._all_columns = {
            **{c.key: c for c in table.columns},
            **{f.name: f.column for f in resource.fields.values() if f.expression is None},
        }
        if resource.mapper is not None:
            for prop in resource.mapper.column_attrs:
                for c in prop.columns:
                    if isinstance(c, sa.Column) and c.table is table:
                        self._all_columns[prop.key] = c

        # Bind names that no column of the table can clash with (SQLAlchemy reserves column
        # names in INSERT/UPDATE).
        prefix = "w_"
        while any(str(c.key).startswith(prefix) for c in table.columns):
            prefix += "_"
        self._prefix = prefix

    # -- statements with named parameters, built once per set of written fields -------------

    def write_values(self, data: Mapping[str, Any], key: Sequence[Any] = ()) -> dict[str, Any]:
        """The parameters of :meth:`insert_statement` / :meth:`update_statement`."""
        p = self._prefix
        out = {f"{p}v{i}": value for i, value in enumerate(data.values())}
        out.update({f"{p}k{i}": value for i, value in enumerate(key)})
        return out

    def _assignments(self, names: Sequence[str]) -> dict[sa.Column[Any], Any]:
        cols = [self._column(n) for n in names]
        return {c: sa.bindparam(f"{self._prefix}v{i}", type_=c.type) for i, c in enumerate(cols)}

    def insert_statement(self, names: Sequence[str], returning: bool) -> sa.Insert:
        """INSERT of the fields ``names`` (in that order), returning the readable columns."""
        values: dict[sa.Column[Any], Any] = self._assignments(names)
        # Scalar column defaults are constants of the statement, so that it needs nothing
        # computed in Python per row (callable defaults still do: see prepared.Prepared).
        for col in self._table.columns:
            default = col.default
            if col not in values and isinstance(default, sa.ColumnDefault) and default.is_scalar:
                values[col] = sa.literal(default.arg, type_=col.type)
        stmt = sa.insert(self._table).values(values)
        return stmt.returning(*self.columns) if returning else stmt

    def update_statement(self, names: Sequence[str], returning: bool) -> sa.Update:
        p = self._prefix
        stmt = (
            sa.update(self._table)
            .where(
                *(
                    key_match(c, sa.bindparam(f"{p}k{i}", type_=c.type))
                    for i, c in enumerate(self.pk)
                )
            )
            .values(self._assignments(names))
        )
        return stmt.returning(*self.columns) if returning else stmt

    def delete_statement(self) -> sa.Delete:
        return sa.delete(self._table).where(
            *(key_match(c, self._key_param(i, c)) for i, c in enumerate(self.pk))
        )

    def _key_param(self, i: int, col: sa.Column[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(f"{self._prefix}k{i}", type_=col.type)

    def _column(self, name: str) -> sa.Column[Any]:
        col = self._all_columns.get(name)
        if col is None:
            raise KeyError(f"{self.resource.name} has no column {name!r}")
        return col

    def key_params(self, key: Sequence[Any]) -> dict[str, Any]:
        return {p.key: v for p, v in zip(self._params, key, strict=True)}

    def key_where(self, key: Sequence[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(
            *(key_match(c, sa.literal(v, c.type)) for c, v in zip(self.pk, key, strict=True))
        )

    def values(self, data: Mapping[str, Any]) -> dict[sa.Column[Any], Any]:
        """Field (or mapped attribute / column key, for hooks) names -> columns."""
        out: dict[sa.Column[Any], Any] = {}
        for name, value in data.items():
            col = self._all_columns.get(name)
            if col is None:
                raise KeyError(f"{self.resource.name} has no column {name!r}")
            out[col] = value
        return out

    def insert(self, data: Mapping[str, Any]) -> sa.Insert:
        return sa.insert(self._table).values(self.values(data))

    def update(self, key: Sequence[Any], data: Mapping[str, Any]) -> sa.Update:
        return sa.update(self._table).where(self.key_where(key)).values(self.values(data))

    def delete(self, key: Sequence[Any]) -> sa.Delete:
        return sa.delete(self._table).where(self.key_where(key))


def upsert_statement(
    dialect: str,
    table: sa.Table,
    values: Mapping[sa.Column[Any], Any],
    conflict: Sequence[sa.Column[Any]],
) -> sa.Insert:
    """``INSERT`` of one row that changes the row already holding its ``conflict`` values:
    ``ON CONFLICT ... DO UPDATE`` (PostgreSQL, SQLite) or ``ON DUPLICATE KEY UPDATE``
    (MariaDB/MySQL, where any unique key counts)."""
    keep = set(conflict) | set(table.primary_key.columns)
    changed = [c for c in values if c not in keep]
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        ins: Any = insert(table).values({c.key: v for c, v in values.items()})
        if not changed:
            done: sa.Insert = ins.on_conflict_do_nothing(index_elements=list(conflict))
            return done
        done = ins.on_conflict_do_update(
            index_elements=list(conflict), set_={c.key: ins.excluded[c.key] for c in changed}
        )
        return done
    from sqlalchemy.dialects.mysql import insert as mysql_insert

    mins = mysql_insert(table).values({c.key: v for c, v in values.items()})
    updates = changed or list(conflict)  # an update of nothing: the key onto itself
    return mins.on_duplicate_key_update({c.key: mins.inserted[c.key] for c in updates})
