"""Login sessions: which refresh token is current, and which sessions are revoked.

A login starts a session (``sid``); each refresh token names it and replaces the previous one
(rotation). Presenting a refresh token that is not the session's current one means it was
copied: the session is revoked, and with it every access token it issued (they carry ``sid``
and are checked on each request). Logout revokes the session the same way.

Two stores: :class:`MemoryStore` (one process; the default) and :class:`RedisStore` (every
process sharing one Redis: several workers or servers), chosen by ``TABLEREST_REDIS_URL``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

__all__ = ["MemoryStore", "RedisStore", "SessionStore", "store_for"]


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


class MemoryStore:
    """Sessions in this process's memory: right for one process (tests, ``tablerest serve``
    with one worker); with several, use Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, tuple[str, float]] = {}
        self._revoked: dict[str, float] = {}

    def _sweep(self, now: float) -> None:
        for table in (self._current, self._revoked):
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


def store_for(redis_url: str | None) -> SessionStore:
    """Redis at ``redis_url`` when given, else this process's memory."""
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
