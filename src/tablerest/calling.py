"""The calls an application's own code makes on a resource: ``books.create(data,
identity=...)`` and the rest, each the operation a generated route runs (see
:mod:`tablerest.calls`), on the database of the app serving the current request.

::

    books = api.resource(Book)

    @app.post("/books/<int:id>/copy")
    def copy(id: int):
        me = api.identity(required=True)
        book = books.read(id, identity=me)
        return books.create({"title": book["title"] + " (copy)"}, identity=me), 201
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["UNSET", "RowCalls"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: ``identity`` not given: a call must say who it is for, or that it is ``trusted``.
UNSET: Any = _Unset()

#: A query string as a mapping (``{"sort": "-year"}``) or as text (``"sort=-year"``).
Query = Mapping[str, str | Sequence[str]] | str | None


class RowCalls:
    """What application code can do with a registered resource's rows.

    ``identity`` says who a call is made for (what ``api.identity()`` returns; None for an
    anonymous caller): the resource's permissions and field rules apply to them. Code acting
    for the application itself (a script, an import) passes ``trusted=True`` instead. One of
    the two must be given; with both, no permission applies but hooks still see who the call
    is for (``WriteContext.identity``). Errors are tablerest's (``ValidationFailed``,
    ``NotFound``, ...): in a Flask route they answer as problem responses."""

    #: The calls of the app serving the current request (set when an ``Api`` registers it).
    _calls: Callable[[], Any] | None = None

    def create(self, data: Any, *, identity: Any = UNSET, trusted: bool = False) -> Any:
        """Create a row (a dict), several (a list of dicts: all or none) or a row with
        related rows nested in it, as ``POST`` with ``data`` as its JSON body; the row (or
        rows) as stored, as the caller may see it."""
        calls, caller = self._bound(identity, trusted)
        return calls.create(caller, data)

    def upsert(
        self,
        data: Any,
        *,
        on: str | Sequence[str],
        identity: Any = UNSET,
        trusted: bool = False,
    ) -> Any:
        """Create a row (or several), or change the one that holds the same values of the
        unique field(s) ``on`` (``POST ?on_conflict=``)."""
        calls, caller = self._bound(identity, trusted)
        return calls.upsert(caller, data, on)

    def read(
        self, key: Any, query: Query = None, *, identity: Any = UNSET, trusted: bool = False
    ) -> dict[str, Any]:
        """The row ``key`` (a value; a tuple for a composite key), with what ``query`` asks
        for (``{"include": "author"}``); ``NotFound`` when the caller cannot see it."""
        calls, caller = self._bound(identity, trusted)
        row: dict[str, Any] = calls.read(caller, key, query)
        return row

    def list(self, query: Query = None, *, identity: Any = UNSET, trusted: bool = False) -> Any:
        """A page of rows as ``GET`` with ``query`` as its query string gives it
        (``{"filter[year][ge]": "1900", "sort": "-year"}``): ``.rows``, ``.more``,
        ``.total`` (with ``count``) and ``.cursors`` (keyset pages)."""
        calls, caller = self._bound(identity, trusted)
        return calls.list(caller, query)

    def update(
        self, key: Any, data: Any, *, identity: Any = UNSET, trusted: bool = False
    ) -> dict[str, Any]:
        """Change the fields of row ``key`` that ``data`` holds (``PATCH``)."""
        return self._change(key, data, identity, trusted, replace=False)

    def replace(
        self, key: Any, data: Any, *, identity: Any = UNSET, trusted: bool = False
    ) -> dict[str, Any]:
        """Replace row ``key`` (``PUT``: fields left out go back to their defaults)."""
        return self._change(key, data, identity, trusted, replace=True)

    def delete(self, key: Any, *, identity: Any = UNSET, trusted: bool = False) -> None:
        """Delete row ``key``; ``NotFound`` when the caller cannot see it."""
        calls, caller = self._bound(identity, trusted)
        calls.delete(caller, key)

    def update_many(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        identity: Any = UNSET,
        trusted: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        """Change several rows (each item: its key and the fields to change), all or none."""
        calls, caller = self._bound(identity, trusted)
        rows: builtins.list[dict[str, Any]] = calls.update_many(caller, items)
        return rows

    def _change(
        self, key: Any, data: Any, identity: Any, trusted: bool, *, replace: bool
    ) -> dict[str, Any]:
        calls, caller = self._bound(identity, trusted)
        row: dict[str, Any] = calls.change(caller, key, data, replace)
        return row

    def _bound(self, identity: Any, trusted: bool) -> tuple[Any, Any]:
        """The calls of the app serving the current request, and the caller a call is made
        for (:meth:`tablerest.calls.Calls.caller` says which of ``identity`` and ``trusted``
        it takes)."""
        if self._calls is None:
            raise RuntimeError(f"{self!r} is not registered with an Api")
        calls = self._calls()
        return calls, calls.caller(identity, trusted)
