"""Databases nobody here wrote: odd but legal things other programs leave in them.

Each database is written with raw SQL (the ``sqlite3`` module, or pymysql on MariaDB) as
another application would, then served by reflection and asked through HTTP.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: None)
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


# -- 2. date/time columns holding numbers ------------------------------------------------------

NUMBER_DATES = """
CREATE TABLE events (id INTEGER PRIMARY KEY, julian DATETIME, unix TIMESTAMP, day DATE,
                     mixed DATETIME, local DATETIME);
INSERT INTO events VALUES
  (1, 2459215.5, 1609459200, 2459215.5, '2021-01-01 00:00:00', '01/02/2021'),
  (2, 2459216.25, 1609545600, 2459216, 1609459200, '2021-01-02');
"""


def test_date_time_columns_holding_numbers_are_served_as_those_numbers(serve: Serve) -> None:
    client, path = serve(NUMBER_DATES)
    resp = client.get("/api/events")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["data"] == [
        {"id": 1, "julian": 2459215.5, "unix": 1609459200, "day": 2459215.5,
         "mixed": "2021-01-01 00:00:00", "local": "01/02/2021"},
        {"id": 2, "julian": 2459216.25, "unix": 1609545600, "day": 2459216,
         "mixed": 1609459200, "local": "2021-01-02"},
    ]  # fmt: skip
    assert client.get("/api/events/2").get_json()["unix"] == 1609545600
    ids = client.get("/api/events?filter[julian][ge]=2459216&sort=-unix").get_json()["data"]
    assert [r["id"] for r in ids] == [2]
    assert [r["id"] for r in client.get("/api/events?unix=1609459200").get_json()["data"]] == [1]
    # A date given for a column of numbers: a 400 naming the parameter, never an empty answer.
    bad = problem(client.get("/api/events?filter[unix][lt]=2021-01-02"), 400)
    assert bad["parameter"] == "filter[unix][lt]"
    # A column holding both texts and numbers: each value as stored, filtered as untyped.
    assert [r["id"] for r in client.get("/api/events?mixed=1609459200").get_json()["data"]] == [2]
    assert [r["id"] for r in client.get("/api/events?local=01/02/2021").get_json()["data"]] == [1]
    made = client.post("/api/events", json={"julian": 2459217.5, "unix": 1609632000, "mixed": "x"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert _stored(path, "SELECT julian, unix, mixed FROM events WHERE id = 3") == [
        (2459217.5, 1609632000, "x")
    ]


# -- 3. untyped key columns --------------------------------------------------------------------

UNTYPED_KEYS = """
CREATE TABLE t (id PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'one'), ('2', 'two as text'), ('x', 'ex'), (3, 'three'), ('3', 'text 3'),
                     (1.5, 'one and a half');
CREATE TABLE c (id INTEGER PRIMARY KEY, t_id REFERENCES t (id));
INSERT INTO c VALUES (10, 1), (11, '2');
"""


def test_an_untyped_key_in_a_url_names_the_number_or_the_text(serve: Serve) -> None:
    client, path = serve(UNTYPED_KEYS)
    assert client.get("/api/t/1").get_json() == {"id": 1, "v": "one"}
    assert client.get("/api/t/2").get_json() == {"id": "2", "v": "two as text"}
    assert client.get("/api/t/x").get_json() == {"id": "x", "v": "ex"}
    assert client.get("/api/t/1.5").get_json() == {"id": 1.5, "v": "one and a half"}
    # Both 3 and '3': the URL names the number, never two rows.
    assert client.get("/api/t/3").get_json() == {"id": 3, "v": "three"}
    problem(client.get("/api/t/4"), 404)

    assert client.patch("/api/t/3", json={"v": "drei"}).status_code == 200
    assert client.put("/api/t/2", json={"id": "2", "v": "zwei"}).get_json() == {
        "id": "2",
        "v": "zwei",
    }
    assert client.delete("/api/t/1.5").status_code == 204
    assert _stored(path, "SELECT id, typeof(id), v FROM t ORDER BY rowid") == [
        (1, "integer", "one"),
        ("2", "text", "zwei"),
        ("x", "text", "ex"),
        (3, "integer", "drei"),
        ("3", "text", "text 3"),
    ]


def test_relations_and_foreign_keys_find_an_untyped_key(serve: Serve) -> None:
    client, path = serve(UNTYPED_KEYS)
    assert [r["id"] for r in client.get("/api/t/1/c").get_json()["data"]] == [10]
    assert [r["id"] for r in client.get("/api/t/2/c").get_json()["data"]] == [11]
    assert client.get("/api/c/11?include=t").get_json()["t"] == {"id": "2", "v": "two as text"}
    created = client.post("/api/c", json={"t_id": 1})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert client.get(created.headers["Location"] + "?include=t").get_json()["t"]["v"] == "one"
    made = client.post("/api/t", json={"id": 7, "v": "seven"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert client.get(made.headers["Location"]).get_json() == {"id": 7, "v": "seven"}
    assert _stored(path, "SELECT typeof(id) FROM t WHERE v = 'seven'") == [("integer",)]


def test_a_date_time_key_names_its_row_in_any_stored_format(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE t (at DATETIME PRIMARY KEY, v TEXT);\n"
        "INSERT INTO t VALUES ('2021-01-01 00:00:00', 'a'), ('2021-01-02T10:00:00Z', 'b'),\n"
        "  ('2021-01-03T10:00:00-05:00', 'c'), ('2021-01-04 00:00:00', 'd'),\n"
        "  ('2021-01-04T00:00:00', 'd again');\n"
    )
    shown = {r["v"]: r["at"] for r in client.get("/api/t").get_json()["data"]}
    for v in ("a", "b", "c"):  # each key as the API shows it names its row
        at = shown[v]
        assert client.get(f"/api/t/{quote(at, safe='')}").get_json()["v"] == v
    assert client.get("/api/t/2021-01-02T10:00:00Z").get_json()["v"] == "b"
    assert client.get("/api/t/2021-01-03T15:00:00Z").get_json()["v"] == "c"
    assert client.patch("/api/t/2021-01-02T10:00:00Z", json={"v": "B"}).status_code == 200
    # One instant stored twice: the key names one of the two rows, and a write changes one.
    assert client.patch("/api/t/2021-01-04T00:00:00", json={"v": "D"}).status_code == 200
    assert client.delete("/api/t/2021-01-03T10:00:00-05:00").status_code == 204
    assert _stored(path, "SELECT at, v FROM t ORDER BY rowid") == [
        ("2021-01-01 00:00:00", "a"),
        ("2021-01-02T10:00:00Z", "B"),
        ("2021-01-04 00:00:00", "D"),
        ("2021-01-04T00:00:00", "d again"),
    ]


# -- 4. declared types SQLAlchemy does not know ------------------------------------------------

ODD_TYPES = """
CREATE TABLE t (id INTEGER PRIMARY KEY, a "long varchar", b money, c STRING, d "unsigned big int",
                e "double precision", f "varchar2(10)", g "blob stuff", h money,
                k NUMERIC(10, 2), p point);
