"""Accounts, tokens and sessions (issue 17 items 3, 10, 13, 14, 20, the hashing half of 4, and
the derived keys): each test is an attack that works when its protection is taken away.

OWASP API Top 10 (2023): API2 Broken Authentication (tokens that outlive or change account,
sign-outs lost on restart, lock-out by a colliding login, weak passwords, keys shared between
purposes); API4 Unrestricted Resource Consumption (the cost of hashing).

Fixture people: ann (1, admin), bob (2), cy (3); passwords "<name>-pw".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Auth
from tablerest.auth.sessions import DatabaseStore, MemoryStore, RedisStore
from tablerest.keys import derive
from tablerest.server import create_app
from tests.databases import BACKENDS, REDIS_URL, reachable_redis
from tests.helpers import problem
from tests.security.conftest import FAST, SECRET, AppFactory, User, login, tokens

ALL_BACKENDS = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(resp: Any) -> dict[str, Any]:
    body = problem(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    return body


def _refresh(client: FlaskClient, pair: dict[str, Any]) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})


def _claims(token: str, key: str | bytes = SECRET) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, key, algorithms=["HS256"], audience="tablerest")
    return decoded


def _me(client: FlaskClient, pair: dict[str, Any]) -> Any:
    return client.get("/api/auth/me", headers=_bearer(pair["access_token"]))


# -- item 3: tokens outlive the account (API2) ------------------------------------------------


DEE = {"username": "dee", "email": "dee@example.org", "password": "dee-password"}


def _sign_up_dee(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    """A new user (no posts or comments that would hold on to the row), and their tokens."""
    made = client.post("/api/users", json=DEE)
    assert made.status_code == 201, made.get_data(as_text=True)
    return made.get_json()["id"], tokens(client, "dee", DEE["password"])


def test_deleting_a_user_ends_their_access_and_refresh_tokens(client: FlaskClient) -> None:
    key, dee = _sign_up_dee(client)
    assert _me(client, dee).status_code == 200

    deleted = client.delete(f"/api/users/{key}", headers=login(client, "ann"))

    assert deleted.status_code == 204
    assert "no longer exists" in _refused(_me(client, dee))["detail"]
    _refused(client.get("/api/comments", headers=_bearer(dee["access_token"])))
    _refused(_refresh(client, dee))


def _replace_by_hand(engine: sa.Engine, key: int, roles: str) -> None:
    """Delete user ``key`` and insert mallory under the same id, by SQL outside the API (a
    DBA, a script, another application), as SQLite does by itself when the largest id is
    freed."""
    with engine.begin() as conn:
        conn.execute(sa.delete(User.__table__).where(User.id == key))
        conn.execute(
            sa.insert(User.__table__).values(
                id=key,
                username="mallory",
                email="mallory@example.org",
                password=FAST.hash("mallory-pw"),
                roles=roles,
            )
        )


@ALL_BACKENDS
def test_a_user_replaced_under_the_same_id_by_raw_sql_refuses_the_old_tokens(
    client: FlaskClient, engine: sa.Engine
) -> None:
    key, dee = _sign_up_dee(client)

    _replace_by_hand(engine, key, roles="admin")

    # Before the fix the old access token read mallory's row, and a refresh issued a token
    # with mallory's admin role.
    assert "changed" in _refused(_me(client, dee))["detail"]
    _refused(client.get(f"/api/users/{key}", headers=_bearer(dee["access_token"])))
    _refused(_refresh(client, dee))
    # The refresh attempt ended that session for good.
    _refused(_refresh(client, dee))
    # Mallory signs in as herself.
    assert _me(client, tokens(client, "mallory")).get_json()["username"] == "mallory"


def test_sqlite_reuses_a_deleted_users_id_for_the_next_sign_up_without_inheriting_tokens(
    client: FlaskClient, engine: sa.Engine
) -> None:
    key, dee = _sign_up_dee(client)
    with engine.begin() as conn:  # outside the API, as a script would
        conn.execute(sa.delete(User.__table__).where(User.id == key))

    signup = client.post(
        "/api/users",
        json={"username": "eve", "email": "eve@example.org", "password": "eve-password"},
    )

    assert signup.get_json()["id"] == key  # SQLite handed out dee's id again
    _refused(_me(client, dee))
    _refused(client.get(f"/api/users/{key}", headers=_bearer(dee["access_token"])))
    _refused(_refresh(client, dee))


def test_a_token_without_the_account_stamp_is_refused(client: FlaskClient) -> None:
    claims = _claims(tokens(client, "bob")["access_token"])
    del claims["stp"]

    _refused(client.get("/api/comments", headers=_bearer(jwt.encode(claims, SECRET))))
    claims["stp"] = "A" * 22
    _refused(client.get("/api/comments", headers=_bearer(jwt.encode(claims, SECRET))))


def test_checking_a_token_costs_one_statement(app: Flask, engine: sa.Engine) -> None:
    """The account stamp and the session's sign-out are read together: one round trip of two
    primary-key lookups per request with a token."""
    client = app.test_client()
    headers = login(client, "bob")
    client.get("/api/comments/1", headers=headers)  # the first use makes the table
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/api/comments/1", headers=headers).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    checks = [s for s in seen if "tablerest_sessions" in s or "FROM users" in s]
    assert len(checks) == 1, seen
    assert "tablerest_sessions" in checks[0]
    assert "users" in checks[0]


# -- item 13: sign-outs survive a restart (API2) ----------------------------------------------


@ALL_BACKENDS
def test_a_sign_out_survives_a_restart_and_refresh_works_after_one(
    make_app: AppFactory,
) -> None:
    before, after = make_app().test_client(), make_app().test_client()  # one "restart"
    kept, ended = tokens(before, "bob"), tokens(before, "bob")

    assert before.post("/api/auth/logout", headers=_bearer(ended["access_token"])).status_code
    refreshed = _refresh(after, kept)

    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    assert _me(after, refreshed.get_json()).status_code == 200
    _refused(_me(after, ended))
    _refused(_refresh(after, ended))


@ALL_BACKENDS
def test_a_reused_refresh_token_is_caught_by_another_instance(make_app: AppFactory) -> None:
    one, two = make_app().test_client(), make_app().test_client()
    first = tokens(one, "bob")
    second = _refresh(one, first).get_json()

    assert "already used" in _refused(_refresh(two, first))["detail"]
    _refused(_me(one, second))
    _refused(_refresh(two, second))


def test_sessions_go_to_the_database_unless_redis_or_memory_is_named(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLEREST_REDIS_URL", raising=False)
    assert isinstance(Auth(hasher=FAST).issuer.store, DatabaseStore)
    assert isinstance(Auth(hasher=FAST, sessions="memory").issuer.store, MemoryStore)
    # In memory, what one process knows the next does not: named only on purpose.
    one = make_app(auth={"sessions": "memory"}).test_client()
    two = make_app(auth={"sessions": "memory"}).test_client()
    _refused(_refresh(two, tokens(one, "bob")))
    with pytest.raises(ValueError, match="redis_url"):
        Auth(hasher=FAST, sessions="redis")
    with pytest.raises(ValueError, match="'database', 'redis' or 'memory'"):
        Auth(hasher=FAST, sessions="disk")  # type: ignore[arg-type]


def test_sessions_go_to_redis_when_it_is_configured(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reachable_redis().close()
    monkeypatch.setenv("TABLEREST_REDIS_URL", REDIS_URL)
    assert isinstance(Auth(hasher=FAST).issuer.store, RedisStore)
    one, two = make_app().test_client(), make_app().test_client()
    pair = tokens(one, "bob")
    assert one.post("/api/auth/logout", headers=_bearer(pair["access_token"])).status_code == 204
    _refused(_me(two, pair))


def test_the_sessions_table_is_not_served(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app().test_client()
    tokens(client, "bob")  # creates tablerest_sessions
    assert "tablerest_sessions" in sa.inspect(engine).get_table_names()
    url = engine.url.database
    assert url is not None

    served = create_app(url).test_client()

    names = [r["name"] for r in served.get("/api").get_json()["resources"]]
    assert "users" in names
    assert "tablerest_sessions" not in names
    problem(served.get("/api/tablerest_sessions"), 404)


# -- item 14: a password change ends the other sessions (API2) --------------------------------


def _change_bobs_password(client: FlaskClient, how: str, headers: dict[str, str]) -> Any:
    new = {"password": "bob-new-password"}
    if how == "patch":
        return client.patch("/api/users/2", json=new, headers=headers)
    if how == "put":
        body = {"username": "bob", "email": "bob@example.org", **new}
        return client.put("/api/users/2", json=body, headers=headers)
    if how == "bulk":
        return client.patch("/api/users", json=[{"id": 2, **new}], headers=headers)
    if how == "batch":
        operation = {"op": "update", "resource": "users", "key": 2, "data": new}
        return client.post("/api/batch", json={"operations": [operation]}, headers=headers)
    if how == "jsonapi":
        doc = {"data": {"type": "users", "id": "2", "attributes": new}}
        return client.patch(
            "/api/users/2",
            data=json.dumps(doc),
            headers={**headers, "Content-Type": "application/vnd.api+json"},
        )
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["patch", "put", "bulk", "batch", "jsonapi"])
def test_a_password_change_ends_every_other_session_of_the_user(
    client: FlaskClient, how: str
) -> None:
    phone, laptop = tokens(client, "bob"), tokens(client, "bob")

    changed = _change_bobs_password(client, how, _bearer(laptop["access_token"]))

    assert changed.status_code == 200, changed.get_data(as_text=True)
    _refused(_me(client, phone))
    _refused(_refresh(client, phone))
    # The session the change was made in carries on, its refresh token too.
    assert _me(client, laptop).status_code == 200
    renewed = _refresh(client, laptop)
    assert renewed.status_code == 200
    assert _me(client, renewed.get_json()).status_code == 200
    tokens(client, "bob", "bob-new-password")


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_password_change_renews_the_callers_session_in_every_store(
    make_app: AppFactory, store: str
) -> None:
    """Stores outside the database are told after the commit."""
    options: dict[str, Any] = {"sessions": store}
    if store == "redis":
        reachable_redis().close()
        options["redis_url"] = REDIS_URL
    client = make_app(auth=options).test_client()
    phone, laptop = tokens(client, "bob"), tokens(client, "bob")

    changed = _change_bobs_password(client, "patch", _bearer(laptop["access_token"]))

    assert changed.status_code == 200
    _refused(_me(client, phone))
    assert _me(client, laptop).status_code == 200
    assert _refresh(client, laptop).status_code == 200


def test_an_admin_changing_a_password_ends_all_of_that_users_sessions(
    client: FlaskClient,
) -> None:
    bob, ann = tokens(client, "bob"), tokens(client, "ann")

    changed = _change_bobs_password(client, "patch", _bearer(ann["access_token"]))

    assert changed.status_code == 200
    _refused(_me(client, bob))
    _refused(_refresh(client, bob))
    assert _me(client, ann).status_code == 200


@ALL_BACKENDS
def test_a_password_changed_outside_the_api_ends_every_session(
    client: FlaskClient, engine: sa.Engine
) -> None:
    bob = tokens(client, "bob")
    with engine.begin() as conn:
        new = FAST.hash("bob-new-password")
        conn.execute(sa.update(User.__table__).where(User.id == 2).values(password=new))

    _refused(_me(client, bob))
    _refused(_refresh(client, bob))
    assert _me(client, tokens(client, "bob", "bob-new-password")).status_code == 200


def test_a_failed_password_change_ends_no_session(client: FlaskClient, engine: sa.Engine) -> None:
    phone, laptop = tokens(client, "bob"), tokens(client, "bob")
    with engine.connect() as conn:
        before = conn.execute(sa.select(User.password).where(User.id == 2)).scalar_one()
    # The batch's second operation fails: the password change rolls back with it.
    operations = [
        {"op": "update", "resource": "users", "key": 2, "data": {"password": "bob-new-pw"}},
        {"op": "update", "resource": "users", "key": 2, "data": {"email": 5}},
    ]

    failed = client.post(
        "/api/batch", json={"operations": operations}, headers=_bearer(laptop["access_token"])
    )

    problem(failed, 422)
    with engine.connect() as conn:
        after = conn.execute(sa.select(User.password).where(User.id == 2)).scalar_one()
    assert after == before
    assert _me(client, phone).status_code == 200
    assert _refresh(client, phone).status_code == 200
    tokens(client, "bob")


def test_a_users_other_fields_change_without_ending_sessions(client: FlaskClient) -> None:
    bob = tokens(client, "bob")
    changed = client.patch(
        "/api/users/2", json={"email": "bob@new.example.org"}, headers=_bearer(bob["access_token"])
    )
    assert changed.status_code == 200
    assert _me(client, bob).status_code == 200
    assert _refresh(client, bob).status_code == 200


# -- item 10: a login value taken in another login column locks nobody out (API2) ------------


def test_a_username_equal_to_a_victims_email_does_not_lock_the_victim_out(
    client: FlaskClient,
) -> None:
    squatter = {"username": "bob@example.org", "email": "m@example.org", "password": "m-password"}
    assert client.post("/api/users", json=squatter).status_code == 201

    by_email = tokens_for(client, {"email": "bob@example.org", "password": "bob-pw"})
    by_username = tokens_for(client, {"username": "bob@example.org", "password": "bob-pw"})

    assert _claims(by_email["access_token"])["sub"] == "2"
    assert _claims(by_username["access_token"])["sub"] == "2"
    # The squatter gets their own account only, never bob's.
    theirs = tokens_for(client, {"username": "bob@example.org", "password": "m-password"})
    assert _claims(theirs["access_token"])["sub"] != "2"
    named = {"email": "bob@example.org", "password": "m-password"}
    problem(client.post("/api/auth/token", json=named), 401)


def test_a_username_taken_before_the_victim_signs_up_with_that_email(
    client: FlaskClient,
) -> None:
    squatter = {"username": "dee@example.org", "email": "m@example.org", "password": "m-password"}
    assert client.post("/api/users", json=squatter).status_code == 201

    victim = {"username": "dee", "email": "dee@example.org", "password": "dee-password"}
    made = client.post("/api/users", json=victim)

    assert made.status_code == 201  # nobody can squat an email by taking it as a username
    dee = made.get_json()["id"]
    for body in (
        {"email": "dee@example.org", "password": "dee-password"},
        {"username": "dee@example.org", "password": "dee-password"},
        {"username": "dee", "password": "dee-password"},
    ):
        assert _claims(tokens_for(client, body)["access_token"])["sub"] == str(dee), body


@ALL_BACKENDS
def test_login_values_follow_the_databases_collation(client: FlaskClient, backend: str) -> None:
    """MariaDB compares text without case by default: the row it finds is the one meant."""
    for body in (
        {"email": "BOB@example.org", "password": "bob-pw"},
        {"username": "BOB@example.org", "password": "bob-pw"},
    ):
        resp = client.post("/api/auth/token", json=body)
        if backend == "mariadb":
            assert _claims(resp.get_json()["access_token"])["sub"] == "2"
        else:
            problem(resp, 401)


def tokens_for(client: FlaskClient, body: dict[str, str]) -> dict[str, Any]:
    resp = client.post("/api/auth/token", json=body)
    assert resp.status_code == 200, (body, resp.get_data(as_text=True))
    found: dict[str, Any] = resp.get_json()
    return found


# -- item 20: a password policy, checked before hashing (API2, API4) ---------------------------


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lengths of the passwords the hasher hashed or verified."""
    lengths: list[int] = []
    hash_, verify = PasswordHasher.hash, PasswordHasher.verify

    def hashing(self: PasswordHasher, password: str | bytes, **kw: Any) -> str:
        lengths.append(len(password))
        return hash_(self, password, **kw)

    def verifying(self: PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
        lengths.append(len(password))
        return verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "hash", hashing)
    monkeypatch.setattr(PasswordHasher, "verify", verifying)
    return lengths


