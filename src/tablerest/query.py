"""Write intents -> SQLAlchemy statements (and the read-back after a write). Pure.

Identifiers come from ``Table``/``Column`` objects, never from client text; every value is a
bound parameter. The parts that do not depend on the request (the column list, the key
condition) are built once per resource in :class:`Statements`. Reads are planned in
``readplan``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from .resource import Resource

__all__ = ["Statements"]


class Statements:
    """Statement builders for one resource, with the request-independent parts precomputed."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        table = resource.table
        self.columns = [f.column for f in resource.readable]
        #: The JSON keys of a selected row, in column order.
        self.keys = tuple(f.name for f in resource.readable)
        self.pk = resource.primary_key
        self._params: list[sa.BindParameter[Any]] = [
            sa.bindparam(f"pk_{i}") for i in range(len(self.pk))
        ]
        self.select_one = (
            sa.select(*self.columns).where(
                *(c == p for c, p in zip(self.pk, self._params, strict=True))
            )
            if self.pk
            else None
        )
        self._table = table
        self._all_columns = {
            **{c.key: c for c in table.columns},
            **{f.name: f.column for f in resource.fields.values()},
        }
        if resource.mapper is not None:
            for prop in resource.mapper.column_attrs:
                for c in prop.columns:
                    if isinstance(c, sa.Column) and c.table is table:
                        self._all_columns[prop.key] = c

    def key_params(self, key: Sequence[Any]) -> dict[str, Any]:
        return {p.key: v for p, v in zip(self._params, key, strict=True)}

    def key_where(self, key: Sequence[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(*(c == v for c, v in zip(self.pk, key, strict=True)))

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
