"""Column types that reflection reports wrongly or not at all, corrected after reflecting.

- Types SQLAlchemy does not know on PostgreSQL or MariaDB (``point``, ``xml``, ``polygon``...)
  come back as ``NullType``; they become :class:`~tablerest.columns.typeops.UnknownType`,
  which only the ``null`` filter and no sort takes (the database has no operator for them with
  a bound text, or none at all). SQLite's columns without a declared type are ``NullType``
  too, but SQLite compares any value as stored, so they are left as they are.
- MariaDB's ``JSON`` is ``LONGTEXT`` with a ``CHECK (json_valid(col))``: reflected as text, its
  values were shown as JSON *text* inside the JSON document and objects could not be written.
  Such columns become SQLAlchemy's ``JSON``, as MySQL's own JSON type is.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from ..columns.typeops import UnknownType

__all__ = ["correct_types"]

_JSON_VALID = re.compile(r"^json_valid\(`((?:[^`]|``)+)`\)$", re.IGNORECASE)
_CHECKS = sa.text(
    "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
    "WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) AND LEVEL = 'Column'"
)


def correct_types(engine: sa.Engine, metadata: sa.MetaData, schema: str | None) -> None:
    """Correct the types of ``metadata``'s reflected columns (in memory: no DDL)."""
    if engine.dialect.name == "sqlite":
        return
    for table in metadata.tables.values():
        for col in table.columns:
            if type(col.type) is sa.types.NullType:
                col.type = UnknownType()
    if getattr(engine.dialect, "is_mariadb", False):
        _mariadb_json(engine, metadata, schema)


def _mariadb_json(engine: sa.Engine, metadata: sa.MetaData, schema: str | None) -> None:
    from sqlalchemy.dialects import mysql  # the engine's: imported here, not in every app

    with engine.connect() as conn:
        checks = conn.execute(_CHECKS, {"schema": schema}).all()
    tables = {t.name: t for t in metadata.tables.values() if t.schema == schema}
    for table_name, clause in checks:
        m = _JSON_VALID.match(str(clause).strip())
        table = tables.get(str(table_name))
        if m is None or table is None:
            continue
        col = table.c.get(m.group(1).replace("``", "`"))
        if col is not None and isinstance(col.type, sa.String):
            col.type = mysql.JSON()
