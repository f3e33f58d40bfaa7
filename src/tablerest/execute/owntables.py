"""Tables tablerest keeps in the served database for itself: the change feed's outbox and
counter, login sessions. Created on first use, by whichever process gets there first."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

__all__ = ["CHANGES_TABLE", "CHANGE_COUNTER_TABLE", "OWN_TABLES", "SESSIONS_TABLE", "create_once"]

#: Their names, here so that reflection and migrations can leave them out without importing
#: the modules that define them (a serve worker without the change feed or auth never does).
CHANGES_TABLE = "tablerest_changes"
CHANGE_COUNTER_TABLE = "tablerest_change_counter"
SESSIONS_TABLE = "tablerest_sessions"
OWN_TABLES = frozenset({CHANGES_TABLE, CHANGE_COUNTER_TABLE, SESSIONS_TABLE})

#: Attempts before a failure to create the tables is the caller's error.
ATTEMPTS = 3


def create_once(
    engine: sa.Engine,
    metadata: sa.MetaData,
    then: Sequence[Callable[[sa.Connection], None]] = (),
) -> None:
    """Create ``metadata``'s missing tables, then run each of ``then`` in a transaction of its
    own, outside any request's transaction (DDL commits implicitly on MariaDB). Processes
    starting together race to create the same tables: the loser's error means another process
    got there first, so it looks again a moment later (jittered, so that they part)."""
    for attempt in range(ATTEMPTS):
        try:
            with engine.begin() as conn:
                metadata.create_all(conn, checkfirst=True)
            for step in then:
                with engine.begin() as conn:
                    step(conn)
            return
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError):
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.1 + random.random() / 10)
