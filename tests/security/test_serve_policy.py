"""A zero-code API protected: ``tablerest serve --auth-table ... --policy FILE``.

The rules are written as text (``owner(author_id) | role(admin)``), parsed (never evaluated),
and then mean what the Python building blocks mean; a misspelt rule stops the command.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Identity, cli
from tablerest.auth.policies import Context
from tablerest.auth.policyfile import load_policy, parse_rule
from tablerest.server import create_app
from tests.security.conftest import FAST

SECRET = "serve-policy-tests-" + "s" * 32

POLICY = """
[auth]
table = "users"
login = ["username"]
roles = "roles"

[default]
all = "authenticated"
list = "public"
read = "public"

[tables]
tags = "public"

[tables.posts]
all = "owner(author_id) | role(admin)"
list = "public"
read = "public"

[tables.users]
all = "owner(id) | role(admin)"
create = "public"
hidden_unless = { email = "role(admin)" }
read_only_unless = { roles = "role(admin)" }
"""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "blog.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL,
                                email TEXT NOT NULL, password TEXT NOT NULL,
                                roles TEXT NOT NULL DEFAULT '');
            CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                                author_id INTEGER NOT NULL REFERENCES users(id));
            CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
            """
        )
        conn.executemany(
            "INSERT INTO users (username, email, password, roles) VALUES (?, ?, ?, ?)",
            [
                ("ann", "ann@example.org", FAST.hash("ann-pw"), "admin"),
                ("bob", "bob@example.org", FAST.hash("bob-pw"), ""),
            ],
        )
        conn.executemany(
            "INSERT INTO posts (title, author_id) VALUES (?, ?)", [("ann's", 1), ("bob's", 2)]
        )
    conn.close()
    return path


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


def served(database: Path, policy: Any) -> FlaskClient:
    app: Flask = create_app(str(database), policy=policy, secret_key=SECRET)
    app.config["TESTING"] = True
    return app.test_client()


def sign_in(client: FlaskClient, name: str, password: str | None = None) -> dict[str, str]:
    form = {"username": name, "password": password or f"{name}-pw"}
    resp = client.post("/api/auth/token", data=form)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


# -- the rules, parsed -------------------------------------------------------------------


def _grant(rule: str, identity: Identity | None) -> Any:
    return parse_rule(rule).grant(Context(identity, "read", None))  # type: ignore[arg-type]


ANN = Identity("1", frozenset({"admin"}))
BOB = Identity("2")


@pytest.mark.parametrize(
    ("rule", "anonymous", "bob", "ann"),
    [
        ("public", True, True, True),
        ("authenticated", False, True, True),
        ("nobody", False, False, False),
        ("role(admin)", False, False, True),
        ("role(editor, 'admin')", False, False, True),
        ("authenticated & role(admin)", False, False, True),
        ("nobody | (authenticated & role(admin))", False, False, True),
    ],
)
def test_rules_grant_what_their_python_forms_grant(
    rule: str, anonymous: bool, bob: bool, ann: bool
) -> None:
    assert [_grant(rule, who) for who in (None, BOB, ANN)] == [anonymous, bob, ann]


