"""Token routes in an application's shape (``Auth(token_field=..., paths=...)``): sign-up,
sign-in and the caller's own row answer the user's row with the token in it, in the users'
envelope, at the spec's paths (RealWorld's ``POST /users``, ``POST /users/login``,
``GET``/``PUT /user``); on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Auth, owner, public
from tests.databases import BACKENDS
from tests.helpers import problem


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50), unique=True)
    email: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password: Mapped[str] = mapped_column(sa.String(200))
    bio: Mapped[str | None] = mapped_column(sa.String(200))


pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

#: Cheap hashing: these tests are about shapes, not hashing costs.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
JAKE = {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def _client(
    engine: sa.Engine, methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH")
) -> FlaskClient:
    app = Flask("auth-shapes")
    app.config["TESTING"] = True
    auth = Auth(
        "users",
        login="email",
        scheme="Token",
        secret="s" * 40,
        sessions="memory",
        hasher=FAST,
        token_field="token",
        paths={"token": "/users/login", "me": "/user"},
    )
    api = Api(app, engine, auth=auth)
    api.resource(
        User,
        envelope="user",
        methods=list(methods),
        permissions={"create": public, "read": public, "list": public, "update": owner("id")},
    )
    return app.test_client()


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _client(engine)


def _token(client: FlaskClient) -> str:
    made = client.post("/api/users", json={"user": JAKE})
    assert made.status_code == 201, made.get_data(as_text=True)
    token: str = made.get_json()["user"]["token"]
    return token


def test_sign_up_answers_the_row_with_a_working_token(client: FlaskClient) -> None:
    made = client.post("/api/users", json={"user": JAKE})
    assert made.status_code == 201, made.get_data(as_text=True)
    user = made.get_json()["user"]
    token = user.pop("token")
    assert user == {"id": 1, "username": "jake", "email": "jake@jake.jake", "bio": None}
    assert made.headers["Location"].endswith("/api/users/1")
    assert made.headers["Cache-Control"] == "no-store"
    me = client.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200, me.get_data(as_text=True)
    assert me.get_json() == {"user": {**user, "token": token}}
    assert me.headers["Cache-Control"] == "no-store"


def test_sign_in_takes_enveloped_credentials(client: FlaskClient) -> None:
    _token(client)
    body = {"user": {"email": JAKE["email"], "password": JAKE["password"]}}
    signed_in = client.post("/api/users/login", json=body)
    assert signed_in.status_code == 200, signed_in.get_data(as_text=True)
    user = signed_in.get_json()["user"]
    assert user["username"] == "jake"
    me = client.get("/api/user", headers={"Authorization": f"Token {user['token']}"})
    assert me.get_json()["user"]["token"] == user["token"]
    wrong = {"user": {"email": JAKE["email"], "password": "nope-nope"}}
    problem(client.post("/api/users/login", json=wrong), 401)
    missing = problem(client.post("/api/users/login", json={"user": {"email": "x@y.z"}}), 422)
    assert [e["pointer"] for e in missing["errors"]] == ["/user/password"]
    bare = problem(client.post("/api/users/login", json=body["user"]), 422)
    assert {e["pointer"] for e in bare["errors"]} == {"/email", "/password"}
    assert client.post("/api/auth/token", json=body).status_code in (404, 405)  # moved


def test_the_callers_own_row_is_changed_at_me(client: FlaskClient, engine: sa.Engine) -> None:
    token = _token(client)
    auth = {"Authorization": f"Token {token}"}
    changed = client.put("/api/user", json={"user": {**JAKE, "bio": "I work"}}, headers=auth)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["user"]["bio"] == "I work"
    assert changed.get_json()["user"]["token"] == token
    patched = client.patch("/api/user", json={"user": {"bio": "Again"}}, headers=auth)
    assert patched.get_json()["user"] == {
        "id": 1, "username": "jake", "email": "jake@jake.jake", "bio": "Again", "token": token,
    }  # fmt: skip
    bad = problem(client.patch("/api/user", json={"user": {"bio": 5}}, headers=auth), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/user/bio"]
    problem(client.patch("/api/user", json={"user": {"bio": "x"}}), 401)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(User.bio)) == "Again"


def test_a_signed_in_create_gets_no_token(client: FlaskClient) -> None:
    token = _token(client)
    other = {"username": "ann", "email": "ann@ann.ann", "password": "annannann"}
    made = client.post(
        "/api/users", json={"user": other}, headers={"Authorization": f"Token {token}"}
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert "token" not in made.get_json()["user"]


def test_me_takes_writes_only_where_the_users_resource_does(engine: sa.Engine) -> None:
    client = _client(engine, methods=("GET", "POST"))
    token = _token(client)
    refused = client.patch(
        "/api/user", json={"user": {"bio": "x"}}, headers={"Authorization": f"Token {token}"}
    )
    assert problem(refused, 405)["status"] == 405
    assert refused.headers["Allow"] == "GET"


def test_openapi_has_the_routes_at_their_paths_in_their_shapes(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths: dict[str, Any] = spec["paths"]
    assert "/api/auth/token" not in paths
    sign_in = paths["/api/users/login"]["post"]
    body = sign_in["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["user"]
    assert set(body["example"]) == {"user"}
    answer = sign_in["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["required"] == ["user"]
    assert set(paths["/api/user"]) == {"get", "put", "patch"}
    # Try it out: the sign-up example, then the sign-in example, sign in.
    created = paths["/api/users"]["post"]["requestBody"]["content"]["application/json"]
    assert client.post("/api/users", json=created["example"]).status_code == 201
    assert client.post("/api/users/login", json=body["example"]).status_code == 200
