"""The live change feed across processes: a real SSE client follows one ``tablerest serve``
while writes go through another on the same database (PostgreSQL: LISTEN/NOTIFY; a SQLite
file: the poll), and sees every event exactly once, in order, also after a reconnect with
``Last-Event-ID``. Everything on 127.0.0.1, every wait bounded."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests import models
from tests.databases import REDIS_URL, fresh_database, reachable_redis
from tests.e2e.conftest import Server, call

pytestmark = pytest.mark.e2e

WAIT = 15.0


@pytest.fixture
def redis_url() -> str:
    """A Redis to wake streams through; its pub/sub channel needs no cleaning."""
    reachable_redis().close()
    return REDIS_URL


class Stream:
    """A Server-Sent Events client on a plain HTTP connection."""

    def __init__(self, server: Server, path: str, last_id: int | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        assert self.resp.getheader("Content-Type", "").startswith("text/event-stream")
        first = self._block()
        assert first.get("retry"), first  # the stream is open from here on

    def _block(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline().decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def take(self, n: int) -> list[dict[str, Any]]:
        """The next ``n`` events (a socket timeout fails the test rather than hanging it)."""
        out: list[dict[str, Any]] = []
        while len(out) < n:
            block = self._block()
            if "event" in block:
                out.append({"id": int(block["id"]), "event": block["event"],
                            **json.loads(block["data"])})  # fmt: skip
        return out

    def quiet(self, seconds: float) -> bool:
        """Whether no event arrives within ``seconds`` (heartbeats do not count)."""
        assert self.conn.sock is not None
        self.conn.sock.settimeout(seconds)
        try:
            self._block()
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        models.Base.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def servers(database: str, env: dict[str, str]) -> Iterator[tuple[Server, Server]]:
    started: list[Server] = []
    try:
        for _ in range(2):
            started.append(Server([database, "--changes", "--workers", "1"], env))
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def _create(server: Server, title: str) -> int:
    status, _headers, body = call("POST", f"{server.base}/api/books", {"title": title, "pages": 1})
    assert status == 201, body
    return int(body["id"])


def test_a_stream_sees_writes_of_another_process_once_in_order(
    servers: tuple[Server, Server],
) -> None:
    reader, writer = servers
    stream = Stream(reader, "/api/books/changes")
    try:
        made = [_create(writer, f"b{i}") for i in range(3)]
        assert call("PATCH", f"{writer.base}/api/books/{made[0]}", {"pages": 7})[0] == 200
        assert call("DELETE", f"{writer.base}/api/books/{made[1]}")[0] == 204
        status, _h, many = call(
            "POST",
            f"{writer.base}/api/books",
            [{"title": "x", "pages": 1}, {"title": "y", "pages": 1}],
        )
        assert status == 201

        seen = stream.take(7)

        assert [(e["event"], e["key"]) for e in seen] == [
            *(("create", str(k)) for k in made),
            ("update", str(made[0])),
            ("delete", str(made[1])),
            *(("create", str(r["id"])) for r in many),
        ]
        assert seen[3]["row"]["pages"] == 7
        ids = [e["id"] for e in seen]
        assert ids == list(range(ids[0], ids[0] + 7))
        assert stream.quiet(1.5)
    finally:
        stream.close()

    # Missed while away: a reconnect with Last-Event-ID gets exactly those, to either server.
    later = [_create(writer, f"later{i}") for i in range(3)]
    again = Stream(writer, "/api/books/changes", last_id=ids[-1])
    try:
        back = again.take(3)
        assert [e["key"] for e in back] == [str(k) for k in later]
        assert [e["id"] for e in back] == [ids[-1] + 1, ids[-1] + 2, ids[-1] + 3]
        assert again.quiet(1.5)
    finally:
        again.close()


def test_concurrent_writers_through_both_processes_give_one_ordered_history(
    servers: tuple[Server, Server],
) -> None:
    first, second = servers
    stream = Stream(first, "/api/books/changes?filter[title][startswith]=c")
    made: list[int] = []
    lock = threading.Lock()

    def write(server: Server, name: str) -> None:
        for i in range(8):
            key = _create(server, f"c-{name}-{i}")
            with lock:
                made.append(key)

    try:
        _create(first, "skipped by the filter")
        workers = [
            threading.Thread(target=write, args=(s, n)) for s, n in ((first, "a"), (second, "b"))
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        seen = stream.take(16)
        ids = [e["id"] for e in seen]
        assert ids == sorted(ids)
        assert len(set(ids)) == 16
        assert sorted(int(e["key"]) for e in seen) == sorted(made)
        assert stream.quiet(1.5)
    finally:
        stream.close()


def test_the_live_page_and_the_documented_route(servers: tuple[Server, Server]) -> None:
    server = servers[0]
    status, _h, doc = call("GET", f"{server.base}/api/openapi.json")
    assert status == 200
    assert (
        "text/event-stream"
        in doc["paths"]["/api/books/changes"]["get"]["responses"]["200"]["content"]
    )
    deadline = time.monotonic() + WAIT
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    conn.request("GET", "/api/changes.html")
    resp = conn.getresponse()
    page = resp.read().decode()
    conn.close()
    assert resp.status == 200
    assert "EventSource" in page
    assert time.monotonic() < deadline


@pytest.mark.parametrize(
    ("backend", "wakeup"), [("postgresql", "LISTEN/NOTIFY"), ("sqlite", "Redis pub/sub")]
)
def test_a_write_in_another_process_wakes_streams_without_waiting_for_the_poll(
    backend: str, wakeup: str, tmp_path: Path, env: dict[str, str], redis_url: str
) -> None:
    """With the poll at a minute, only the wake-up can bring the event within seconds."""
    if wakeup == "Redis pub/sub":
        env = {**env, "TABLEREST_REDIS_URL": redis_url}
    with fresh_database(backend, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        models.Base.metadata.create_all(engine)
        engine.dispose()
        options = [url, "--changes", "--changes-poll", "60", "--workers", "1"]
        reader, writer = Server(options, env), Server(options, env)
        try:
            stream = Stream(reader, "/api/books/changes")
            try:
                started = time.monotonic()
                key = _create(writer, "woken")
                (event,) = stream.take(1)
                assert event["key"] == str(key)
                assert time.monotonic() - started < 10, f"{wakeup} did not wake the stream"
            finally:
                stream.close()
        finally:
            reader.stop()
            writer.stop()
