"""One resource's operations as an application's own code calls them (``books.create(data,
identity=...)``, see :class:`tablerest.calling.RowCalls`): Python data in, rows out, through
the same decode stage as a request's JSON body and the same operations as the generated
routes: validation, permissions, field rules, hooks, the transaction, the change feed."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from .auth.access import Access
from .calling import UNSET, Query
from .decode.bodies import Decoder
from .decode.exactjson import dump_exact
from .decode.queries import QueryReader
from .decode.urlkeys import parse_key
from .http import Body
from .operations.caller import Caller
from .operations.reads import Page
from .operations.registry import Registry
from .operations.service import Operations

__all__ = ["Calls"]


class Calls:
    """The operations of one resource of one mounted API, for application code.

    Each takes the caller it is made for first, as the routes' operations do;
    :meth:`caller` makes it from what :class:`~tablerest.calling.RowCalls` was given."""

    def __init__(
        self,
        ops: Operations,
        registry: Registry,
        decoder: Decoder,
        prepare: Callable[[], None] = lambda: None,
    ) -> None:
        self.ops = ops
        self.resource = ops.resource
        self.registry = registry
        self.queries = QueryReader(registry, registry.config.limits)
        #: The decode stage of the resource's HTTP writes: a call's data is decoded as a body.
        self.decoder = decoder
        #: What the app does before a request's writes (the change feed's outbox tables):
        #: a call may come before any request.
        self._prepare = prepare

    def create(self, caller: Caller, data: Any) -> Any:
        """Create a row, several (a list, all or none) or a row with related rows nested in
        it, as a ``POST`` of ``data`` as JSON would; the row(s) as stored, as the caller may
        see them."""
        caller.require(self.resource, "create")
        intent = self.decoder.create(caller, _json(data), jsonapi=False)
        written = [w.out for w in self.ops.create(caller, intent)]
        return written if intent.many else written[0]

    def upsert(self, caller: Caller, data: Any, on: str | Sequence[str]) -> Any:
        """Create, or change the row that already holds the values of the unique field(s)
        ``on`` (``POST ?on_conflict=``)."""
        caller.require(self.resource, "create")
        names = self.ops.bulk.conflict_key(caller, [on if isinstance(on, str) else ",".join(on)])
        intent = self.decoder.create(caller, _json(data), jsonapi=False, upsert=names)
        written = [w.out for w in self.ops.create(caller, intent)]
        return written if intent.many else written[0]

    def read(self, caller: Caller, key: Any, query: Query) -> dict[str, Any]:
        """The row ``key`` with what ``query`` asks for; 404 when the caller cannot see it."""
        res = self.resource
        caller.require(res, "read")
        intent = self.queries.item_intent(res, _args(query), caller.access)
        return self.ops.reads.item(caller, self._key(key), intent)

    def list(self, caller: Caller, query: Query) -> Page:
        """A page of rows, as ``GET`` with ``query`` as its query string gives it."""
        res = self.resource
        caller.require(res, "list")
        intent = self.queries.list_intent(res, _args(query), caller.access)
        if intent.grouping is not None:
            raise ValueError("group_by is for HTTP lists; query the groups with SQLAlchemy")
        intent, scope = self.ops.reads.guard_list(caller, intent)
        return self.ops.reads.page(res, intent, scope)

    def delete(self, caller: Caller, key: Any) -> None:
        """Delete row ``key``; 404 when the caller cannot see it."""
        caller.require(self.resource, "delete")
        self.ops.writes.delete(caller, self._key(key))

    def update_many(
        self, caller: Caller, items: Sequence[Mapping[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """Change several rows, each item with its key and the fields to change, all or
        none (``PATCH`` on the collection); the rows as stored, in the order given."""
        res = self.resource
        caller.require(res, "update")
        changes = res.schema.validate_json_patch_many(dump_exact(list(items)))
        return [caller.visible(res, r) for r in self.ops.bulk.update_many(caller, changes)]

    def change(self, caller: Caller, key: Any, data: Any, replace: bool) -> dict[str, Any]:
        """Change the fields of row ``key`` that ``data`` holds (``PATCH``), or replace the
        row (``PUT``: fields left out go back to their defaults); the row as stored."""
        res = self.resource
        caller.require(res, "update")
        values = self._key(key)
        text = _key_text(key)
        changes = self.decoder.change(caller, _json(data), False, text, replace)
        row = self.ops.writes.update(caller, values, changes, replace=replace)
        return caller.visible(res, row)

    def caller(self, identity: Any, trusted: bool) -> Caller:
        self._prepare()
        if trusted:
            return self.registry.trusted(None if identity is UNSET else identity)
        if identity is UNSET:
            raise TypeError(
                f"{self.resource.name}: say who the call is for: identity=api.identity() "
                "(None: anonymous), or trusted=True for the application itself"
            )
        return self.registry.caller(Access(identity))

    def _key(self, key: Any) -> tuple[Any, ...]:
        return parse_key(self.resource, _key_text(key))


def _key_text(key: Any) -> str:
    if isinstance(key, tuple | list):
        return ",".join(str(v) for v in key)
    return str(key)


def _json(data: Any) -> Body:
    return Body("json", dump_exact(data))


def _args(query: Query) -> dict[str, list[str]]:
    if query is None:
        return {}
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    return {k: [v] if isinstance(v, str) else list(v) for k, v in query.items()}
