"""The live change feed: ``GET /api/<resource>/changes`` as Server-Sent Events.

Writes to a resource with the feed on record one event per changed row in an outbox table
(:mod:`.outbox`), in the write's own transaction; streams wake up when events are committed
(:mod:`.fanout`: PostgreSQL ``LISTEN``/``NOTIFY``, Redis pub/sub, or in-process) and send the
events each caller may see, with the same filters as lists (:mod:`.stream`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

__all__ = ["NO_CHANGES", "ChangeFeed", "Changes"]


@dataclass(frozen=True, slots=True)
class ChangeFeed:
    """Options of the change feed: ``Api(changes=ChangeFeed(keep_hours=6))`` (``changes=True``
    takes these defaults).

    ``keep_rows`` / ``keep_hours``: the history kept for resuming (``Last-Event-ID``); older
    events are pruned as new ones are written. ``heartbeat``: seconds between ``: ping``
    comments on an idle stream. ``poll``: seconds between checks for new events when no
    wake-up arrives (the safety net). ``stream_seconds``: how long one stream stays open
    before the server ends it (clients reconnect with ``Last-Event-ID``; 0: send what is
    there after ``Last-Event-ID`` and end). ``retry_ms``: the reconnect delay suggested to
    clients. ``max_streams``: open streams per process; ``max_streams_per_client``: open
    streams per client address in a process (more get a 429 with ``Retry-After``; behind a
    proxy, every client has the proxy's address unless the app trusts ``X-Forwarded-For``, see
    ``werkzeug.middleware.proxy_fix.ProxyFix``). ``redis_url``:
    wake-ups through Redis pub/sub (default ``TABLEREST_REDIS_URL``); without it, PostgreSQL
    ``LISTEN``/``NOTIFY`` on PostgreSQL, in-process otherwise.
    """

    keep_rows: int = 100_000
    keep_hours: float = 24.0
    heartbeat: float = 15.0
    poll: float = 1.0
    stream_seconds: float = 300.0
    retry_ms: int = 2000
    max_streams: int = 16
    max_streams_per_client: int = 8
    redis_url: str | None = None

    def __post_init__(self) -> None:
        if self.keep_rows < 1 or self.keep_hours <= 0:
            raise ValueError("keep_rows and keep_hours must be positive")
        if self.heartbeat <= 0 or self.poll <= 0 or self.stream_seconds < 0:
            raise ValueError("heartbeat and poll must be positive, stream_seconds >= 0")
        if self.max_streams < 1 or self.max_streams_per_client < 1:
            raise ValueError("max_streams and max_streams_per_client must be at least 1")


class Changes:
    """What a resource's writes call, inside their transaction, to record their events.

    This base records nothing: every resource without the feed shares :data:`NO_CHANGES`.
    The feed's recorder (:class:`.outbox.Recorder`) is a subclass, so that the operations
    need not import the outbox (nor a serve worker without the feed hold it).
    """

    def record(
        self,
        conn: sa.Connection | Session,
        ops: str | Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        before: Sequence[Mapping[str, Any] | None] = (),
    ) -> None:
        """Record that ``rows`` were created or updated (see :meth:`.outbox.Recorder.record`)."""
        return None

    def current(self, session: Session, key: Sequence[Any]) -> dict[str, Any] | None:
        """The row ``key`` as rendered, before an update; None when nothing is recorded."""
        return None

    def deleting(self, session: Session, key: Sequence[Any]) -> None:
        """Before deleting the row ``key``: record its last state."""
        return None


#: The recorder of a resource without the feed.
NO_CHANGES = Changes()
