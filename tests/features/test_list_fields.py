"""``list_fields=``: what a list shows when the client names no fields (a list may leave out
a long text that its rows show), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask, Request
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Identity, role
from tests.databases import BACKENDS
from tests.helpers import problem


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    body_text: Mapped[str] = mapped_column(sa.Text)
    secret_note: Mapped[str | None] = mapped_column(sa.String(100))


pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def client(db_url: str) -> Iterator[FlaskClient]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Post), [{"title": "a", "body_text": "long", "secret_note": "s"}])

    def who(request: Request) -> Identity | None:
        return Identity("1", frozenset({"admin"})) if request.headers.get("X-Admin") else None

    app = Flask("list-fields")
    api = Api(app, eng, identify=who)
    api.resource(
        Post,
        list_fields=["id", "title", "secret_note"],
        hidden_unless={"secret_note": role("admin")},
    )
    yield app.test_client()
    eng.dispose()


def test_lists_show_their_fields_and_rows_show_all(client: FlaskClient) -> None:
    assert client.get("/api/posts").get_json()["data"] == [{"id": 1, "title": "a"}]
    admin = client.get("/api/posts", headers={"X-Admin": "1"}).get_json()["data"]
    assert admin == [{"id": 1, "title": "a", "secret_note": "s"}]
    assert client.get("/api/posts/1").get_json() == {"id": 1, "title": "a", "body_text": "long"}
    asked = client.get("/api/posts?fields=body_text").get_json()["data"]
    assert asked == [{"body_text": "long"}]
    csv_head = client.get("/api/posts?format=csv").get_data(as_text=True).splitlines()[0]
    assert csv_head == "id,title"
    groups = client.get("/api/posts?group_by=title&aggregate=count()").get_json()["data"]
    assert groups == [{"title": "a", "count": 1}]


def test_list_fields_must_be_readable_fields(client: FlaskClient) -> None:
    app = Flask("bad")
    api = Api(app, sa.create_engine("sqlite://"))
    with pytest.raises(ValueError, match="list_fields"):
        api.resource(Post, list_fields=["nope"])
    with pytest.raises(ValueError, match="list_fields"):
        api.resource(Post, list_fields=[])
    problem(client.get("/api/posts?fields=nope"), 400)
