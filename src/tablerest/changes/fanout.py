"""Fan-out: waking the change streams of every process when events are committed.

One :class:`Hub` per database per process. While any stream is open, its thread waits for a
wake-up (PostgreSQL ``LISTEN``, Redis pub/sub, or this process's own writes), then reads the
committed counter once and wakes the process's streams, which read the new events from the
outbox. It also reads the counter every ``poll`` seconds without a wake-up, so a lost wake-up
delays events by at most that much: the outbox is the source of truth, wake-ups only a hint.
A stream holds no database connection while it waits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa

from ..changes import ChangeFeed
from ..errors import TooManyRequests
from ..execute.store import Database, translate
from ..resource import Resource
from .outbox import CHANNEL, Outbox, Recorder

__all__ = ["Feeds", "Hub"]

log = logging.getLogger("tablerest")

#: A hub whose streams have all closed stops its thread after this many seconds.
IDLE_SECONDS = 10.0
#: How often to look again when a wake-up names an id not yet visible (it may be sent just
#: before the commit it announces).
EAGER_POLL = 0.02
#: Seconds a client over a stream cap is asked to wait (``Retry-After``).
RETRY_AFTER = 5


class _Wakeups(Protocol):
    def wait(self, timeout: float) -> int | None: ...

    def close(self) -> None: ...


class _Local:
    """Wake-ups from this process's own writes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: int | None = None

    def publish(self, last: int) -> None:
        with self._cond:
            self._pending = max(self._pending or 0, last)
            self._cond.notify_all()

    def wait(self, timeout: float) -> int | None:
        with self._cond:
            if self._pending is None:
                self._cond.wait(timeout)
            got, self._pending = self._pending, None
            return got

    def close(self) -> None:
        return None


class _Listener:
    """Wake-ups from other processes over a connection of its own, opened on the first wait.
    A failure is only logged: the connection is dropped, the hub polls meanwhile, and the
    next wait opens a new one."""

    #: What the log says when a wait fails.
    failure = "change feed: wake-ups failed; polling until they work again"

    def __init__(self) -> None:
        self._conn: Any = None

    def wait(self, timeout: float) -> int | None:
        try:
            if self._conn is None:
                self._conn = self._connect()  # held first: close() ends it if _listen fails
                self._listen(self._conn)
            return self._receive(self._conn, timeout)
        except Exception:
            log.warning(self.failure, exc_info=True)
            self.close()
            time.sleep(timeout)
            return None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _connect(self) -> Any:
        raise NotImplementedError

    def _listen(self, conn: Any) -> None:
        raise NotImplementedError

    def _receive(self, conn: Any, timeout: float) -> int | None:
        """The last id announced within ``timeout`` seconds, or None."""
        raise NotImplementedError


class _Postgres(_Listener):
    """``LISTEN`` on a connection of its own (psycopg 3): writes ``NOTIFY`` in their
    transaction, which PostgreSQL delivers at commit, to every process."""

    failure = "change feed: LISTEN failed; polling until it works again"

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine = engine

    def _connect(self) -> Any:
        raw = self.engine.raw_connection()
        raw.detach()  # kept out of the pool: it listens for as long as the hub runs
        return raw

    def _listen(self, conn: Any) -> None:
        dbapi = conn.dbapi_connection
        assert dbapi is not None
        dbapi.autocommit = True
        dbapi.execute(f"LISTEN {CHANNEL}")

    def _receive(self, conn: Any, timeout: float) -> int | None:
        got = None
        for note in conn.dbapi_connection.notifies(timeout=timeout, stop_after=1):
            got = int(note.payload)
        return got


class _Redis(_Listener):
    """Redis pub/sub: every process subscribes, writers publish the last id after commit."""

    failure = "change feed: Redis unavailable; polling meanwhile"

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    def _connect(self) -> Any:
        return self.client.pubsub(ignore_subscribe_messages=True)

    def _listen(self, conn: Any) -> None:
        conn.subscribe(CHANNEL)

    def _receive(self, conn: Any, timeout: float) -> int | None:
        message = conn.get_message(timeout=timeout)
        return int(message["data"]) if message is not None else None


