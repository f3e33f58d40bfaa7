"""Issue 17, the HTTP edges: one URL per row (item 21), Host and cross-site write checks
(item 9), caching of caller-dependent responses and the pages' CSP (the "Also" list).

Each test is an attack through HTTP that succeeds when its protection is taken away.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api
from tablerest.cursor import encode_cursor

SECRET = "edge-secret-that-is-long-enough-for-hs256!"


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    year: Mapped[int] = mapped_column()
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authors.id"))
    author: Mapped[Author | None] = relationship(back_populates="books")


class Pair(Base):
    __tablename__ = "pairs"
    a: Mapped[int] = mapped_column(primary_key=True)
    b: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(50))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'edge.sqlite3'}", poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Author.__table__), [{"id": i, "name": f"a{i}"} for i in (1, 10)])
        conn.execute(
            sa.insert(Book.__table__),
            [
                {"id": i, "title": f"book {i}", "year": 1990 + i, "author_id": 10}
                for i in (0, 1, 2, 10, 11)
            ],
        )
        conn.execute(sa.insert(Pair.__table__), [{"a": 1, "b": 10, "note": "one-ten"}])
    yield eng
    eng.dispose()


def _books_app(engine: sa.Engine, **api: Any) -> Flask:
    app = Flask("edge-tests")
    app.config["TESTING"] = True
    tr = Api(app, engine, secret_key=SECRET, **api)
    tr.resource(Author)
    tr.resource(Book)
    tr.resource(Pair)
    return app


@pytest.fixture
def books(engine: sa.Engine) -> FlaskClient:
    return _books_app(engine).test_client()


def _title(engine: sa.Engine, key: int) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(sa.select(Book.__table__.c.title).where(Book.__table__.c.id == key))
        return found.scalar_one_or_none()


def _assert_problem(resp: Any, status: int, *, jsonapi: bool = False) -> dict[str, Any]:
    """``resp`` is an error ``status`` with a problem body (a JSON:API errors document where
    the route speaks JSON:API)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body: dict[str, Any] = resp.get_json()
    if jsonapi:
        assert resp.mimetype == "application/vnd.api+json"
        assert body["errors"][0]["status"] == str(status)
    else:
        assert resp.mimetype == "application/problem+json"
        assert body["status"] == status
    return body


# -- item 21: one URL per row -----------------------------------------------------------------

#: Spellings that int() reads as 10 (or 0): none of them is the URL of a row.
VARIANTS_OF_10 = ["010", "+10", "1_0", "%2010", "10%20", "%EF%BC%91%EF%BC%90", "0010", "%0910"]


@pytest.mark.parametrize("spelling", VARIANTS_OF_10)
def test_a_key_spelt_other_than_canonically_reaches_no_row(
    books: FlaskClient, engine: sa.Engine, spelling: str
) -> None:
    assert books.get("/api/books/10").status_code == 200
    _assert_problem(books.get(f"/api/books/{spelling}"), 404)
    _assert_problem(books.get(f"/api/books/{spelling}/author"), 404)
    _assert_problem(books.get(f"/api/authors/{spelling}/books"), 404)
    _assert_problem(books.get(f"/api/books/{spelling}/relationships/author"), 404, jsonapi=True)
    _assert_problem(books.patch(f"/api/books/{spelling}", json={"title": "hacked"}), 404)
    _assert_problem(books.put(f"/api/books/{spelling}", json={"title": "hacked", "year": 1}), 404)
    _assert_problem(books.delete(f"/api/books/{spelling}"), 404)
    assert _title(engine, 10) == "book 10"


def test_zero_and_negative_keys_in_canonical_form_still_work(books: FlaskClient) -> None:
    assert books.get("/api/books/0").get_json()["title"] == "book 0"
    _assert_problem(books.get("/api/books/-0"), 404)
    _assert_problem(books.get("/api/books/00"), 404)
    _assert_problem(books.get("/api/books/-5"), 404)  # canonical, but no such row


