"""Upsert: ``POST ?on_conflict=<unique key>`` creates rows or changes the ones already holding
the key, all or nothing, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import WriteContext
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import count, problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

DUNE = {"title": "Dune", "isbn": "978-1", "year": 1965, "pages": 412}


@pytest.fixture
def client(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    with engine.begin() as conn:
        conn.execute(models.Author.__table__.insert(), [{"id": 1, "name": "Herbert"}])
    return make_app().test_client()


def _books(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT title, isbn, year, pages FROM books ORDER BY isbn")
        return [tuple(r) for r in found]


def test_a_new_key_creates_and_a_known_one_changes(client: FlaskClient, engine: sa.Engine) -> None:
    made = client.post("/api/books?on_conflict=isbn", json=DUNE)
    changed = client.post("/api/books?on_conflict=isbn", json={"title": "Dune!", "isbn": "978-1"})

    assert made.status_code == 201
    assert made.headers["Location"] == f"http://localhost/api/books/{made.get_json()['id']}"
    assert changed.status_code == 200
    assert "Location" not in changed.headers
    assert changed.get_json()["id"] == made.get_json()["id"]
    # Fields left out keep their values, as with PATCH.
    assert _books(engine) == [("Dune!", "978-1", 1965, 412)]


def test_an_array_is_all_or_nothing(client: FlaskClient, engine: sa.Engine) -> None:
    client.post("/api/books?on_conflict=isbn", json=DUNE)

    ok = client.post(
        "/api/books?on_conflict=isbn",
        json=[{"title": "Dune", "isbn": "978-1", "year": 1966}, {"title": "Emma", "isbn": "978-2"}],
    )
    bad = client.post(
        "/api/books?on_conflict=isbn",
        json=[
            {"title": "Changed", "isbn": "978-2"},
            {"title": "X", "isbn": "978-3", "author_id": 9},
        ],
    )

    assert ok.status_code == 200
    assert [b["isbn"] for b in ok.get_json()] == ["978-1", "978-2"]
    body = problem(bad, 409)
    assert body["errors"] == [
        {"pointer": "/1/author_id", "detail": "The referenced row does not exist"}
    ]
    assert _books(engine) == [("Dune", "978-1", 1966, 412), ("Emma", "978-2", None, 100)]
    assert count(engine, "books") == 2


@pytest.mark.parametrize(
    ("query", "body", "status", "where"),
    [
        ("on_conflict=title", DUNE, 400, "not a unique key"),
        ("on_conflict=nope", DUNE, 400, "unknown fields"),
        ("on_conflict=secret_note", DUNE, 400, "unknown fields"),
        ("on_conflict=isbn&on_conflict=isbn", DUNE, 400, "more than once"),
        ("on_conflict=isbn", {"isbn": "978-9"}, 422, "/title"),
        ("on_conflict=isbn", [], 422, "empty"),
    ],
)
def test_wrong_upserts_change_nothing(
    client: FlaskClient, engine: sa.Engine, query: str, body: Any, status: int, where: str
) -> None:
    resp = client.post(f"/api/books?{query}", json=body)

    assert where in resp.get_data(as_text=True)
    problem(resp, status)
    assert count(engine, "books") == 0


def test_a_row_without_the_key_is_created(client: FlaskClient, engine: sa.Engine) -> None:
    # NULLs never clash in a unique index: no key value matches no row.
    first = client.post("/api/books?on_conflict=isbn", json={"title": "No key"})
    second = client.post("/api/books?on_conflict=isbn", json={"title": "Null key", "isbn": None})

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["id"] != second.get_json()["id"]
    assert count(engine, "books") == 2


def test_hooks_run_as_for_the_create_or_update_each_row_is(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app()
    books = app.extensions["tablerest_api"].resources["books"]
    seen: list[str] = []

    @books.hook("before_create")
    def _created(ctx: WriteContext) -> None:
        seen.append(f"create {ctx.data['isbn']}")

    @books.hook("before_update")
    def _updated(ctx: WriteContext) -> None:
        seen.append(f"update {ctx.data['isbn']}")
        ctx.data["pages"] = 1

    client = app.test_client()
    client.post("/api/books", json=DUNE)
    seen.clear()
    resp = client.post(
        "/api/books?on_conflict=isbn",
        json=[{"title": "Dune", "isbn": "978-1", "year": 1966}, {"title": "Emma", "isbn": "978-2"}],
    )
    failed = client.post(
        "/api/books?on_conflict=isbn",
        json=[{"title": "Dune!", "isbn": "978-1"}, {"title": "X", "isbn": "978-3", "author_id": 9}],
    )

    assert resp.status_code == 200, resp.get_json()
    assert seen[:2] == ["update 978-1", "create 978-2"]
    assert problem(failed, 409)["errors"] == [
        {"pointer": "/1/author_id", "detail": "The referenced row does not exist"}
    ]
    assert _books(engine) == [("Dune", "978-1", 1966, 1), ("Emma", "978-2", None, 100)]
