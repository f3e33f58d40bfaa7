"""What a ``tablerest serve`` worker holds in memory (issue 20: peak RSS per worker).

Workers are forked from serve's process, so every module that process imports and every
object it keeps is in each worker's memory too; and each thread of a worker holds a database
connection of its own. ``bench/rss.py`` measures the sizes; these tests pin the causes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tablerest.server import SQLITE_CACHE_KIB, create_app


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES ('x')")
    conn.close()
    return path


def test_every_sqlite_connection_keeps_a_small_page_cache(notes: Path) -> None:
    # One connection per thread: at SQLite's default (2,000 KiB each) 4 threads held 8 MiB.
    app = create_app(str(notes))
    engine = app.extensions["tablerest"]["/api"].db.engine()
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB < 2000
    client = app.test_client()
    assert client.get("/api/notes/1").get_json()["body"] == "x"
    assert client.post("/api/notes", json={"body": "y"}).status_code == 201
    assert client.get("/api/notes/3").status_code == 404
