"""What the operations of one resource share: its statements, encoders and cached plans,
built once and used by every request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from ..changes import NO_CHANGES, Changes
from ..errors import NotFound
from ..execute.prepared import Prepared, Runner, fetch_all
from ..execute.store import Database
from ..limits import Limits
from ..plan.reads import Shape
from ..plan.writes import Statements
from ..render.json import RowEncoder
from ..resource import Resource
from .caller import Caller

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["PLAN_CACHE", "Config", "Shared", "key_text"]

#: Plans (statements, shapes) kept per resource; a plan is one query shape, not one request.
PLAN_CACHE = 512

_P = TypeVar("_P")


@dataclass(frozen=True, slots=True)
class Config:
    """API-wide options the operations need, fixed when the API is mounted."""

    limits: Limits
    #: Signs keyset cursors.
    secret: bytes


class Shared:
    """One resource's statements, encoders and plans, built once and shared by its reads and
    writes."""

    def __init__(self, resource: Resource, db: Database, config: Config) -> None:
        self.resource = resource
        self.db = db
        self.config = config
        self.limits = config.limits
        self.statements = Statements(resource)
        self.encoder = RowEncoder(resource, self.statements.keys)
        select_one = self.statements.select_one
        self.select_one = Prepared(select_one) if select_one is not None else None
        #: Records the change events of writes (the live change feed; see tablerest.changes).
        self.changes: Changes = NO_CHANGES
        self._plans: dict[tuple[Any, ...], Any] = {}
        self._encoders: dict[tuple[str, tuple[str, ...]], RowEncoder] = {}

    def plan(self, key: tuple[Any, ...], build: Callable[[], _P]) -> _P:
        """The plan cached under ``key``, built on first use (at most ``PLAN_CACHE`` kept)."""
        plans = self._plans
        found = plans.get(key)
        if found is None:
            if len(plans) >= PLAN_CACHE:
                del plans[next(iter(plans))]
            found = plans[key] = build()
        return found

    def encoder_for(self, shape: Shape) -> RowEncoder:
        names = tuple(f.name for f in shape.visible)
        key = (shape.resource.name, names)
        enc = self._encoders.get(key)
        if enc is None:
            enc = self._encoders[key] = RowEncoder(shape.resource, names)
        return enc

    @property
    def core(self) -> bool:
        """Whether writes run as Core statements on a connection: when no ORM session is needed
        (no ORM behaviour on the model, no hooks, which are given the session) and no change
        feed records them, and no value list is written with them (bulk updates and upserts then
        go row by row too)."""
        res = self.resource
        return (
            not res.use_orm
            and not any(res.hooks.values())
            and self.changes is NO_CHANGES
            and not res.value_lists  # their links are written in the row's session
        )

    def missing(self, key: Sequence[Any]) -> NotFound:
        return NotFound(f"No {self.resource.name} row with key {key_text(key)}")

    def key_of(self, conn: sa.Connection | Session, pk: Sequence[Any]) -> tuple[Any, ...]:
        """The URL key of the row with primary key ``pk`` (after an insert, which knows only
        that): ``pk`` itself, or with ``lookup=`` its lookup values (one more query)."""
        res = self.resource
        if not res.looked_up:
            return tuple(pk)
        where = [c == v for c, v in zip(res.primary_key, pk, strict=True)]
        row = conn.execute(sa.select(*res.key).where(*where)).first()
        if row is None:
            raise self.missing(pk)
        return tuple(row)

    def rekeyed(self, key: Sequence[Any], written: dict[sa.Column[Any], Any]) -> tuple[Any, ...]:
        """The URL key of a row after a write of ``written``: a write may change its
        ``lookup=`` values (a new slug), which then name it."""
        return tuple(written.get(c, v) for c, v in zip(self.resource.key, key, strict=True))

    def row_params(self, key: Sequence[Any], caller: Caller) -> dict[str, Any]:
        """What reading one row by ``key`` for ``caller`` binds: the key, and the caller's id
        when a computed field depends on who asks."""
        return {**self.statements.key_params(key), **caller.bound((self.resource,))}

    def read_back(self, conn: Runner, key: Sequence[Any], caller: Caller) -> list[Any]:
        """The row with this key, in the write's transaction (where RETURNING is missing)."""
        assert self.select_one is not None  # a table without a key has no item routes
        return fetch_all(conn, self.select_one, self.row_params(key, caller))

    def fetch_one(
        self, key: Sequence[Any], conn: sa.Connection | Session, caller: Caller
    ) -> dict[str, Any]:
        """The row after a write, in the same transaction."""
        st = self.statements
        assert st.select_one is not None
        row = conn.execute(st.select_one, self.row_params(key, caller)).first()
        if row is None:
            raise self.missing(key)
        return self.encoder.row(row)


def key_text(key: Sequence[Any]) -> str:
    return ",".join(str(v) for v in key)
