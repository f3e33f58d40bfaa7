"""Columns without a declared type (SQLite's ``CREATE TABLE t (x)``): what a write may store,
and what a filter on one means.

SQLite lets such a column hold any one value: an integer (64-bit), a float, text or bytes.
A JSON body may give it any JSON scalar: a string, a number (an integer within 64 bits, as
SQLite stores integers) or a boolean (SQLite stores ``true`` as ``1``, so it reads back as
``1``). An object or an array is a 422: storing it as JSON text would read back as a string,
not as what was sent, and a client that wants the text can send it as a string.

A filter value comes as text, and such a column has no affinity to convert it, so SQLite
would compare ``'7'`` with the integer ``7`` as unequal and order every number below every
text. A filter means instead what a user reads in the JSON (:class:`Loose`):

- ``eq``/``ne``/``in``/``nin``: a value that reads as a number (JSON number syntax) matches
  that number stored as a number (``7`` also matches ``7.0``) and the same text stored as
  text; any other value matches the text only.
- ``lt``/``le``/``gt``/``ge``: a number compares with the numbers only, a text with the texts
  only (code point order), as a range on the column, so that an index on it serves.
- Bytes match no value (only ``null``); ``sort`` keeps SQLite's order: NULL, numbers, text,
  bytes.

A row's key in a URL (``/api/t/1``) follows the same rule (:func:`key_value`, and
:func:`~tablerest.columns.rowkeys.key_match`): a key that reads as a JSON number names the row
whose key is that number, else the row whose key is that same text (``1`` when a table holds
both ``1`` and ``'1'``: never two rows at once, so that a write changes one row). A number
written in another way than SQLite writes it (``1e3``, ``1.50``) names only the number.

The same rule is written twice: once as SQL (:func:`loose_condition`, for lists) and once in
Python (:func:`loose_matches`, for the change feed), so that both select the same rows.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import PlainValidator, WithJsonSchema
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ColumnElement

__all__ = [
    "LOOSE_OPS",
    "UNTYPED",
    "Loose",
    "Untyped",
    "key_value",
    "keys_agree",
    "loose_condition",
    "loose_matches",
    "loose_params",
    "loose_value",
    "mark_untyped",
    "untyped_value",
]

_INT64 = (-(2**63), 2**63 - 1)


def untyped_value(value: Any) -> Any:
    """A value for an untyped column: a JSON scalar, integers within 64 bits; ValueError
    otherwise (pydantic makes it a field error)."""
    if isinstance(value, dict | list):
        raise ValueError(
            "Input should be a string, a number or a boolean: a column without a declared "
            "type holds one value (send JSON as a string to store it as text)"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError("Input should be an integer within 64 bits (-2^63 to 2^63-1)")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    elif not isinstance(value, str | float | bool | bytes):  # bytes: from a form's file part
        raise ValueError("Input should be a string, a number or a boolean")
    return value


#: The validated type of an untyped column's value.
UNTYPED = Annotated[
    Any,
    PlainValidator(untyped_value),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


# -- filters ----------------------------------------------------------------------------------


class Untyped(sa.types.NullType):
    """The type of a SQLite column declared without one (reflection gives it; a plain
    ``NullType`` elsewhere, such as a PostgreSQL type SQLAlchemy does not know, is not one)."""

    cache_ok = True


#: The declared type's name, as SQLAlchemy reads it (``VARCHAR2(10)`` -> ``VARCHAR2``).
_TYPE_NAME = re.compile(r"([\w ]+)")


def _unknown(declared: str) -> bool:
    """Whether a declared type is one SQLAlchemy does not know by name, whose type it then
    takes from SQLite's affinity rules (``STRING``, ``money``, ``point``)."""
    found = _TYPE_NAME.match(declared.upper())
    name = found.group(1).strip() if found else ""
    return bool(name) and name not in sqlite.base.SQLiteDialect.ischema_names


def _holds_text(conn: sa.Connection, column: sa.Column[Any]) -> bool:
    kind = sa.func.typeof(column)
    found = conn.execute(
        sa.select(sa.literal(1)).where(kind.in_(["text", "blob"])).limit(1)
    ).scalar()
    return found is not None


def mark_untyped(conn: sa.Connection, table: sa.Table) -> None:
    """Give the columns of a reflected SQLite ``table`` that have no declared type the
    :class:`Untyped` type (in memory: no DDL). So too a column whose declared type SQLAlchemy
    does not know and SQLite's affinity makes a number (``STRING`` and ``money`` are NUMERIC,
    ``point`` INTEGER) when it holds text: SQLite keeps there any text that does not read as
    a number as text (``'hello'``, ``'$1.00'``, ``'(1,2)'``) beside the numbers it converted
    (``'007'`` became ``7``). One holding only numbers keeps its number type."""
    rows = conn.execute(
        sa.text("SELECT name, type FROM pragma_table_xinfo(:table, :schema)"),
        {"table": table.name, "schema": table.schema or "main"},
    )
    declared = {name: kind or "" for name, kind in rows}
    for column in table.columns:
        odd = isinstance(column.type, sa.Integer | sa.Numeric) and _unknown(
            declared.get(column.name, "")
        )
        if type(column.type) is sa.types.NullType or (odd and _holds_text(conn, column)):
            column.type = Untyped()