def test_composite_keys_take_canonical_parts_only(books: FlaskClient) -> None:
    assert books.get("/api/pairs/1,10").get_json()["note"] == "one-ten"
    for spelling in ("01,10", "1,010", "+1,10", "1,%2010", "1,1_0", "%EF%BC%91,10"):
        _assert_problem(books.get(f"/api/pairs/{spelling}"), 404)
        _assert_problem(books.patch(f"/api/pairs/{spelling}", json={"note": "x"}), 404)


@pytest.mark.parametrize("spelling", ["010", "+10", "1_0", " 10", "\uff11\uff10", "-0"])
def test_integer_filter_values_are_400_unless_canonical(books: FlaskClient, spelling: str) -> None:
    assert [b["id"] for b in books.get("/api/books?filter[id]=10").get_json()["data"]] == [10]
    for query in (
        {"filter[id]": spelling},
        {"id": spelling},
        {"filter[year][ge]": f"{spelling}99"},
        {"filter[id][in]": f"1,{spelling}"},
        {"filter[author.id]": spelling},
    ):
        body = _assert_problem(books.get("/api/books", query_string=query), 400)
        assert body["parameter"] == next(iter(query))
    _assert_problem(books.get(f"/api/authors/10/books?filter[id]={spelling}"), 400)


def test_having_counts_are_canonical_too(books: FlaskClient) -> None:
    ok = books.get("/api/books?group_by=author_id&aggregate=count()&having[count()][ge]=5")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    bad = books.get("/api/books?group_by=author_id&aggregate=count()&having[count()][ge]=+5")
    _assert_problem(bad, 400)


def test_a_batch_key_spelt_other_than_canonically_reaches_no_row(
    books: FlaskClient, engine: sa.Engine
) -> None:
    for key in ["010", "+10", " 10", "1_0", "\uff11\uff10"]:
        resp = books.post(
            "/api/batch",
            json={
                "operations": [
                    {"op": "update", "resource": "books", "key": key, "data": {"title": "x"}}
                ]
            },
        )
        body = _assert_problem(resp, 404)
        assert body["errors"][0]["pointer"] == "/operations/0/key"
    resp = books.post(
        "/api/batch",
        json={"operations": [{"op": "delete", "resource": "pairs", "key": [1, "010"]}]},
    )
    _assert_problem(resp, 404)
    assert _title(engine, 10) == "book 10"


def test_a_jsonapi_identifier_spelt_other_than_canonically_names_no_row(
    books: FlaskClient, engine: sa.Engine
) -> None:
    jsonapi = "application/vnd.api+json"
    doc = {"data": {"type": "books", "id": "010", "attributes": {"title": "hacked"}}}
    resp = books.patch("/api/books/10", data=orjson.dumps(doc), content_type=jsonapi)
    assert resp.status_code in (404, 409), resp.get_data(as_text=True)
    linkage = {"data": {"type": "authors", "id": "+1"}}
    resp = books.patch(
        "/api/books/10/relationships/author", data=orjson.dumps(linkage), content_type=jsonapi
    )
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)
    assert _title(engine, 10) == "book 10"
    with engine.connect() as conn:
        owner = conn.execute(sa.select(Book.__table__.c.author_id).where(Book.__table__.c.id == 10))
        assert owner.scalar_one() == 10


def test_a_keyset_cursor_holding_a_variant_spelling_is_refused(engine: sa.Engine) -> None:
    app = _books_app(engine)
    books = app.test_client()
    first = books.get("/api/books?sort=id&page[size]=2&page[after]=").get_json()
    token = first["links"]["next"].split("after%5D=")[-1].split("after]=")[-1].split("&")[0]
    body = token.split(".")[0]
    signature, *values = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    # Cursors signed with the endpoint's key (as a leaked or reused key would allow): the
    # values inside follow the URL's rule, so a canonical text works and a variant does not.
    secret = app.extensions["tablerest"]["/api"].endpoints["books"].secret

    def page(cursor_values: list[Any]) -> Any:
        cursor = encode_cursor(cursor_values, signature, secret)
        return books.get(f"/api/books?sort=id&page[size]=2&page[after]={cursor}")

    assert page([str(v) for v in values]).status_code == 200
    _assert_problem(page([f"+{v}" for v in values]), 400)
    _assert_problem(page([f"0{v}" for v in values]), 400)
