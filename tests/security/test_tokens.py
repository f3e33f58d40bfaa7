"""Token authentication: signing in, the token routes, and every way a token can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

from tablerest import Auth
from tests.helpers import problem
from tests.security.conftest import SECRET, AppFactory, User, login, tokens


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "tablerest",
        "aud": "tablerest",
        "sub": "2",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "sid": "s1",
        "typ": "access",
        "roles": [],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _invalid_token(resp: Any) -> dict[str, Any]:
    body = problem(resp, 401)
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    assert 'error="invalid_token"' in challenge
    return body


# -- signing in --------------------------------------------------------------------------------


def test_token_route_returns_an_oauth_style_token_pair(client: FlaskClient) -> None:
    resp = client.post("/api/auth/token", json={"username": "bob", "password": "bob-pw"})
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="tablerest")
    assert claims["sub"] == "2"
    assert claims["typ"] == "access"
    assert claims["roles"] == []
    assert claims["exp"] - claims["iat"] == 900
    refresh = jwt.decode(body["refresh_token"], SECRET, algorithms=["HS256"], audience="tablerest")
    assert refresh["typ"] == "refresh"
    assert refresh["sid"] == claims["sid"]


def test_token_carries_roles_from_the_roles_field(client: FlaskClient) -> None:
    body = tokens(client, "ann")
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="tablerest")
    assert claims["roles"] == ["admin"]


def test_sign_in_with_a_form_and_with_the_email_field(client: FlaskClient) -> None:
    form = client.post("/api/auth/token", data={"username": "bob", "password": "bob-pw"})
    assert form.status_code == 200
    by_email = client.post(
        "/api/auth/token", json={"email": "bob@example.org", "password": "bob-pw"}
    )
    assert by_email.status_code == 200
    claims = jwt.decode(
        by_email.get_json()["access_token"], SECRET, algorithms=["HS256"], audience="tablerest"
    )
    assert claims["sub"] == "2"


def test_wrong_password_and_unknown_user_get_the_same_answer(client: FlaskClient) -> None:
    wrong = client.post("/api/auth/token", json={"username": "bob", "password": "nope"})
    unknown = client.post("/api/auth/token", json={"username": "nobody", "password": "nope"})
    assert problem(wrong, 401) == problem(unknown, 401)
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


def test_unknown_user_costs_a_password_verification(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No user enumeration by timing: an unknown user runs the hasher as a wrong password
    does (counted, not timed)."""
    app = make_app()
    verified: list[str] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str) -> bool:
        verified.append(password)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    client = app.test_client()
    client.post("/api/auth/token", json={"username": "nobody", "password": "x1"})
    client.post("/api/auth/token", json={"username": "bob", "password": "x2"})
    assert verified == ["x1", "x2"]


def test_credentials_missing_or_malformed(client: FlaskClient) -> None:
    body = problem(client.post("/api/auth/token", json={}), 422)
    assert {e["pointer"] for e in body["errors"]} == {"/username", "/password"}
    problem(client.post("/api/auth/token", data="{nope", content_type="application/json"), 400)
    problem(client.post("/api/auth/token", json=["bob", "pw"]), 400)
    typed = problem(client.post("/api/auth/token", json={"username": 5, "password": "x"}), 422)
    assert typed["errors"][0]["pointer"] == "/username"
    problem(client.post("/api/auth/token", data="x", content_type="text/plain"), 415)


def test_me_returns_the_callers_row_without_the_password(client: FlaskClient) -> None:
    resp = client.get("/api/auth/me", headers=login(client, "bob"))
    assert resp.status_code == 200
    assert resp.get_json() == {
        "id": 2,
        "username": "bob",
        "email": "bob@example.org",
        "roles": "",
    }


