"""The application's own routes beside the generated ones: ``Api.identity``, ``Api.sign_in``,
``Api.open_session`` and ``Resource.validate`` give them the same caller, tokens and checks."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask.testing import FlaskClient

from tablerest import Api, ValidationFailed
from tests.security.conftest import AppFactory, login


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app()
    api: Api = app.extensions["tablerest"]["/api"].api

    @app.get("/whoami")
    def whoami() -> Any:
        identity = api.identity()
        return jsonify(None if identity is None else [identity.id, sorted(identity.roles)])

    @app.get("/private")
    def private() -> Any:
        return jsonify(api.identity(required=True).id)  # type: ignore[union-attr]

    @app.post("/signin")
    def signin() -> Any:
        body = request.get_json()
        return jsonify(api.sign_in(body["login"], body["password"]))

    @app.post("/session/<int:key>")
    def session(key: int) -> Any:
        return jsonify(api.open_session(key))

    @app.post("/check")
    def check() -> Any:
        users = api.resources["users"]
        return jsonify(
            sorted(users.validate(request.get_json(), partial="partial" in request.args))
        )

    return app


def test_identity_is_the_caller_of_the_request(client: FlaskClient) -> None:
    assert client.get("/whoami").get_json() is None
    assert client.get("/whoami", headers=login(client, "ann")).get_json() == ["1", ["admin"]]
    assert client.get("/whoami", headers=login(client, "bob")).get_json() == ["2", []]


def test_identity_refuses_a_bad_token_even_when_optional(client: FlaskClient) -> None:
    resp = client.get("/whoami", headers={"Authorization": "Bearer not-a-token"})

    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_identity_required_is_401_for_anonymous_callers(client: FlaskClient) -> None:
    resp = client.get("/private")

    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert client.get("/private", headers=login(client, "cy")).get_json() == "3"


def test_sign_in_gives_tokens_the_generated_routes_accept(client: FlaskClient) -> None:
    pair = client.post("/signin", json={"login": "bob@example.org", "password": "bob-pw"})

    assert pair.status_code == 200
    body = pair.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/auth/me", headers=headers).get_json()["username"] == "bob"
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize(("login_name", "password"), [("bob", "wrong"), ("nobody", "bob-pw")])
def test_sign_in_refuses_wrong_credentials_alike(
    client: FlaskClient, login_name: str, password: str
) -> None:
    resp = client.post("/signin", json={"login": login_name, "password": password})

    assert resp.status_code == 401
    assert resp.get_json()["detail"] == "Wrong username or password"


def test_open_session_for_a_user_without_their_password(client: FlaskClient) -> None:
    pair = client.post("/session/3").get_json()

    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/api/auth/me", headers=headers).get_json()["username"] == "cy"
    assert client.post("/session/99").status_code == 404


def test_validate_applies_the_resource_rules(client: FlaskClient) -> None:
    ok = client.post("/check", json={"username": "dee", "email": "d@x.org", "password": "pw"})
    missing = client.post("/check", json={"username": "dee"})
    partial = client.post("/check?partial", json={"username": "dee"})
    read_only = client.post("/check?partial", json={"roles": "admin"})
    unknown = client.post("/check?partial", json={"is_admin": True})
    wrong_type = client.post("/check?partial", json={"username": 5})

    assert ok.get_json() == ["email", "password", "username"]
    assert missing.status_code == 422
    assert {e["pointer"] for e in missing.get_json()["errors"]} == {"/email", "/password"}
    assert partial.get_json() == ["username"]
    assert read_only.get_json()["errors"] == [{"pointer": "/roles", "detail": "Field is read-only"}]
    assert unknown.get_json()["errors"] == [{"pointer": "/is_admin", "detail": "Unknown field"}]
    assert wrong_type.get_json()["errors"][0]["pointer"] == "/username"


def test_validate_hashes_the_password_like_the_generated_routes(make_app: AppFactory) -> None:
    app = make_app()
    users = app.extensions["tablerest"]["/api"].api.resources["users"]

    values = users.validate({"password": "plain-text"}, partial=True)

    assert values["password"].startswith("$argon2id$")
    with pytest.raises(ValidationFailed):
        users.validate(["not", "an", "object"])


def test_api_without_auth_cannot_sign_in() -> None:
    app = Flask("no-auth")
    api = Api(app, sa.create_engine("sqlite://"))
    with app.test_request_context(), pytest.raises(RuntimeError, match="no auth"):
        api.sign_in("ann", "pw")
    other = Flask("other")
    with other.test_request_context(), pytest.raises(RuntimeError, match="not mounted"):
        api.identity()
