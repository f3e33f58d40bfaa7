"""MariaDB's own column types, as other programs create them: JSON (a LONGTEXT with a
``json_valid`` check), ENUM and SET (MariaDB's array of labels). Built with raw SQL through
pymysql, served by reflection, queried over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest.server import create_app
from tests.databases import fresh_database
from tests.helpers import problem

SCHEMA = [
    """CREATE TABLE film (
        film_id int AUTO_INCREMENT PRIMARY KEY,
        title varchar(50) NOT NULL,
        rating ENUM('G', 'PG', 'R') DEFAULT 'G',
        special_features SET('Trailers', 'Commentaries', 'Deleted Scenes'),
        meta JSON
    )""",
    """INSERT INTO film (title, rating, special_features, meta) VALUES
        ('A', 'PG', 'Trailers,Commentaries', '{"a": 1, "tags": ["x"]}'),
        ('B', 'R', 'Trailers', '[1, 2]'),
        ('C', 'G', '', NULL),
        ('D', 'G', NULL, '"text"')""",
]


@pytest.fixture
def maria(tmp_path: Path) -> Iterator[tuple[str, FlaskClient]]:
    with fresh_database("mariadb", tmp_path) as url:
        u = sa.make_url(url)
        conn = pymysql.connect(
            host=u.host, port=u.port or 3306, user=u.username, database=u.database, autocommit=True
        )
        with conn, conn.cursor() as cur:
            for sql in SCHEMA:
                cur.execute(sql)
        app = create_app(url, engine_options={"poolclass": sa.NullPool})
        yield url, app.test_client()


def _ids(client: FlaskClient, query: str) -> list[Any]:
    resp = client.get(f"/api/film?fields=film_id&sort=film_id&{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [r["film_id"] for r in resp.get_json()["data"]]


def test_json_columns_are_json_not_text(maria: tuple[str, FlaskClient]) -> None:
    url, client = maria
    rows = client.get("/api/film?sort=film_id").get_json()["data"]
    assert [r["meta"] for r in rows] == [{"a": 1, "tags": ["x"]}, [1, 2], None, "text"]
    resp = client.patch("/api/film/3", json={"meta": {"b": [1, None]}})
    assert resp.get_json()["meta"] == {"b": [1, None]}
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT JSON_EXTRACT(meta, '$.b[0]') FROM film WHERE film_id = 3"
        )
        assert stored.scalar_one() == "1"
    engine.dispose()
    # Text comparison of JSON would depend on how each program spaced it: only null filters.
    assert _ids(client, "filter[meta][null]=false") == [1, 2, 3, 4]
    body = problem(client.get('/api/film?filter[meta]={"a":1}'), 400)
    assert body["parameter"] == "filter[meta]"
    problem(client.get("/api/film?sort=meta"), 400)


def test_set_columns_are_arrays_of_labels(maria: tuple[str, FlaskClient]) -> None:
    _, client = maria
    rows = client.get("/api/film?sort=film_id").get_json()["data"]
    assert [r["special_features"] for r in rows] == [
        ["Commentaries", "Trailers"],
        ["Trailers"],
        [],
        None,
    ]
    q = "filter[special_features]"
    assert _ids(client, f"{q}[cs]=Trailers") == [1, 2]
    assert _ids(client, f"{q}[ov]=Commentaries,Deleted Scenes") == [1]
    assert _ids(client, f"{q}[cd]=Trailers") == [2, 3]
    assert _ids(client, f"{q}={{Trailers,Commentaries}}") == [1]
    assert _ids(client, f"{q}[ne]={{Trailers}}") == [1, 3, 4]
    for bad in ("=Trailers", "[in]=Trailers", "[cs]=Bloopers", "[lt]=x"):
        body = problem(client.get(f"/api/film?{q}{bad}"), 400)
        assert body["parameter"] == q + bad.split("=")[0]
    problem(client.get("/api/film?sort=special_features"), 400)
    # What is read is accepted back; labels are checked.
    resp = client.patch("/api/film/3", json={"special_features": ["Deleted Scenes", "Trailers"]})
    assert resp.get_json()["special_features"] == ["Deleted Scenes", "Trailers"]
    body = problem(client.patch("/api/film/3", json={"special_features": ["Bloopers"]}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/special_features"]
    assert _ids(client, f"{q}[cs]=Deleted Scenes") == [3]
    assert _ids(client, "rating=G") == [3, 4]
    csv = client.get("/api/film?format=csv&fields=film_id,special_features&sort=film_id")
    assert csv.get_data(as_text=True).splitlines()[1] == '1,"[""Commentaries"",""Trailers""]"'


def test_integer_widths_and_unsigned_are_checked_before_the_database(tmp_path: Path) -> None:
    """TINYINT, MEDIUMINT and UNSIGNED columns take exactly their range: an unsigned INT
    holds 4294967295 (no 422 from a signed 32-bit check), 300 in a TINYINT is a 422 at the
    field (not the database's range error without a pointer)."""
    with fresh_database("mariadb", tmp_path) as url:
        u = sa.make_url(url)
        conn = pymysql.connect(
            host=u.host, port=u.port or 3306, user=u.username, database=u.database, autocommit=True
        )
        with conn, conn.cursor() as cur:
            cur.execute(
                """CREATE TABLE counters (
                    id int AUTO_INCREMENT PRIMARY KEY,
                    tiny TINYINT, utiny TINYINT UNSIGNED, medium MEDIUMINT,
                    uint INT UNSIGNED, ubig BIGINT UNSIGNED
                )"""
            )
        client = create_app(url, engine_options={"poolclass": sa.NullPool}).test_client()
        top = {"tiny": 127, "utiny": 255, "medium": 8388607, "uint": 4294967295}
        resp = client.post("/api/counters", json={**top, "ubig": 18446744073709551615})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        created = resp.get_json()
        assert {k: created[k] for k in top} == top
        assert created["ubig"] == 18446744073709551615
        for field, value in [
            ("tiny", 128),
            ("tiny", -129),
            ("utiny", 256),
            ("utiny", -1),
            ("medium", 8388608),
            ("uint", 4294967296),
            ("ubig", -1),
        ]:
            body = problem(client.post("/api/counters", json={field: value}), 422)
            assert [e["pointer"] for e in body["errors"]] == [f"/{field}"], (field, value)
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as c:
            assert c.exec_driver_sql("SELECT count(*) FROM counters").scalar_one() == 1
        engine.dispose()
