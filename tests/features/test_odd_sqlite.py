"""Databases nobody here wrote: odd but legal things other programs leave in them.

Each database is written with raw SQL (the ``sqlite3`` module, or pymysql on MariaDB) as
another application would, then served by reflection and asked through HTTP.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.testing import FlaskClient

from tablerest import cli
from tablerest.server import create_app, skipped_views
from tests.databases import fresh_database
from tests.helpers import problem

Serve = Callable[[str], tuple[FlaskClient, Path]]


def _write(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(sql)
    conn.close()


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """Write ``sql`` with the sqlite3 module, then serve the file by reflection."""

    def build(sql: str) -> tuple[FlaskClient, Path]:
        path = tmp_path / "other-program.sqlite3"
        _write(path, sql)
        app = create_app(f"sqlite:///{path}", engine_options={"poolclass": sa.NullPool})
        return app.test_client(), path

    return build


def _stored(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as conn:
        found = list(conn.execute(sql))
    conn.close()
    return found


# -- 1. views the database cannot read ---------------------------------------------------------

ORPHAN_VIEW = """
CREATE TABLE a (x);
CREATE VIEW orphan AS SELECT x FROM a;
DROP TABLE a;
CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO pets VALUES (1, 'Rex');
CREATE VIEW pet_names AS SELECT name FROM pets;
"""


def test_a_view_over_a_dropped_table_is_skipped_and_the_rest_served(serve: Serve) -> None:
    client, _ = serve(ORPHAN_VIEW)
    names = {r["name"] for r in client.get("/api").get_json()["resources"]}
    assert names == {"pets", "pet_names"}
    assert client.get("/api/pets/1").get_json() == {"id": 1, "name": "Rex"}
    assert client.get("/api/pet_names").get_json()["data"] == [{"name": "Rex"}]
    problem(client.get("/api/orphan"), 404)
    reasons = skipped_views(client.application)
    assert list(reasons) == ["orphan"]
    assert "no such table" in reasons["orphan"]


def test_serve_starts_and_names_the_view_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "orphan.sqlite3"
    _write(path, ORPHAN_VIEW)
    monkeypatch.setattr(cli, "run", lambda factory, **options: None)
    result = CliRunner().invoke(cli.main, ["serve", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: not serving view 'orphan'" in result.output
    assert "no such table: main.a" in result.output
    assert "2 resources: pet_names, pets" in result.output


def test_an_invalid_mariadb_view_is_skipped(tmp_path: Path) -> None:
    with fresh_database("mariadb", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE a (x INT)")
            conn.exec_driver_sql("CREATE VIEW orphan AS SELECT x FROM a")
            conn.exec_driver_sql("DROP TABLE a")
            conn.exec_driver_sql("CREATE TABLE pets (id INT PRIMARY KEY, name TEXT)")
            conn.exec_driver_sql("INSERT INTO pets VALUES (1, 'Rex')")
        engine.dispose()
        client = create_app(url, engine_options={"poolclass": sa.NullPool}).test_client()
        assert [r["name"] for r in client.get("/api").get_json()["resources"]] == ["pets"]
        assert client.get("/api/pets/1").get_json() == {"id": 1, "name": "Rex"}
        assert "invalid table" in skipped_views(client.application)["orphan"]
