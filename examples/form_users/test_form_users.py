"""Replays tutorial 004's ``curl -d`` posts, form-encoded exactly as curl sends them, and its
``sqlite3 test.db "select * from user"`` check.

The tutorial's own URLs (``POST``/``GET /api/users/john``) are replayed too, to pin down how
tablerest answers them. The database is read back with ``sqlite3``, not through tablerest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from examples.form_users.app import create_app, db
from examples.testing import problem, sql

FORM = "application/x-www-form-urlencoded"  # what `curl -d` sends


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "form_users.db"


@pytest.fixture
def app(db_path: Path) -> Iterator[Flask]:
    app = create_app(f"sqlite:///{db_path}")
    app.config["TESTING"] = True
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def curl_d(client: FlaskClient, method: str, url: str, data: str) -> TestResponse:
    """``curl -d DATA -X METHOD URL``."""
    return client.open(url, method=method, data=data, content_type=FORM)


def test_the_tutorial_posts_and_its_sqlite3_check(client: FlaskClient, db_path: Path) -> None:
    john = curl_d(client, "POST", "/api/users", "name=john&age=14")
    marry = curl_d(client, "POST", "/api/users", "name=Marry&age=65")

    assert (john.status_code, marry.status_code) == (201, 201)
    # Form values arrive as text; the age comes back as the integer the column holds.
    assert john.get_json() == {"id": 1, "name": "john", "age": 14}
    assert marry.headers["Location"] == "http://localhost/api/users/2"
    # $ sqlite3 test.db "select * from user"  ->  1|john|14  2|Marry|65
    assert sql(db_path, "select * from user") == [(1, "john", 14), (2, "Marry", 65)]
    assert sql(db_path, "select typeof(age) from user") == [("integer",), ("integer",)]


def test_get_the_user_back(client: FlaskClient) -> None:
    curl_d(client, "POST", "/api/users", "name=john&age=14")

    resp = client.get("/api/users/1")

    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"id": 1, "name": "john", "age": 14}


def test_the_tutorial_url_with_the_name_in_it_is_a_405(client: FlaskClient, db_path: Path) -> None:
    # `curl -i -d "age=14" -X POST .../api/users/john`: /api/users/<key> is an item URL, and
    # items are read, replaced, patched or deleted, never posted to.
    resp = curl_d(client, "POST", "/api/users/john", "age=14")

    problem(resp, 405)
    allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert {"GET", "PUT", "PATCH", "DELETE"} <= allowed
    assert "POST" not in allowed
    assert sql(db_path, "select count(*) from user") == [(0,)]


def test_get_by_name_is_a_404(client: FlaskClient) -> None:
    curl_d(client, "POST", "/api/users", "name=john&age=14")

    body = problem(client.get("/api/users/john"), 404)

    assert "john" in body["detail"]


def test_age_is_optional_and_empty_means_null(client: FlaskClient, db_path: Path) -> None:
    assert curl_d(client, "POST", "/api/users", "name=ann").status_code == 201
    assert curl_d(client, "POST", "/api/users", "name=bob&age=").status_code == 201

    assert sql(db_path, "select * from user") == [(1, "ann", None), (2, "bob", None)]


def test_patch_the_age_with_a_form(client: FlaskClient, db_path: Path) -> None:
    curl_d(client, "POST", "/api/users", "name=john&age=14")

    resp = curl_d(client, "PATCH", "/api/users/1", "age=15")

    assert resp.status_code == 200
    assert resp.get_json() == {"id": 1, "name": "john", "age": 15}
    assert sql(db_path, "select * from user") == [(1, "john", 15)]


def test_multipart_form_works_too(client: FlaskClient, db_path: Path) -> None:
    # `curl -F name=john -F age=14`
    resp = client.post(
        "/api/users", data={"name": "john", "age": "14"}, content_type="multipart/form-data"
    )

    assert resp.status_code == 201
    assert sql(db_path, "select * from user") == [(1, "john", 14)]


def test_json_works_too(client: FlaskClient, db_path: Path) -> None:
    resp = client.post("/api/users", json={"name": "john", "age": 14})

    assert resp.status_code == 201
    assert sql(db_path, "select * from user") == [(1, "john", 14)]


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        ("name=john&age=fourteen", "/age"),
        ("name=john&age=14.5", "/age"),
        ("name=john&age=-1", "/age"),
        ("name=john&age=200", "/age"),
        ("age=14", "/name"),
        ("name=john&age=14&nick=jj", "/nick"),
    ],
)
def test_bad_form_fields_are_422s_at_their_pointer(
    client: FlaskClient, db_path: Path, data: str, pointer: str
) -> None:
    body = problem(curl_d(client, "POST", "/api/users", data), 422)

    assert [e["pointer"] for e in body["errors"]] == [pointer]
    assert sql(db_path, "select count(*) from user") == [(0,)]


def test_a_form_field_given_twice_is_a_400(client: FlaskClient, db_path: Path) -> None:
    body = problem(curl_d(client, "POST", "/api/users", "name=john&age=14&age=15"), 400)

    assert "age" in body["detail"]
    assert sql(db_path, "select count(*) from user") == [(0,)]


def test_a_body_curl_would_not_label_is_a_415(client: FlaskClient, db_path: Path) -> None:
    resp = client.post("/api/users", data="name=john&age=14", content_type="text/plain")

    problem(resp, 415)
    assert sql(db_path, "select count(*) from user") == [(0,)]


def test_unknown_user_is_a_404(client: FlaskClient) -> None:
    problem(client.get("/api/users/7"), 404)
    problem(curl_d(client, "PATCH", "/api/users/7", "age=15"), 404)
    problem(client.delete("/api/users/7"), 404)
