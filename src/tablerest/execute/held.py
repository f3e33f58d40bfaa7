"""One pooled connection per server thread for its reads, kept from one request to the next.

A read checks a connection out of SQLAlchemy's pool and back in: a queue, checkout and checkin
events, a rollback to reset it. On a primary-key read from SQLite that is about as much work as
the statement itself. A server whose threads live for many requests (``tablerest serve`` on
granian or gunicorn) can instead let each thread keep the connection of its first read and use
it again, which is what a hand-written app with a connection per thread does.

Only where a kept connection cannot see stale data or hold a lock between requests:

- SQLite (pysqlite): a ``SELECT`` opens no transaction, so between reads the connection holds
  no lock and the next read sees every commit. Should a read ever leave a transaction open,
  it is rolled back when the read ends.
- PostgreSQL at READ COMMITTED: the connection stays in autocommit mode (reads there skip
  ``BEGIN``/``ROLLBACK`` anyway, see ``store._autocommit_reads``), so each statement sees the
  latest commits.
- Not MariaDB/MySQL: InnoDB's default REPEATABLE READ keeps the first read's snapshot until
  the transaction ends, which the pool's reset on return is what ends.

A kept connection is given up, and the thread goes back to the pool, when it was invalidated
(a disconnect), when the engine's pool was disposed (after a disconnect every other connection
is presumed dead too, as SQLAlchemy does), or when the thread ends (granian ends blocking
threads that sit idle). Threads keep at most half of the connections the pool may open, so
that writes always find one.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from .prepared import Direct

__all__ = ["HeldReads", "finished", "holdable"]


def holdable(engine: sa.Engine, *, autocommit_reads: bool) -> bool:
    """Whether reads on ``engine`` may keep a connection between requests (see above)."""
    if not isinstance(engine.pool, QueuePool):
        return False  # SQLite memory databases (one connection), NullPool, StaticPool
    name = engine.dialect.name
    return (name == "sqlite" and engine.dialect.driver == "pysqlite") or (
        name == "postgresql" and autocommit_reads
    )


class HeldReads:
    """The connections threads keep for reads on one engine (at most the pool's size)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._kept = 0

    def runner(self, checkout: Any) -> Direct | None:
        """This thread's kept connection (``checkout()`` makes one the first time), or None
        when the thread may not keep one: the pool is as full of kept connections as it may be.
        """
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None:
            if kept.fresh():
                return kept.runner
            self._local.kept = None  # gives it back (_Kept.__del__)
        with self._lock:
            if self._kept >= _most(self.engine.pool):
                return None
            self._kept += 1
        try:
            pooled: PoolProxiedConnection = checkout(self.engine)
            if self._postgres:
                pooled.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        except BaseException:
            self._given_back()
            raise
        kept = _Kept(self, pooled)
        self._local.kept = kept
        return kept.runner

    def _given_back(self) -> None:
        with self._lock:
            self._kept -= 1


def _most(pool: Any) -> int:
    """How many connections threads may keep: half of what the pool can open, so that each
    thread keeping one can still get another for a write (a thread needs at most both)."""
    if not isinstance(pool, QueuePool):
        return 0
    overflow = pool._max_overflow  # no public reader; -1: no limit
    return pool.size() if overflow < 0 else (pool.size() + overflow) // 2


def finished(runner: Direct) -> None:
    """A read on a kept connection ended: leave no transaction open on it (SQLite; on
    PostgreSQL it is in autocommit mode)."""
    dbapi = runner.dbapi_connection
    if runner.dialect.name == "sqlite" and dbapi is not None and dbapi.in_transaction:
        dbapi.rollback()


class _Kept:
    """A thread's kept connection; given back to the pool when the thread forgets it, which
    includes the thread ending (its ``threading.local`` values are dropped then)."""

    __slots__ = ("owner", "pool", "runner")

    def __init__(self, owner: HeldReads, pooled: PoolProxiedConnection) -> None:
        self.owner = owner
        self.runner = Direct(owner.engine, pooled)
        self.pool = owner.engine.pool

    def fresh(self) -> bool:
        return self.runner.pooled.is_valid and self.pool is self.owner.engine.pool

    def __del__(self) -> None:
        pooled = self.runner.pooled
        try:
            if self.pool is not self.owner.engine.pool:
                pooled.invalidate()  # disposed: presumed dead, and no longer the engine's
            elif pooled.is_valid and self.owner._postgres:
                try:
                    pooled.dbapi_connection.autocommit = False  # type: ignore[union-attr]
                except Exception:
                    pooled.invalidate()
            pooled.close()
        except Exception:  # noqa: S110 - at thread or interpreter exit: nothing to tell
            pass
        finally:
            self.owner._given_back()
