"""PostgreSQL partitioned tables: give the parent the foreign keys all its partitions share.

With declarative partitioning, foreign keys are often declared on each partition rather than
on the parent (the Pagila sample's ``payment``, partitioned by month, is built that way; before
PostgreSQL 12 the parent could not have them at all). Reflection then sees no foreign key on
the parent, so the resource that serves every row would have no relations: dotted filters and
``include`` would work on each partition but not on the table users query.

A foreign key that every partition declares, on the same columns and to the same target
columns, holds for every row of the parent too; :func:`share_partition_keys` adds it to the
reflected parent ``Table`` in memory (no DDL), where relation building finds it like any other.
A key that only some partitions have says nothing about the others' rows and is left out.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

__all__ = ["share_partition_keys"]

#: One foreign key, as compared between partitions: local columns, target table, target columns.
_Key = tuple[tuple[str, ...], str, tuple[str, ...]]

_PARTITIONS = sa.text(
    """
    SELECT parent.relname AS parent, child.relname AS child
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class parent ON parent.oid = i.inhparent
    JOIN pg_catalog.pg_class child ON child.oid = i.inhrelid
    WHERE parent.relkind = 'p'
      AND parent.relnamespace = to_regnamespace(COALESCE(:schema, current_schema()))
      AND child.relnamespace = parent.relnamespace
    """
)


def share_partition_keys(engine: sa.Engine, metadata: sa.MetaData, schema: str | None) -> None:
    """Add to each reflected partitioned table the foreign keys all its partitions share
    (PostgreSQL only; other databases have no declarative partitions)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        rows = conn.execute(_PARTITIONS, {"schema": schema}).all()
    children: dict[str, list[str]] = defaultdict(list)
    for parent, child in rows:
        children[str(parent)].append(str(child))
    tables = {t.name: t for t in metadata.tables.values() if t.schema == schema}
    done: dict[str, frozenset[_Key]] = {}
    for parent in sorted(children):
        _shared(parent, children, tables, done)


def _keys(table: sa.Table) -> dict[_Key, sa.ForeignKeyConstraint]:
    out: dict[_Key, sa.ForeignKeyConstraint] = {}
    for fk in table.foreign_key_constraints:
        target = fk.elements[0].column.table
        if not isinstance(target, sa.Table):
            continue
        local = tuple(e.parent.name for e in fk.elements)
        remote = tuple(e.column.name for e in fk.elements)
        out[(local, target.name, remote)] = fk
    return out


def _shared(
    name: str,
    children: dict[str, list[str]],
    tables: dict[str, sa.Table],
    done: dict[str, frozenset[_Key]],
) -> frozenset[_Key]:
    """The keys of table ``name``, after adding those its partitions share (depth first, so
    that a partition that is itself partitioned counts with the keys of its own partitions)."""
    if name in done:
        return done[name]
    done[name] = frozenset()  # a cycle cannot happen in pg_inherits; this only guards it
    table = tables.get(name)
    if table is None:  # not reflected (left out, or another schema)
        return frozenset()
    own = _keys(table)
    kids = children.get(name, [])
    common: set[_Key] | None = None
    for kid in kids:
        got = _shared(kid, children, tables, done)
        common = set(got) if common is None else common & got
    for local, target_name, remote in sorted(common or ()):
        if (local, target_name, remote) in own:
            continue
        target = tables.get(target_name)
        if target is None or not all(c in table.c for c in local):
            continue
        table.append_constraint(
            sa.ForeignKeyConstraint([table.c[c] for c in local], [target.c[c] for c in remote])
        )
    result = frozenset(_keys(table))
    done[name] = result
    return result
