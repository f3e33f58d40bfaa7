"""Login sessions: which refresh token is current, and which sessions are revoked.

A login starts a session (``sid``); each refresh token names it and replaces the previous one
(rotation). Presenting a refresh token that is not the session's current one means it was
copied: the session is revoked, and with it every access token it issued (they carry ``sid``
and are checked on each request). Logout revokes the session the same way.

Sign-outs must outlive the process that saw them: a worker restarted (``max_requests``, a
crash) must not bring a logged-out token back to life, nor kill every refresh token. So the
default store is the database itself (:class:`DatabaseStore`, the table ``tablerest_sessions``,
created on first use); :class:`RedisStore` when ``TABLEREST_REDIS_URL`` is set; and
:class:`MemoryStore` (one process, lost on restart) only when asked for by name
(``Auth(sessions="memory")``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..execute.owntables import SESSIONS_TABLE, create_once

__all__ = [
    "SESSION_TABLES",
    "DatabaseStore",
    "MemoryStore",
    "RedisStore",
    "SessionStore",
    "store_for",
]


class SessionStore(Protocol):
    """Where login sessions live. ``ttl`` is in seconds."""

    def begin(self, sid: str, jti: str, ttl: int) -> None:
        """A new session whose current refresh token is ``jti``."""

    def rotate(self, sid: str, current: str, new: str, ttl: int) -> bool:
        """Replace the session's refresh token ``current`` with ``new``, atomically. False
        when ``current`` is not the session's refresh token (reuse) or the session is gone."""

    def revoke(self, sid: str, ttl: int) -> None:
        """End the session: its refresh token no longer rotates, its access tokens fail."""

    def revoked(self, sid: str) -> bool:
        """Whether the session was revoked (logout, or a refresh token reused)."""

    def renew(self, sid: str, stamp: str, ttl: int) -> None:
        """The session carries on under its account's new stamp ``stamp``: its user changed
        their password in it (every other session of theirs ends)."""

    def renewed(self, sid: str) -> str | None:
        """The stamp the session was renewed under, if it was."""


