"""``json_object``: a related row shown inside another as a computed field (an article's
author as a profile, with whether the caller follows them), typed like columns on SQLite,
PostgreSQL and MariaDB, in reads, write answers, ETags and OpenAPI."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, ChangeFeed, caller, json_object
from tests.databases import BACKENDS
from tests.features.test_changes import events
from tests.helpers import caller_by_header, problem


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50))
    bio: Mapped[str | None] = mapped_column(sa.String(200))
    joined: Mapped[dt.datetime] = mapped_column()
    karma: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(10, 2))
    verified: Mapped[bool] = mapped_column(default=False)


class Follow(Base):
    __tablename__ = "follows"
    follower_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)
    followed_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))
    # Named so: "author" is the computed profile below (a foreign key's relation would be
    # named "author" after author_id).
    writer: Mapped[Person | None] = relationship()


FOLLOWING = sa.exists().where(Follow.followed_id == Person.id, Follow.follower_id == caller.id)
AUTHOR = (
    sa.select(
        json_object(
            username=Person.username,
            bio=Person.bio,
            joined=Person.joined,
            karma=Person.karma,
            verified=Person.verified,
            following=FOLLOWING,
        )
    )
    .where(Person.id == Article.author_id)
    .scalar_subquery()
)
JOINED = dt.datetime(2024, 5, 6, 7, 8, 9, 123000)

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        jake = {"username": "jake", "bio": "I work", "karma": decimal.Decimal("12.50")}
        ann = {"username": "ann", "bio": None, "karma": decimal.Decimal("0")}
        people = [
            {**jake, "joined": JOINED, "verified": True},
            {**ann, "joined": JOINED, "verified": False},
        ]
        conn.execute(sa.insert(Person), people)
        conn.execute(sa.insert(Follow), [{"follower_id": 2, "followed_id": 1}])
        conn.execute(
            sa.insert(Article), [{"title": "A", "author_id": 1}, {"title": "B", "author_id": None}]
        )
    yield eng
    eng.dispose()


def _app(engine: sa.Engine, feed: ChangeFeed | None = None) -> Flask:
    app = Flask("json-object")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header, changes=feed)
    api.resource(Article, computed={"author": AUTHOR})
    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


@pytest.fixture
def jake(backend: str) -> dict[str, Any]:
    """Jake's profile as his columns read: MariaDB's DATETIME keeps no fraction of a second."""
    joined = "2024-05-06T07:08:09" + ("" if backend == "mariadb" else ".123000")
    return {
        "username": "jake",
        "bio": "I work",
        "joined": joined,
        "karma": "12.50",
        "verified": True,
    }


def test_the_related_row_is_an_object_of_typed_members(
    client: FlaskClient, jake: dict[str, Any]
) -> None:
    as_ann = client.get("/api/articles/1", headers={"X-User": "2"}).get_json()
    assert as_ann == {"id": 1, "title": "A", "author_id": 1, "author": {**jake, "following": True}}
    anonymous = client.get("/api/articles?sort=id").get_json()["data"]
    assert anonymous[0]["author"] == {**jake, "following": False}
    assert anonymous[1]["author"] is None  # no author: no object


def test_write_answers_and_etags_carry_it(
    client: FlaskClient, engine: sa.Engine, jake: dict[str, Any]
) -> None:
    made = client.post(
        "/api/articles", json={"title": "C", "author_id": 1}, headers={"X-User": "2"}
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["author"] == {**jake, "following": True}
    tag = client.get("/api/articles/1", headers={"X-User": "2"}).headers["ETag"]
    changed = client.patch(
        "/api/articles/1", json={"title": "A2"}, headers={"X-User": "2", "If-Match": tag}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Article.title).where(Article.id == 1)) == "A2"
    problem(client.post("/api/articles", json={"title": "x", "author": {}}), 422)


def test_only_null_filters_it_and_nothing_sorts_by_it(client: FlaskClient) -> None:
    rows = client.get("/api/articles?filter[author][null]=true").get_json()["data"]
    assert [r["id"] for r in rows] == [2]
    problem(client.get("/api/articles?filter[author]=x"), 400)
    problem(client.get("/api/articles?sort=author"), 400)


def test_openapi_describes_its_members(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    row = spec["components"]["schemas"]["Articles"]["properties"]["author"]
    props: dict[str, Any] = next(s for s in row["anyOf"] if s.get("type") == "object")["properties"]
    assert set(props) == {"username", "bio", "joined", "karma", "verified", "following"}
    assert {"type": "boolean"} in props["following"]["anyOf"]


def test_change_events_leave_it_out_when_it_depends_on_the_reader(engine: sa.Engine) -> None:
    client = _app(engine, ChangeFeed(stream_seconds=0)).test_client()
    client.patch("/api/articles/1", json={"title": "A3"}, headers={"X-User": "2"})
    (event,) = events(client, "/api/articles/changes")
    assert event["data"]["row"] == {"id": 1, "title": "A3", "author_id": 1}


def test_a_relation_of_the_fields_name_is_refused(engine: sa.Engine) -> None:
    table = sa.Table(
        "articles",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.ForeignKey(Person.id)),
    )
    api = Api(Flask("clash"), engine)
    with pytest.raises(ValueError, match="relationship\\(\\) of another name"):
        api.resource(table, computed={"author": sa.literal(1, sa.Integer)})


def test_members_need_typed_sql(client: FlaskClient) -> None:
    with pytest.raises(ValueError, match="at least one member"):
        json_object()
    with pytest.raises(ValueError, match="'x' is not a SQL expression"):
        json_object(x=3)
