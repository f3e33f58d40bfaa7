"""A filter's text -> the value of its column, as a list's query string gives it
(``filter[pages][gt]=100``, ``title[like]=%25war%25``, ``id[in]=1,2``). Text patterns stay
within the limits (their length, their wildcards); anything else is parsed as its column's
type. Read by :mod:`.queries` for every condition.
"""

from __future__ import annotations

from typing import Any

import pydantic
import sqlalchemy as sa

from ..columns.typeops import base_type, family, parse_value
from ..columns.untyped import Untyped, loose_value
from ..errors import InvalidParameter
from ..limits import Limits
from .values import parse_bool, value_parser

__all__ = ["filter_value"]

_TEXT_OPS = frozenset({"like", "ilike", "contains", "startswith", "endswith"})


def _check_pattern(raw: str, parameter: str, limits: Limits) -> None:
    """400 for a LIKE pattern beyond the limits (its length, its unescaped ``%`` and ``_``)."""
    if len(raw) > limits.max_like_length:
        raise InvalidParameter(
            parameter, f"A pattern may have at most {limits.max_like_length} characters"
        )
    wildcards, escaped = 0, False
    for ch in raw:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "%_":
            wildcards += 1
    if wildcards > limits.max_like_wildcards:
        raise InvalidParameter(
            parameter, f"A pattern may have at most {limits.max_like_wildcards} wildcards (% and _)"
        )


def filter_value(
    column_type: sa.types.TypeEngine[Any],
    dotted: str,
    op: str,
    raw: str,
    parameter: str,
    limits: Limits,
) -> Any:
    """The value of one filter condition on a column (``op`` known to take its type): a
    tuple for ``in``/``nin``, a bool for ``null``, text for the text operators; 400 naming
    ``parameter`` when ``raw`` is none of its type or goes beyond the limits."""
    col_type = base_type(column_type)
    if op == "null":
        return parse_bool(raw, parameter)
    if family(col_type) != "scalar":
        return parse_value(col_type, op, raw, dotted, parameter, value_parser, limits.max_in_values)
    if op in _TEXT_OPS:
        if not isinstance(col_type, sa.String) or isinstance(col_type, sa.Enum):
            raise InvalidParameter(parameter, f"{op} works on text fields; {dotted} is not text")
        trailing = len(raw) - len(raw.rstrip("\\"))
        if op in ("like", "ilike"):
            if trailing % 2:
                raise InvalidParameter(parameter, "A pattern cannot end with a lone escape (\\)")
            _check_pattern(raw, parameter, limits)
        return raw
    # An untyped column's filter value is text and maybe a number (see columns/untyped.py).
    parse = loose_value if isinstance(col_type, Untyped) else value_parser(col_type)
    try:
        if op in ("in", "nin"):
            items = raw.split(",") if raw else []
            if len(items) > limits.max_in_values:
                raise InvalidParameter(
                    parameter, f"at most {limits.max_in_values} values in a list"
                )
            return tuple(parse(item) for item in items)
        return parse(raw)
    except (ValueError, pydantic.ValidationError) as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, pydantic.ValidationError) else str(exc)
        why = why or "wrong type"
        raise InvalidParameter(
            parameter, f"{raw!r} is not a valid value for {dotted}: {why}"
        ) from None
