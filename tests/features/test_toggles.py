"""Membership toggles (``api.toggle``): a caller adding and removing their own link to a row,
idempotent, answered with the row as its GET shows it; through the link resource's own
permissions; on SQLite, PostgreSQL and MariaDB, Flask and lean paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api, owner, public, role
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.features.test_caller_fields import FAVORITED, LIKES, Base, Like, Person, Post
from tests.helpers import caller_by_header, problem

pytestmark = pytest.mark.lean_on_sqlite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Person), [{"name": n} for n in ("ann", "bob")])
        conn.execute(sa.insert(Post), [{"title": "One", "author_id": 1}])
    yield eng
    eng.dispose()


def _client(engine: sa.Engine, path: str, link_create: Any = None) -> FlaskClient:
    app = Flask("toggles")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header)
    posts = api.resource(Post, computed={"favorited": FAVORITED, "like_count": LIKES})
    mine = owner("person_id")
    likes = api.resource(
        Like,
        permissions={"list": public, "read": public, "create": link_create or mine, "delete": mine},
    )
    api.toggle("like", on=posts, through=likes, mine="person_id", theirs="post_id")
    if path == "lean":
        install(app)
    return app.test_client()


def _likes(engine: sa.Engine) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Like.person_id, Like.post_id).order_by(Like.person_id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_like_is_made_once_and_removed_once(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    bob = {"X-User": "2"}
    liked = client.post("/api/posts/1/like", headers=bob)
    assert liked.status_code == 200, liked.get_data(as_text=True)
    assert (liked.get_json()["favorited"], liked.get_json()["like_count"]) == (True, 1)
    again = client.post("/api/posts/1/like", headers=bob)
    assert again.get_json() == liked.get_json()
    assert _likes(engine) == [(2, 1)]
    assert client.get("/api/posts/1", headers={"X-User": "1"}).get_json()["favorited"] is False
    removed = client.delete("/api/posts/1/like", headers=bob)
    assert (removed.get_json()["favorited"], removed.get_json()["like_count"]) == (False, 0)
    assert client.delete("/api/posts/1/like", headers=bob).status_code == 200
    assert _likes(engine) == []


def test_callers_who_cannot_link_are_refused(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    problem(client.post("/api/posts/1/like"), 401)
    problem(client.post("/api/posts/1/like", headers={"X-User": "ann"}), 401)  # not a key
    problem(client.post("/api/posts/9/like", headers={"X-User": "2"}), 404)
    admins_only = _client(engine, path, link_create=role("admin"))
    problem(admins_only.post("/api/posts/1/like", headers={"X-User": "2"}), 403)
    assert _likes(engine) == []


def test_jsonapi_and_openapi(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    headers = {"X-User": "2", "Accept": "application/vnd.api+json"}
    doc = client.post("/api/posts/1/like", headers=headers).get_json()
    assert doc["data"]["attributes"]["favorited"] is True
    spec = client.get("/api/openapi.json").get_json()
    assert set(spec["paths"]["/api/posts/{id}/like"]) == {"parameters", "post", "delete"}


def test_declarations_that_cannot_work_are_refused(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    posts = api.resource(Post)
    likes = api.resource(Like)
    with pytest.raises(ValueError, match="not a readable column"):
        api.toggle("like", on=posts, through=likes, mine="nobody", theirs="post_id")
    with pytest.raises(ValueError, match="relation of that name"):
        api.toggle("author", on=posts, through=likes, mine="person_id", theirs="post_id")
    other = Api(Flask("other"), engine).resource(Like)
    with pytest.raises(ValueError, match="not a resource of this Api"):
        api.toggle("like", on=posts, through=other, mine="person_id", theirs="post_id")