def test_no_token_is_anonymous_and_a_401_where_sign_in_is_needed(client: FlaskClient) -> None:
    resp = client.get("/api/auth/me")
    problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_another_authorization_scheme_is_refused(client: FlaskClient) -> None:
    resp = client.get("/api/comments", headers={"Authorization": "Basic Ym9iOmJvYi1wdw=="})
    problem(resp, 401)
    assert 'error="invalid_request"' in resp.headers["WWW-Authenticate"]


# -- bad tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"exp": -10}, "expired"),
        ({"nbf": 600}, "not valid yet"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"sid": None}, "'sid'"),
        ({"typ": "refresh"}, "not an access token"),
    ],
)
def test_tokens_with_wrong_claims_are_401(
    client: FlaskClient, changes: dict[str, Any], detail: str
) -> None:
    now = int(time.time())
    # Times are offsets from now, taken when the test runs.
    made = {k: now + v if k in ("exp", "nbf") else v for k, v in changes.items()}
    token = jwt.encode(_claims(**made), SECRET, algorithm="HS256")
    body = _invalid_token(client.get("/api/comments", headers=_bearer(token)))
    assert detail in body["detail"]


def test_a_valid_hand_made_token_is_accepted(client: FlaskClient) -> None:
    """The control for the tests around it: the same claims, rightly signed, pass (with the
    account stamp of bob, which only the server can make: taken from a token it issued)."""
    issued = jwt.decode(
        tokens(client, "bob")["access_token"], SECRET, algorithms=["HS256"], audience="tablerest"
    )
    token = jwt.encode(_claims(stp=issued["stp"]), SECRET, algorithm="HS256")
    assert client.get("/api/comments", headers=_bearer(token)).status_code == 200


def test_token_signed_with_another_key_is_401(client: FlaskClient) -> None:
    token = jwt.encode(_claims(), "another-secret-that-is-also-long-enough!!", algorithm="HS256")
    _invalid_token(client.get("/api/comments", headers=_bearer(token)))


def test_alg_none_is_refused(client: FlaskClient) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(sub="1", roles=["admin"])).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        _invalid_token(client.get("/api/posts", headers=_bearer(token)))


def test_tampered_payload_is_refused(client: FlaskClient) -> None:
    token = tokens(client, "bob")["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    _invalid_token(client.get("/api/users", headers=_bearer(forged)))


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "Bearer", "....", "é"])
def test_garbage_tokens_are_401(client: FlaskClient, garbage: str) -> None:
    _invalid_token(client.get("/api/comments", headers=_bearer(garbage)))


def _rsa_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def test_rs256_tokens_and_the_hs256_confusion_attack(make_app: AppFactory) -> None:
    private, public = _rsa_pair()
    app = make_app(auth={"secret": None, "algorithm": "RS256", "private_key": private,
                         "public_key": public})  # fmt: skip
    client = app.test_client()
    body = tokens(client, "bob")
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"
    assert client.get("/api/auth/me", headers=_bearer(body["access_token"])).status_code == 200
    # The attack: sign HS256 with the public key (which anyone has) as the HMAC secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(sub="1", roles=["admin"])).encode())
    mac = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{_b64(mac)}"
    _invalid_token(client.get("/api/users", headers=_bearer(forged)))


def test_es256_tokens(make_app: AppFactory) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = make_app(auth={"secret": None, "algorithm": "ES256", "private_key": private,
                         "public_key": public})  # fmt: skip
    client = app.test_client()
    body = tokens(client, "cy")
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "ES256"
    assert client.get("/api/auth/me", headers=_bearer(body["access_token"])).status_code == 200


def test_short_secrets_and_unknown_algorithms_are_refused_at_set_up() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Auth(secret="short")
    with pytest.raises(ValueError, match="algorithm"):
        Auth(secret=SECRET, algorithm="none")
    with pytest.raises(ValueError, match="public_key"):
        Auth(algorithm="RS256")


