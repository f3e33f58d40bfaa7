"""Text keys under real servers (issue 18, item 9): a key with ``/`` is refused at create.

A WSGI server hands the app a decoded ``PATH_INFO``, where ``%2F`` and ``/`` are the same.
gunicorn also passes the raw URI, granian (``serve``'s default) does not, so a route for
such a key could work on one server and not the other: a new key with ``/`` is a 422 naming
the field instead, on both. Every other character a key can hold round-trips through its
``Location`` (percent-encoded), which this checks on both servers too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import SERVERS, Server, call

pytestmark = pytest.mark.e2e

#: Keys that are awkward in a URL but can each be named by one (percent-encoded).
ODD_KEYS = ["a b", "100%", "what?", "#1", "Ünïcödé", "x,y", "a+b", "~tilde", "semi;colon"]


@pytest.mark.parametrize("server_name", SERVERS)
def test_keys_with_a_slash_are_refused_and_other_keys_round_trip(
    env: dict[str, str], tmp_path: Path, server_name: str
) -> None:
    path = tmp_path / "codes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT)")
        conn.execute("INSERT INTO codes VALUES ('old/1', 'written by another program')")
        conn.execute(
            "CREATE TABLE tickets (ref TEXT PRIMARY KEY"
            " DEFAULT ('T/' || lower(hex(randomblob(4)))), title TEXT)"
        )
    server = Server([str(path), "--server", server_name], env)
    try:
        base = f"{server.base}/api/codes"
        status, _headers, body = call("POST", base, {"code": "a/b", "label": "x"})
        assert status == 422, body
        assert [e["pointer"] for e in body["errors"]] == ["/code"]
        assert "/" in body["errors"][0]["detail"]
        status, _headers, body = call("POST", base, form="code=c%2Fd&label=x")
        assert status == 422, body
        assert [e["pointer"] for e in body["errors"]] == ["/code"]

        for key in ODD_KEYS:
            status, headers, body = call("POST", base, {"code": key, "label": key})
            assert status == 201, (key, body)
            assert headers["Location"] == f"{base}/{quote(key, safe='')}"
            status, _headers, got = call("GET", headers["Location"])
            assert (status, got) == (200, {"code": key, "label": key}), key
            # A trailing slash (jsonapi-requests adds one) names the same row.
            status, _headers, got = call("GET", headers["Location"] + "/")
            assert (status, got) == (200, {"code": key, "label": key}), key

        # A row another program stored with "/" in its key has no item URL: a 404, never a
        # 500; a bulk PATCH, whose keys are in the body, still reaches it.
        status, _headers, body = call("GET", f"{base}/old%2F1")
        assert status == 404, body
        status, _headers, body = call("GET", f"{base}/old%2F1/")
        assert status == 404, body
        status, _headers, body = call("GET", f"{base}/?filter[code]=a%20b")
        assert (status, body["data"]) == (200, [{"code": "a b", "label": "a b"}])
        status, _headers, body = call("PATCH", base, [{"code": "old/1", "label": "changed"}])
        assert (status, body) == (200, [{"code": "old/1", "label": "changed"}])

        # A key the database makes with a "/" in it: created, but no Location that would 404.
        status, headers, body = call("POST", f"{server.base}/api/tickets", {"title": "t"})
        assert status == 201, body
        assert body["ref"].startswith("T/")
        assert "Location" not in headers
    finally:
        log = server.stop()
    assert "Traceback" not in log
    with sqlite3.connect(path) as conn:
        stored = {r[0] for r in conn.execute("SELECT code FROM codes")}
    assert stored == {"old/1", *ODD_KEYS}