class MemoryStore:
    """Sessions in this process's memory, lost when it ends: a signed-out token works again
    after a restart, and every refresh token stops. Only for a single short-lived process
    (tests, a throwaway demo): ``Auth(sessions="memory")``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, tuple[str, float]] = {}
        self._revoked: dict[str, float] = {}
        self._renewed: dict[str, tuple[str, float]] = {}

    def _sweep(self, now: float) -> None:
        for table in (self._current, self._revoked, self._renewed):
            if len(table) > 1024:  # amortized: expired entries go once the table grows
                expired = [k for k, v in table.items() if _until(v) < now]
                for k in expired:
                    del table[k]

    def begin(self, sid: str, jti: str, ttl: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            self._current[sid] = (jti, now + ttl)

    def rotate(self, sid: str, current: str, new: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            found = self._current.get(sid)
            if found is None or found[1] < now or found[0] != current or sid in self._revoked:
                return False
            self._current[sid] = (new, now + ttl)
            return True

    def revoke(self, sid: str, ttl: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._current.pop(sid, None)
            self._revoked[sid] = now + ttl

    def revoked(self, sid: str) -> bool:
        until = self._revoked.get(sid)
        return until is not None and until >= time.monotonic()

    def renew(self, sid: str, stamp: str, ttl: int) -> None:
        with self._lock:
            self._renewed[sid] = (stamp, time.monotonic() + ttl)

    def renewed(self, sid: str) -> str | None:
        found = self._renewed.get(sid)
        return found[0] if found is not None and found[1] >= time.monotonic() else None


def _until(value: Any) -> float:
    return value[1] if isinstance(value, tuple) else float(value)


# Compare-and-set in one step on the Redis server: no other client can rotate in between.
_ROTATE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


class RedisStore:
    """Sessions in Redis, shared by every process that uses the same server and prefix."""

    def __init__(self, client: Any, prefix: str = "tablerest:") -> None:
        self.client = client
        self.prefix = prefix
        self._rotate = client.register_script(_ROTATE)

    def _keys(self, sid: str) -> tuple[str, str]:
        return f"{self.prefix}session:{sid}", f"{self.prefix}revoked:{sid}"

    def _renewed_key(self, sid: str) -> str:
        return f"{self.prefix}renewed:{sid}"

    def begin(self, sid: str, jti: str, ttl: int) -> None:
        self.client.set(self._keys(sid)[0], jti, ex=ttl)

    def rotate(self, sid: str, current: str, new: str, ttl: int) -> bool:
        return bool(self._rotate(keys=list(self._keys(sid)), args=[current, new, ttl]))

    def revoke(self, sid: str, ttl: int) -> None:
        session, revoked = self._keys(sid)
        pipe = self.client.pipeline()
        pipe.set(revoked, 1, ex=ttl)
        pipe.delete(session)
        pipe.execute()

    def revoked(self, sid: str) -> bool:
        return bool(self.client.exists(self._keys(sid)[1]))

    def renew(self, sid: str, stamp: str, ttl: int) -> None:
        self.client.set(self._renewed_key(sid), stamp, ex=ttl)

    def renewed(self, sid: str) -> str | None:
        found = self.client.get(self._renewed_key(sid))
        return found.decode() if isinstance(found, bytes) else found


_metadata = sa.MetaData()
#: One row per login session: its current refresh token (``jti``; NULL once revoked), whether
#: it was revoked, and when the row may go (the last token it issued has expired by then).
sessions_table = sa.Table(
    SESSIONS_TABLE,
    _metadata,
    sa.Column("sid", sa.String(64), primary_key=True),
    sa.Column("jti", sa.String(64), nullable=True),
    sa.Column("revoked", sa.Boolean(), nullable=False),
    # The account stamp the session was renewed under (a password change made in it).
    sa.Column("stamp", sa.String(64), nullable=True),
    sa.Column("expires_at", sa.BigInteger(), nullable=False, index=True),
)
#: The session store's own tables: database reflection leaves them out.
SESSION_TABLES = frozenset({sessions_table.name})
#: How often (seconds, per process) a new session also deletes expired rows.
SWEEP_EVERY = 300

_s = sessions_table.c


class DatabaseStore:
    """Sessions in a table of the API's own database, shared by every process that uses it
    and kept across restarts. The table is created on first use (outside any request's
    transaction: DDL commits implicitly on MariaDB).

    Each operation is one short statement on a primary-key row (``begin``: an insert;
    ``rotate``: an ``UPDATE ... WHERE sid = ? AND jti = ?``, a compare-and-set that at most
    one concurrent refresh wins; ``revoke``: an update, or an insert for a session this store
    never saw; ``revoked``: a primary-key lookup, which :meth:`revoked_flag` lets a caller fold
    into a query of its own).
    """

    def __init__(self, engine: sa.Engine | Callable[[], sa.Engine]) -> None:
        self._engine = engine
        self._ready = False
        self._lock = threading.Lock()
        self._swept = 0.0

    @property
    def engine(self) -> sa.Engine:
        if not isinstance(self._engine, sa.Engine):
            self._engine = self._engine()
        return self._engine

    def ensure(self) -> None:
        """Create the table if missing; once per process."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            create_once(self.engine, _metadata)
            self._ready = True

    def begin(self, sid: str, jti: str, ttl: int) -> None:
        self.ensure()
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(sessions_table).values(
                    sid=sid, jti=jti, revoked=False, expires_at=now + ttl
                )
            )
            if now - self._swept >= SWEEP_EVERY:
                self._swept = now
                conn.execute(sa.delete(sessions_table).where(_s.expires_at < now))

    def rotate(self, sid: str, current: str, new: str, ttl: int) -> bool:
        self.ensure()
        now = int(time.time())
        stmt = (
            sa.update(sessions_table)
            .where(
                _s.sid == sid,
                _s.jti == current,
                _s.revoked == sa.false(),
                _s.expires_at >= now,
            )
            .values(jti=new, expires_at=now + ttl)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def revoke(self, sid: str, ttl: int) -> None:
        self.ensure()
        until = int(time.time()) + ttl
        # ``ttl`` outlasts every token the session issued: the row is kept until they expire.
        update = (
            sa.update(sessions_table)
            .where(_s.sid == sid)
            .values(jti=None, revoked=True, expires_at=until)
        )
        insert = sa.insert(sessions_table).values(sid=sid, jti=None, revoked=True, expires_at=until)
        for _attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(update).rowcount == 0:
                        conn.execute(insert)
                return
            except sa_exc.IntegrityError:
                continue  # inserted by a concurrent revoke or begin: the update now finds it

    def revoked(self, sid: str) -> bool:
        self.ensure()
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(self.revoked_flag(sid))).scalar())

    def revoked_flag(self, sid: str) -> sa.ScalarSelect[Any]:
        """Whether session ``sid`` is revoked, as a scalar subquery (NULL when this store
        never saw it), to ask along with another query in the same round trip."""
        return sa.select(_s.revoked).where(_s.sid == sid).scalar_subquery()

    def renewed_stamp(self, sid: str) -> sa.ScalarSelect[Any]:
        """:meth:`renewed` as a scalar subquery, like :meth:`revoked_flag`."""
        return sa.select(_s.stamp).where(_s.sid == sid).scalar_subquery()

    def renew(self, sid: str, stamp: str, ttl: int, conn: sa.Connection | None = None) -> None:
        """See :class:`SessionStore`; with ``conn``, in that connection's transaction (the
        password change's own, so that both happen or neither)."""
        stmt = sa.update(sessions_table).where(_s.sid == sid).values(stamp=stamp)
        if conn is not None:
            conn.execute(stmt)
            return
        self.ensure()
        with self.engine.begin() as own:
            own.execute(stmt)

    def renewed(self, sid: str) -> str | None:
        self.ensure()
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(self.renewed_stamp(sid))).scalar()
        return str(found) if found is not None else None

    @property
    def ready(self) -> bool:
        """Whether this process has made sure the table exists."""
        return self._ready


def store_for(redis_url: str | None) -> SessionStore:
    """Redis at ``redis_url`` when given, else this process's memory (``Auth`` makes the
    database store itself: it needs the API's database)."""
    if not redis_url:
        return MemoryStore()
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "TABLEREST_REDIS_URL is set but the redis package is missing: "
            "pip install 'tablerest[redis]'"
        ) from None
    return RedisStore(redis.Redis.from_url(redis_url))
