"""Value lists (``value_lists=``): a many-to-many relation shown as a list of one field of the
rows it links to, ``{"tag_list": "tags.name"}`` -> ``"tag_list": ["dragons", "training"]``.

Declared once, when the resource is: the relation must go through a link table and the field
must be a column of the target that names its rows alone (its single-column primary key, or a
single-column unique key), so that a list written names each row once. Read, the field is a
correlated sub-query aggregating the linked rows' values (:func:`.columns.jsonobject.json_list`),
so every read path gets it as it gets a computed field; written, the operations set the row's
links to the rows the values name (:mod:`tablerest.operations.links`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .columns.jsonobject import json_list
from .fields import Field
from .relations import Relation, unique_sets

__all__ = ["ValueList", "declared_value_lists", "value_list_field"]


@dataclass(frozen=True, slots=True)
class ValueList:
    """One value list: its field name, the relation (under the name clients use) and the
    target's column whose values it lists."""

    name: str
    relation: str
    rel: Relation
    column: sa.Column[Any]


def declared_value_lists(
    resource: str,
    specs: Mapping[str, str] | None,
    named: Callable[[str], str],
    relations: Mapping[str, Relation],
    taken: Mapping[str, object],
) -> dict[str, ValueList]:
    """``value_lists=`` checked: field name (the model's, mapped through the aliases by
    ``named``) -> ``"relation.field"``; ValueError naming the resource otherwise."""
    out: dict[str, ValueList] = {}
    for given, spec in (specs or {}).items():
        name = named(given)
        where = f"{resource}: value list {given!r}"
        if name in taken or name in relations or name in out:
            raise ValueError(f"{where} has the name of a field or relation")
        if not isinstance(spec, str) or spec.count(".") != 1:
            raise ValueError(f"{where} must name 'relation.field', not {spec!r}")
        rel_name, column_name = spec.split(".")
        rel = relations.get(named(rel_name))
        if rel is None or rel.through is None:
            raise ValueError(f"{where}: {rel_name!r} is not a many-to-many relation")
        column = _column(rel.target, column_name)
        if column is None:
            raise ValueError(f"{where}: {rel.target.name} has no column {column_name!r}")
        if (column,) not in unique_sets(column.table):
            raise ValueError(
                f"{where}: {rel.target.name}.{column_name} is not unique on its own (a "
                "single-column primary key or unique key): its values would not name rows"
            )
        out[name] = ValueList(name, named(rel_name), rel, column)
    return out


def value_list_field(vl: ValueList) -> Field:
    """The field of a value list: read as a sub-query over the link table and the target,
    correlated with the row's table as a computed field's are; written by the operations
    (never as a column)."""
    rel = vl.rel
    assert rel.through is not None
    joined = rel.through.join(rel.target, sa.and_(*(near == far for near, far in rel.far)))
    expr = (
        sa.select(json_list(vl.column))
        .select_from(joined)
        .where(*(local == remote for local, remote in rel.pairs), vl.column.is_not(None))
        .scalar_subquery()
    )
    return Field(
        name=vl.name,
        column=sa.Column(vl.name, expr.type, key=vl.name, nullable=False),
        readable=True,
        writable=True,
        nullable=False,
        primary_key=False,
        required_on_create=False,
        required_on_replace=False,
        expression=expr,
    )


def _column(table: sa.Table, name: str) -> sa.Column[Any] | None:
    found = table.c.get(name)
    if found is not None:
        return found
    return next((c for c in table.columns if c.name == name), None)
