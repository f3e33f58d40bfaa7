"""An existing database -> resources, by reflection.

Every table with a primary key becomes a full CRUD resource; views and tables without a primary
key become read-only (list only: with no key there is no item URL, unless one is given). Table
and column names are used as they are (spaces, upper case, reserved words): SQLAlchemy quotes
them, and resource names are made URL-safe (``Order Items`` -> ``Order_Items``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from .auth.sessions import SESSION_TABLES
from .changes.outbox import TABLES
from .resource import Resource, slug

__all__ = ["reflect_resources"]


def reflect_resources(
    engine: sa.Engine,
    *,
    schema: str | None = None,
    read_only: bool = False,
    hidden: Mapping[str, Iterable[str]] | None = None,
    searchable: Mapping[str, Iterable[str]] | None = None,
    page_size: int = 20,
    max_page_size: int = 100,
    keys: Mapping[str, Sequence[str]] | None = None,
) -> list[Resource]:
    """Reflect every table and view of ``engine`` (one schema) into resources.

    ``hidden`` maps a table name to columns that must never be exposed (a password hash);
    ``searchable`` maps a table name to the text columns that ``q=`` searches; ``keys`` maps a
    view or a table without a primary key to the columns that identify its rows, which gives
    it item routes (``GET /api/view/<key>``; it stays read-only).
    """
    metadata = sa.MetaData()
    # The change feed's outbox tables and the sign-in sessions are tablerest's own.
    own = TABLES | SESSION_TABLES
    metadata.reflect(engine, schema=schema, views=True, only=lambda name, _: name not in own)
    views = set(sa.inspect(engine).get_view_names(schema=schema))
    # SQLite stores every INTEGER in 64 bits, whatever the declared type says.
    integer_bits = 64 if engine.dialect.name == "sqlite" else None
    hidden = hidden or {}
    searchable = dict(searchable or {})
    unknown = sorted(set(searchable) - {t.name for t in metadata.tables.values()})
    if unknown:
        raise ValueError(f"searchable names unknown tables: {unknown}")
    keyed = _give_keys(metadata, dict(keys or {}))
    resources: list[Resource] = []
    taken: set[str] = set()
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        name = slug(table.name)
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        writable = (
            not read_only
            and table.name not in views
            and table.name not in keyed
            and bool(table.primary_key.columns)
        )
        options: dict[str, Any] = {
            "name": name,
            "methods": None if writable else ("GET",),
            "hidden": list(hidden.get(table.name, ())),
            "searchable": list(searchable.get(table.name, ())),
            "integer_bits": integer_bits,
            "page_size": page_size,
            "max_page_size": max_page_size,
        }
        resources.append(Resource(table, **options))
    return resources


def _give_keys(metadata: sa.MetaData, keys: dict[str, Sequence[str]]) -> set[str]:
    """Declare the given key columns of views and keyless tables (in memory: no DDL)."""
    by_name = {t.name: t for t in metadata.tables.values()}
    for name, columns in keys.items():
        table = by_name.get(name)
        if table is None:
            raise ValueError(f"--key names {name!r}, which is not a table or view")
        if table.primary_key.columns:
            raise ValueError(f"--key: {name!r} has a primary key already")
        missing = [c for c in columns if c not in table.c]
        if missing or not columns:
            raise ValueError(f"--key {name}: no such columns {missing or '(none given)'}")
        table.append_constraint(sa.PrimaryKeyConstraint(*(table.c[c] for c in columns)))
    return set(keys)
