"""The outbox: one row per change, written in the change's own transaction.

The store layer of the change feed. ``tablerest_changes`` holds each event (its id, resource,
operation, key and the row as the resource renders it, never hidden or write-only fields; for
an update, the names of the fields whose values it changed, so that a stream sends it only to
callers who can see one of them: a write that changes only hidden fields records nothing);
``tablerest_change_counter`` holds one row, the last id handed out. A write takes its ids by
incrementing the counter as the last step of its transaction: the counter row stays locked
until the commit, so ids follow commit order even with concurrent writers (PostgreSQL, MariaDB;
SQLite has one writer anyway), and a rolled-back write leaves neither events nor a gap. A
reader that has seen every id up to the committed counter has seen every event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from ..changes import NO_CHANGES, ChangeFeed, Changes
from ..execute.owntables import CHANGE_COUNTER_TABLE, CHANGES_TABLE, create_once
from ..render.json import RowEncoder, dumps
from ..resource import Resource

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "CHANNEL",
    "NO_CHANGES",
    "TABLES",
    "Event",
    "Outbox",
    "Recorder",
]

log = logging.getLogger("tablerest")

#: The PostgreSQL NOTIFY channel and the Redis pub/sub channel of wake-ups.
CHANNEL = "tablerest_changes"
#: Every how many events a write also prunes history beyond what the feed keeps.
PRUNE_EVERY = 100


class _LongText(sa.Text):
    """``TEXT``, but ``LONGTEXT`` on MariaDB/MySQL, whose ``TEXT`` holds 64 KiB: a row's JSON
    may be longer. Named at compilation rather than as a variant of ``mysql.LONGTEXT``, which
    would import the MySQL dialect into every app whatever its database (1 MiB of each serve
    worker)."""


@compiles(_LongText, "mysql")
@compiles(_LongText, "mariadb")
def _long_text_ddl(_type: _LongText, _compiler: Any, **_kw: Any) -> str:
    return "LONGTEXT"


_metadata = sa.MetaData()
_long_text = _LongText()
_id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
changes_table = sa.Table(
    CHANGES_TABLE,
    _metadata,
    sa.Column("id", _id_type, primary_key=True, autoincrement=False),
    sa.Column("resource", sa.String(255), nullable=False),
    sa.Column("op", sa.String(8), nullable=False),
    sa.Column("key_text", sa.Text(), nullable=False),
    sa.Column("row_json", _long_text, nullable=False),
    sa.Column("written_at", sa.Float(), nullable=False),
    # An update's changed fields (a JSON array of names); NULL for creates and deletes.
    sa.Column("changed_json", sa.Text(), nullable=True),
)
counter_table = sa.Table(
    CHANGE_COUNTER_TABLE,
    _metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger(), nullable=False),
)
#: The feed's own tables: database reflection leaves them out.
TABLES = frozenset({changes_table.name, counter_table.name})

_bump = (
    sa.update(counter_table)
    .where(counter_table.c.id == 1)
    .values(last_id=counter_table.c.last_id + sa.bindparam("n", type_=sa.BigInteger()))
)
_last = sa.select(counter_table.c.last_id).where(counter_table.c.id == 1)
_oldest = sa.select(sa.func.min(changes_table.c.id))
_insert = sa.insert(changes_table)
_page = (
    sa.select(
        changes_table.c.id,
        changes_table.c.op,
        changes_table.c.key_text,
        changes_table.c.row_json,
        changes_table.c.changed_json,
    )
    .where(
        changes_table.c.id > sa.bindparam("after"),
        changes_table.c.id <= sa.bindparam("upto"),
        changes_table.c.resource == sa.bindparam("resource"),
    )
    .order_by(changes_table.c.id)
    .limit(sa.bindparam("lim"))
)


@dataclass(frozen=True, slots=True)
class Event:
    """One stored change: ``row`` is JSON text, as the resource renders the row; ``changed``
    the fields an update changed (None: a create or delete, where every field is news)."""

    id: int
    op: str
    key: str
    row: str
    changed: tuple[str, ...] | None = None


#: One event to record: operation, key text, the row as rendered, an update's changed fields.
Change = tuple[str, str, Mapping[str, Any], Sequence[str] | None]


class Outbox:
    """The outbox tables of one database, created on first use."""

    def __init__(self, engine: sa.Engine, feed: ChangeFeed) -> None:
        self.engine = engine
        self.feed = feed
        self._ready = False
        self._lock = threading.Lock()
        #: Called after a write commits with the last id it wrote (wake-ups; see fanout).
        self.committed: Callable[[int], None] = lambda last: None
        #: Whether writes send a PostgreSQL NOTIFY (delivered at commit, to every process).
        self.notify = False

    def ensure(self) -> None:
        """Create the tables and the counter row if missing (outside any write's transaction:
        DDL commits implicitly on MariaDB)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            create_once(self.engine, _metadata, (_add_missing_columns, _first_counter_row))
            self._ready = True

    def record(self, conn: sa.Connection, resource: str, events: Sequence[Change]) -> None:
        """Store ``events`` in the transaction of ``conn``; last step of the write (the
        counter row stays locked until it commits)."""
        n = len(events)
        if not n:
            return
        conn.execute(_bump, {"n": n})
        last = int(conn.execute(_last).scalar_one())
        first = last - n + 1
        now = time.time()
        conn.execute(
            _insert,
            [
                {
                    "id": first + i,
                    "resource": resource,
                    "op": op,
                    "key_text": key,
                    "row_json": dumps(row).decode(),
                    "written_at": now,
                    "changed_json": dumps(list(changed)).decode() if changed is not None else None,
                }
                for i, (op, key, row, changed) in enumerate(events)
            ],
        )
        if (first - 1) // PRUNE_EVERY != last // PRUNE_EVERY:
            self._prune(conn, last, now)
        if self.notify:
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(last))))
        _after_commit(conn, lambda: self.committed(last))

    def _prune(self, conn: sa.Connection, last: int, now: float) -> None:
        feed = self.feed
        conn.execute(
            sa.delete(changes_table).where(
                sa.or_(
                    changes_table.c.id <= last - feed.keep_rows,
                    changes_table.c.written_at < now - feed.keep_hours * 3600,
                )
            )
        )

    def latest(self) -> int:
        """The last committed id (0: none yet)."""
        with self.engine.connect() as conn:
            return int(conn.execute(_last).scalar_one_or_none() or 0)

    def bounds(self) -> tuple[int, int]:
        """The oldest id still kept (``latest + 1`` when none is) and the latest id."""
        with self.engine.connect() as conn:
            latest = int(conn.execute(_last).scalar_one_or_none() or 0)
            oldest = conn.execute(_oldest).scalar()
        return (int(oldest) if oldest is not None else latest + 1), latest

    def read(self, resource: str, after: int, limit: int) -> tuple[list[Event], int]:
        """Events of ``resource`` after id ``after`` (at most ``limit``), and the id the
        reader has now seen everything up to (events of other resources included)."""
        with self.engine.connect() as conn:
            upto = int(conn.execute(_last).scalar_one_or_none() or 0)
            if upto <= after:
                return [], after
            found = conn.execute(
                _page, {"after": after, "upto": upto, "resource": resource, "lim": limit}
            ).all()
        events = [
            Event(int(r[0]), r[1], r[2], r[3], tuple(orjson.loads(r[4])) if r[4] else None)
            for r in found
        ]
        return events, (events[-1].id if len(events) == limit else upto)


