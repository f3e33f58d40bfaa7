"""Hooks and custom validators: they run inside the write's transaction, and can stop it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tablerest import Conflict, FieldError, WriteContext
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import count, problem, rows

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _api(app: Flask) -> Any:
    return app.extensions["tablerest_api"]


def test_hooks_run_in_order_with_what_they_need(make_app: AppFactory, engine: sa.Engine) -> None:
    app = make_app()
    books = _api(app).resources["books"]
    seen: list[tuple[str, Any]] = []

    @books.hook("before_create")
    def stamp(ctx: WriteContext) -> None:
        seen.append(("before_create", dict(ctx.data)))
        ctx.data["secret_note"] = "set by a hook"  # hidden columns can be set by hooks

    @books.hook("after_create")
    def created(ctx: WriteContext) -> None:
        assert ctx.row is not None
        seen.append(("after_create", (ctx.key, ctx.row["title"])))

    @books.hook("before_update")
    def updating(ctx: WriteContext) -> None:
        seen.append(("before_update", (ctx.key, ctx.method, dict(ctx.data))))
        ctx.data["year"] = 2000

    @books.hook("after_update")
    def updated(ctx: WriteContext) -> None:
        assert ctx.row is not None
        seen.append(("after_update", ctx.row["year"]))

    @books.hook("before_delete")
    def deleting(ctx: WriteContext) -> None:
        seen.append(("before_delete", ctx.key))

    @books.hook("after_delete")
    def deleted(ctx: WriteContext) -> None:
        seen.append(("after_delete", ctx.key))

    client = app.test_client()
    book = client.post("/api/books", json={"title": "Hooked"}).get_json()
    assert "secret_note" not in book
    assert rows(engine, "books")[0]["secret_note"] == "set by a hook"
    assert client.patch(f"/api/books/{book['id']}", json={"title": "H2"}).get_json()["year"] == 2000
    assert client.delete(f"/api/books/{book['id']}").status_code == 204
    key = (book["id"],)
    assert seen == [
        ("before_create", {"title": "Hooked"}),
        ("after_create", (key, "Hooked")),
        ("before_update", (key, "PATCH", {"title": "H2"})),
        ("after_update", 2000),
        ("before_delete", key),
        ("after_delete", key),
    ]


def test_a_hook_error_rolls_the_whole_write_back(make_app: AppFactory, engine: sa.Engine) -> None:
    app = make_app()
    books = _api(app).resources["books"]

    @books.hook("after_create")
    def refuse_third(ctx: WriteContext) -> None:
        if ctx.row and ctx.row["title"] == "third":
            raise Conflict("No third book", errors=[FieldError("/title", "taken by policy")])

    client = app.test_client()
    body = problem(
        client.post(
            "/api/books", json=[{"title": "first"}, {"title": "second"}, {"title": "third"}]
        ),
        409,
    )
    assert body["detail"] == "No third book"
    assert body["errors"] == [{"pointer": "/title", "detail": "taken by policy"}]
    assert count(engine, "books") == 0


def test_hooks_can_write_other_rows_in_the_same_transaction(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app()
    books = _api(app).resources["books"]

    @books.hook("before_create")
    def make_author(ctx: WriteContext) -> None:
        author = models.Author(name=f"author of {ctx.data['title']}")
        ctx.session.add(author)
        ctx.session.flush()
        ctx.data["author_id"] = author.id

    @books.hook("after_create")
    def fail_on_demand(ctx: WriteContext) -> None:
        if ctx.data["title"] == "fail":
            raise Conflict("stop")

    client = app.test_client()
    book = client.post("/api/books", json={"title": "ok"}).get_json()
    assert rows(engine, "authors")[0]["id"] == book["author_id"]
    problem(client.post("/api/books", json={"title": "fail"}), 409)
    assert count(engine, "authors") == 1  # the hook's author was rolled back too
    assert count(engine, "books") == 1


def test_before_delete_can_refuse(make_app: AppFactory, engine: sa.Engine) -> None:
    app = make_app()

    @_api(app).resources["authors"].hook("before_delete")
    def keep(ctx: WriteContext) -> None:
        raise Conflict("Authors are never deleted")

    client = app.test_client()
    author = client.post("/api/authors", json={"name": "a"}).get_json()
    problem(client.delete(f"/api/authors/{author['id']}"), 409)
    assert count(engine, "authors") == 1


def test_custom_validators_give_422_with_their_message(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app()
    authors = _api(app).resources["authors"]

    @authors.validator("name")
    def no_shouting(value: str) -> str:
        if value.isupper():
            raise ValueError("name must not be all upper case")
        return value.strip()

    @authors.validator("country")
    def iso_code(value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("country must be a two-letter code")
        return value.upper() if value else value

    client = app.test_client()
    body = problem(client.post("/api/authors", json={"name": "LOUD", "country": "1x"}), 422)
    assert body["errors"] == [
        {"pointer": "/name", "detail": "name must not be all upper case"},
        {"pointer": "/country", "detail": "country must be a two-letter code"},
    ]
    created = client.post("/api/authors", json={"name": " Quiet ", "country": "nz"}).get_json()
    assert (created["name"], created["country"]) == ("Quiet", "NZ")
    problem(client.patch(f"/api/authors/{created['id']}", json={"name": "NO"}), 422)
    problem(client.post("/api/authors", data={"name": "LOUD"}), 422)
    assert count(engine, "authors") == 1


def test_validator_on_an_unknown_or_read_only_field_is_refused(make_app: AppFactory) -> None:
    books = _api(make_app()).resources["books"]
    with pytest.raises(ValueError, match="not a writable field"):
        books.validator("nope")
    with pytest.raises(ValueError, match="not a writable field"):
        books.validator("created_at")
    with pytest.raises(ValueError, match="unknown hook event"):
        books.hook("before_lunch")  # type: ignore[arg-type]


@pytest.mark.parametrize("orm", [True, False])
def test_core_and_orm_write_paths_behave_the_same(
    make_app: AppFactory, engine: sa.Engine, orm: bool
) -> None:
    app = make_app(books={"hidden": ["secret_note"], "read_only": ["created_at"], "orm": orm})
    assert _api(app).resources["books"].use_orm is orm
    client = app.test_client()
    author = client.post("/api/authors", json={"name": "a"}).get_json()["id"]
    created = client.post("/api/books", json={"title": "t", "author_id": author}).get_json()
    assert created["pages"] == 100
    assert (
        client.put(f"/api/books/{created['id']}", json={"title": "u"}).get_json()["author_id"]
        is None
    )
    problem(client.post("/api/books", json={"title": "x", "author_id": 999}), 409)
    client.post("/api/books", json={"title": "i", "isbn": "1"})
    problem(client.post("/api/books", json={"title": "j", "isbn": "1"}), 409)
    problem(client.patch("/api/books/999", json={"title": "x"}), 404)
    assert client.delete(f"/api/books/{created['id']}").status_code == 204
    problem(client.delete(f"/api/books/{created['id']}"), 404)
    assert [r["title"] for r in rows(engine, "books")] == ["i"]


def test_the_write_path_is_chosen_from_what_the_model_needs(make_app: AppFactory) -> None:
    resources = _api(make_app()).resources
    # SQLAlchemy's own listeners (every mapped class has one on "init") do not count.
    assert resources["books"].use_orm is False
    assert resources["people"].use_orm is True  # it has @validates

    def stamp(target: Any, args: Any, kwargs: Any) -> None:
        kwargs.setdefault("country", "xx")

    sa.event.listen(models.Author, "init", stamp)
    try:
        app = make_app()
        assert _api(app).resources["authors"].use_orm is True
        created = app.test_client().post("/api/authors", json={"name": "a"}).get_json()
        assert created["country"] == "xx"  # the listener ran: the write went through the ORM
    finally:
        sa.event.remove(models.Author, "init", stamp)