class Hub:
    """The open streams of one database in this process, and what they have to read."""

    def __init__(self, outbox: Outbox, feed: ChangeFeed, redis: Any = None) -> None:
        self.outbox = outbox
        self.feed = feed
        self._redis = redis
        self._local = _Local()
        #: The last committed id this process knows of.
        self.latest = 0
        self.streams = 0
        #: Open streams per client address.
        self._clients: dict[str, int] = {}
        self._cond = threading.Condition()
        self._running = False
        if redis is not None:
            outbox.committed = self._publish
        else:
            outbox.notify = _listens(outbox.engine)
            outbox.committed = self._local.publish

    def _publish(self, last: int) -> None:
        self._local.publish(last)  # this process's streams need not wait for the round trip
        self._redis.publish(CHANNEL, str(last))

    def open_stream(self, client: str) -> Callable[[], None]:
        """Count an open stream of ``client`` (its address) until the returned function is
        called (once is enough; later calls do nothing). The hub thread runs while any stream
        is open. 429 with ``Retry-After`` over ``max_streams_per_client`` for this client, or
        over ``max_streams`` in all: a client cannot take every stream, and a full server says
        "later" (a 503 would say the database is down)."""
        feed = self.feed
        with self._cond:
            if self._clients.get(client, 0) >= feed.max_streams_per_client:
                raise TooManyRequests(
                    f"This client has {feed.max_streams_per_client} change streams open "
                    "already; close one or try again shortly",
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            if self.streams >= feed.max_streams:
                raise TooManyRequests(
                    "Too many change streams are open; try again shortly",
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            self.streams += 1
            self._clients[client] = self._clients.get(client, 0) + 1
            if not self._running:
                self._running = True
                self.latest = max(self.latest, self.outbox.latest())
                threading.Thread(target=self._run, name="tablerest-changes", daemon=True).start()
        closed = False

        def close() -> None:
            nonlocal closed
            with self._cond:
                if closed:
                    return
                closed = True
                self.streams -= 1
                left = self._clients.pop(client) - 1
                if left:
                    self._clients[client] = left

        return close

    def wait(self, seen: int, timeout: float) -> int:
        """The latest committed id, once it is past ``seen`` or after ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self.latest > seen, timeout)
            return self.latest

    def _wakeups(self) -> _Wakeups:
        if self._redis is not None:
            return _Redis(self._redis)
        if self.outbox.notify:
            return _Postgres(self.outbox.engine)
        return self._local

    def _run(self) -> None:
        source = self._wakeups()
        idle_since: float | None = None
        expected, expected_until = 0, 0.0
        try:
            while True:
                now = time.monotonic()
                with self._cond:
                    if self.streams:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = now
                    elif now - idle_since > IDLE_SECONDS:
                        self._running = False
                        return
                eager = expected > self.latest and now < expected_until
                got = source.wait(EAGER_POLL if eager else self.feed.poll)
                if got is not None and got > expected:
                    expected, expected_until = got, time.monotonic() + self.feed.poll
                try:
                    latest = self.outbox.latest()
                except Exception:
                    log.warning("change feed: cannot read the outbox", exc_info=True)
                    time.sleep(self.feed.poll)
                    continue
                with self._cond:
                    if latest > self.latest:
                        self.latest = latest
                        self._cond.notify_all()
        finally:
            source.close()


def _listens(engine: sa.Engine) -> bool:
    """Whether this database wakes streams with LISTEN/NOTIFY (PostgreSQL with psycopg 3)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class Feeds:
    """One app's change feed: the outbox and hub of each database, the recorders."""

    def __init__(self, feed: ChangeFeed, db: Database) -> None:
        self.feed = feed
        self.db = db
        self.resources: list[Resource] = []
        self._hubs: dict[sa.Engine, Hub] = {}
        self._lock = threading.Lock()
        self._prepared = False
        self._redis: Any = None

    def recorder(self, resource: Resource) -> Recorder:
        """The recorder the resource's writes call (see :class:`Recorder`)."""
        self.resources.append(resource)
        self._prepared = False
        return Recorder(resource, lambda: self.hub(resource).outbox)

    def hub(self, resource: Resource) -> Hub:
        engine = self.db.engine(resource.table)
        found = self._hubs.get(engine)
        if found is None:
            with self._lock:
                found = self._hubs.get(engine)
                if found is None:
                    outbox = Outbox(engine, self.feed)
                    found = self._hubs[engine] = Hub(outbox, self.feed, self._redis_client())
        return found

    def _redis_client(self) -> Any:
        url = self.feed.redis_url or os.environ.get("TABLEREST_REDIS_URL")
        if not url:
            return None
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(url)
        return self._redis

    def prepare(self) -> None:
        """Create the outbox tables where missing, before any write of this app runs (a
        ``before_request`` hook: DDL cannot run inside a write's transaction everywhere)."""
        if self._prepared:
            return
        try:
            for resource in list(self.resources):
                self.hub(resource).outbox.ensure()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        self._prepared = True
