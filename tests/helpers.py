"""Reading the database back with SQL, so tests check what was stored, not only what was said."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

import sqlalchemy as sa

from tests import models

__all__ = ["count", "problem", "rows"]


def rows(engine: sa.Engine, table: str, order_by: str = "1") -> list[dict[str, Any]]:
    """What is in the database now, read with SQL rather than through the API."""
    t = models.Base.metadata.tables[table]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(sa.text(order_by)))]


def count(engine: sa.Engine, table: str) -> int:
    t = models.Base.metadata.tables[table]
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())


def problem(resp: Any, status: int) -> dict[str, Any]:
    """Assert ``resp`` is a problem+json response with ``status``; return its body."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == "application/problem+json"
    body: dict[str, Any] = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("urn:tablerest:problem:")
    assert body["title"]
    assert body["detail"]
    return body


def stop_group(proc: subprocess.Popen[Any], grace: float = 15) -> None:
    """Stop a server started in its own process group (``start_new_session=True``): SIGTERM,
    then SIGKILL if it has not exited within ``grace`` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def caller_by_header(request: Any) -> Any:
    """``Api(identify=...)`` for tests: the caller whose id the ``X-User`` header holds
    (anonymous without it)."""
    from tablerest import Identity

    user = request.headers.get("X-User")
    return Identity(user) if user else None
