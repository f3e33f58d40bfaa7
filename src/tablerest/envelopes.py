"""Envelopes: plain JSON rows wrapped in a named member, as some API specs want them.

``api.resource(Article, envelope=Envelope("article", count="articlesCount"))`` makes a row
``{"article": {...}}`` (reads, and the answers of writes) and a page ``{"articles": [...],
"articlesCount": 12, "links": ..., "meta": ...}``; a write body is sent the same way
(``{"article": {...}}``, or ``{"articles": [...]}`` for several rows) and its error pointers
point into it (``/article/title``). JSON:API documents, exports, batches and change events
keep their own shapes. A declaration, and the functions that apply it: no stage of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import FieldError, TablerestError, ValidationFailed

__all__ = ["Envelope", "pointed", "unwrap"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Where a resource's plain JSON rows go: ``item`` names the member holding one row,
    ``list`` the one holding a page's rows (default: the resource's name), and ``count``, if
    given, a member holding the number of rows the list matches (every list then counts);
    ``paging=False`` leaves a page's ``links`` and ``meta`` out (a spec's bare page)."""

    item: str
    list: str | None = None
    count: str | None = None
    paging: bool = True

    def __post_init__(self) -> None:
        names = [n for n in (self.item, self.list, self.count) if n is not None]
        if any(not isinstance(n, str) or not n for n in names):
            raise ValueError("an envelope's members are non-empty strings")
        if len(set(names)) != len(names):
            raise ValueError(f"an envelope's members must differ: {names}")
        if {"links", "meta"} & set(names):
            raise ValueError("an envelope's members cannot be 'links' or 'meta' (a page has them)")

    def named(self, resource: str) -> Envelope:
        """This envelope with its list member filled in (the resource's name by default)."""
        return self if self.list is not None else dataclasses.replace(self, list=resource)

    def row(self, row: Any) -> dict[str, Any]:
        return {self.item: row}

    def rows(self, rows: Sequence[Any]) -> dict[str, Any]:
        assert self.list is not None
        return {self.list: rows}

    def page(
        self, rows: Sequence[Any], links: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A page: the rows, their count (from ``meta``'s total) if asked for, the links and
        the meta the page would have had."""
        out = self.rows(rows)
        if self.count is not None:
            out[self.count] = meta.get("total")
        if self.paging:
            out["links"] = links
            out["meta"] = meta
        return out


def unwrap(envelope: Envelope, data: Any) -> Any:
    """The row (or array of rows) a write body holds in its envelope; 422 with a pointer
    when the body is not ``{"<item>": {...}}`` or ``{"<list>": [...]}``."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            [FieldError("", f'Send {{"{envelope.item}": {{...}}}}')], detail="Not enveloped"
        )
    wanted = [envelope.item, envelope.list]
    errors = [FieldError(f"/{_escape(k)}", "Unknown field") for k in data if k not in wanted]
    given = [k for k in wanted if k in data]
    if not errors and len(given) != 1:
        errors.append(FieldError("", f"Send one of {envelope.item!r} or {envelope.list!r}"))
    if errors:
        raise ValidationFailed(errors)
    (name,) = given
    assert name is not None
    inner = data[name]
    kind = dict if name == envelope.item else list
    if not isinstance(inner, kind):
        what = "an object" if kind is dict else "an array"
        raise ValidationFailed([FieldError(f"/{_escape(name)}", f"Must be {what}")])
    return inner


def pointed(envelope: Envelope, error: TablerestError, many: bool) -> TablerestError:
    """``error`` with its field errors' pointers into the enveloped body (``/title`` ->
    ``/article/title``; ``/0/title`` -> ``/articles/0/title``)."""
    if not error.errors:
        return error
    name = envelope.list if many else envelope.item
    assert name is not None
    prefix = f"/{_escape(name)}"
    error.errors = tuple(dataclasses.replace(e, pointer=prefix + e.pointer) for e in error.errors)
    return error


def _escape(name: str) -> str:
    """A member name as a JSON Pointer step (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")
