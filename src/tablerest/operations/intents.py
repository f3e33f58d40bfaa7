"""What a create asks for, whatever it was sent as (plain JSON, an array, a form, a JSON:API
document, a nested document), and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Create", "Written"]


@dataclass(frozen=True, slots=True)
class Create:
    """Rows to create: validated rows, or (``nested``) documents holding related rows too,
    which the operation validates row by row with each row's own resource. ``upsert``: the
    unique fields whose row, when it exists, is changed instead."""

    items: list[Any]
    #: Whether the client sent an array (errors then point at the item: ``/0/title``).
    many: bool = False
    nested: bool = False
    upsert: list[str] | None = None


@dataclass(slots=True)
class Written:
    """One row a create wrote: as stored, as answered to the caller (their view of it, with
    any rows nested in it), and whether it was created (an upsert may change it instead)."""

    row: dict[str, Any]
    out: dict[str, Any]
    created: bool