def _first_counter_row(conn: sa.Connection) -> None:
    if conn.execute(_last).first() is None:
        conn.execute(sa.insert(counter_table).values(id=1, last_id=0))


def _add_missing_columns(conn: sa.Connection) -> None:
    """Add the columns an outbox made by an earlier version lacks (all nullable, so that the
    rows already there stay valid); DDL from the table's own column objects."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(changes_table.name)}
    table = conn.dialect.identifier_preparer.format_table(changes_table)
    for column in changes_table.columns:
        if column.name not in have:
            assert column.nullable
            ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {ddl}")


def _after_commit(conn: sa.Connection, fn: Callable[[], None]) -> None:
    """Run ``fn`` once the transaction of ``conn`` commits (wake-ups are only a hint: a lost
    one costs a subscriber at most one poll interval)."""

    def fire(*_args: Any) -> None:
        try:
            fn()
        except Exception:  # a wake-up must never fail a committed write
            log.warning("change feed wake-up failed", exc_info=True)

    sa.event.listen(conn, "commit", fire, once=True)


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The rendered fields whose values differ (compared as the JSON a client would get)."""
    return [
        name
        for name, value in after.items()
        if name not in before or dumps(before[name]) != dumps(value)
    ]


def _key_text(resource: Resource, row: Mapping[str, Any]) -> str:
    return ",".join(str(row[f.name]) for f in resource.key_fields)


