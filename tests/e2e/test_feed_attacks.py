"""Attacks on the change feed that need a real server (issue 17, items 1 and 5).

A hostile ``like`` filter on an open stream, with writes going on, must not freeze the worker:
the feed once compiled LIKE patterns to backtracking regular expressions (``%`` as ``.*``), and
``%%%%%%%%%%x`` against a long title that does not end in ``x`` held the GIL for hours, so no
other request of that worker was answered. Everything on 127.0.0.1, every wait bounded.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, call
from tests.e2e.test_changes import Stream

pytestmark = pytest.mark.e2e

#: Ten ``%`` (within Limits.max_like_wildcards) then a letter the titles below never end in.
HOSTILE = "/api/books/changes?filter[title][like]=" + "%25" * 10 + "x"
#: A title the hostile pattern must scan and reject: ~C(160, 10) backtracking steps for a regex.
LONG = "a" * 150


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    # The demo has the feed on; one worker, so that a frozen worker is the whole server.
    started = Server(["--workers", "1", "--graceful-timeout", "2"], env)
    yield started
    started.stop()


def _answers_within(url: str, seconds: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=seconds) as resp:
            return resp.status == 200
    except (OSError, http.client.HTTPException):
        return False


def test_a_hostile_like_stream_does_not_freeze_the_worker(server: Server) -> None:
    hostile = Stream(server, HOSTILE)
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:  # writes keep happening while the others read
        while not stop.is_set():
            try:
                status = call("POST", f"{server.base}/api/books", {"title": LONG, "author_id": 1})[
                    0
                ]
            except (OSError, http.client.HTTPException):  # a frozen server drops writes
                status = 0
            written.append(status)
            time.sleep(0.1)

    writer = threading.Thread(target=write, daemon=True)
    try:
        writer.start()
        slow = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            started = time.monotonic()
            if not _answers_within(f"{server.base}/api/books?page[size]=1", 1.0):
                slow.append(round(time.monotonic() - started, 2))
            time.sleep(0.1)
        assert slow == [], "requests went unanswered for a second while the stream matched"
        stop.set()
        writer.join(timeout=15)
        assert len(written) >= 3
        assert set(written) == {201}
        # The stream is alive and its filter works: a title the pattern matches arrives.
        status, _h, body = call(
            "POST", f"{server.base}/api/books", {"title": LONG + "x", "author_id": 1}
        )
        assert status == 201
        (event,) = hostile.take(1)
        assert event["key"] == str(body["id"])
    finally:
        stop.set()
        hostile.close()
