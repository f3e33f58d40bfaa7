"""The resources of one mounted API with their operations: the catalog the stages follow
relations through, and where each caller's view is made."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..auth.access import Access
from ..execute.store import Database
from ..relations import Relation
from ..resource import Resource
from .caller import Caller
from .context import Config
from .service import Operations

__all__ = ["Registry"]


class Registry:
    """Every resource of one mounted API with its operations, by name: the catalog the
    stages follow relations through, and where a nested write finds the other resources."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.operations: dict[str, Operations] = {}
        #: Whether a resource has a field computed from who asks (``caller.id``): only then
        #: does a read work out which resources it touches without permissions to check.
        self.per_caller = False
        self._everyone = Caller(None, self)

    def add(self, resource: Resource) -> Operations:
        """Register ``resource``; its operations."""
        ops = Operations(resource, self.db, self.config, self.operations)
        self.operations[resource.name] = ops
        self.per_caller = self.per_caller or resource.caller_type is not None
        self._check_value_lists()
        return ops

    def _check_value_lists(self) -> None:
        """A value list shows a field of its target's rows: one the target's resource
        shows too (ValueError otherwise, when both are registered)."""
        for ops in self.operations.values():
            for vl in ops.resource.value_lists.values():
                target = self.owner(vl.rel.target)
                shown = target.field_by_column(vl.column) if target is not None else None
                if target is not None and (shown is None or not shown.readable):
                    raise ValueError(
                        f"{ops.resource.name}: value list {vl.name!r} lists "
                        f"{target.name}.{vl.column.name}, which {target.name} does not show"
                    )

    def target(self, relation: Relation) -> Resource | None:
        # A resource that cannot be read (no GET) is never reached through a relation either.
        found = self.reader(relation.target)
        link = self.link(relation)
        if found is None or link is None:
            return found
        # Through a link table that is served: only as far as its rows may be read, whole.
        ends = relation.link_columns
        shown = [link.field_by_column(c) for c in ends]
        if "GET" not in link.methods or not all(f is not None and f.readable for f in shown):
            return None
        return found

    def link(self, relation: Relation) -> Resource | None:
        return self.owner(relation.through) if relation.through is not None else None

    def by_name(self, name: str) -> Resource | None:
        ops = self.operations.get(name)
        return ops.resource if ops is not None and "GET" in ops.resource.methods else None

    def owner(self, table: sa.Table) -> Resource | None:
        found = None
        for ops in self.operations.values():
            # A view of the table (where=) is never the one its rows belong to.
            if ops.resource.table is table and ops.resource.where is None:
                found = ops.resource
        return found

    def reader(self, table: sa.Table) -> Resource | None:
        for ops in self.operations.values():
            res = ops.resource
            if res.table is table and "GET" in res.methods and res.where is None:
                return res
        return None

    def caller(self, access: Access | None) -> Caller:
        """The view of one caller (``access``), for one request or one call; when nothing is
        guarded (None) every caller sees everything, and one view serves them all."""
        if access is None:
            return self._everyone
        if access.catalog is None:
            access.catalog = self
        return Caller(access, self)

    def trusted(self, identity: Any = None) -> Caller:
        """The application itself, with every check passed, acting for ``identity`` (what the
        hooks see as the write's identity; None: for no one)."""
        return self._everyone if identity is None else Caller(None, self, identity)
