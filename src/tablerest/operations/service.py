"""One resource's operations: the layer under HTTP that the generated routes, the batch
endpoint, ``tablerest import`` and applications' own code all call."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ..changes import Changes
from ..errors import FieldError, ValidationFailed
from ..execute.store import Database
from ..resource import Resource
from .bulk import Bulk
from .caller import Caller
from .context import Config, Shared
from .intents import Create, Written
from .links import LinkMode, Links, Peer, relink, set_value_lists
from .nesting import create_nested
from .reads import Reads
from .writes import Writes

__all__ = ["Operations"]


class Operations:
    """Reads and writes of one resource, for any caller (:class:`Caller`)."""

    def __init__(
        self, resource: Resource, db: Database, config: Config, peers: Mapping[str, Peer]
    ) -> None:
        self.resource = resource
        #: The other resources' operations, by name (nested writes go through them).
        self.peers = peers
        self.shared = Shared(resource, db, config)
        self.reads = Reads(self.shared)
        self.writes = Writes(self.shared)
        if resource.value_lists:
            self.writes.lists = functools.partial(set_value_lists, peers, resource)
        self.bulk = Bulk(self.shared, self.writes)

    @property
    def changes(self) -> Changes:
        """Records the change events of this resource's writes (the live change feed)."""
        return self.shared.changes

    @changes.setter
    def changes(self, recorder: Changes) -> None:
        self.shared.changes = recorder

    def create(self, caller: Caller, intent: Create) -> list[Written]:
        """Create (or, with ``intent.upsert``, upsert) the rows of ``intent``, all or none."""
        res = self.resource
        if intent.nested:
            doc = intent.items if intent.many else intent.items[0]
            stored = create_nested(self.shared, self.peers, caller, doc, intent.upsert)
            return [Written(row, out, made) for row, out, made in stored]
        if intent.upsert is not None:
            upserted = self.bulk.upsert(caller, intent.items, intent.upsert, many=intent.many)
            return [Written(row, caller.visible(res, row), made) for row, made in upserted]
        if not intent.items:
            raise ValidationFailed(
                [FieldError("", "The array is empty")], detail="Nothing to create"
            )
        rows = self.writes.create(caller, intent.items, many=intent.many)
        return [Written(row, caller.visible(res, row), True) for row in rows]

    def relink(self, caller: Caller, key: tuple[Any, ...], links: Links, mode: LinkMode) -> None:
        """Add, remove or set the links of the row ``key`` through a many-to-many relation
        (see :mod:`.links`)."""
        relink(self.shared, self.peers, caller, key, links, mode)
