"""Nested writes: a row created together with the rows it points at (to-one) and the rows that
point at it (to-many), validated as a whole and stored all or nothing, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, WriteContext
from tests.databases import BACKENDS, fresh_database
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    isbn: Mapped[str | None] = mapped_column(sa.String(17), unique=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authors.id"))


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (sa.UniqueConstraint("book_id", "reader"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(sa.ForeignKey("books.id"))
    reader: Mapped[str] = mapped_column(sa.String(50))
    stars: Mapped[int]


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_database(backend, tmp_path) as url:
        eng = sa.create_engine(url, poolclass=sa.NullPool)
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()


def _app(engine: sa.Engine, **reviews: Any) -> Flask:
    app = Flask("nested")
    api = Api(app, engine)
    api.resource(Author)
    api.resource(Book)
    res = api.resource(Review, **reviews)

    @res.validator("stars")
    def _one_to_five(value: int) -> int:
        if not 1 <= value <= 5:
            raise ValueError("Stars go from 1 to 5")
        return value

    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


def _stored(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in ("authors", "books", "reviews"):
            t = Base.metadata.tables[table]
            out[table] = [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]
    return out


EMPTY: dict[str, list[tuple[Any, ...]]] = {"authors": [], "books": [], "reviews": []}


def test_a_row_with_its_author_and_reviews_is_stored_and_answered_nested(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/books",
        json={
            "title": "Dune",
            "author": {"name": "Herbert"},
            "reviews": [{"reader": "ann", "stars": 5}, {"reader": "bob", "stars": 4}],
        },
    )

    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    book_id, author_id = body["id"], body["author"]["id"]
    assert resp.headers["Location"] == f"http://localhost/api/books/{book_id}"
    assert body["author_id"] == author_id
    assert [(r["reader"], r["book_id"]) for r in body["reviews"]] == [
        ("ann", book_id),
        ("bob", book_id),
    ]
    stored = _stored(engine)
    assert stored["authors"] == [(author_id, "Herbert")]
    assert stored["books"] == [(book_id, "Dune", None, author_id)]
    assert [(r[1], r[2], r[3]) for r in stored["reviews"]] == [
        (book_id, "ann", 5),
        (book_id, "bob", 4),
    ]
    # The ETag is the row's as GET shows it, so it can be sent back in If-Match.
    assert client.get(f"/api/books/{book_id}").headers["ETag"] == resp.headers["ETag"]


def test_rows_nest_to_any_depth_and_in_arrays(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post(
        "/api/authors",
        json=[
            {
                "name": "Le Guin",
                "books": [{"title": "Earthsea", "reviews": [{"reader": "cy", "stars": 3}]}],
            },
            {"name": "Nobody"},
        ],
    )

    assert resp.status_code == 201, resp.get_json()
    first, second = resp.get_json()
    assert first["books"][0]["reviews"][0]["stars"] == 3
    assert "books" not in second
    stored = _stored(engine)
    assert [a[1] for a in stored["authors"]] == ["Le Guin", "Nobody"]
    assert stored["books"][0][3] == first["id"]
    assert stored["reviews"][0][1] == first["books"][0]["id"]


def test_every_error_in_the_document_is_reported_at_its_pointer_and_nothing_is_stored(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/books",
        json={
            "title": 7,
            "author": {"name": None},
            "reviews": [{"reader": "ann", "stars": 5}, {"reader": "bob", "stars": 9}, {"stars": 2}],
        },
    )

    body = problem(resp, 422)
    assert sorted(e["pointer"] for e in body["errors"]) == [
        "/author/name",
        "/reviews/1/stars",
        "/reviews/2/reader",
        "/title",
    ]
    assert {e["pointer"]: e["detail"] for e in body["errors"]}["/reviews/1/stars"] == (
        "Stars go from 1 to 5"
    )
    assert _stored(engine) == EMPTY


def test_a_conflict_deep_inside_rolls_back_every_row_written_before_it(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/books",
        json={
            "title": "Dune",
            "author": {"name": "Herbert"},
            "reviews": [{"reader": "ann", "stars": 5}, {"reader": "ann", "stars": 1}],
        },
    )

    body = problem(resp, 409)
    # Diagnosed inside the transaction: the clash is with the review written just before.
    assert [e["pointer"] for e in body["errors"]] == ["/reviews/1/book_id", "/reviews/1/reader"]
    assert body["detail"] == "Conflict on /reviews/1/book_id, /reviews/1/reader"
    assert _stored(engine) == EMPTY


def test_the_linking_fields_are_set_by_the_nesting_not_the_client(
    client: FlaskClient, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Author.__table__).values(id=1, name="Herbert"))

    twice = client.post(
        "/api/books", json={"title": "Dune", "author_id": 1, "author": {"name": "X"}}
    )
    back = client.post(
        "/api/books", json={"title": "Dune", "reviews": [{"reader": "a", "stars": 1, "book_id": 1}]}
    )

    assert [e["pointer"] for e in problem(twice, 422)["errors"]] == ["/author_id"]
    assert problem(back, 422)["errors"] == [
        {"pointer": "/reviews/0/book_id", "detail": "Set by the nesting: leave it out"}
    ]
    assert _stored(engine)["books"] == []


def test_a_row_nested_under_its_parent_cannot_nest_another_parent(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/authors",
        json={"name": "A", "books": [{"title": "T", "author": {"name": "B"}}]},
    )

    assert problem(resp, 422)["errors"] == [
        {"pointer": "/books/0/author", "detail": "Set by the nesting: leave it out"}
    ]
    assert _stored(engine) == EMPTY


@pytest.mark.parametrize(
    ("body", "pointer", "detail"),
    [
        ({"title": "Dune", "reviews": {"reader": "a", "stars": 1}}, "/reviews", "array"),
        ({"title": "Dune", "reviews": [7]}, "/reviews/0", "object"),
        ({"title": "Dune", "author": [{"name": "X"}]}, "/author", "object"),
        ({"title": "Dune", "author": {"name": "X", "nope": 1}}, "/author/nope", "Unknown field"),
    ],
)
def test_nested_values_of_the_wrong_shape_are_422_at_their_pointer(
    client: FlaskClient, engine: sa.Engine, body: dict[str, Any], pointer: str, detail: str
) -> None:
    errors = problem(client.post("/api/books", json=body), 422)["errors"]

    assert [e["pointer"] for e in errors] == [pointer]
    assert detail in errors[0]["detail"]
    assert _stored(engine) == EMPTY


def test_a_relation_name_in_a_text_value_is_no_nesting(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post("/api/books", json={"title": 'all "reviews" here'})

    assert resp.status_code == 201
    assert "reviews" not in resp.get_json()


def test_nested_rows_of_a_resource_without_create_are_refused(engine: sa.Engine) -> None:
    client = _app(engine, methods=["GET"]).test_client()

    resp = client.post(
        "/api/books", json={"title": "Dune", "reviews": [{"reader": "a", "stars": 1}]}
    )

    # Reviews cannot be created here: the relation is no place to nest rows.
    assert [e["pointer"] for e in problem(resp, 422)["errors"]] == ["/reviews"]
    assert _stored(engine) == EMPTY


def test_hooks_of_every_nested_resource_run_in_the_one_transaction(engine: sa.Engine) -> None:
    app = Flask("nested-hooks")
    app.config["TESTING"] = True  # the hook's error reaches the test
    api = Api(app, engine)
    api.resource(Author)
    api.resource(Book)
    reviews = api.resource(Review)
    seen: list[str] = []

    @reviews.hook("before_create")
    def _upper(ctx: WriteContext) -> None:
        seen.append(ctx.data["reader"])
        ctx.data["reader"] = ctx.data["reader"].upper()
        if ctx.data["reader"] == "BAD":
            raise ValueError("a hook failing deep inside")

    client = app.test_client()
    ok = client.post("/api/books", json={"title": "A", "reviews": [{"reader": "ann", "stars": 1}]})
    assert ok.status_code == 201
    assert ok.get_json()["reviews"][0]["reader"] == "ANN"

    with pytest.raises(ValueError, match="deep inside"):
        client.post(
            "/api/books",
            json={
                "title": "B",
                "author": {"name": "Z"},
                "reviews": [{"reader": "bad", "stars": 1}],
            },
        )
    assert seen == ["ann", "bad"]
    stored = _stored(engine)
    assert [b[1] for b in stored["books"]] == ["A"]
    assert stored["authors"] == []


def test_an_upsert_upserts_the_top_row_and_creates_the_nested_ones(
    client: FlaskClient, engine: sa.Engine
) -> None:
    first = client.post(
        "/api/books?on_conflict=isbn",
        json={"title": "Dune", "isbn": "1", "reviews": [{"reader": "ann", "stars": 5}]},
    )
    again = client.post(
        "/api/books?on_conflict=isbn",
        json={"title": "Dune!", "isbn": "1", "reviews": [{"reader": "bob", "stars": 4}]},
    )
    clash = client.post(
        "/api/books?on_conflict=isbn",
        json={"title": "Dune?", "isbn": "1", "reviews": [{"reader": "ann", "stars": 1}]},
    )

    assert first.status_code == 201, first.get_json()
    assert "Location" in first.headers
    assert again.status_code == 200, again.get_json()
    assert "Location" not in again.headers
    assert again.get_json()["id"] == first.get_json()["id"]
    assert [r["reader"] for r in again.get_json()["reviews"]] == ["bob"]
    assert [e["pointer"] for e in problem(clash, 409)["errors"]] == [
        "/reviews/0/book_id",
        "/reviews/0/reader",
    ]
    stored = _stored(engine)
    assert [b[1] for b in stored["books"]] == ["Dune!"]
    assert [(r[2], r[3]) for r in stored["reviews"]] == [("ann", 5), ("bob", 4)]


JSONAPI = "application/vnd.api+json"


def _jsonapi(client: FlaskClient, doc: dict[str, Any]) -> Any:
    return client.post("/api/books", json=doc, headers={"Content-Type": JSONAPI, "Accept": JSONAPI})


def _sideposted(**review: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "books",
            "attributes": {"title": "Dune"},
            "relationships": {
                "author": {"data": {"type": "authors", "lid": "a"}},
                "reviews": {"data": [{"type": "reviews", "lid": "r1"}]},
            },
        },
        "included": [
            {"type": "authors", "lid": "a", "attributes": {"name": "Herbert"}},
            {"type": "reviews", "lid": "r1", "attributes": {"reader": "ann", "stars": 5, **review}},
        ],
    }


def test_jsonapi_creates_the_rows_included_with_a_lid(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = _jsonapi(client, _sideposted())

    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    book = doc["data"]
    assert resp.headers["Location"] == f"http://localhost/api/books/{book['id']}"
    author = book["relationships"]["author"]["data"]
    reviews = book["relationships"]["reviews"]["data"]
    assert {(o["type"], o["id"]) for o in doc["included"]} == {
        (author["type"], author["id"]),
        (reviews[0]["type"], reviews[0]["id"]),
    }
    stored = _stored(engine)
    assert stored["books"] == [(int(book["id"]), "Dune", None, int(author["id"]))]
    assert stored["reviews"] == [(int(reviews[0]["id"]), int(book["id"]), "ann", 5)]


@pytest.mark.parametrize(
    ("change", "pointers"),
    [
        ({"stars": 9}, ["/included/1/attributes/stars"]),
        ({"book_id": 1}, ["/included/1/attributes/book_id"]),
    ],
)
def test_jsonapi_nested_errors_point_into_the_document(
    client: FlaskClient, engine: sa.Engine, change: dict[str, Any], pointers: list[str]
) -> None:
    body = _jsonapi(client, _sideposted(**change)).get_json()

    assert [e["source"]["pointer"] for e in body["errors"]] == pointers
    assert _stored(engine) == EMPTY


def test_jsonapi_included_objects_must_be_named_once_by_a_lid(
    client: FlaskClient, engine: sa.Engine
) -> None:
    unnamed = _sideposted()
    unnamed["included"].append({"type": "reviews", "lid": "r2", "attributes": {}})
    twice = _sideposted()
    twice["data"]["relationships"]["reviews"]["data"].append({"type": "reviews", "lid": "r1"})
    missing = _sideposted()
    missing["data"]["relationships"]["author"]["data"]["lid"] = "nope"
    with_id = _sideposted()
    with_id["included"][0]["id"] = "5"

    def pointers(doc: dict[str, Any]) -> list[str]:
        resp = _jsonapi(client, doc)
        assert resp.status_code in (400, 422)
        return [e.get("source", {}).get("pointer") for e in resp.get_json()["errors"]]

    assert pointers(unnamed) == ["/included/2"]
    assert pointers(twice) == ["/included/1"]
    assert pointers(missing) == ["/data/relationships/author/data", "/included/0"]
    assert pointers(with_id) == [None]  # a 400: included objects are rows to create
    assert _stored(engine) == EMPTY


def test_openapi_documents_the_rows_a_create_may_nest(client: FlaskClient) -> None:
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]

    books = schemas["BooksCreateNested"]["properties"]
    assert books["author"]["$ref"] == "#/components/schemas/AuthorsCreateNested"
    assert books["reviews"]["items"]["$ref"] == "#/components/schemas/ReviewsCreateUnderBooks"
    # The link is filled in: not asked of nested rows, and not required beside a nested author.
    assert "book_id" not in schemas["ReviewsCreateUnderBooks"]["properties"]
    assert schemas["ReviewsCreateUnderBooks"]["required"] == ["reader", "stars"]
    assert "author_id" not in schemas["BooksCreateNested"].get("required", [])
    # JSON:API documents and forms nest nothing: their schema has no relations. (JSON:API
    # bodies are in the document of JSON:API: the default one has the default's bodies.)
    jsonapi = client.get("/api/openapi.json?format=jsonapi").get_json()["components"]["schemas"]
    document = jsonapi["BooksCreateDocument"]["properties"]["data"]["properties"]
    assert not {"reviews", "author"} & set(document["attributes"]["properties"])
    assert "AuthorsCreateNested" in schemas  # the body a plain create of authors takes
    assert schemas["ReviewsCreateNested"]["properties"]["book"]["$ref"].endswith(
        "BooksCreateNested"
    )
    # Under an author, a book cannot nest another author.
    assert "author" not in schemas["BooksCreateUnderAuthors"]["properties"]
