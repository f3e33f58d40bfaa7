"""Bulk update: ``PATCH /api/books`` with an array of rows, each with its key and its own
changes; all or nothing, with a pointer per bad item, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import Conflict, WriteContext
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def client(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    with engine.begin() as conn:
        conn.execute(
            models.Book.__table__.insert(),
            [{"id": i, "title": f"t{i}", "year": 2000 + i, "pages": 10 * i} for i in (1, 2, 3)],
        )
    return make_app().test_client()


def _books(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT id, title, year, pages FROM books ORDER BY id")
        return [tuple(r) for r in found]


def test_each_row_gets_its_own_changes(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.patch(
        "/api/books", json=[{"id": 3, "pages": 99}, {"id": 1, "title": "one", "year": None}]
    )

    assert resp.status_code == 200
    assert [(b["id"], b["title"], b["pages"]) for b in resp.get_json()] == [
        (3, "t3", 99),
        (1, "one", 10),
    ]
    assert _books(engine) == [(1, "one", None, 10), (2, "t2", 2002, 20), (3, "t3", 2003, 99)]


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        ([{"id": 1, "pages": 5}, {"pages": 7}], 422, "/1/id"),  # no key: never every row
        ([{"id": 1, "pages": 5}, {"id": 2, "pages": "many"}], 422, "/1/pages"),
        ([{"id": 1, "pages": 5}, {"id": 2, "secret_note": "x"}], 422, "/1/secret_note"),
        (
            [{"id": 1, "pages": 5}, {"id": 2, "created_at": "2020-01-01T00:00:00"}],
            422,
            "/1/created_at",
        ),
        ([{"id": 1, "pages": 5}, {"id": 2, "author_id": 99}], 409, "/1/author_id"),
    ],
)
def test_one_bad_item_changes_no_row(
    client: FlaskClient, engine: sa.Engine, body: Any, status: int, pointer: str
) -> None:
    before = _books(engine)

    found = problem(client.patch("/api/books", json=body), status)

    assert pointer in {e["pointer"] for e in found["errors"]}
    assert _books(engine) == before


def test_a_row_given_twice_takes_both_changes_in_order(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.patch("/api/books", json=[{"id": 2, "pages": 5}, {"id": 2, "title": "two"}])

    assert [b["pages"] for b in resp.get_json()] == [5, 5]
    assert _books(engine)[1] == (2, "two", 2002, 5)


def test_a_missing_row_is_a_404_and_nothing_changes(client: FlaskClient, engine: sa.Engine) -> None:
    before = _books(engine)

    found = problem(
        client.patch("/api/books", json=[{"id": 1, "pages": 5}, {"id": 9, "pages": 1}]), 404
    )

    assert "/1" in found["detail"]
    assert _books(engine) == before


@pytest.mark.parametrize("body", [{"id": 1, "pages": 5}, [], "x"])
def test_not_an_array_of_rows_is_refused(client: FlaskClient, body: Any) -> None:
    resp = client.patch("/api/books", json=body)

    assert resp.status_code in (400, 422)
    assert resp.mimetype == "application/problem+json"


def test_hooks_run_for_each_row_and_a_failing_one_changes_no_row(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            models.Book.__table__.insert(),
            [{"id": i, "title": f"t{i}", "year": 2000 + i, "pages": 10 * i} for i in (1, 2, 3)],
        )
    app = make_app()
    books = app.extensions["tablerest_api"].resources["books"]
    seen: list[Any] = []

    @books.hook("before_update")
    def _shout(ctx: WriteContext) -> None:
        seen.append(ctx.key)
        if ctx.data.get("title") == "stop":
            raise Conflict("Not that title")
        if "title" in ctx.data:
            ctx.data["title"] = ctx.data["title"].upper()

    client = app.test_client()
    ok = client.patch("/api/books", json=[{"id": 2, "title": "two"}, {"id": 1, "pages": 5}])
    before = _books(engine)
    bad = client.patch("/api/books", json=[{"id": 3, "title": "three"}, {"id": 1, "title": "stop"}])

    assert ok.status_code == 200, ok.get_json()
    assert [r["title"] for r in ok.get_json()] == ["TWO", "t1"]
    assert problem(bad, 409)["errors"] == [{"pointer": "/1", "detail": "Not that title"}]
    assert _books(engine) == before
    assert seen == [(2,), (1,), (3,), (1,)]
