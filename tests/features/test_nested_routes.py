"""Sub-resources scoped to a parent row (``api.nest``): a comment under its article, by the
article's slug; the parent must be readable, a child not under it is a 404, a create fills in
its foreign key and a body naming another parent is a 422; on SQLite, PostgreSQL and
MariaDB, through Flask and the lean path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, owner, public
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.helpers import caller_by_header, problem


class Base(DeclarativeBase):
    pass


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(50), unique=True)
    hidden: Mapped[bool] = mapped_column(default=False)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(200))
    author_id: Mapped[int | None] = mapped_column()
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id"))


pytestmark = pytest.mark.lean_on_sqlite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        arts = [{"slug": "one", "hidden": False}, {"slug": "two", "hidden": False},
                {"slug": "secret", "hidden": True}]  # fmt: skip
        conn.execute(sa.insert(Article), arts)
        coms = [{"body": "a", "article_id": 1, "author_id": 7},
                {"body": "b", "article_id": 2, "author_id": 7},
                {"body": "c", "article_id": 3, "author_id": 7}]  # fmt: skip
        conn.execute(sa.insert(Comment), coms)
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: sa.Engine, path: str) -> FlaskClient:
    app = Flask("nested")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header)
    articles = api.resource(Article, lookup="slug", hidden=["hidden"])
    mine = owner("author_id")
    comments = api.resource(
        Comment,
        permissions={
            "list": public,
            "read": public,
            "create": mine,
            "update": mine,
            "delete": mine,
        },
    )
    api.nest(comments, under=articles, by="article")
    if path == "lean":
        install(app)
    return app.test_client()


ME = {"X-User": "7"}


def test_list_and_create_under_the_parent(client: FlaskClient, engine: sa.Engine) -> None:
    listed = client.get("/api/articles/one/comments").get_json()["data"]
    assert [c["body"] for c in listed] == ["a"]
    made = client.post("/api/articles/two/comments", json={"body": "new"}, headers=ME)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["article_id"] == 2
    assert made.get_json()["author_id"] == 7  # the owner rule filled it in
    same = client.post(
        "/api/articles/two/comments", json={"body": "x", "article_id": 2}, headers=ME
    )
    assert same.status_code == 201, same.get_data(as_text=True)
    other = problem(
        client.post("/api/articles/two/comments", json={"body": "x", "article_id": 1}, headers=ME),
        422,
    )
    assert other["errors"][0]["pointer"] == "/article_id"
    problem(client.post("/api/articles/nope/comments", json={"body": "x"}, headers=ME), 404)
    with engine.connect() as conn:
        bodies = conn.execute(
            sa.select(Comment.body).where(Comment.article_id == 2).order_by(Comment.id)
        ).scalars()
        assert list(bodies) == ["b", "new", "x"]


def test_one_row_only_under_its_parent(client: FlaskClient, engine: sa.Engine) -> None:
    assert client.get("/api/articles/one/comments/1").get_json()["body"] == "a"
    problem(client.get("/api/articles/two/comments/1"), 404)  # comment 1 is under "one"
    changed = client.patch("/api/articles/one/comments/1", json={"body": "A"}, headers=ME)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    moved = client.patch("/api/articles/one/comments/1", json={"article_id": 2}, headers=ME)
    assert problem(moved, 422)["errors"][0]["pointer"] == "/article_id"
    problem(client.delete("/api/articles/two/comments/1", headers=ME), 404)
    problem(client.delete("/api/articles/one/comments/1", headers={"X-User": "8"}), 403)
    assert client.delete("/api/articles/one/comments/1", headers=ME).status_code == 204
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Comment)) == 2


def test_declarations_that_cannot_work_are_refused(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    articles = api.resource(Article)
    comments = api.resource(Comment)
    with pytest.raises(ValueError, match="no to-one relation"):
        api.nest(comments, under=articles, by="nope")
    with pytest.raises(ValueError, match="no to-one relation"):
        api.nest(articles, under=comments, by="comments")


def test_openapi_lists_the_nested_operations(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    listed = spec["paths"]["/api/articles/{slug}/comments"]
    assert set(listed) == {"parameters", "get", "post"}
    one = spec["paths"]["/api/articles/{slug}/comments/{comments_id}"]
    assert set(one) == {"parameters", "get", "put", "patch", "delete"}
    assert [p["name"] for p in one["parameters"]] == ["slug", "comments_id"]
    ids = [op["operationId"] for item in spec["paths"].values() for k, op in item.items()
           if k != "parameters"]  # fmt: skip
    assert len(ids) == len(set(ids))
