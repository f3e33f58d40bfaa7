"""An existing database -> resources, by reflection.

Every table with a primary key becomes a full CRUD resource; views and tables without a primary
key become read-only (list only: with no key there is no item URL). Table and column names are
used as they are (spaces, upper case, reserved words): SQLAlchemy quotes them, and resource names
are made URL-safe (``Order Items`` -> ``Order_Items``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

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
) -> list[Resource]:
    """Reflect every table and view of ``engine`` (one schema) into resources.

    ``hidden`` maps a table name to columns that must never be exposed (a password hash);
    ``searchable`` maps a table name to the text columns that ``q=`` searches.
    """
    metadata = sa.MetaData()
    metadata.reflect(engine, schema=schema, views=True)
    views = set(sa.inspect(engine).get_view_names(schema=schema))
    # SQLite stores every INTEGER in 64 bits, whatever the declared type says.
    integer_bits = 64 if engine.dialect.name == "sqlite" else None
    hidden = hidden or {}
    searchable = dict(searchable or {})
    unknown = sorted(set(searchable) - {t.name for t in metadata.tables.values()})
    if unknown:
        raise ValueError(f"searchable names unknown tables: {unknown}")
    resources: list[Resource] = []
    taken: set[str] = set()
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        name = slug(table.name)
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        writable = not read_only and table.name not in views and bool(table.primary_key.columns)
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
