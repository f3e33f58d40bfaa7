"""Query strings and URL keys -> typed intents. No SQL, no database.

Every parameter a resource does not understand is a 400 that names it, so a typo such as
``page[sise]=5`` is reported rather than silently ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .errors import InvalidParameter, NotFound
from .resource import Resource

__all__ = ["ListIntent", "parse_item_query", "parse_key", "parse_list_query"]

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True, slots=True)
class ListIntent:
    """What a list request asks for."""

    limit: int
    offset: int
    #: The page number when the client paged by number (for links); None with limit/offset.
    page_number: int | None
    count: bool


def _single(args: Mapping[str, list[str]], name: str) -> str | None:
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given more than once")
    return values[0]


def _int_param(args: Mapping[str, list[str]], name: str, lo: int, hi: int | None) -> int | None:
    raw = _single(args, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(name, f"{name} must be an integer, not {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise InvalidParameter(name, f"{name} must be {bound}")
    return value


def _bool_param(args: Mapping[str, list[str]], name: str) -> bool:
    raw = _single(args, name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in _TRUE or raw == "":
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(name, f"{name} must be true or false")


_LIST_PARAMS = frozenset({"page[size]", "page[number]", "limit", "offset", "count"})


def _reject_unknown(args: Mapping[str, list[str]], known: frozenset[str]) -> None:
    for name in args:
        if name not in known:
            raise InvalidParameter(name, f"Unknown query parameter {name!r}")


def parse_list_query(resource: Resource, args: Mapping[str, list[str]]) -> ListIntent:
    """Parse a list request's query string (``args`` as ``MultiDict.to_dict(flat=False)``)."""
    _reject_unknown(args, _LIST_PARAMS)
    top = resource.max_page_size
    size = _int_param(args, "page[size]", 1, top)
    number = _int_param(args, "page[number]", 1, None)
    limit = _int_param(args, "limit", 1, top)
    offset = _int_param(args, "offset", 0, None)
    if (size is not None or number is not None) and (limit is not None or offset is not None):
        bad = "limit" if limit is not None else "offset"
        raise InvalidParameter(bad, "Use either page[size]/page[number] or limit/offset")
    count = _bool_param(args, "count")
    if limit is not None or offset is not None:
        return ListIntent(limit or resource.page_size, offset or 0, None, count)
    size = size or resource.page_size
    number = number or 1
    return ListIntent(size, (number - 1) * size, number, count)


def parse_item_query(args: Mapping[str, list[str]]) -> None:
    """Item routes take no query parameters yet; any is reported."""
    _reject_unknown(args, frozenset())


def _key_converter(col: sa.Column[Any]) -> Callable[[str], Any]:
    t = col.type
    if isinstance(t, sa.Integer):
        return int
    if isinstance(t, sa.Uuid):
        return uuid.UUID if t.as_uuid else (lambda s: str(uuid.UUID(s)))
    return str


def parse_key(resource: Resource, raw: str) -> tuple[Any, ...]:
    """The primary key in a URL: one value, or comma-separated values for a composite key.

    A value that cannot be a key of this table (``/books/abc`` for an integer key) is a 404:
    no such row can exist.
    """
    cols = resource.primary_key
    parts = [raw] if len(cols) == 1 else raw.split(",")
    if len(parts) != len(cols):
        raise NotFound(f"No {resource.name} row with key {raw!r}")
    try:
        return tuple(_key_converter(c)(p) for c, p in zip(cols, parts, strict=True))
    except ValueError:
        raise NotFound(f"No {resource.name} row with key {raw!r}") from None
