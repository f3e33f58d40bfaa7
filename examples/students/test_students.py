"""Replays tutorial 002's students endpoint table and its person validation.

Covers the generated ``GET /api/cohorts/<id>/students`` relation route, a hand-written route
beside the generated ones, the foreign key between students and cohorts, and the required,
unique username and email of a person. The database is read back with ``sqlite3``, not
through tablerest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.students.app import create_app, db
from examples.testing import pointers, problem, sql


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "students.db"


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


def post(client: FlaskClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(url, json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    created: dict[str, Any] = resp.get_json()
    return created


@pytest.fixture
def two_cohorts(client: FlaskClient) -> None:
    post(client, "/api/cohorts", {"name": "miami-1"})
    post(client, "/api/cohorts", {"name": "madrid-2"})
    post(client, "/api/students", {"first_name": "Ada", "last_name": "L", "cohort_id": 1})
    post(client, "/api/students", {"first_name": "Alan", "last_name": "T", "cohort_id": 2})
    post(client, "/api/students", {"first_name": "Grace", "last_name": "H", "cohort_id": 1})


# -- the tutorial's endpoint table ------------------------------------------------------------


@pytest.mark.usefixtures("two_cohorts")
def test_get_all_students(client: FlaskClient) -> None:
    resp = client.get("/api/students")

    assert resp.status_code == 200
    assert [s["first_name"] for s in resp.get_json()["data"]] == ["Ada", "Alan", "Grace"]


@pytest.mark.usefixtures("two_cohorts")
def test_get_one_student(client: FlaskClient) -> None:
    resp = client.get("/api/students/1")

    assert resp.status_code == 200
    assert resp.get_json() == {"id": 1, "first_name": "Ada", "last_name": "L", "cohort_id": 1}


@pytest.mark.usefixtures("two_cohorts")
def test_the_students_of_one_cohort(client: FlaskClient) -> None:
    resp = client.get("/api/cohorts/1/students")

    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    data = resp.get_json()["data"]
    assert [s["first_name"] for s in data] == ["Ada", "Grace"]
    # The relation route and the item route agree on what a student looks like.
    assert data == [client.get(f"/api/students/{s['id']}").get_json() for s in data]


def test_a_cohort_without_students_has_an_empty_list(client: FlaskClient) -> None:
    post(client, "/api/cohorts", {"name": "empty"})

    resp = client.get("/api/cohorts/1/students")

    assert resp.status_code == 200
    assert resp.get_json()["data"] == []


def test_students_of_an_unknown_cohort_is_a_problem_404(client: FlaskClient) -> None:
    body = problem(client.get("/api/cohorts/9/students"), 404)

    assert body["detail"] == "No cohorts row with key 9"
    assert body["type"] == "urn:tablerest:problem:not-found"


def test_custom_route_routing_errors_are_problems_too(client: FlaskClient) -> None:
    # Not an integer: no route matches, and tablerest's handler answers for the whole prefix.
    problem(client.get("/api/cohorts/abc/students"), 404)
    resp = client.post("/api/cohorts/1/students", json={})
    problem(resp, 405)
    assert "GET" in resp.headers["Allow"]
    assert "POST" not in resp.headers["Allow"]


def test_post_a_student(client: FlaskClient, db_path: Path) -> None:
    post(client, "/api/cohorts", {"name": "miami-1"})

    resp = client.post(
        "/api/students",
        data="first_name=Ada&last_name=Lovelace&cohort_id=1",
        content_type="application/x-www-form-urlencoded",
    )

    assert resp.status_code == 201
    assert resp.headers["Location"] == "http://localhost/api/students/1"
    assert sql(db_path, "SELECT * FROM students") == [(1, "Ada", "Lovelace", 1)]


@pytest.mark.usefixtures("two_cohorts")
def test_put_a_student_moves_them_to_another_cohort(client: FlaskClient, db_path: Path) -> None:
    resp = client.put(
        "/api/students/1", json={"first_name": "Ada", "last_name": "Lovelace", "cohort_id": 2}
    )

    assert resp.status_code == 200
    assert sql(db_path, "SELECT * FROM students WHERE id = 1") == [(1, "Ada", "Lovelace", 2)]
    cohort_2 = client.get("/api/cohorts/2/students").get_json()["data"]
    assert [s["first_name"] for s in cohort_2] == ["Ada", "Alan"]


@pytest.mark.usefixtures("two_cohorts")
def test_delete_a_student(client: FlaskClient, db_path: Path) -> None:
    assert client.delete("/api/students/1").status_code == 204

    assert sql(db_path, "SELECT id FROM students ORDER BY id") == [(2,), (3,)]
    problem(client.get("/api/students/1"), 404)
    problem(client.delete("/api/students/1"), 404)


# -- the cohort foreign key -------------------------------------------------------------------


@pytest.mark.usefixtures("two_cohorts")
def test_a_student_in_an_unknown_cohort_is_a_409(client: FlaskClient, db_path: Path) -> None:
    body = problem(
        client.post("/api/students", json={"first_name": "X", "last_name": "Y", "cohort_id": 9}),
        409,
    )

    assert body["errors"] == [
        {"pointer": "/cohort_id", "detail": "The referenced row does not exist"}
    ]
    assert sql(db_path, "SELECT count(*) FROM students") == [(3,)]


@pytest.mark.usefixtures("two_cohorts")
def test_a_cohort_with_students_cannot_be_deleted(client: FlaskClient, db_path: Path) -> None:
    problem(client.delete("/api/cohorts/1"), 409)

    assert sql(db_path, "SELECT name FROM cohorts WHERE id = 1") == [("miami-1",)]


def test_missing_student_fields_are_422s(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/students", json={"first_name": "Ada"}), 422)

    assert pointers(body) == {"/last_name", "/cohort_id"}
    assert sql(db_path, "SELECT count(*) FROM students") == [(0,)]


# -- persons: the tutorial's hand-written validation ----------------------------------------


def test_create_a_person(client: FlaskClient, db_path: Path) -> None:
    resp = client.post("/api/persons", json={"username": "bob", "email": "bob@example.org"})

    assert resp.status_code == 201
    assert resp.get_json() == {"id": 1, "username": "bob", "email": "bob@example.org"}
    assert sql(db_path, "SELECT * FROM persons") == [(1, "bob", "bob@example.org")]


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"username": "bob"}, {"/email"}),
        ({"email": "bob@example.org"}, {"/username"}),
        ({}, {"/username", "/email"}),
    ],
)
def test_missing_person_fields_are_422s_naming_each(
    client: FlaskClient, db_path: Path, body: dict[str, str], missing: set[str]
) -> None:
    resp = client.post("/api/persons", json=body)

    problem_body = problem(resp, 422)
    assert pointers(problem_body) == missing
    assert all(e["detail"] == "Field required" for e in problem_body["errors"])
    assert sql(db_path, "SELECT count(*) FROM persons") == [(0,)]


def test_an_empty_body_is_a_400_not_a_crash(client: FlaskClient) -> None:
    # The tutorial's `if body is None: return "The request body is null", 400`.
    problem(client.post("/api/persons", data="", content_type="application/json"), 400)


@pytest.mark.parametrize(
    ("second", "clash"),
    [
        ({"username": "bob", "email": "other@example.org"}, "/username"),
        ({"username": "other", "email": "bob@example.org"}, "/email"),
    ],
)
def test_duplicate_username_or_email_is_a_409_naming_it(
    client: FlaskClient, db_path: Path, second: dict[str, str], clash: str
) -> None:
    post(client, "/api/persons", {"username": "bob", "email": "bob@example.org"})

    body = problem(client.post("/api/persons", json=second), 409)

    assert pointers(body) == {clash}
    assert sql(db_path, "SELECT username, email FROM persons") == [("bob", "bob@example.org")]


def test_the_index_lists_the_generated_resources(client: FlaskClient) -> None:
    resources = client.get("/api").get_json()["resources"]

    assert [r["name"] for r in resources] == ["cohorts", "students", "persons"]


@pytest.mark.usefixtures("two_cohorts")
def test_the_hand_written_route_beside_the_generated_ones(client: FlaskClient) -> None:
    assert client.get("/api/cohorts/1/size").get_json() == {"cohort_id": 1, "students": 2}
    body = problem(client.get("/api/cohorts/9/size"), 404)
    assert body["detail"] == "No cohorts row with key 9"


@pytest.mark.usefixtures("two_cohorts")
def test_the_students_of_one_cohort_take_the_query_language(client: FlaskClient) -> None:
    resp = client.get("/api/cohorts/1/students?sort=-first_name&fields=first_name")
    assert resp.get_json()["data"] == [{"first_name": "Grace"}, {"first_name": "Ada"}]
