"""``tablerest serve --lookup TABLE=COL``: a served database's rows named in URLs by a unique
column (the policy file's ``lookup``), answered the same on the lean path and through Flask,
on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tablerest import cli
from tablerest.auth.policyfile import load_policy
from tablerest.cli.options import policy_file
from tablerest.server import create_app
from tests.databases import BACKENDS
from tests.helpers import problem

#: Connections closed when a test is done with them (PostgreSQL warns of those left open).
POOL = {"poolclass": sa.NullPool}

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

SCHEMA = [
    "CREATE TABLE articles (id {auto} PRIMARY KEY, slug VARCHAR(50) NOT NULL UNIQUE, "
    "title VARCHAR(50) NOT NULL, blurb VARCHAR(50))",
    "CREATE TABLE comments (id INTEGER PRIMARY KEY, "
    "article_id INTEGER NOT NULL REFERENCES articles(id), body VARCHAR(50) NOT NULL)",
    "INSERT INTO articles (slug, title) VALUES ('hello', 'Hello'), ('café', 'Café')",
    "INSERT INTO comments VALUES (1, 1, 'first')",
]


@pytest.fixture
def url(db_url: str) -> str:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        auto = {"postgresql": "SERIAL", "mysql": "INTEGER AUTO_INCREMENT"}
        for statement in SCHEMA:
            conn.exec_driver_sql(statement.replace("{auto}", auto.get(engine.name, "INTEGER")))
    engine.dispose()
    return db_url


def _answers(url: str, lean: bool, **options: Any) -> list[tuple[int, Any, str | None]]:
    client = create_app(url, lean=lean, engine_options=POOL, **options).test_client()
    out = []
    jsonapi = {"Accept": "application/vnd.api+json"}
    for method, path, body in [
        ("GET", "/api/articles/hello", None),
        ("GET", "/api/articles/hello?include=comments", jsonapi),
        ("GET", "/api/articles/caf%C3%A9", None),
        ("GET", "/api/articles/1", None),
        ("GET", "/api/articles/hello/comments", None),
        ("POST", "/api/articles", {"slug": "new", "title": "New"}),
        ("PATCH", "/api/articles/new", {"slug": "newer"}),
        ("DELETE", "/api/articles/newer", None),
        ("GET", "/api/articles/newer", None),
    ]:
        if body is jsonapi:
            resp = client.open(path, method=method, headers=jsonapi)
        else:
            resp = client.open(path, method=method, json=body)
        got = resp.get_json()
        if isinstance(got, dict) and got.get("slug") in ("new", "newer"):
            del got["id"]  # the sequences of PostgreSQL and MariaDB move on between the runs
        out.append((resp.status_code, got, resp.headers.get("Location")))
    return out


def test_serve_lookup_names_rows_by_slug_on_both_paths(url: str) -> None:
    lean = _answers(url, True, lookups={"articles": ["slug"]})
    flask = _answers(url, False, lookups={"articles": ["slug"]})
    assert lean == flask
    statuses = [status for status, _, _ in lean]
    assert statuses == [200, 200, 200, 404, 200, 201, 200, 204, 404]
    doc = lean[1][1]
    assert doc["data"]["id"] == "hello"
    assert doc["included"][0]["relationships"]["article"]["links"]["related"].endswith(
        "/api/comments/1/article"
    )
    assert lean[2][1]["title"] == "Café"
    assert lean[4][1]["data"][0]["body"] == "first"
    assert lean[5][2] is not None
    assert lean[5][2].endswith("/api/articles/new")
    assert lean[6][1]["slug"] == "newer"
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        slugs = conn.exec_driver_sql("SELECT slug FROM articles ORDER BY id").scalars().all()
    engine.dispose()
    assert slugs == ["hello", "café"]


def test_the_policy_file_names_lookups_too(url: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[tables.articles]\nall = "public"\nlookup = ["slug"]\n', encoding="utf-8")
    client = create_app(url, policy=load_policy(path), engine_options=POOL).test_client()
    assert client.get("/api/articles/hello").get_json()["id"] == 1
    problem(client.get("/api/articles/1"), 404)


def test_a_bad_lookup_is_refused_before_serving(url: str) -> None:
    with pytest.raises(ValueError, match="nullable"):
        create_app(url, engine_options=POOL, lookups={"articles": ["blurb"]})
    with pytest.raises(ValueError, match="not unique"):
        create_app(url, engine_options=POOL, lookups={"articles": ["title"]})
    with pytest.raises(ValueError, match="unknown tables"):
        create_app(url, engine_options=POOL, lookups={"nope": ["slug"]})


def test_the_flag_reaches_the_openapi_document(url: str) -> None:
    result = CliRunner().invoke(cli.main, ["openapi", url, "--lookup", "articles=slug"])
    assert result.exit_code == 0, result.output
    assert '"/api/articles/{slug}"' in result.output
    bad = CliRunner().invoke(cli.main, ["openapi", url, "--lookup", "articles"])
    assert bad.exit_code == 2
    assert "TABLE=COL" in bad.output


def test_the_users_table_may_be_looked_up_by_name(url: str) -> None:
    """A token names its user by primary key; /auth/me finds them whatever URLs use."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    auto = {"postgresql": "SERIAL", "mysql": "INTEGER AUTO_INCREMENT"}.get(engine.name, "INTEGER")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE users (id {auto} PRIMARY KEY, username VARCHAR(50) NOT NULL UNIQUE, "
            "password_hash VARCHAR(200) NOT NULL)"
        )
    engine.dispose()
    policy = policy_file(None, "users", (), None, None)
    client = create_app(
        url,
        policy=policy,
        lookups={"users": ["username"]},
        secret_key="lookup-" + "k" * 40,
        engine_options=POOL,
    ).test_client()
    made = client.post("/api/users", json={"username": "ann", "password_hash": "long enough 1"})
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"].endswith("/api/users/ann")
    token = client.post("/api/auth/token", json={"username": "ann", "password": "long enough 1"})
    assert token.status_code == 200, token.get_json()
    auth = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    me = client.get("/api/auth/me", headers=auth)
    assert me.status_code == 200, me.get_json()
    assert me.get_json()["username"] == "ann"
    assert client.get("/api/users/ann", headers=auth).get_json()["username"] == "ann"
    # Changing one's own row by /auth/me: found by primary key, then by its new name.
    renamed = client.patch("/api/auth/me", json={"username": "anne"}, headers=auth)
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["username"] == "anne"
    assert client.get("/api/auth/me", headers=auth).get_json()["username"] == "anne"
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT username FROM users").scalars().all()
    engine.dispose()
    assert names == ["anne"]
