"""A list's page, from its query string: which rows (by page number, by rows skipped in
either spelling, or after or before a cursor), how many, and whether the list is counted.

Each family of page parameters is whole on its own; mixing two is a 400 naming the parameter
of the second, never a silent choice. What the client leaves out is the resource's default
(its ``page_size``, its ``count``). Read by :mod:`.queries` for every list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InvalidParameter
from ..limits import MAX_OFFSET, MAX_PAGE_NUMBER
from ..resource import COUNT_KINDS, CountKind

__all__ = ["PAGE_PARAMETERS", "PageFamily", "Paging", "count_param", "paging", "single"]

#: The parameters that choose a page (offset or keyset). ``page[offset]``/``page[limit]`` are
#: ``offset``/``limit`` as JSON:API libraries spell them (@orbit/jsonapi's offset strategy).
PAGE_PARAMETERS = (
    "page[size]", "page[number]", "page[after]", "page[before]", "limit", "offset",
    "page[limit]", "page[offset]",
)  # fmt: skip
#: How a list was paged: by number, by rows in either spelling, or by a cursor.
PageFamily = Literal["number", "offset", "page[offset]", "cursor"]


def single(args: Mapping[str, list[str]], name: str) -> str | None:
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given more than once")
    return values[0]


def _int_param(args: Mapping[str, list[str]], name: str, lo: int, hi: int | None) -> int | None:
    raw = single(args, name)
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


@dataclass(frozen=True, slots=True)
class Paging:
    """The page parameters of a query string, checked: one family of them."""

    family: PageFamily
    size: int | None = None  # page[size], limit or page[limit]
    number: int | None = None
    offset: int = 0
    cursor: str | None = None
    direction: Literal["after", "before"] | None = None

    def window(self, default_size: int) -> dict[str, Any]:
        """The list intent's paging fields (``limit``, and ``offset`` and ``page_number``, or
        ``cursor`` and ``direction``): the resource's ``page_size`` when none is asked for,
        and the first page."""
        size = self.size or default_size
        if self.family == "cursor":
            return {"limit": size, "cursor": self.cursor, "direction": self.direction}
        if self.family == "number":
            number = self.number or 1
            return {"limit": size, "offset": (number - 1) * size, "page_number": number}
        return {"limit": size, "offset": self.offset, "offset_parameter": self.family}


def _given(*pairs: tuple[str, object]) -> str | None:
    """The first parameter of ``pairs`` (name, value) that was given."""
    return next((name for name, value in pairs if value is not None), None)


def paging(args: Mapping[str, list[str]], top: int) -> Paging:
    """Which page a list asks for. Each family (page[size]/page[number], limit/offset,
    page[limit]/page[offset], a cursor with page[size]) is whole on its own: mixing two is a
    400 naming the parameter of the second, never a silent choice."""
    size = _int_param(args, "page[size]", 1, top)
    number = _int_param(args, "page[number]", 1, MAX_PAGE_NUMBER)
    limit = _int_param(args, "limit", 1, top)
    offset = _int_param(args, "offset", 0, MAX_OFFSET)
    page_limit = _int_param(args, "page[limit]", 1, top)
    page_offset = _int_param(args, "page[offset]", 0, MAX_OFFSET)
    after, before = single(args, "page[after]"), single(args, "page[before]")
    by_number = _given(("page[size]", size), ("page[number]", number))
    by_rows = _given(("limit", limit), ("offset", offset))
    by_page_rows = _given(("page[limit]", page_limit), ("page[offset]", page_offset))
    if by_number is not None and by_rows is not None:
        raise InvalidParameter(by_rows, "Use either page[size]/page[number] or limit/offset")
    if by_page_rows is not None and (by_number is not None or by_rows is not None):
        other = "page[size]/page[number]" if by_number is not None else "limit/offset"
        raise InvalidParameter(by_page_rows, f"Use either {other} or page[limit]/page[offset]")
    if after is not None and before is not None:
        raise InvalidParameter("page[before]", "Use either page[after] or page[before]")
    if after is not None or before is not None:
        if number is not None or by_rows is not None or by_page_rows is not None:
            raise InvalidParameter(
                "page[after]" if after is not None else "page[before]",
                "A cursor cannot be combined with page[number], limit/offset or "
                "page[limit]/page[offset]",
            )
        direction: Literal["after", "before"] = "after" if after is not None else "before"
        return Paging("cursor", size, cursor=after or before, direction=direction)
    if by_rows is not None:
        return Paging("offset", limit, offset=offset or 0)
    if by_page_rows is not None:
        return Paging("page[offset]", page_limit, offset=page_offset or 0)
    return Paging("number", size, number)


def count_param(args: Mapping[str, list[str]], default: CountKind | None) -> CountKind | None:
    """``count=exact|estimated|capped``, ``true`` (or a bare ``count``) for exact, ``false`` for
    none; else the resource's default."""
    raw = single(args, "count")
    if raw is None:
        return default
    if raw in COUNT_KINDS:
        return raw
    if raw in ("", "true"):
        return "exact"
    if raw == "false":
        return None
    raise InvalidParameter("count", "count must be exact, estimated, capped, true or false")
