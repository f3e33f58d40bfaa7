"""Computed fields that depend on who asks (``caller.id``): ``favorited`` and ``following``
as the caller's own EXISTS, read, filtered, sorted, counted, included and written back for
each caller, in plain JSON and JSON:API, on SQLite, PostgreSQL and MariaDB; never in change
events, which every reader shares; and declarations that cannot work, refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, ChangeFeed, caller, owner
from tests.databases import BACKENDS
from tests.features.test_changes import events
from tests.helpers import caller_by_header, problem


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)


class Follow(Base):
    __tablename__ = "follows"
    follower_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    author: Mapped[Person] = relationship()


class Like(Base):
    __tablename__ = "likes"
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id"), primary_key=True)


FAVORITED = sa.exists().where(Like.post_id == Post.id, Like.person_id == caller.id)
LIKES = (
    sa.select(sa.func.count())
    .select_from(Like)
    .where(Like.post_id == Post.id)
    .correlate_except(Like)
    .scalar_subquery()
)
FOLLOWING = sa.exists().where(Follow.followed_id == Person.id, Follow.follower_id == caller.id)

# ann (1) likes posts 1 and 3 and follows bob; bob (2) likes post 1; cat (3) likes nothing.
PEOPLE = ["ann", "bob", "cat"]
POSTS = [("Earthsea", 2), ("Lathe", 2), ("Owls", 3), ("Tombs", 1)]
LIKED = [(1, 1), (1, 3), (2, 1)]
FOLLOWS = [(1, 2)]

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Person), [{"name": n} for n in PEOPLE])
        conn.execute(sa.insert(Post), [{"title": t, "author_id": a} for t, a in POSTS])
        conn.execute(sa.insert(Like), [{"person_id": p, "post_id": q} for p, q in LIKED])
        conn.execute(sa.insert(Follow), [{"follower_id": a, "followed_id": b} for a, b in FOLLOWS])
    yield eng
    eng.dispose()


def _app(engine: sa.Engine, feed: ChangeFeed | None = None) -> Flask:
    app = Flask("caller-fields")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header, changes=feed)
    api.resource(Person, computed={"following": FOLLOWING})
    api.resource(Post, computed={"favorited": FAVORITED, "like_count": LIKES})
    api.resource(Like, permissions=owner("person_id"))
    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


def _as(user: str | None) -> dict[str, str]:
    return {"X-User": user} if user else {}


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows: list[dict[str, Any]] = resp.get_json()["data"]
    return rows


def _favorited(client: FlaskClient, user: str | None, query: str = "sort=id") -> list[Any]:
    return [
        (r["id"], r["favorited"])
        for r in _rows(client.get(f"/api/posts?{query}", headers=_as(user)))
    ]


def test_each_caller_sees_their_own_favorites_in_one_cached_plan(client: FlaskClient) -> None:
    assert _favorited(client, "1") == [(1, True), (2, False), (3, True), (4, False)]
    assert _favorited(client, "2") == [(1, True), (2, False), (3, False), (4, False)]
    assert _favorited(client, "3") == [(1, False), (2, False), (3, False), (4, False)]
    # Again for the first caller: the cached statement is bound anew, not kept for the last.
    assert _favorited(client, "1") == [(1, True), (2, False), (3, True), (4, False)]
    assert "Authorization" in client.get("/api/posts/1", headers=_as("1")).headers["Vary"]
    likes = [r["like_count"] for r in _rows(client.get("/api/posts?sort=id"))]
    assert likes == [2, 0, 1, 0]


def test_anonymous_and_impossible_ids_favour_nothing(client: FlaskClient) -> None:
    assert _favorited(client, None) == [(1, False), (2, False), (3, False), (4, False)]
    # An id that cannot be a person's key (text for an integer column) matches no row.
    assert _favorited(client, "ann") == [(1, False), (2, False), (3, False), (4, False)]


def test_one_row_and_relation_routes_answer_for_the_caller(client: FlaskClient) -> None:
    assert client.get("/api/posts/3", headers=_as("1")).get_json()["favorited"] is True
    assert client.get("/api/posts/3", headers=_as("2")).get_json()["favorited"] is False
    # bob's posts, through the relation route, as ann sees them.
    rows = _rows(client.get("/api/people/2/posts?sort=id", headers=_as("1")))
    assert [(r["id"], r["favorited"]) for r in rows] == [(1, True), (2, False)]


def test_filters_sorts_and_counts_use_the_callers_value(client: FlaskClient) -> None:
    assert _favorited(client, "1", "filter[favorited]=true&sort=id") == [(1, True), (3, True)]
    assert _favorited(client, "2", "filter[favorited]=false&sort=id") == [
        (2, False),
        (3, False),
        (4, False),
    ]
    counted = client.get("/api/posts?filter[favorited]=true&count=true", headers=_as("1"))
    assert counted.get_json()["meta"]["total"] == 2
    ordered = _favorited(client, "1", "sort=-favorited,id")
    assert ordered == [(1, True), (3, True), (2, False), (4, False)]
    # Keyset pages through a sort on it: the cursor carries the caller's values.
    first = client.get("/api/posts?sort=-favorited,id&page[size]=3&page[after]=", headers=_as("1"))
    nxt = first.get_json()["links"]["next"]
    assert "after" in nxt
    rest = _rows(client.get(nxt, headers=_as("1")))
    assert [r["id"] for r in rest] == [4]
    groups = client.get("/api/posts?group_by=favorited&aggregate=count()", headers=_as("1"))
    assert groups.status_code == 200, groups.get_data(as_text=True)
    counts = {g["favorited"]: g["count"] for g in groups.get_json()["data"]}
    assert counts == {True: 2, False: 2}


def test_included_and_filtered_through_rows_are_the_callers(client: FlaskClient) -> None:
    doc = client.get("/api/posts?include=author&sort=id", headers=_as("1")).get_json()
    authors = {p["author"]["id"]: p["author"]["following"] for p in doc["data"]}
    assert authors == {2: True, 3: False, 1: False}
    followed = _rows(
        client.get("/api/posts?filter[author.following]=true&sort=id", headers=_as("1"))
    )
    assert [r["id"] for r in followed] == [1, 2]
    assert _rows(client.get("/api/posts?filter[author.following]=true", headers=_as("3"))) == []


def test_jsonapi_attributes_are_the_callers(client: FlaskClient) -> None:
    headers = {"Accept": "application/vnd.api+json", **_as("1")}
    doc = client.get("/api/posts?sort=id&include=author", headers=headers).get_json()
    assert [d["attributes"]["favorited"] for d in doc["data"]] == [True, False, True, False]
    assert {i["id"]: i["attributes"]["following"] for i in doc["included"]} == {
        "1": False,
        "2": True,
        "3": False,
    }


def test_writes_answer_with_the_writers_view(engine: sa.Engine) -> None:
    for changes in (False, True):  # the Core path, and the session path a feed needs
        client = _app(engine, ChangeFeed(stream_seconds=0) if changes else None).test_client()
        made = client.post("/api/posts", json={"title": f"New {changes}", "author_id": 1})
        assert made.status_code == 201, made.get_data(as_text=True)
        post = made.get_json()
        assert post["favorited"] is False
        liked = client.post("/api/likes", json={"post_id": post["id"]}, headers=_as("2"))
        assert liked.status_code == 201, liked.get_data(as_text=True)
        url = f"/api/posts/{post['id']}"
        changed = client.patch(url, json={"title": "Renamed"}, headers=_as("2"))
        assert changed.get_json()["favorited"] is True
        assert changed.get_json()["like_count"] == 1
        assert (
            client.patch(url, json={"title": "Again"}, headers=_as("3")).get_json()["favorited"]
            is False
        )
        replaced = client.put(url, json={"title": "Put", "author_id": 1}, headers=_as("2"))
        assert replaced.get_json()["favorited"] is True
        many = client.post(
            "/api/posts",
            json=[{"title": "a", "author_id": 1}, {"title": "b", "author_id": 2}],
            headers=_as("2"),
        )
        assert [r["favorited"] for r in many.get_json()] == [False, False]
        # An upsert changing a person ann follows, and creating one she does not.
        upserted = client.post(
            "/api/people?on_conflict=name",
            json=[{"name": "bob"}, {"name": f"dan{changes}"}],
            headers=_as("1"),
        )
        assert upserted.status_code == 200, upserted.get_data(as_text=True)
        assert [r["following"] for r in upserted.get_json()] == [True, False]
        client.patch(url, json={"title": "Up"}, headers=_as("2"))
        with engine.connect() as conn:
            title = conn.execute(sa.select(Post.title).where(Post.id == post["id"])).scalar()
        assert title == "Up"


def test_if_match_compares_the_callers_own_representation(client: FlaskClient) -> None:
    tag = client.get("/api/posts/1", headers=_as("1")).headers["ETag"]
    other = client.get("/api/posts/1", headers=_as("3")).headers["ETag"]
    assert tag != other  # favorited differs: two representations
    ok = client.patch("/api/posts/1", json={"title": "E"}, headers={"If-Match": tag, **_as("1")})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    stale = client.patch(
        "/api/posts/1", json={"title": "F"}, headers={"If-Match": other, **_as("1")}
    )
    problem(stale, 412)


def test_change_events_leave_out_what_depends_on_the_reader(engine: sa.Engine) -> None:
    client = _app(engine, ChangeFeed(stream_seconds=0)).test_client()
    made = client.post("/api/posts", json={"title": "Ev", "author_id": 1}, headers=_as("1"))
    assert made.status_code == 201
    assert made.get_json()["favorited"] is False  # the writer's answer has it
    client.post("/api/likes", json={"post_id": made.get_json()["id"]}, headers=_as("1"))
    client.patch(f"/api/posts/{made.get_json()['id']}", json={"title": "Ev2"}, headers=_as("1"))
    rows = [e["data"]["row"] for e in events(client, "/api/posts/changes", headers=_as("1"))]
    assert [(r["title"], r["like_count"]) for r in rows] == [("Ev", 0), ("Ev2", 1)]
    assert all("favorited" not in r for r in rows)
    refused = client.get("/api/posts/changes?filter[favorited]=true", headers=_as("1"))
    assert problem(refused, 400)["parameter"] == "filter[favorited]"


def test_writing_one_is_refused(client: FlaskClient) -> None:
    made = client.post("/api/posts", json={"title": "x", "author_id": 1, "favorited": True})
    assert problem(made, 422)["errors"][0]["pointer"] == "/favorited"


def test_declarations_without_a_typed_caller_are_refused(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match="compare it with a column"):
        api.resource(Post, computed={"me": sa.type_coerce(caller.id, sa.Integer)})
    with pytest.raises(ValueError, match="different types"):
        api.resource(
            Post,
            computed={
                "a": sa.exists().where(Like.post_id == Post.id, Like.person_id == caller.id),
                "b": sa.exists().where(Post.title == caller.id),
            },
        )
    with pytest.raises(ValueError, match="different types"):
        api.resource(
            Person,
            computed={
                "a": sa.exists().where(
                    Follow.followed_id == Person.id, Follow.follower_id == caller.id
                ),
                "b": sa.exists().where(Like.person_id == Person.id, Person.name == caller.id),
            },
        )
