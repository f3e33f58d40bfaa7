"""How a key from a URL (``/api/t/<key>``) names one stored row, whatever the key's storage.

Plain equality, except on two kinds of SQLite columns written by other programs, where the
value a URL gives and the value stored can differ while meaning the same:

- an untyped column (``CREATE TABLE t (id PRIMARY KEY)``): ``/t/1`` names the row holding the
  number ``1``, else the one holding the text ``'1'`` (:mod:`tablerest.columns.untyped`);
- a date/time column stored in several text formats (:mod:`tablerest.columns.sqlite_time`):
  ``/t/2021-01-02T10:00:00Z`` names the row holding that instant in whichever format it was
  written (``2021-01-02 10:00:00``, ``...+00:00``).

Either way a key names at most one row, so that a write changes one row: when two stored
values mean the key (``1`` and ``'1'``; one instant written twice), the number wins, and of
two texts the first in text order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from .sqlite_time import comparable, compared_type
from .untyped import Untyped

__all__ = ["key_match"]


def key_match(col: sa.Column[Any], value: ColumnElement[Any]) -> ColumnElement[bool]:
    """``col`` holds the key part ``value`` (a bound parameter or literal of ``col``'s type,
    from :func:`tablerest.decode.urlkeys.parse_key`)."""
    if isinstance(col.type, Untyped):
        # Another row of the table (an alias: the same name would correlate with the outer one).
        other = col.table.alias()
        text = sa.cast(value, sa.Text())
        held = sa.exists(
            sa.select(sa.literal(1)).select_from(other).where(other.c[col.key] == value)
        )
        return sa.or_(col == value, sa.and_(col == text, sa.not_(held)))
    if compared_type(col.type) is not col.type:  # a mixed-format date/time column
        other = col.table.alias()
        stored = other.c[col.key]
        wanted = sa.type_coerce(value, compared_type(col.type))
        first = (
            sa.select(stored)
            .where(comparable(stored, col.type) == wanted)
            .order_by(stored)
            .limit(1)
            .scalar_subquery()
        )
        return col == first
    return col == value