INSERT INTO t VALUES (1, 'x', '$1.00', 'hello', 5, 2.5, 'v', x'00ff', 1.25, 'n/a', '(1,2)');
INSERT INTO t VALUES (2, 'y', 2.5, '007', 6, 3.5, 'w', 'text', 2.5, 3.14159, '5');
"""


def test_odd_declared_types_are_served_by_sqlite_affinity(serve: Serve) -> None:
    client, path = serve(ODD_TYPES)
    rows = client.get("/api/t?sort=id").get_json()["data"]
    assert rows == [
        {"id": 1, "a": "x", "b": "$1.00", "c": "hello", "d": 5, "e": 2.5, "f": "v",
         "g": "AP8=", "h": "1.25", "k": "n/a", "p": "(1,2)"},
        {"id": 2, "a": "y", "b": 2.5, "c": 7, "d": 6, "e": 3.5, "f": "w", "g": "text",
         "h": "2.5", "k": "3.14", "p": 5},
    ]  # fmt: skip
    assert client.get("/api/t/1").get_json()["k"] == "n/a"

    def ids(query: str) -> list[int]:
        resp = client.get(f"/api/t?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["id"] for r in resp.get_json()["data"]]

    # money/STRING holding text: untyped, filtered as the JSON shows them; money holding
    # only numbers stays a decimal (sums, decimal filters).
    found = {q: ids(q) for q in ("c=hello", "c=7", "b=$1.00", "b=2.5", "filter[h][gt]=2")}
    assert found == {"c=hello": [1], "c=7": [2], "b=$1.00": [1], "b=2.5": [2],
                     "filter[h][gt]=2": [2]}  # fmt: skip
    assert client.get("/api/t?aggregate=sum(h)").get_json()["data"] == [{"sum_h": "3.75"}]
    found = {q: ids(q) for q in ("filter[a][startswith]=x", "d=6", "e=2.5", "p=(1,2)", "p=5")}
    assert found == {"filter[a][startswith]=x": [1], "d=6": [2], "e=2.5": [1], "p=(1,2)": [1],
                     "p=5": [2]}  # fmt: skip
    bad = problem(client.get("/api/t?filter[h]=cheap"), 400)
    assert bad["parameter"] == "filter[h]"
    made = client.post(
        "/api/t", json={"b": "€3", "c": "text", "h": "4.5", "k": "1.50", "p": "(3,4)"}
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert _stored(path, "SELECT b, c, h, k, p FROM t WHERE id = 3") == [
        ("€3", "text", 4.5, 1.5, "(3,4)")
    ]
    problem(client.post("/api/t", json={"h": "cheap"}), 422)


def test_postgresql_types_sqlalchemy_does_not_know_are_served_as_text(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, p point, x xml)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1, '(1,2)', '<a/>')")
        engine.dispose()
        # No SAWarning at start (the suite turns warnings into errors).
        client = create_app(url, engine_options={"poolclass": sa.NullPool}).test_client()
        assert client.get("/api/t/1").get_json() == {"id": 1, "p": "(1,2)", "x": "<a/>"}
        assert problem(client.get("/api/t?p=x"), 400)["parameter"] == "p"
        made = client.post("/api/t", json={"id": 2, "p": "(3,4)", "x": "<b/>"})
        assert made.get_json() == {"id": 2, "p": "(3,4)", "x": "<b/>"}
        problem(client.post("/api/t", json={"id": 3, "p": "nowhere"}), 422)