def test_passwords_shorter_than_the_minimum_are_422(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    client = make_app(auth={"min_password_length": 8}).test_client()
    bob = login(client, "bob")
    for password in ("", "a", "1234567"):
        made = client.post(
            "/api/users", json={"username": "dee", "email": "d@x.org", "password": password}
        )
        body = problem(made, 422)
        assert body["errors"] == [
            {"pointer": "/password", "detail": "Password must have at least 8 characters"}
        ]
        problem(client.patch("/api/users/2", json={"password": password}, headers=bob), 422)
    with engine.connect() as conn:
        assert conn.execute(sa.select(User.id).where(User.username == "dee")).first() is None
        stored = conn.execute(sa.select(User.password).where(User.id == 2)).scalar_one()
    assert FAST.verify(stored, "bob-pw")
    made = client.post(
        "/api/users", json={"username": "dee", "email": "d@x.org", "password": "12345678"}
    )
    assert made.status_code == 201


def test_the_policy_applies_in_batches_and_bulk_updates(make_app: AppFactory) -> None:
    client = make_app(auth={"min_password_length": 8}).test_client()
    bob = login(client, "bob")
    operation = {"op": "update", "resource": "users", "key": 2, "data": {"password": "x"}}

    batch = problem(client.post("/api/batch", json={"operations": [operation]}, headers=bob), 422)
    bulk = problem(client.patch("/api/users", json=[{"id": 2, "password": "x"}], headers=bob), 422)

    assert batch["errors"][0]["pointer"] == "/operations/0/data/password"
    assert bulk["errors"][0]["pointer"] == "/0/password"
    tokens(client, "bob")


def test_a_huge_password_is_refused_before_any_hashing(
    make_app: AppFactory, counted: list[int]
) -> None:
    client = make_app(auth={"min_password_length": 8, "max_password_bytes": 100}).test_client()
    huge = "x" * 1_000_000
    counted.clear()

    made = client.post("/api/users", json={"username": "dee", "email": "d@x.org", "password": huge})
    signin = client.post("/api/auth/token", json={"username": "bob", "password": huge})
    multibyte = client.post(
        "/api/users", json={"username": "eve", "email": "e@x.org", "password": "é" * 51}
    )

    assert problem(made, 422)["errors"][0]["pointer"] == "/password"
    assert problem(signin, 422)["errors"][0]["pointer"] == "/password"
    assert "100 bytes" in problem(multibyte, 422)["errors"][0]["detail"]
    assert counted == []  # nothing was hashed, nothing verified


def test_the_default_policy_and_its_options() -> None:
    default = Auth(hasher=FAST).passwords
    assert (default.min_length, default.max_bytes) == (8, 1024)
    tuned = Auth(hasher=FAST, min_password_length=12, max_password_bytes=64).passwords
    assert (tuned.min_length, tuned.max_bytes) == (12, 64)
    with pytest.raises(ValueError, match="password policy"):
        Auth(hasher=FAST, min_password_length=10, max_password_bytes=5)


def test_an_old_short_password_still_signs_in(make_app: AppFactory) -> None:
    """The policy is for new passwords: "bob-pw" was set before it, and works (even when its
    hash is upgraded on sign-in)."""
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    client = make_app(auth={"min_password_length": 8, "hasher": stronger}).test_client()
    pair = tokens(client, "bob")
    assert _me(client, pair).status_code == 200
    tokens(client, "bob")


# -- item 4 (hashing half): bounded concurrent hashing (API4) ---------------------------------


class SlowHasher(PasswordHasher):
    """A hasher that takes ``delay`` seconds per call and records how many ran at once."""

    def __init__(self, delay: float) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.delay = delay
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def _slow(self) -> Iterator[None]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        yield

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        for _ in self._slow():
            pass
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        for _ in self._slow():
            pass
        return super().verify(hash, password)


def _sign_in_at_once(app: Flask, n: int) -> list[Any]:
    answers: list[Any] = [None] * n
    start = threading.Barrier(n)

    def one(i: int) -> None:
        client = app.test_client()
        start.wait()
        answers[i] = client.post("/api/auth/token", json={"username": "bob", "password": "bob-pw"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_concurrent_sign_ins_hash_at_most_n_at_once(make_app: AppFactory) -> None:
    slow = SlowHasher(0.2)
    app = make_app(auth={"hasher": slow, "max_concurrent_hashes": 2, "hash_wait": 30})
    slow.most = 0

    answers = _sign_in_at_once(app, 6)

    assert [a.status_code for a in answers] == [200] * 6
    assert slow.most == 2


def test_sign_ins_over_the_wait_get_429_with_retry_after_never_503(
    make_app: AppFactory,
) -> None:
    slow = SlowHasher(0.5)
    app = make_app(auth={"hasher": slow, "max_concurrent_hashes": 1, "hash_wait": 0.05})
    slow.most = 0

    answers = _sign_in_at_once(app, 4)

    codes = sorted(a.status_code for a in answers)
    assert slow.most == 1
    assert codes[0] == 200
    assert set(codes) == {200, 429}, codes
    busy = next(a for a in answers if a.status_code == 429)
    assert busy.headers["Retry-After"] == "1"
    assert problem(busy, 429)["detail"].startswith("Too many passwords")


# -- also: one key per purpose, derived from the app's secret (API2) ---------------------------

APP_SECRET = "the-app-secret-key-that-is-long-enough-for-all!"


def _keyed_app(make_app: AppFactory) -> FlaskClient:
    """Auth without a secret of its own: tokens are signed with one derived from the app's."""
    return make_app(auth={"secret": None}, api={"secret_key": APP_SECRET}).test_client()


def test_tokens_are_signed_with_a_key_derived_for_them(make_app: AppFactory) -> None:
    client = _keyed_app(make_app)
    token = tokens(client, "bob")["access_token"]
    claims = _claims(token, derive(APP_SECRET.encode(), "token"))

    # The same claims under the app's secret itself, or under the cursors' key: refused.
    for key in (APP_SECRET.encode(), derive(APP_SECRET.encode(), "cursor")):
        forged = jwt.encode({**claims, "roles": ["admin"]}, key, algorithm="HS256")
        _refused(client.get("/api/comments", headers=_bearer(forged)))
    # The control: the token key itself signs a token that passes.
    good = jwt.encode(claims, derive(APP_SECRET.encode(), "token"), algorithm="HS256")
    assert client.get("/api/comments", headers=_bearer(good)).status_code == 200


def _remac(cursor: str, key: bytes) -> str:
    body, _, _mac = cursor.partition(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:12]
    return body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_page_cursors_use_a_key_of_their_own(make_app: AppFactory) -> None:
    client = _keyed_app(make_app)
    first = client.get("/api/comments?page[size]=1&page[after]=").get_json()
    query = parse_qs(urlsplit(first["links"]["next"]).query)
    cursor = query["page[after]"][0]
    secret = APP_SECRET.encode()

    control = _remac(cursor, derive(secret, "cursor"))
    assert control == cursor
    for key in (secret, derive(secret, "token")):
        problem(client.get("/api/comments", query_string={"page[after]": _remac(cursor, key)}), 400)
    assert client.get("/api/comments", query_string={"page[after]": cursor}).status_code == 200


def test_a_short_app_secret_is_still_refused(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make_app(auth={"secret": None}, api={"secret_key": "short"})


def test_autogenerated_migrations_leave_the_sessions_table_alone(
    make_app: AppFactory, engine: sa.Engine, tmp_path: Path
) -> None:
    """A project that runs ``tablerest db revision --autogenerate`` after its first sign-in
    must not get a migration that drops every session."""
    from tests.test_migrate import MODELS_V1, db

    tokens(make_app().test_client(), "bob")  # creates tablerest_sessions
    project = tmp_path / "project"
    project.mkdir()
    (project / "models.py").write_text(MODELS_V1)
    url = engine.url.render_as_string(hide_password=False)
    db(project, url, "init")

    db(project, url, "revision", "--autogenerate", "-m", "books")

    (revision,) = (project / "migrations" / "versions").glob("*.py")
    text = revision.read_text()
    assert "create_table('books'" in text or 'create_table("books"' in text
    assert "tablerest_sessions" not in text


def test_a_sign_out_survives_a_restart_of_tablerest_serve(tmp_path: Path) -> None:
    """The real thing: ``tablerest serve --auth-table users``, stopped and started again."""
    from tests.e2e.conftest import Server, call

    path = tmp_path / "app.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    User.__table__.create(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(User.__table__).values(
                username="bob", email="bob@example.org", password=FAST.hash("bob-pw"), roles=""
            )
        )
    engine.dispose()
    env = {
        **os.environ,
        "TABLEREST_DEMO_PATH": str(tmp_path / "demo.sqlite3"),
        "TABLEREST_SECRET_KEY": APP_SECRET,
    }
    env.pop("TABLEREST_REDIS_URL", None)
    args = [str(path), "--auth-table", "users"]
    server = Server(args, env)
    try:
        credentials = {"username": "bob", "password": "bob-pw"}
        _, _, kept = call("POST", f"{server.base}/api/auth/token", credentials)
        _, _, ended = call("POST", f"{server.base}/api/auth/token", credentials)
        signed_out = urllib_call(server.base, "POST", "/api/auth/logout", ended["access_token"])
        assert signed_out == 204
    finally:
        server.stop()

    server = Server(args, env)  # a new process: nothing of the old one's memory
    try:
        assert urllib_call(server.base, "GET", "/api/auth/me", ended["access_token"]) == 401
        status, _, _ = call(
            "POST", f"{server.base}/api/auth/refresh", {"refresh_token": ended["refresh_token"]}
        )
        assert status == 401
        status, _, renewed = call(
            "POST", f"{server.base}/api/auth/refresh", {"refresh_token": kept["refresh_token"]}
        )
        assert status == 200, renewed
        assert urllib_call(server.base, "GET", "/api/auth/me", renewed["access_token"]) == 200
    finally:
        server.stop()


def urllib_call(base: str, method: str, path: str, token: str) -> int:
    """The status of a request with ``token`` as its bearer."""
    req = urllib.request.Request(
        base + path, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.read()
        err.close()
        return int(err.code)
