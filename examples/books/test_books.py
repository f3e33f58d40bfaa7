"""Replays tutorial 003's requests: list and create (as it tests them in Postman), then get, put
and delete one book. Also covers batch creation and paging, which the tutorial lacks.

The database is read back with ``sqlite3``, not through tablerest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.books.app import create_app, db
from examples.testing import pointers, problem, sql

DUNE = {"title": "Dune", "author": "Frank Herbert", "genre": "scifi"}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "books.db"


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


def count(db_path: Path) -> int:
    ((n,),) = sql(db_path, "SELECT count(*) FROM book")
    return int(n)


def test_get_books_starts_empty(client: FlaskClient) -> None:
    resp = client.get("/api/books")

    assert resp.status_code == 200
    assert resp.get_json()["data"] == []


def test_post_a_book_from_form_fields(client: FlaskClient, db_path: Path) -> None:
    # Postman's key-value "form" body, sent form-encoded.
    resp = client.post(
        "/api/books",
        data="title=Dune&author=Frank+Herbert&genre=scifi",
        content_type="application/x-www-form-urlencoded",
    )

    assert resp.status_code == 201
    assert resp.get_json() == {"id": 1, **DUNE}
    assert resp.headers["Location"] == "http://localhost/api/books/1"
    assert sql(db_path, "SELECT * FROM book") == [(1, "Dune", "Frank Herbert", "scifi")]
    # "your new book should be in the list"
    assert client.get("/api/books").get_json()["data"] == [{"id": 1, **DUNE}]


def test_post_with_the_book_in_the_query_string_is_refused(
    client: FlaskClient, db_path: Path
) -> None:
    # The tutorial reads request.args on POST; tablerest names the parameter it does not take.
    body = problem(client.post("/api/books?title=Dune&author=Frank+Herbert&genre=scifi"), 400)

    assert body["parameter"] == "title"
    assert count(db_path) == 0


def test_get_put_delete_one_book(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/books", json=DUNE)

    assert client.get("/api/books/1").get_json() == {"id": 1, **DUNE}

    put = client.put("/api/books/1", json={"title": "Dune Messiah", "author": "Frank Herbert"})
    assert put.status_code == 200
    # PUT replaces the book: the genre it left out is reset to null.
    assert put.get_json() == {
        "id": 1,
        "title": "Dune Messiah",
        "author": "Frank Herbert",
        "genre": None,
    }
    assert sql(db_path, "SELECT * FROM book") == [(1, "Dune Messiah", "Frank Herbert", None)]

    patch = client.patch("/api/books/1", json={"genre": "scifi"})
    assert patch.status_code == 200
    assert sql(db_path, "SELECT genre FROM book") == [("scifi",)]

    delete = client.delete("/api/books/1")
    assert delete.status_code == 204
    assert count(db_path) == 0
    problem(client.get("/api/books/1"), 404)


def test_put_without_the_required_fields_is_a_422(client: FlaskClient, db_path: Path) -> None:
    client.post("/api/books", json=DUNE)

    body = problem(client.put("/api/books/1", json={"genre": "fantasy"}), 422)

    assert pointers(body) == {"/title", "/author"}
    assert sql(db_path, "SELECT * FROM book") == [(1, "Dune", "Frank Herbert", "scifi")]


def test_missing_author_is_a_422(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/books", json={"title": "Dune"}), 422)

    assert body["errors"] == [{"pointer": "/author", "detail": "Field required"}]
    assert count(db_path) == 0


def test_too_long_title_is_a_422(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/books", json={**DUNE, "title": "x" * 251}), 422)

    assert pointers(body) == {"/title"}
    assert count(db_path) == 0


def test_wrong_types_are_422s(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/books", json={"title": 5, "author": None}), 422)

    assert pointers(body) == {"/title", "/author"}
    assert count(db_path) == 0


def test_unknown_book_is_a_404(client: FlaskClient) -> None:
    # The tutorial's `.one()` raised NoResultFound here: a 500.
    problem(client.get("/api/books/42"), 404)
    problem(client.put("/api/books/42", json=DUNE), 404)
    problem(client.delete("/api/books/42"), 404)


def test_an_array_creates_every_book_or_none(client: FlaskClient, db_path: Path) -> None:
    books = [DUNE, {"title": "Emma"}, {"title": "Ulysses", "author": "James Joyce"}]

    body = problem(client.post("/api/books", json=books), 422)

    assert body["errors"] == [{"pointer": "/1/author", "detail": "Field required"}]
    assert count(db_path) == 0

    books[1] = {"title": "Emma", "author": "Jane Austen"}
    resp = client.post("/api/books", json=books)

    assert resp.status_code == 201
    assert [b["id"] for b in resp.get_json()] == [1, 2, 3]
    assert sql(db_path, "SELECT title FROM book ORDER BY id") == [
        ("Dune",),
        ("Emma",),
        ("Ulysses",),
    ]


def test_the_list_is_paged(client: FlaskClient) -> None:
    books = [{"title": f"Book {i}", "author": "Anon"} for i in range(1, 6)]
    assert client.post("/api/books", json=books).status_code == 201

    first = client.get("/api/books?page[size]=2&count=true").get_json()

    assert [b["title"] for b in first["data"]] == ["Book 1", "Book 2"]
    assert first["meta"]["total"] == 5
    last = client.get(first["links"]["next"]).get_json()
    last = client.get(last["links"]["next"]).get_json()
    assert [b["title"] for b in last["data"]] == ["Book 5"]
    assert last["links"]["next"] is None
