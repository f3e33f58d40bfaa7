"""Relations between tables: from foreign keys alone (database-first, or a plain ``Table``)
or as a model declares them (``relationship()``), each named once, when a resource is
declared."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .names import slug

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

__all__ = ["Relation", "declared_relations"]


@dataclass(frozen=True, slots=True)
class Relation:
    """A link from this table to rows of another: ``local == remote`` for every pair.

    To-one (``books.author``): local is the foreign key, remote the target's key. To-many
    (``authors.books``): local is this table's key, remote the other table's foreign key.
    """

    name: str
    target: sa.Table
    pairs: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...]
    to_many: bool

    @property
    def local(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[0] for p in self.pairs)

    @property
    def remote(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[1] for p in self.pairs)


def declared_relations(table: sa.Table, mapper: Mapper[Any] | None) -> dict[str, Relation]:
    """A table's relations by name: the model's own ``relationship()`` names win; the foreign
    keys they do not cover keep the names :func:`_fk_relations` gives them."""
    found = _fk_relations(table)
    if mapper is None:
        return found
    declared = _mapper_relations(mapper, table)
    covered = {frozenset(r.pairs) for r in declared.values()}
    for rel_name, rel in found.items():
        if frozenset(rel.pairs) not in covered and rel_name not in declared:
            declared[rel_name] = rel
    return declared


#: A foreign key column's name that says which row it points to: ``author_id``,
#: ``Author ID``, ``author-id`` (any case), or camelCase ``SupportRepId`` / ``customerID``
#: (``Id``/``ID`` after a lower-case letter or a digit, so ``VOID`` and ``UUID`` are not).
_ID_SUFFIX = re.compile(r"^(.+?)(?:[ _-][Ii][Dd]|(?<=[a-z0-9])I[Dd])$")


def _role(column: str) -> str | None:
    """What a foreign key column names the row it points to: ``support_rep_id`` ->
    ``support_rep``, ``SupportRepId`` -> ``SupportRep``; None for a name without that
    ending (``ReportsTo``)."""
    m = _ID_SUFFIX.match(column)
    return m.group(1) if m else None


def _relation_slug(name: str) -> str:
    # Relation names are steps of dotted paths (``author.name``): no dots in them.
    return slug(name).replace(".", "_")


def _fk_relations(table: sa.Table) -> dict[str, Relation]:
    """Relations from foreign keys alone (database-first, or a plain ``Table``).

    A foreign key gives this table a to-one relation named after its column without the
    ending that says "id" (``author_id`` -> ``author``, ``SupportRepId`` -> ``SupportRep``),
    else after the target table (``ReportsTo`` -> ``Employee``). It gives the target table a
    to-many relation named after this table (``books``), unless this table has several foreign
    keys to it or is the target itself (a self-reference): then after the column's role,
    with ``_of`` (``ReportsTo_of``, ``parent_of``: the rows whose ``parent_id`` is this row).
    A name that is a column's (or another relation's) becomes ``<target>_<column>`` (to-one)
    or ``<table>_by_<column>`` (to-many), then gets ``_2``, ``_3``...: a relation never
    shadows a field.
    """
    out: dict[str, Relation] = {}

    def taken(name: str) -> bool:
        return name in out or name in table.c

    def add(name: str, fallback: str, rel: Relation) -> None:
        chosen = _relation_slug(name)
        if taken(chosen):
            chosen = _relation_slug(fallback)
        base, n = chosen, 2
        while taken(chosen):
            chosen, n = f"{base}_{n}", n + 1
        out[chosen] = dataclasses.replace(rel, name=chosen)

    for fk in sorted(
        table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]
    ):
        cols = [e.parent for e in fk.elements]
        target = fk.elements[0].column.table
        role = _role(cols[0].name) if len(cols) == 1 else None
        pairs = tuple((e.parent, e.column) for e in fk.elements)
        rel = Relation("", target, pairs, to_many=False)
        add(role or target.name, f"{target.name}_{cols[0].name}", rel)
    for other in sorted(table.metadata.tables.values(), key=lambda t: t.name):
        here = [fk for fk in other.foreign_key_constraints if fk.elements[0].column.table is table]
        for fk in sorted(here, key=lambda c: [e.parent.name for e in c.elements]):
            column = fk.elements[0].parent.name
            alone = len(here) == 1 and other is not table
            name = other.name if alone else f"{_role(column) or column}_of"
            pairs = tuple((e.column, e.parent) for e in fk.elements)
            add(name, f"{other.name}_by_{column}", Relation("", other, pairs, to_many=True))
    return out


def _mapper_relations(mapper: Mapper[Any], table: sa.Table) -> dict[str, Relation]:
    """Relations as the model declares them (``relationship()``), many-to-many left out."""
    out: dict[str, Relation] = {}
    for rel in mapper.relationships:
        if rel.secondary is not None:
            continue
        pairs = tuple(
            (loc, rem)
            for loc, rem in rel.local_remote_pairs or ()
            if isinstance(loc, sa.Column) and isinstance(rem, sa.Column)
        )
        target = rel.mapper.local_table
        if not pairs or not isinstance(target, sa.Table):
            continue
        out[str(rel.key)] = Relation(str(rel.key), target, pairs, to_many=bool(rel.uselist))
    return out
