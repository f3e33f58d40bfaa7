"""A small multi-user schema (users, posts, comments) behind Api(auth=...) and permissions.

``login(client, "ann")`` signs in and returns the ``Authorization`` header to send. Password
hashing uses cheap argon2 parameters: the tests are about what is checked, not about cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Auth, authenticated, owner, public, role
from tests.databases import fresh_database

SECRET = "test-secret-that-is-long-enough-for-hs256!"
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50), unique=True)
    email: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password: Mapped[str] = mapped_column(sa.String(200))
    roles: Mapped[str] = mapped_column(sa.String(100), default="")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(100))


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(sa.String(200))


#: Who may do what: a private notebook (posts) with public comments.
PERMISSIONS: dict[str, Any] = {
    "users": {
        "list": role("admin"),
        "read": owner("id") | role("admin"),
        "create": public,
        "update": owner("id") | role("admin"),
        "delete": role("admin"),
    },
    "posts": owner("owner_id") | role("admin"),
    "comments": {
        "list": public,
        "read": public,
        "create": owner("author_id"),
        "update": owner("author_id"),
        "delete": owner("author_id") | role("admin"),
    },
}

#: username -> (id, roles); each has password "<username>-pw".
PEOPLE = {"ann": (1, "admin"), "bob": (2, ""), "cy": (3, "")}


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_database(backend, tmp_path) as url:
        eng = sa.create_engine(url, poolclass=sa.NullPool)
        Base.metadata.create_all(eng)
        with eng.begin() as conn:
            for name, (_uid, roles) in PEOPLE.items():
                conn.execute(
                    sa.insert(User.__table__).values(
                        username=name,
                        email=f"{name}@example.org",
                        password=FAST.hash(f"{name}-pw"),
                        roles=roles,
                    )
                )
            # Keys come from the database (1, 2, 3 in this order), so that its sequences
            # agree. ann: post 1; bob: posts 2 and 3; cy: none. Comments: bob on 1, cy on 2.
            conn.execute(
                sa.insert(Post.__table__),
                [
                    {"owner_id": 1, "title": "ann's plans"},
                    {"owner_id": 2, "title": "bob's diary"},
                    {"owner_id": 2, "title": "bob's secret"},
                ],
            )
            conn.execute(
                sa.insert(Comment.__table__),
                [
                    {"post_id": 1, "author_id": 2, "text": "nice plans"},
                    {"post_id": 2, "author_id": 3, "text": "dear diary"},
                ],
            )
        yield eng
        eng.dispose()


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(engine: sa.Engine) -> AppFactory:
    """``make_app(auth={...}, permissions={...}, api={...}, users_options={...})``: the
    schema behind tablerest."""

    def build(
        auth: dict[str, Any] | None = None,
        permissions: dict[str, Any] | None = None,
        api: dict[str, Any] | None = None,
        users_options: dict[str, Any] | None = None,
    ) -> Flask:
        app = Flask("security-tests")
        app.config["TESTING"] = True
        # The people's passwords ("bob-pw") predate the password policy; tests about the
        # policy set min_password_length themselves.
        options = {
            "secret": SECRET,
            "roles": "roles",
            "hasher": FAST,
            "min_password_length": 1,
            **(auth or {}),
        }
        tr = Api(app, engine, auth=Auth("users", **options), **(api or {}))
        rules = {**PERMISSIONS, **(permissions or {})}
        users = {"read_only": ["roles"], **(users_options or {})}
        if "read_only_unless" in users:
            users.pop("read_only")
        tr.resource(User, permissions=rules["users"], **users)
        tr.resource(Post, permissions=rules["posts"])
        tr.resource(Comment, permissions=rules["comments"])
        return app

    return build


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def tokens(client: FlaskClient, username: str, password: str | None = None) -> dict[str, Any]:
    resp = client.post(
        "/api/auth/token", json={"username": username, "password": password or f"{username}-pw"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body: dict[str, Any] = resp.get_json()
    return body


def login(client: FlaskClient, username: str) -> dict[str, str]:
    """The headers of a request signed in as ``username``."""
    return {"Authorization": f"Bearer {tokens(client, username)['access_token']}"}


__all__ = ["PEOPLE", "SECRET", "authenticated", "login", "tokens"]
