"""Conditional requests: strong ETags, 304 on If-None-Match, 412/428 around If-Match."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    c = make_app().test_client()
    assert c.post("/api/authors", json={"name": "Ursula Le Guin"}).status_code == 201
    books = [
        {"title": "Earthsea", "year": 1968, "author_id": 1},
        {"title": "The Dispossessed", "year": 1974, "author_id": 1},
    ]
    assert c.post("/api/books", json=books).status_code == 201
    return c


def tag_of(resp: Any) -> str:
    etag: str = resp.headers["ETag"]
    assert etag.startswith('"')  # strong (no W/), quoted
    assert etag.endswith('"')
    assert len(etag) > 10
    return etag


def test_reads_carry_a_strong_etag_that_follows_the_representation(client: FlaskClient) -> None:
    first = client.get("/api/books/1")
    assert tag_of(first) == tag_of(client.get("/api/books/1"))  # stable
    assert first.headers["Vary"] == "Accept"  # JSON or JSON:API, by Accept
    assert tag_of(client.get("/api/books/1?fields=title")) != tag_of(first)
    assert tag_of(client.get("/api/books/2")) != tag_of(first)
    listed = client.get("/api/books")
    assert tag_of(listed) != tag_of(client.get("/api/books?sort=-year"))
    assert client.head("/api/books/1").headers["ETag"] == first.headers["ETag"]
    assert tag_of(client.get("/api/authors/1/books")) == tag_of(client.get("/api/authors/1/books"))
    assert tag_of(client.get("/api/books/1/author"))


@pytest.mark.parametrize("url", ["/api/books/1", "/api/books?sort=-year", "/api/authors/1/books"])
def test_if_none_match_gives_304_until_the_data_changes(client: FlaskClient, url: str) -> None:
    etag = tag_of(client.get(url))
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = client.get(url, headers={"If-None-Match": header})
        assert resp.status_code == 304, header
        assert resp.data == b""
        assert resp.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

    assert client.patch("/api/books/1", json={"year": 1969}).status_code == 200
    resp = client.get(url, headers={"If-None-Match": etag})
    assert resp.status_code == 200
    assert tag_of(resp) != etag


def test_writes_answer_with_the_etag_a_read_gives(client: FlaskClient) -> None:
    created = client.post("/api/books", json={"title": "Tehanu"})
    assert created.status_code == 201
    assert tag_of(created) == tag_of(client.get(created.headers["Location"]))
    patched = client.patch("/api/books/1", json={"year": 1970})
    assert tag_of(patched) == tag_of(client.get("/api/books/1"))
    replaced = client.put("/api/books/1", json={"title": "Earthsea", "pages": 200})
    assert tag_of(replaced) == tag_of(client.get("/api/books/1"))
    assert "ETag" not in client.post("/api/books", json=[{"title": "x"}]).headers  # many


def test_if_match_lets_only_the_current_version_through(
    client: FlaskClient, engine: sa.Engine
) -> None:
    etag = tag_of(client.get("/api/books/1"))
    # Two clients read the same version; the first change wins, the second gets 412.
    first = client.patch("/api/books/1", json={"year": 1971}, headers={"If-Match": etag})
    assert first.status_code == 200
    body = problem(
        client.patch("/api/books/1", json={"year": 1999}, headers={"If-Match": etag}), 412
    )
    assert "read it again" in body["detail"]
    problem(client.put("/api/books/1", json={"title": "x"}, headers={"If-Match": etag}), 412)
    problem(client.delete("/api/books/1", headers={"If-Match": etag}), 412)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT title, year FROM books WHERE id = 1")).one() == (
            "Earthsea",
            1971,
        )

    current = tag_of(first)
    weak = client.patch("/api/books/1", json={"year": 1}, headers={"If-Match": f"W/{current}"})
    problem(weak, 412)  # If-Match compares strongly
    listed = f'"nope", {current}'
    for condition in (listed, "*"):
        resp = client.patch("/api/books/1", json={"year": 2}, headers={"If-Match": condition})
        assert resp.status_code == 200
    assert client.delete("/api/books/1", headers={"If-Match": "*"}).status_code == 204
    # No row: the 404 comes first (preconditions only apply to what exists).
    problem(client.patch("/api/books/1", json={"year": 4}, headers={"If-Match": "*"}), 404)
    problem(client.delete("/api/books/1", headers={"If-Match": current}), 404)


def test_if_match_applies_on_the_session_path_too(
    make_app: AppFactory, client: FlaskClient
) -> None:
    app = make_app()
    seen: list[str] = []
    app.extensions["tablerest_api"].resources["books"].hook("before_update")(
        lambda ctx: seen.append(ctx.method)
    )
    c = app.test_client()
    etag = tag_of(c.get("/api/books/2"))
    assert c.patch("/api/books/2", json={"year": 1}, headers={"If-Match": etag}).status_code == 200
    problem(c.patch("/api/books/2", json={"year": 2}, headers={"If-Match": etag}), 412)
    assert seen == ["PATCH"]  # the stale write never reached the hook


def test_require_if_match_gives_428_without_it(make_app: AppFactory) -> None:
    c = make_app(books={"require_if_match": True}).test_client()
    created = c.post("/api/books", json={"title": "Earthsea"})
    assert created.status_code == 201  # creating needs no precondition
    for resp in (
        c.patch("/api/books/1", json={"year": 1}),
        c.put("/api/books/1", json={"title": "x"}),
        c.delete("/api/books/1"),
    ):
        body = problem(resp, 428)
        assert "If-Match" in body["detail"]
    etag = tag_of(created)
    assert c.patch("/api/books/1", json={"year": 1}, headers={"If-Match": etag}).status_code == 200


def test_cache_control_is_per_resource(make_app: AppFactory) -> None:
    c = make_app(books={"cache_control": "max-age=60"}).test_client()
    assert c.post("/api/books", json={"title": "Earthsea"}).headers.get("Cache-Control") is None
    item = c.get("/api/books/1")
    assert item.headers["Cache-Control"] == "max-age=60"
    assert c.get("/api/books").headers["Cache-Control"] == "max-age=60"
    not_modified = c.get("/api/books/1", headers={"If-None-Match": item.headers["ETag"]})
    assert not_modified.status_code == 304
    assert not_modified.headers["Cache-Control"] == "max-age=60"
    assert c.get("/api/authors").headers.get("Cache-Control") is None


class VersionedBase(DeclarativeBase):
    pass


class Page(VersionedBase):
    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": version}


@pytest.fixture
def versioned(engine: sa.Engine) -> Iterator[FlaskClient]:
    VersionedBase.metadata.create_all(engine)
    app = Flask("versioned")
    Api(app, engine).resource(Page)
    yield app.test_client()
    VersionedBase.metadata.drop_all(engine)


def test_a_version_column_counts_every_write(versioned: FlaskClient) -> None:
    c = versioned
    created = c.post("/api/pages", json={"text": "a"})
    assert created.get_json() == {"id": 1, "text": "a", "version": 1}
    body = problem(c.patch("/api/pages/1", json={"version": 7}), 422)
    assert body["errors"][0]["pointer"] == "/version"  # read-only: the ORM keeps it
    etag = tag_of(created)
    patched = c.patch("/api/pages/1", json={"text": "b"}, headers={"If-Match": etag})
    assert patched.get_json()["version"] == 2
    problem(c.put("/api/pages/1", json={"text": "c"}, headers={"If-Match": etag}), 412)
    assert c.put("/api/pages/1", json={"text": "c"}).get_json()["version"] == 3
