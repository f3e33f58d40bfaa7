"""Options for APIs that follow a spec's conventions (RealWorld's Conduit): ``put="update"``
(PUT changes the fields sent), ``sort=`` (a list's order when the client names none),
``create_status=200`` and ``Envelope(paging=False)`` (a page without ``links`` and ``meta``);
and a 401 asks for ``Auth``'s own scheme. On SQLite, PostgreSQL and MariaDB, Flask and lean
paths, in plain JSON and JSON:API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Auth, Envelope, authenticated, owner
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.helpers import problem

JSONAPI = "application/vnd.api+json"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password: Mapped[str] = mapped_column(sa.String(200))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.String(100))
    rank: Mapped[int] = mapped_column(default=0)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


pytestmark = pytest.mark.lean_on_sqlite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        rows = [("b", 2), ("a", 3), ("c", 1)]
        conn.execute(sa.insert(Note), [{"title": t, "body": t * 3, "rank": r} for t, r in rows])
    yield eng
    eng.dispose()


def _client(engine: sa.Engine, path: str, **options: Any) -> FlaskClient:
    app = Flask("spec-options")
    app.config["TESTING"] = True
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    auth = Auth("users", scheme="Token", secret="s" * 40, sessions="memory", hasher=fast)
    api = Api(app, engine, auth=auth)
    api.resource(User, methods=["GET"])
    api.resource(Note, **options)
    if path == "lean":
        install(app)
    return app.test_client()


def test_put_update_changes_only_the_fields_sent(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, put="update")
    changed = client.put("/api/notes/1", json={"title": "new"})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json() == {
        "id": 1,
        "title": "new",
        "body": "bbb",
        "rank": 2,
        "owner_id": None,
    }
    doc = {"data": {"type": "notes", "id": "1", "attributes": {"rank": 9}}}
    jsonapi = client.put("/api/notes/1", json=doc, headers={"Content-Type": JSONAPI})
    assert jsonapi.get_json()["data"]["attributes"]["title"] == "new"
    with engine.connect() as conn:
        stored = conn.execute(sa.select(Note.title, Note.body, Note.rank).where(Note.id == 1))
        assert tuple(stored.one()) == ("new", "bbb", 9)
    problem(client.put("/api/notes/1", json={"title": 5}), 422)
    spec = client.get("/api/openapi.json").get_json()["paths"]["/api/notes/{id}"]
    assert spec["put"]["requestBody"] == spec["patch"]["requestBody"]
    # By default a PUT replaces: a body without a required field is refused.
    replacing = _client(engine, path)
    body = problem(replacing.put("/api/notes/1", json={"title": "x"}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body"]
    with pytest.raises(ValueError, match="put must be"):
        _client(engine, path, put="merge")


def test_sort_is_the_order_of_lists_the_client_does_not_sort(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, sort="-rank,title")

    def titles(query: str) -> list[str]:
        resp = client.get(f"/api/notes{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["title"] for r in resp.get_json()["data"]]

    assert titles("") == ["a", "b", "c"]
    assert titles("?limit=1&offset=1") == ["b"]
    assert titles("?sort=title") == ["a", "b", "c"]
    assert titles("?sort=-title") == ["c", "b", "a"]
    assert titles("?page[after]=&page[size]=2") == ["a", "b"]
    doc = client.get("/api/notes", headers={"Accept": JSONAPI}).get_json()
    assert [r["attributes"]["title"] for r in doc["data"]] == ["a", "b", "c"]
    assert _client(engine, path).get("/api/notes").get_json()["data"][0]["title"] == "b"
    with pytest.raises(ValueError, match="sort names no readable field 'nope'"):
        _client(engine, path, sort="-nope")


def test_create_status_200(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, create_status=200)
    made = client.post("/api/notes", json={"title": "d", "body": "ddd"})
    assert made.status_code == 200, made.get_data(as_text=True)
    assert made.headers["Location"].endswith("/api/notes/4")
    assert made.get_json()["title"] == "d"
    many = client.post("/api/notes", json=[{"title": "e", "body": "e"}])
    assert many.status_code == 200
    doc = {"data": {"type": "notes", "attributes": {"title": "f", "body": "f"}}}
    assert client.post("/api/notes", json=doc, headers={"Content-Type": JSONAPI}).status_code == 200
    problem(client.post("/api/notes", json={"title": "g"}), 422)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Note)) == 6
    spec = client.get("/api/openapi.json").get_json()["paths"]["/api/notes"]["post"]
    assert "201" not in spec["responses"]
    assert "Location" in spec["responses"]["200"]["headers"]
    assert (
        _client(engine, path).post("/api/notes", json={"title": "h", "body": "h"}).status_code
        == 201
    )
    with pytest.raises(ValueError, match="create_status must be"):
        _client(engine, path, create_status=204)


def test_an_envelope_without_paging(engine: sa.Engine, path: str) -> None:
    env = Envelope("note", count="notesCount", paging=False)
    client = _client(engine, path, envelope=env, sort="title")
    page = client.get("/api/notes?limit=2&fields=title")
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.get_json() == {"notes": [{"title": "a"}, {"title": "b"}], "notesCount": 3}
    assert client.get("/api/notes/1").get_json()["note"]["title"] == "b"
    doc = client.get("/api/notes", headers={"Accept": JSONAPI}).get_json()
    assert set(doc) >= {"data", "links"}  # JSON:API keeps its own document
    problem(client.get("/api/notes?limit=0"), 400)
    spec = client.get("/api/openapi.json").get_json()["components"]["schemas"]["NotesList"]
    assert spec["required"] == ["notes", "notesCount"]
    paged = _client(engine, path, envelope=Envelope("note")).get("/api/notes").get_json()
    assert set(paged) == {"notes", "links", "meta"}


def test_a_401_asks_for_the_auth_scheme(engine: sa.Engine, path: str) -> None:
    client = _client(
        engine, path, permissions={"create": authenticated, "update": owner("owner_id")}
    )
    refused = problem(client.post("/api/notes", json={"title": "x", "body": "x"}), 401)
    assert refused["detail"] == "Sign in to create rows of notes"
    resp = client.post("/api/notes", json={"title": "x", "body": "x"})
    assert resp.headers["WWW-Authenticate"] == 'Token realm="api"'
    patched = client.patch("/api/notes/1", json={"title": "x"})
    assert patched.headers["WWW-Authenticate"] == 'Token realm="api"'


def test_a_resource_at_a_path_under_another(engine: sa.Engine, path: str) -> None:
    app = Flask("paths")
    api = Api(app, engine)
    notes = api.resource(Note)
    api.resource(Note, name="ranked", path="notes/ranked", where=Note.rank > 1, sort="-rank")
    api.toggle("star", on=api.resource(User, path="people/all"), through=notes,
               mine="owner_id", theirs="rank")  # fmt: skip
    if path == "lean":
        install(app)
    client = app.test_client()
    listed = client.get("/api/notes/ranked")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert [r["title"] for r in listed.get_json()["data"]] == ["a", "b"]
    assert listed.get_json()["links"]["self"].endswith("/api/notes/ranked")
    assert client.get("/api/notes/ranked/2").get_json()["title"] == "a"
    problem(client.get("/api/notes/ranked/3"), 404)  # rank 1: not in the view
    assert client.get("/api/notes/3").get_json()["title"] == "c"  # the table's own resource
    doc = client.get("/api/notes/ranked/2", headers={"Accept": JSONAPI}).get_json()
    assert doc["data"]["links"]["self"].endswith("/api/notes/ranked/2")
    assert client.get("/api/ranked").status_code == 404
    assert client.get("/api/people/all").status_code == 200
    problem(client.post("/api/people/all/1/star"), 401)  # the toggle is under its path too
    spec = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/notes/ranked", "/api/notes/ranked/{id}", "/api/people/all/{id}/star"} <= set(spec)
    for bad in ("a//b", "../notes", "a/./b", "notes?x", "/notes"):
        with pytest.raises(ValueError, match="path="):
            api.resource(Note, name="bad", path=bad)
    with pytest.raises(ValueError, match="ranked is served at 'notes/ranked'"):
        api.resource(Note, name="again", path="notes/ranked")
    with pytest.raises(ValueError, match="cannot be named 'auth'"):
        Api(Flask("a"), engine, auth=Auth("users", secret="s" * 40)).resource(
            Note, name="x", path="auth/notes"
        )
