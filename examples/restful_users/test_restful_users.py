"""Replays tutorial 001's table of requests (list, create, get, patch, delete under /api/v1).

Also checks the marshmallow rules the tutorial relied on, now validators: a valid, unique email
and a non-blank name. The database is read back with ``sqlite3``, not through tablerest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.restful_users.app import create_app, db
from examples.testing import problem, sql

ANN = {"email": "ann@example.org", "name": "Ann", "is_active": True}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "restful_users.db"


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


def errors(body: dict[str, Any]) -> dict[str, str]:
    return {e["pointer"]: e["detail"] for e in body["errors"]}


def count(db_path: Path) -> int:
    ((n,),) = sql(db_path, "SELECT count(*) FROM users")
    return int(n)


def test_post_creates_a_user_with_a_server_stamped_creation_time(
    client: FlaskClient, db_path: Path
) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

    resp = client.post("/api/v1/users", json=ANN)

    assert resp.status_code == 201
    assert resp.headers["Location"] == "http://localhost/api/v1/users/1"
    body = resp.get_json()
    created = dt.datetime.fromisoformat(body.pop("creation_time"))
    assert body == {"id": 1, **ANN}
    # SQLite's CURRENT_TIMESTAMP is UTC, to the second.
    assert before - dt.timedelta(seconds=1) <= created <= before + dt.timedelta(minutes=1)
    assert sql(db_path, "SELECT id, email, name, is_active FROM users") == [
        (1, "ann@example.org", "Ann", 1)
    ]


def test_is_active_defaults_to_false(client: FlaskClient, db_path: Path) -> None:
    resp = client.post("/api/v1/users", json={"email": "bob@example.org", "name": "Bob"})

    assert resp.status_code == 201
    assert resp.get_json()["is_active"] is False
    # A real 0, not the text 'false' that the tutorial's server_default="false" would store.
    assert sql(db_path, "SELECT is_active, typeof(is_active) FROM users") == [(0, "integer")]


def test_the_tutorial_request_table(client: FlaskClient, db_path: Path) -> None:
    assert client.get("/api/v1/users").get_json()["data"] == []
    assert client.post("/api/v1/users", json=ANN).status_code == 201

    listed = client.get("/api/v1/users").get_json()["data"]
    one = client.get("/api/v1/users/1").get_json()
    assert listed == [one]
    assert one["email"] == "ann@example.org"

    patched = client.patch("/api/v1/users/1", json={"name": "Ann B.", "is_active": False})
    assert patched.status_code == 200
    assert patched.get_json() == {**one, "name": "Ann B.", "is_active": False}
    assert sql(db_path, "SELECT name, is_active FROM users WHERE id = 1") == [("Ann B.", 0)]

    deleted = client.delete("/api/v1/users/1")
    assert deleted.status_code == 204
    assert count(db_path) == 0
    problem(client.get("/api/v1/users/1"), 404)


def test_form_encoded_post(client: FlaskClient, db_path: Path) -> None:
    resp = client.post(
        "/api/v1/users",
        data="email=cy%40example.org&name=Cy&is_active=true",
        content_type="application/x-www-form-urlencoded",
    )

    assert resp.status_code == 201
    assert sql(db_path, "SELECT email, name, is_active FROM users") == [("cy@example.org", "Cy", 1)]


def test_email_is_trimmed_and_lower_cased(client: FlaskClient, db_path: Path) -> None:
    resp = client.post("/api/v1/users", json={**ANN, "email": "  Ann@Example.ORG "})

    assert resp.status_code == 201
    assert resp.get_json()["email"] == "ann@example.org"
    assert sql(db_path, "SELECT email FROM users") == [("ann@example.org",)]


@pytest.mark.parametrize("email", ["ann", "ann@example", "ann @example.org", "@example.org", ""])
def test_bad_email_is_a_422_at_its_pointer(client: FlaskClient, db_path: Path, email: str) -> None:
    body = problem(client.post("/api/v1/users", json={**ANN, "email": email}), 422)

    assert errors(body) == {"/email": "Not a valid email address"}
    assert count(db_path) == 0


def test_bad_email_in_a_patch_is_a_422(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/v1/users", json=ANN)

    body = problem(client.patch("/api/v1/users/1", json={"email": "nope"}), 422)

    assert errors(body) == {"/email": "Not a valid email address"}
    assert sql(db_path, "SELECT email FROM users") == [("ann@example.org",)]


@pytest.mark.parametrize("name", ["", "   "])
def test_blank_name_is_a_422(client: FlaskClient, db_path: Path, name: str) -> None:
    body = problem(client.post("/api/v1/users", json={**ANN, "name": name}), 422)

    assert errors(body) == {"/name": "Field cannot be blank"}
    assert count(db_path) == 0


def test_missing_email_and_name_are_both_reported(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/v1/users", json={"is_active": True}), 422)

    assert set(errors(body)) == {"/email", "/name"}
    assert count(db_path) == 0


def test_the_tutorial_json_api_envelope_is_not_understood(
    client: FlaskClient, db_path: Path
) -> None:
    # The tutorial posts {"data": {"attributes": {...}}}; tablerest takes the object itself and
    # says exactly why this body is wrong rather than storing an empty user.
    body = problem(client.post("/api/v1/users", json={"data": {"attributes": ANN}}), 422)

    assert errors(body) == {
        "/data": "Unknown field",
        "/email": "Field required",
        "/name": "Field required",
    }
    assert count(db_path) == 0


def test_duplicate_email_is_a_409_naming_it(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/v1/users", json=ANN)

    body = problem(
        client.post("/api/v1/users", json={**ANN, "name": "Other", "email": "ANN@example.org"}),
        409,
    )

    assert set(errors(body)) == {"/email"}
    assert sql(db_path, "SELECT name FROM users") == [("Ann",)]


def test_patching_onto_a_taken_email_is_a_409(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/v1/users", json=ANN)
    client.post("/api/v1/users", json={"email": "bob@example.org", "name": "Bob"})

    body = problem(client.patch("/api/v1/users/2", json={"email": "ann@example.org"}), 409)

    assert set(errors(body)) == {"/email"}
    assert sql(db_path, "SELECT email FROM users WHERE id = 2") == [("bob@example.org",)]


def test_creation_time_is_read_only(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/v1/users", json=ANN)
    ((stamp,),) = sql(db_path, "SELECT creation_time FROM users")

    body = problem(
        client.patch("/api/v1/users/1", json={"creation_time": "2000-01-01T00:00:00"}), 422
    )

    assert errors(body) == {"/creation_time": "Field is read-only"}
    assert sql(db_path, "SELECT creation_time FROM users") == [(stamp,)]


def test_unknown_user_is_a_404(client: FlaskClient) -> None:
    for resp in (
        client.get("/api/v1/users/7"),
        client.patch("/api/v1/users/7", json={"name": "X"}),
        client.delete("/api/v1/users/7"),
        client.get("/api/v1/users/abc"),
        client.get("/api/v1/users/1.json"),
    ):
        problem(resp, 404)
