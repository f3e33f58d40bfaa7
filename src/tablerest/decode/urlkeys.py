"""A row's primary key as a URL names it: the text of an item URL's key -> key values, and
the key values of a new row that no URL could name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from ..columns.untyped import Untyped, key_value
from ..errors import FieldError, NotFound
from ..resource import Resource
from .values import value_parser

__all__ = ["parse_key", "unreachable_keys"]


def parse_key(
    resource: Resource, raw: str, columns: tuple[sa.Column[Any], ...] | None = None
) -> tuple[Any, ...]:
    """The key in a URL (the primary key, or the resource's ``lookup=``): one value, or
    comma-separated values for a composite key.

    A value that cannot be a key of this table (``/books/abc`` for an integer key) is a 404:
    no such row can exist. ``columns``: the key of other columns (the primary key, which a
    token's subject holds).
    """
    cols = resource.key if columns is None else columns
    parts = [raw] if len(cols) == 1 else raw.split(",")
    if len(parts) != len(cols):
        raise NotFound(f"No {resource.name} row with key {raw!r}")
    try:
        # The same conversion as filter values: a key is a value of its column.
        return tuple(_key_parser(c.type)(p) for c, p in zip(cols, parts, strict=True))
    except ValueError:  # pydantic's ValidationError is one too
        raise NotFound(f"No {resource.name} row with key {raw!r}") from None


def _key_parser(col_type: sa.types.TypeEngine[Any]) -> Callable[[str], Any]:
    """A key part's text -> its value: as a filter value, but a single one for an untyped
    column (:func:`~tablerest.columns.untyped.key_value`)."""
    return key_value if isinstance(col_type, Untyped) else value_parser(col_type)


def unreachable_keys(resource: Resource, data: Mapping[str, Any], at: str = "") -> list[FieldError]:
    """Errors for the text key values of a new row that no item URL could name (the reverse
    of :func:`parse_key`): a ``/`` ends the key's path segment, a ``,`` splits a composite
    key, an empty key is the collection's URL, and ``.`` / ``..`` are path steps clients
    remove. Such a row could be created but never read, changed or deleted by its URL."""
    cols = resource.key
    errors: list[FieldError] = []
    for f in resource.key_fields:
        value = data.get(f.name)
        if not isinstance(value, str) or isinstance(f.column.type, sa.Enum):
            continue
        where = f"{at}/{f.name.replace('~', '~0').replace('/', '~1')}"
        if value in ("", ".", ".."):
            errors.append(FieldError(where, f"A key cannot be {value!r}: no URL could name it"))
        elif "/" in value:
            errors.append(FieldError(where, "A key cannot contain '/': no URL could name it"))
        elif "," in value and len(cols) > 1:
            errors.append(
                FieldError(where, "A part of a composite key cannot contain ',': it separates them")
            )
    return errors
