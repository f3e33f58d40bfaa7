"""Relations between tables: from foreign keys alone (database-first, or a plain ``Table``)
or as a model declares them (``relationship()``), each named once, when a resource is
declared. Many-to-many relations go through a link table: a model's ``secondary=``, or
(without a model) any table whose primary key, or one of its unique keys, is made of exactly
its two foreign keys."""

from __future__ import annotations

import dataclasses
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .names import slug

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

__all__ = ["Relation", "declared_relations", "link_ends", "unique_sets"]


@dataclass(frozen=True, slots=True)
class Relation:
    """A link from this table to rows of another: ``local == remote`` for every pair.

    To-one (``books.author``): local is the foreign key, remote the target's key. To-many
    (``authors.books``): local is this table's key, remote the other table's foreign key.
    Many-to-many (``articles.tags``, ``through`` the link table ``article_tags``): local is
    this table's key, remote the link's foreign key to it; ``far`` pairs the link's other
    foreign key with the target's key.
    """

    name: str
    target: sa.Table
    pairs: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...]
    to_many: bool
    through: sa.Table | None = None
    far: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...] = ()

    @property
    def local(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[0] for p in self.pairs)

    @property
    def remote(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[1] for p in self.pairs)

    @property
    def reached(self) -> tuple[sa.Column[Any], ...]:
        """The target's columns that say which of its rows are related: ``remote``, or
        through a link table the target's side of ``far``."""
        return tuple(p[1] for p in self.far) if self.through is not None else self.remote

    @property
    def link_columns(self) -> tuple[sa.Column[Any], ...]:
        """The link table's columns that point at either side (none without one)."""
        return (*self.remote, *(near for near, _ in self.far)) if self.through is not None else ()

    @property
    def route(self) -> frozenset[Any]:
        """What tells two declarations of one relation apart from others (its columns)."""
        return frozenset((*self.pairs, *self.far))


def declared_relations(table: sa.Table, mapper: Mapper[Any] | None) -> dict[str, Relation]:
    """A table's relations by name: the model's own ``relationship()`` names win; the foreign
    keys they do not cover keep the names :func:`_fk_relations` gives them."""
    found = _fk_relations(table)
    if mapper is None:
        return found
    declared = _mapper_relations(mapper, table)
    covered = {r.route for r in declared.values()}
    for rel_name, rel in found.items():
        if rel.through is None and rel.route not in covered and rel_name not in declared:
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
    A link table (:func:`link_ends`) gives each table it links a many-to-many relation to
    the other, named after the other table (``tags``), or after the role of the link's column
    when a table is linked to itself (``follows(follower_id, followed_id)``: ``followed`` and
    ``follower``).
    A name that is a column's (or another relation's) becomes ``<target>_<column>`` (to-one),
    ``<table>_by_<column>`` (to-many) or ``<target>_via_<link>`` (many-to-many), then gets
    ``_2``, ``_3``...: a relation never shadows a field, and the relations of foreign keys
    keep their names when a link table is added.
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
    for link in sorted(table.metadata.tables.values(), key=lambda t: t.name):
        ends = link_ends(link)
        if ends is None:
            continue
        for near, far in (ends, ends[::-1]):
            if near.elements[0].column.table is not table:
                continue
            target = far.elements[0].column.table
            role = _role(far.elements[0].parent.name) or far.elements[0].parent.name
            name = target.name if target is not table else role
            pairs = tuple((e.column, e.parent) for e in near.elements)
            reach = tuple((e.parent, e.column) for e in far.elements)
            rel = Relation("", target, pairs, to_many=True, through=link, far=reach)
            add(name, f"{target.name}_via_{link.name}", rel)
    return out


def unique_sets(table: sa.Table) -> list[tuple[sa.Column[Any], ...]]:
    """The sets of columns each of which no two rows share: the primary key, unique
    constraints, unique indexes (by the columns they read: ``lower(name)`` unique makes
    ``name`` unique) and unique columns."""
    sets: list[tuple[sa.Column[Any], ...]] = []
    if table.primary_key.columns:
        sets.append(tuple(table.primary_key.columns))
    sets += [tuple(c.columns) for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    for idx in table.indexes:
        cols = tuple(c for c in idx.columns if isinstance(c, sa.Column))
        if idx.unique and cols:
            sets.append(cols)
    sets += [(col,) for col in table.columns if col.unique]
    return sets


def link_ends(table: sa.Table) -> tuple[sa.ForeignKeyConstraint, sa.ForeignKeyConstraint] | None:
    """The two foreign keys of a link table (one row per pair of related rows), None if
    ``table`` is not one: exactly two foreign keys whose columns together are its primary key
    or one of its unique keys (a surrogate ``id`` beside them, as Django makes them). Other
    columns may be there too (``created_at``)."""
    fks = sorted(table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements])
    if len(fks) != 2:
        return None
    both = {e.parent for fk in fks for e in fk.elements}
    if len(both) != sum(len(fk.elements) for fk in fks):
        return None  # a column in both keys
    return (fks[0], fks[1]) if both in [set(u) for u in unique_sets(table)] else None


def _mapper_relations(mapper: Mapper[Any], table: sa.Table) -> dict[str, Relation]:
    """Relations as the model declares them (``relationship()``)."""
    out: dict[str, Relation] = {}
    for rel in mapper.relationships:
        if rel.secondary is not None:
            found = _secondary_relation(rel)
            if found is not None:
                out[str(rel.key)] = found
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


def _secondary_relation(rel: Any) -> Relation | None:
    """A model's ``relationship(secondary=link)``; None (not exposed) unless the link is a
    table joined by plain column equalities: a join with more conditions would select rows
    the relation as read here would not."""
    link, target = rel.secondary, rel.mapper.local_table
    if not isinstance(link, sa.Table) or not isinstance(target, sa.Table):
        return None
    pairs = tuple(rel.synchronize_pairs)
    far = tuple((linked, reached) for reached, linked in rel.secondary_synchronize_pairs)
    if not pairs or not far:
        return None
    if _equalities(rel.primaryjoin) != {frozenset(p) for p in pairs} or _equalities(
        rel.secondaryjoin
    ) != {frozenset(p) for p in far}:
        return None
    return Relation(str(rel.key), target, pairs, to_many=True, through=link, far=far)


def _equalities(expr: Any) -> set[frozenset[Any]] | None:
    """The column pairs of ``a = b AND c = d ...``; None for any other condition."""
    parts = expr.clauses if isinstance(expr, sa.sql.elements.BooleanClauseList) else [expr]
    if isinstance(expr, sa.sql.elements.BooleanClauseList) and expr.operator is not operator.and_:
        return None
    out = set()
    for part in parts:
        if not (
            isinstance(part, sa.sql.elements.BinaryExpression)
            and part.operator is operator.eq
            and isinstance(part.left, sa.Column)
            and isinstance(part.right, sa.Column)
        ):
            return None
        out.add(frozenset((part.left, part.right)))
    return out