#: JSON's number syntax: ``7``, ``-0.5``, ``1e3``; not ``07``, ``+7``, `` 7``, ``inf``.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INT64_RANGE = range(_INT64[0], _INT64[1] + 1)


@dataclass(frozen=True, slots=True)
class Loose:
    """A filter value for an untyped column: its text, and the number it reads as (None when
    it does not read as one)."""

    text: str
    number: int | float | None


def loose_value(raw: str) -> Loose:
    """Text from a query string -> a :class:`Loose` value (never an error: any text is one)."""
    found = _NUMBER.fullmatch(raw)
    if found is None:
        return Loose(raw, None)
    if found.group(1) is None and found.group(2) is None and int(raw) in _INT64_RANGE:
        return Loose(raw, int(raw))
    number = float(raw)  # SQLite keeps a number beyond 64 bits as a float
    return Loose(raw, number if math.isfinite(number) else None)


#: The operators :func:`loose_condition` decides (``null`` needs nothing special).
LOOSE_OPS = frozenset({"eq", "ne", "in", "nin", "lt", "le", "gt", "ge"})
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
# SQLite orders NULL < numbers < text < bytes: the least text ('') and the least bytes (x'')
# bound the numbers and the texts as ranges, which an index on the column serves (typeof()
# would not). Constants written here, never user text.
_TEXT_FLOOR: ColumnElement[Any] = sa.literal_column("''")
_BYTES_FLOOR: ColumnElement[Any] = sa.literal_column("x''")


def loose_params(name: str, op: str, value: Loose | Sequence[Loose]) -> dict[str, Any]:
    """The bound values of :func:`loose_condition` for ``value`` (a list for ``in``/``nin``,
    padded as the caller padded its statement)."""
    if op in _ORDER:
        assert isinstance(value, Loose)
        return {name: value.text if value.number is None else value.number}
    out: dict[str, Any] = {}
    for j, item in enumerate([value] if isinstance(value, Loose) else value):
        # Two values for each item, the text repeated when it is not a number, so that the
        # statement has one shape whatever the values.
        out[f"{name}_{j}n"] = item.text if item.number is None else item.number
        out[f"{name}_{j}t"] = item.text
    return out


def loose_condition(
    col: ColumnElement[Any], op: str, name: str, count: int, numeric: bool, nullable: bool
) -> ColumnElement[bool]:
    """``op`` on an untyped column, with the parameters :func:`loose_params` names: ``count``
    items for ``in``/``nin`` (1 for ``eq``/``ne``); ``numeric``: whether an ordering value
    is a number."""
    if op in _ORDER:
        compared = _ORDER[op](col, sa.bindparam(name))
        if numeric:
            return sa.and_(compared, col < _TEXT_FLOOR)
        return sa.and_(compared, col >= _TEXT_FLOOR, col < _BYTES_FLOOR)
    binds: list[sa.BindParameter[Any]] = [
        sa.bindparam(f"{name}_{j}{kind}") for j in range(count) for kind in "nt"
    ]
    if not binds:
        return sa.false() if op == "in" else sa.true()
    if op in ("eq", "in"):
        return col.in_(binds)
    outside = col.not_in(binds)
    return sa.or_(outside, col.is_(None)) if nullable else outside


def key_value(raw: str) -> Any:
    """A key's text in a URL -> the value bound for :func:`key_match`: the number it reads
    as (JSON number syntax), else the text."""
    found = loose_value(raw)
    return found.text if found.number is None else found.number


def keys_agree(col_type: Any, sent: Any, key: Any) -> bool:
    """Whether a body's key value ``sent`` is the URL's ``key`` (parsed by
    :func:`key_value`): equal, or on an untyped column the URL's number sent as its text
    (``"2"`` for ``/t/2``, as a row holding the text ``'2'`` shows its key)."""
    if sent == key:
        return True
    number = isinstance(key, int | float) and not isinstance(key, bool)
    return isinstance(col_type, Untyped) and number and isinstance(sent, str) and sent == str(key)


def _same(item: Loose, value: Any) -> bool:
    if isinstance(value, str):
        return value == item.text
    if isinstance(value, int | float) and item.number is not None:
        return bool(value == item.number)
    return False


def loose_matches(op: str, want: Loose | Sequence[Loose], value: Any) -> bool:
    """:func:`loose_condition` on one stored value (as JSON gives it: a number, a text, or
    None), in Python: for the change feed."""
    if value is None:
        return op in ("ne", "nin")
    if op in _ORDER:
        assert isinstance(want, Loose)
        if want.number is not None:
            number = isinstance(value, int | float)
            return number and bool(_ORDER[op](value, want.number))
        return isinstance(value, str) and bool(_ORDER[op](value, want.text))
    items = [want] if isinstance(want, Loose) else want
    hit = any(_same(item, value) for item in items)
    return hit if op in ("eq", "in") else not hit
