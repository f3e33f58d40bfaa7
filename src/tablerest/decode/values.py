"""Text from a URL (a filter value, a key part, a policy's constant) -> a column's Python
value. One spelling per value: an integer is read the one way it is rendered, so that each
row has one URL and each filter one meaning."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

import pydantic
import sqlalchemy as sa

from ..columns.binary import from_base64
from ..columns.sqlite_time import python_type as stored_time_type
from ..columns.typeops import base_type, scalar_parser
from ..errors import InvalidParameter

__all__ = ["INT64", "int64_value", "parse_bool", "value_parser"]

INT64 = (-(2**63), 2**63 - 1)
#: An integer as one URL may spell it: ASCII digits, no sign but ``-``, no leading zero, no
#: ``_``, no spaces (``int()`` takes all of those, and full-width digits too).
_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def parse_bool(raw: str, name: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE or raw == "":
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(name, f"{name} must be true or false")


def _boolean(raw: str) -> bool:
    """A boolean value as a query string or a key spells it; ValueError otherwise (the caller
    names the parameter)."""
    # (Unlike a flag, parse_bool's bare ``filter[f][null]``, an empty value is no boolean.)
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be true or false")


# Per column type, found once: a filter asks on every request, and a date-time's parser (a
# pydantic TypeAdapter) takes ~0.3 ms to build. Types are compared by identity: one per column.
@functools.lru_cache(maxsize=1024)
def value_parser(col_type: sa.types.TypeEngine[Any]) -> Callable[[str], Any]:
    """Text from a query string -> the column's Python value (lax, as forms are)."""
    col_type = base_type(col_type)  # a domain's values are those of its type
    special = scalar_parser(col_type)
    if special is not None:
        return special
    if isinstance(col_type, sa.Enum):
        labels = set(col_type.enums)

        def label(raw: str) -> str:
            if raw not in labels:
                raise ValueError(f"must be one of {', '.join(sorted(labels))}")
            return raw

        return label
    if isinstance(col_type, sa.Boolean):
        return _boolean
    if isinstance(col_type, sa.Integer):
        return int64_value
    if isinstance(col_type, sa.Float):
        return _float
    if isinstance(col_type, sa.Numeric):
        return _decimal if col_type.asdecimal else _float
    if isinstance(col_type, sa.String):
        return str
    if isinstance(col_type, sa.LargeBinary):
        return from_base64  # as binary values are rendered
    if isinstance(col_type, sa.DateTime):  # as in writes: with a zone, or without (schema)
        zoned: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
            stored_time_type(col_type)
            or (pydantic.AwareDatetime if col_type.timezone else pydantic.NaiveDatetime)
        )
        return zoned.validate_strings
    if isinstance(col_type, sa.Date):
        return _date  # ISO 8601 only (pydantic reads "0" as 1970-01-01)
    for sa_type, py in (
        (sa.Time, dt.time),
        (sa.Uuid, uuid.UUID),
    ):
        if isinstance(col_type, sa_type):
            adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(py)
            parse = adapter.validate_strings
            if isinstance(col_type, sa.Uuid) and not col_type.as_uuid:
                return lambda raw: str(parse(raw))
            return parse
    return str


def int64_value(raw: str | int) -> int:
    """An integer written the one way it is rendered: ``10``, not ``010``, ``+10``, ``1_0``,
    `` 10`` or full-width digits, so that each row has one URL and each filter one spelling."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw  # already a number (an identity's id set by the application)
    elif isinstance(raw, str) and _CANONICAL_INT.fullmatch(raw) and raw != "-0":
        value = int(raw)
    else:
        raise ValueError("must be an integer in plain ASCII digits (no sign but -, no leading 0)")
    if not INT64[0] <= value <= INT64[1]:
        raise ValueError("out of the 64-bit integer range")
    return value


# Python's own parsers say what went wrong in Python's words ("could not convert string to
# float", "Invalid isoformat string"); a client is told what the value must be instead.


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("must be a number") from None


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date, ISO 8601: YYYY-MM-DD") from None


def _decimal(raw: str) -> decimal.Decimal:
    try:
        value = decimal.Decimal(raw)
    except decimal.InvalidOperation:
        raise ValueError("must be a decimal number") from None
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value
