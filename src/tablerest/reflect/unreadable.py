"""Views a database keeps but cannot read, found before reflection so that the rest is served.

SQLite lets a view outlive the table it reads (``CREATE VIEW v AS SELECT x FROM a; DROP TABLE
a``), and MariaDB keeps such "invalid" views too; asking for their columns fails (SQLite's
``PRAGMA table_xinfo``, MariaDB's ``DESCRIBE``), which would stop ``tablerest serve`` for the
whole database. PostgreSQL refuses to drop what a view depends on, so none is found there.
:func:`unreadable_views` names each such view with the database's own reason; reflection
leaves them out and ``tablerest serve`` prints them at start.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

__all__ = ["unreadable_views"]


def _reason(exc: BaseException) -> str:
    """The database's message in ``exc`` (or what caused it), without SQLAlchemy's wrapping."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError) and seen.orig is not None:
            args = seen.orig.args
            return str(args[-1]) if args else str(seen.orig)
        seen = seen.__cause__ or seen.__context__
    return str(exc).splitlines()[0]


def unreadable_views(
    engine: sa.Engine, views: Iterable[str], schema: str | None = None
) -> dict[str, str]:
    """View name -> the database's reason, for each of ``views`` whose columns cannot be read."""
    inspector = sa.inspect(engine)
    found: dict[str, str] = {}
    for name in views:
        try:
            inspector.get_columns(name, schema=schema)
        except (sa.exc.DBAPIError, sa.exc.UnreflectableTableError) as exc:
            found[name] = _reason(exc)
    return found