def test_owner_rules_become_row_grants() -> None:
    assert (
        repr(parse_rule("owner(author_id) | role(admin)")) == "owner('author_id') | role('admin')"
    )
    assert _grant("owner(author_id) | role(admin)", ANN) is True
    assert _grant("owner(author_id) | role(admin)", BOB).owned == ("author_id",)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("", "ends too soon"),
        ("everyone", "unknown 'everyone'"),
        ("role()", "needs names"),
        ("role(admin", "missing ')'"),
        ("owner(a, b)", "one field name"),
        ("(public", "missing ')'"),
        ("public public", "unexpected 'public'"),
        ("public; import os", "cannot read"),
        ("__import__('os')", "unknown '__import__'"),
        ("owner", "in parentheses"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rule: str, says: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_rule(rule)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[tables.posts]\nlist = 3", "a rule is a string"),
        ("[tables.posts]\nlsit = 'public'", "unknown keys ['lsit']"),
        ("[tables.posts]\nlist = 'pubic'", "[tables.posts] list: unknown 'pubic'"),
        ("[auth]\ntabel = 'users'", "[auth] has unknown keys ['tabel']"),
        ("[defaults]\nall = 'public'", "unknown sections ['defaults']"),
        ("[default]\nhidden_unless = { a = 'public' }", "actions only"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_policy_files_say_where(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)

    with pytest.raises(ValueError) as info:
        load_policy(path)
    assert says in str(info.value)


# -- the served API ----------------------------------------------------------------------


def test_policy_file_guards_a_reflected_database(database: Path, policy_file: Path) -> None:
    client = served(database, load_policy(policy_file))
    ann, bob = sign_in(client, "ann"), sign_in(client, "bob")

    # posts: everyone reads, an author changes their own, an admin any.
    assert len(client.get("/api/posts").get_json()["data"]) == 2
    assert client.patch("/api/posts/1", json={"title": "x"}).status_code == 401
    assert client.patch("/api/posts/1", json={"title": "x"}, headers=bob).status_code == 403
    assert client.patch("/api/posts/2", json={"title": "mine"}, headers=bob).status_code == 200
    assert client.patch("/api/posts/2", json={"title": "ok"}, headers=ann).status_code == 200
    made = client.post("/api/posts", json={"title": "new"}, headers=bob)
    assert made.status_code == 201
    assert made.get_json()["author_id"] == 2
    # notes: [default] (authenticated writes), tags: public.
    assert client.post("/api/notes", json={"text": "n"}).status_code == 401
    assert client.post("/api/notes", json={"text": "n"}, headers=bob).status_code == 201
    assert client.post("/api/tags", json={"name": "t"}).status_code == 201
    # users: the password never shows, email only to admins, roles only admins change.
    own = client.get("/api/users/2", headers=bob).get_json()
    assert set(own) == {"id", "username", "roles"}
    assert client.get("/api/users/1", headers=bob).status_code == 404
    assert "email" in client.get("/api/users/2", headers=ann).get_json()
    escalate = client.patch("/api/users/2", json={"roles": "admin"}, headers=bob)
    assert escalate.status_code == 422
    assert client.get("/api/users?filter[password]=x", headers=ann).status_code == 400


def test_sign_up_through_the_users_table_hashes_the_password(
    database: Path, policy_file: Path
) -> None:
    cy = {"username": "cy", "email": "cy@example.org", "password": "cy-password"}
    # A field hidden from the caller cannot be written by them either: signing up with an
    # email needs a policy that does not hide it.
    hidden = served(database, load_policy(policy_file)).post("/api/users", json=cy)
    assert hidden.status_code == 422
    assert hidden.get_json()["errors"] == [{"pointer": "/email", "detail": "Unknown field"}]
    policy_file.write_text(POLICY.replace('hidden_unless = { email = "role(admin)" }', ""))
    client = served(database, load_policy(policy_file))

    made = client.post("/api/users", json=cy)

    assert made.status_code == 201, made.get_data(as_text=True)
    assert "password" not in made.get_json()
    with sqlite3.connect(database) as conn:
        (stored,) = conn.execute("SELECT password FROM users WHERE username = 'cy'").fetchone()
    conn.close()
    assert stored.startswith("$argon2id$")
    headers = sign_in(client, "cy", "cy-password")
    assert client.get("/api/auth/me", headers=headers).get_json()["username"] == "cy"


def test_auth_table_alone_gives_the_default_rules(database: Path) -> None:
    client = served(database, cli.options.policy_file(None, "users", (), None, "roles"))
    bob = sign_in(client, "bob")

    assert client.get("/api/posts").status_code == 200
    assert client.post("/api/posts", json={"title": "t", "author_id": 2}).status_code == 401
    made = client.post("/api/posts", json={"title": "t", "author_id": 2}, headers=bob)
    assert made.status_code == 201
    assert client.get("/api/users", headers=bob).status_code == 403  # admins list users
    assert client.get("/api/users/2", headers=bob).status_code == 200
    assert client.get("/api/users/1", headers=bob).status_code == 404
    assert client.patch("/api/users/2", json={"roles": "admin"}, headers=bob).status_code == 422
    assert client.get("/api/users", headers=sign_in(client, "ann")).status_code == 200


def _invoke(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: None)
    return CliRunner().invoke(cli.main, ["serve", *args])


def test_serve_takes_the_flags_and_the_file(
    monkeypatch: pytest.MonkeyPatch, database: Path, policy_file: Path
) -> None:
    result = _invoke(monkeypatch, str(database), "--policy", str(policy_file))

    assert result.exit_code == 0, result.output
    assert "/api/auth/token" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--auth-table", "people"], "the auth table 'people' is not a table"),
        (["--auth-table", "posts"], "needs a login field"),
        (["--auth-login", "email"], "need --auth-table"),
        (["--auth-table", "users", "--auth-roles", "rank"], "'rank'"),
    ],
)
def test_serve_refuses_a_bad_auth_setup(
    monkeypatch: pytest.MonkeyPatch, database: Path, args: list[str], says: str
) -> None:
    result = _invoke(monkeypatch, str(database), *args)

    assert result.exit_code != 0
    assert says in result.output


def test_serve_refuses_a_policy_for_missing_tables_or_columns(
    monkeypatch: pytest.MonkeyPatch, database: Path, tmp_path: Path
) -> None:
    for text, says in [
        ("[tables.poests]\nall = 'public'", "'poests' is not a table"),
        ("[tables.posts]\nupdate = 'owner(writer_id)'", "writer_id"),
    ]:
        path = tmp_path / "p.toml"
        path.write_text(text)
        result = _invoke(monkeypatch, str(database), "--policy", str(path))
        assert result.exit_code != 0
        assert says in result.output, result.output


def test_the_demo_with_auth_signs_its_users_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo hides users.password; with --auth-table users the column goes to Auth instead,
    # which makes it write-only: sign in as userN / passwordN.
    captured: dict[str, Any] = {}
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: captured.update(f=factory))
    result = CliRunner().invoke(cli.main, ["serve", "--auth-table", "users"])
    assert result.exit_code == 0, result.output
    client = captured["f"]().test_client()

    headers = sign_in(client, "user2", "password2")

    me = client.get("/api/auth/me", headers=headers).get_json()
    assert me["username"] == "user2"
    assert "password" not in me
    assert client.get("/api/users/3", headers=headers).status_code == 404
    assert client.post("/api/books", json={"title": "x"}).status_code == 401