class Recorder(Changes):
    """What a resource's writes call, inside their transaction, to record their events."""

    def __init__(self, resource: Resource, outbox: Callable[[], Outbox]) -> None:
        self.resource = resource
        self._outbox = outbox
        self._select: sa.Select[Any] | None = None
        # Every reader gets the same event: without the fields computed from who asks.
        shown = [f for f in resource.readable if f.caller_type is None]
        self._per_caller = frozenset(f.name for f in resource.readable if f.caller_type)
        self._encoder = RowEncoder(resource, [f.name for f in shown])
        if resource.key_fields:
            table = resource.table
            cols = [f.selected(table) for f in shown]  # computed fields too
            where = sa.and_(
                *(
                    table.c[f.column.key] == sa.bindparam(f"k{i}")
                    for i, f in enumerate(resource.key_fields)
                )
            )
            self._select = sa.select(*cols).where(where)

    def record(
        self,
        conn: sa.Connection | Session,
        ops: str | Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        before: Sequence[Mapping[str, Any] | None] = (),
    ) -> None:
        """Record that ``rows`` (as the resource renders them) were created or updated:
        ``ops`` is one operation for all, or one per row. ``before``: for updates, each row
        as :meth:`current` read it before the write; an update that changed none of the
        rendered fields (only hidden ones, or nothing at all) is not recorded, since no
        caller could see it."""
        if not rows:
            return
        res = self.resource
        each = [ops] * len(rows) if isinstance(ops, str) else list(ops)
        old = list(before) or [None] * len(rows)
        events: list[Change] = []
        if self._per_caller:
            rows = [{k: v for k, v in r.items() if k not in self._per_caller} for r in rows]
        for op, row, was in zip(each, rows, old, strict=True):
            changed = _changed(was, row) if op == "update" and was is not None else None
            if changed == []:
                continue
            events.append((op, _key_text(res, row), row, changed))
        if events:
            self._outbox().record(self._connection(conn), res.name, events)

    def current(self, session: Session, key: Sequence[Any]) -> dict[str, Any] | None:
        """The row ``key`` as rendered, read in the write's transaction and locked until it
        ends (so that no other change slips in between); None when there is none."""
        if self._select is None:
            return None
        conn = self._connection(session)
        stmt = self._select
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        found = conn.execute(stmt, {f"k{i}": v for i, v in enumerate(key)}).first()
        return self._encoder.row(found) if found is not None else None

    def deleting(self, session: Session, key: Sequence[Any]) -> None:
        """Before deleting the row ``key``: record its last state (the owner fields that the
        caller's row grants are checked on included)."""
        row = self.current(session, key)
        if row is None:
            return  # nothing to delete: the delete answers 404 and rolls back
        event: Change = ("delete", _key_text(self.resource, row), row, None)
        self._outbox().record(self._connection(session), self.resource.name, [event])

    def _connection(self, conn: sa.Connection | Session) -> sa.Connection:
        if isinstance(conn, sa.Connection):
            return conn
        return conn.connection(bind_arguments={"clause": sa.select(self.resource.table)})
