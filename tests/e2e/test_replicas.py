"""Reads on PostgreSQL replicas: a primary and a streaming replica of the test's own (initdb,
pg_basebackup, two ports on 127.0.0.1) behind two ``tablerest serve`` processes.

Reads spread to the replica, writes reach the primary, and a client that has just written
never reads its own change missing, even with the replica's replay paused; a replica that is
down or lagging is left out.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import Server
from tests.pgcluster import OwnPostgres

pytestmark = pytest.mark.e2e


@pytest.fixture
def pair() -> Iterator[tuple[OwnPostgres, OwnPostgres]]:
    primary = OwnPostgres()
    replica: OwnPostgres | None = None
    try:
        primary.start()
        engine = sa.create_engine(primary.url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL)")
            conn.exec_driver_sql("INSERT INTO notes (text) VALUES ('seed')")
        engine.dispose()
        replica = OwnPostgres(replica_of=primary)
        replica.start()
        yield primary, replica
    finally:
        if replica is not None:
            replica.close()
        primary.close()


class Client:
    """An HTTP client that keeps cookies (as browsers and most HTTP libraries do)."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def _wait_for(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _sql(pg: OwnPostgres, statement: str) -> Any:
    engine = sa.create_engine(pg.url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        result = conn.exec_driver_sql(statement)
        found = result.all() if result.returns_rows else None
    engine.dispose()
    return found


def test_reads_spread_writes_reach_the_primary_and_writers_read_their_writes(
    pair: tuple[OwnPostgres, OwnPostgres], env: dict[str, str]
) -> None:
    primary, replica = pair
    env = {**env, "TABLEREST_READ_REPLICAS": replica.url}
    servers = [Server([primary.url, "--threads", "2"], env) for _ in range(2)]
    try:
        reader = Client()
        # Make the replica's last replayed change recent, then pause its replay and write one
        # row on the primary directly: a read that does not see it was served by the replica.
        _sql(primary, "INSERT INTO notes (text) VALUES ('replayed')")
        _wait_for(lambda: _sql(replica, "SELECT count(*) FROM notes") == [(2,)])
        _sql(replica, "SELECT pg_wal_replay_pause()")
        _sql(primary, "INSERT INTO notes (text) VALUES ('primary only')")
        seen = []
        for i in range(20):
            status, body = reader.call("GET", f"{servers[i % 2].base}/api/notes")
            assert status == 200
            seen.append(len(body["data"]))
        assert seen == [2] * 20  # every read from the replica, through both processes

        # Whatever is written now is missing on the replica; its writer still reads it.
        writer = Client()
        for i in range(10):
            status, made = writer.call(
                "POST", f"{servers[i % 2].base}/api/notes", {"text": f"w{i}"}
            )
            assert status == 201
            # Read back at once, through the other process: from the primary (the cookie).
            status, got = writer.call("GET", f"{servers[(i + 1) % 2].base}/api/notes/{made['id']}")
            assert (status, got["text"]) == (200, f"w{i}")
            status, listed = writer.call("GET", f"{servers[i % 2].base}/api/notes?page[size]=100")
            assert f"w{i}" in [n["text"] for n in listed["data"]]
        assert _sql(primary, "SELECT count(*) FROM notes") == [(13,)]
        assert _sql(replica, "SELECT count(*) FROM notes") == [(2,)]  # paused: stale

        # Once the replica is known to lag (max 5 s by default), everyone reads the primary.
        time.sleep(7)
        status, listed = reader.call("GET", f"{servers[0].base}/api/notes?page[size]=100")
        assert len(listed["data"]) == 13

        # A replica that is down: reads go on, from the primary.
        _sql(replica, "SELECT pg_wal_replay_resume()")
        replica.stop()
        for i in range(6):
            status, listed = reader.call("GET", f"{servers[i % 2].base}/api/notes?page[size]=100")
            assert (status, len(listed["data"])) == (200, 13)
    finally:
        logs = [s.stop() for s in servers]
    assert not any("Traceback" in log for log in logs), logs