# -- refresh, reuse, logout --------------------------------------------------------------------


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(
    client: FlaskClient,
) -> None:
    first = tokens(client, "bob")
    resp = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 200
    second = resp.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/auth/me", headers=_bearer(second["access_token"])).status_code == 200
    # Someone replays the first refresh token: the whole session ends.
    replay = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert "already used" in _invalid_token(replay)["detail"]
    _invalid_token(client.get("/api/auth/me", headers=_bearer(second["access_token"])))
    _invalid_token(
        client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    )
    # Other sessions of the same user are untouched.
    assert client.get("/api/auth/me", headers=login(client, "bob")).status_code == 200


def test_refresh_picks_up_changed_roles(client: FlaskClient, engine: sa.Engine) -> None:
    first = tokens(client, "cy")
    with engine.begin() as conn:
        conn.execute(sa.update(User.__table__).where(User.id == 3).values(roles="admin"))
    resp = client.post("/api/auth/refresh", data={"refresh_token": first["refresh_token"]})
    claims = jwt.decode(
        resp.get_json()["access_token"], SECRET, algorithms=["HS256"], audience="tablerest"
    )
    assert claims["roles"] == ["admin"]


def test_access_and_refresh_tokens_cannot_stand_in_for_each_other(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    _invalid_token(client.get("/api/auth/me", headers=_bearer(pair["refresh_token"])))
    _invalid_token(client.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]}))
    problem(client.post("/api/auth/refresh", json={}), 422)


def test_logout_revokes_access_and_refresh_tokens(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    headers = _bearer(pair["access_token"])
    resp = client.post("/api/auth/logout", headers=headers)
    assert resp.status_code == 204
    _invalid_token(client.get("/api/auth/me", headers=headers))
    _invalid_token(client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}))
    problem(client.post("/api/auth/logout"), 401)


def test_refresh_for_a_deleted_user_is_401(client: FlaskClient, engine: sa.Engine) -> None:
    pair = tokens(client, "cy")
    with engine.begin() as conn:
        conn.execute(sa.delete(User.__table__).where(User.id == 3))
    _invalid_token(client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}))


# -- passwords ---------------------------------------------------------------------------------


def test_password_is_hashed_on_create_and_update_and_never_read(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/users", json={"username": "dee", "email": "dee@example.org", "password": "dee-pw"}
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert "password" not in resp.get_json()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(User.password).where(User.username == "dee")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, "dee-pw")
    headers = login(client, "dee")
    uid = resp.get_json()["id"]
    patched = client.patch(f"/api/users/{uid}", json={"password": "new-pw"}, headers=headers)
    assert patched.status_code == 200
    assert "password" not in patched.get_json()
    tokens(client, "dee", "new-pw")
    problem(client.post("/api/auth/token", json={"username": "dee", "password": "dee-pw"}), 401)
    # Not a filter, not a sort, not a sparse field: it does not exist for clients.
    admin = login(client, "ann")
    for query in ("password=x", "sort=password", "fields=password", "filter[password][like]=$a%"):
        problem(client.get(f"/api/users?{query}", headers=admin), 400)


def test_roles_cannot_be_self_assigned(client: FlaskClient, engine: sa.Engine) -> None:
    body = problem(
        client.post(
            "/api/users",
            json={"username": "eve", "email": "e@example.org", "password": "x", "roles": "admin"},
        ),
        422,
    )
    assert body["errors"] == [{"pointer": "/roles", "detail": "Field is read-only"}]
    with engine.connect() as conn:
        assert conn.execute(sa.select(User.id).where(User.username == "eve")).first() is None


def test_hash_is_upgraded_on_sign_in_when_parameters_change(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    client = make_app(auth={"hasher": stronger}).test_client()
    with engine.connect() as conn:
        before = conn.execute(sa.select(User.password).where(User.id == 2)).scalar_one()
    assert "t=1" in before
    tokens(client, "bob")
    with engine.connect() as conn:
        after = conn.execute(sa.select(User.password).where(User.id == 2)).scalar_one()
    assert "t=2" in after
    assert "m=2048" in after
    assert stronger.verify(after, "bob-pw")
    tokens(client, "bob")  # the new hash verifies
