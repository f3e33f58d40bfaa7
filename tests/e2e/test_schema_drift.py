"""A schema changed under a running ``tablerest serve`` (issue 18, item 6): the client gets a
500 with nothing of the database in it, the server's log the database's message with the
same request id as the response and its access log line."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import SERVERS, Server, call

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("server_name", SERVERS)
def test_a_column_renamed_under_the_server_is_a_500_logged_with_its_request_id(
    env: dict[str, str], tmp_path: Path, server_name: str
) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
        conn.execute("INSERT INTO items (label) VALUES ('pen')")
    server = Server([str(path), "--server", server_name], env)
    try:
        assert call("GET", f"{server.base}/api/items")[0] == 200
        with sqlite3.connect(path) as conn:
            conn.execute("ALTER TABLE items RENAME COLUMN label TO name")
        req = urllib.request.Request(
            f"{server.base}/api/items", headers={"X-Request-ID": "drift-42"}
        )
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("expected an error")
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, err.headers, err.read().decode()
        ready = call("GET", f"{server.base}/readyz")[0]
    finally:
        log = server.stop()

    assert status == 500, raw
    assert "Retry-After" not in headers
    assert headers["X-Request-ID"] == "drift-42"
    assert json.loads(raw)["detail"] == "Internal server error"
    for leak in ("SELECT", "no such column", "label"):
        assert leak not in raw
    assert ready == 200  # the database answers: ready, truthfully
    (line,) = [ln for ln in log.splitlines() if "database error" in ln]
    assert "drift-42" in line
    assert "no such column" in line
    assert "SELECT" not in line  # the database's message, not the statement
    assert any(
        '"request_id": "drift-42"' in ln or '"request_id":"drift-42"' in ln
        for ln in log.splitlines()
    )
