"""What a ``tablerest serve`` worker holds in memory (issue 20: peak RSS per worker).

Workers are forked from serve's process, so every module that process imports and every
object it keeps is in each worker's memory too; and each thread of a worker holds a database
connection of its own. ``bench/rss.py`` measures the sizes; these tests pin the causes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tablerest import cli, malloc
from tablerest.cli import serve
from tablerest.server import SQLITE_CACHE_KIB, create_app


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, stars SMALLINT,"
            " meta JSON, day DATE)"
        )
        conn.execute("INSERT INTO notes (body, stars, day) VALUES ('x', 3, '2026-12-03')")
    conn.close()
    return path


def test_every_sqlite_connection_keeps_a_small_page_cache(notes: Path) -> None:
    # One connection per thread: at SQLite's default (2,000 KiB each) 4 threads held 8 MiB.
    app = create_app(str(notes))
    engine = app.extensions["tablerest"]["/api"].db.engine()
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB < 2000
    client = app.test_client()
    assert client.get("/api/notes/1").get_json()["body"] == "x"
    assert client.post("/api/notes", json={"body": "y"}).status_code == 201
    assert client.get("/api/notes/3").status_code == 404


#: Modules no part of serving a database-first SQLite API needs: serve's process must not
#: import them, since every worker forked from it would hold them. ``limits``: rate limits
#: (sign-in and sign-up, which need --auth-table); the PostgreSQL and MariaDB dialects (3 MiB
#: with those of their drivers): their databases' types; the demo database's builder; argon2:
#: passwords (--auth-table); tomllib: a --policy file; the CLI's other commands and their tools
#: (migrations, imports); tests. tablerest's own features that the app turns on, or the first
#: request needs: Auth and its tokens, sessions and accounts (--auth-table), the policy file
#: (--policy), the change feed (--changes), the batch's runner (the first POST to /batch),
#: JSON:API's documents (the first JSON:API request), the OpenAPI document (its first GET).
NEVER_IMPORTED = (
    "limits",
    "wrapt",
    "tablerest.demo",
    "tablerest.cli.db",
    "tablerest.cli.importing",
    "tablerest.cli.init",
    "tablerest.auth.service",
    "tablerest.auth.tokens",
    "tablerest.auth.sessions",
    "tablerest.auth.accounts",
    "tablerest.auth.issuer",
    "tablerest.auth.passwords",
    "tablerest.auth.views",
    "tablerest.auth.policyfile",
    "tablerest.changes.outbox",
    "tablerest.changes.fanout",
    "tablerest.changes.stream",
    "tablerest.changes.like",
    "tablerest.routes.batch",
    "tablerest.decode.jsonapi",
    "tablerest.render.jsonapi",
    "tablerest.openapi.source",
    "argon2",
    "tomllib",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql",
    "alembic",
    "rich",
    "hypothesis",
    "schemathesis",
    "sqlalchemy.orm",
)

_SERVE = """
import sys
from tablerest import cli, malloc
from tablerest.cli import serve

def run(factory, **options):  # what a worker does: build its app and serve requests
    client = factory().test_client()
    for path in ("/api/notes/1", "/api/notes?sort=-day&include=", "/api/notes?filter[stars][gt]=2",
                 "/api/notes?filter[meta][null]=true", "/api/notes?filter[day][in]=2026-12-03"):
        assert client.get(path).status_code == 200, path
    new = {"body": "y", "stars": 5, "meta": {"a": [1]}, "day": "2026-12-04"}
    assert client.post("/api/notes", json=new).status_code == 201
    assert client.post("/api/notes", json={**new, "stars": 40000}).status_code == 422
    assert client.patch("/api/notes/2", json={"meta": None}).status_code == 200

serve.run = run
cli.main(["serve", *sys.argv[1:]], standalone_mode=False)
print("imported:", *sorted(m for m in sys.modules if m in NEVER or m.split(".")[0] in NEVER))
"""


def _serve_imports(*args: str) -> set[str]:
    """The watched modules a serve process (which builds an app, then a worker's) imports."""
    script = f"NEVER = {NEVER_IMPORTED!r}\n{_SERVE}"
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    ).stdout
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "imported:", out
    return set(last[1:])


def test_serve_imports_nothing_a_worker_does_not_need(notes: Path) -> None:
    assert _serve_imports(str(notes), "--port", "9321") == set()


def test_serve_imports_a_feature_when_it_is_turned_on(notes: Path) -> None:
    # What the app turns on is imported (so the probe above would see each of them).
    feed = {"tablerest.changes.outbox", "tablerest.changes.fanout", "tablerest.changes.stream"}
    assert feed <= _serve_imports(str(notes), "--changes")
    assert "tablerest.auth.service" not in _serve_imports(str(notes), "--changes")


def test_the_first_batch_request_imports_the_batch() -> None:
    script = """
import sqlite3, sys, tempfile
from tablerest.server import create_app
path = tempfile.mkdtemp() + "/n.sqlite3"
sqlite3.connect(path).execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
client = create_app(path).test_client()
assert "tablerest.routes.batch" not in sys.modules
for n in range(2):
    ops = {"operations": [{"op": "create", "resource": "notes", "data": {"body": str(n)}}]}
    resp = client.post("/api/batch", json=ops)
    assert resp.status_code == 200, resp.get_json()
assert "tablerest.routes.batch" in sys.modules
print(client.get("/api/notes").get_json()["data"])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[{'id': 1, 'body': '0'}, {'id': 2, 'body': '1'}]"


def test_the_first_json_api_request_imports_json_api() -> None:
    script = """
import sqlite3, sys, tempfile
from tablerest.server import create_app
path = tempfile.mkdtemp() + "/n.sqlite3"
sqlite3.connect(path).execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
client = create_app(path).test_client()
jsonapi = ("tablerest.decode.jsonapi", "tablerest.render.jsonapi")
assert client.post("/api/notes", json={"body": "plain"}).status_code == 201
assert client.get("/api/notes/9").status_code == 404
assert not any(m in sys.modules for m in jsonapi)
doc = {"data": {"type": "notes", "attributes": {"body": "api"}}}
for n in range(2):
    resp = client.post("/api/notes", json=doc, headers={"Content-Type": "application/vnd.api+json"})
    assert resp.status_code == 201, resp.get_json()
    print(resp.get_json()["data"]["id"], resp.mimetype)
error = client.get("/api/notes/9", headers={"Accept": "application/vnd.api+json"})
print(error.status_code, error.get_json()["errors"][0]["status"])
assert all(m in sys.modules for m in jsonapi)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == [
        "2 application/vnd.api+json",
        "3 application/vnd.api+json",
        "404 404",
    ]


def test_own_tables_are_named_where_reflection_reads_them() -> None:
    # Reflection leaves tablerest's own tables out by these names, without importing their
    # modules: the names must be those the modules create.
    from tablerest.auth.sessions import SESSION_TABLES
    from tablerest.changes.outbox import TABLES
    from tablerest.execute.owntables import OWN_TABLES

    assert OWN_TABLES == TABLES | SESSION_TABLES


def test_serve_parses_rate_limits_given_with_limits(notes: Path) -> None:
    # A limit other than the defaults is checked at start, with limits itself.
    assert "limits" in _serve_imports(str(notes), "--rate-limit-sign-in", "5/minute")
    result = CliRunner().invoke(
        cli.main, ["serve", str(notes), "--rate-limit-sign-up", "5/fortnight"]
    )
    assert result.exit_code == 2
    assert "is not a rate limit" in result.output


def test_the_default_rate_limits_parse() -> None:
    # serve takes its defaults unchecked (checking would import limits): they must parse.
    from limits import parse_many

    defaults = {p.name: p.default for p in serve.serve_command.params}
    for name in ("rate_limit_sign_in", "rate_limit_sign_up"):
        assert isinstance(defaults[name], str)
        assert parse_many(defaults[name]), name


#: Six threads malloc while all are alive, then glibc lists its arenas ("Arena N:" on stderr).
_THREADS = """
import ctypes, sys, threading
together = threading.Barrier(6)
def work():  # bytes this large are malloc's, not pymalloc's
    kept = bytearray(100_000)
    together.wait()
    kept += bytearray(100_000)
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()
"""

_ARENAS = f"""
import sys
from tablerest import malloc
limited = malloc.tune() if sys.argv[1] == "tune" else None
{_THREADS}
print(limited)
"""


def _arenas(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS, *args], capture_output=True, text=True, env=env, check=True
    )
    return out.stderr.count("Arena "), out.stdout.strip()


@pytest.mark.skipif(not malloc.glibc(), reason="glibc's malloc only")
def test_serve_limits_malloc_arenas_unless_the_environment_says() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    # Without tune, 6 threads get arenas of their own (glibc: up to 8 per core).
    assert _arenas("none", env=env)[0] > malloc.ARENA_MAX
    assert _arenas("tune", env=env) == (malloc.ARENA_MAX, "True")
    # The environment's own setting wins (the opt-out): tune leaves arenas alone.
    assert _arenas("tune", env={**env, "MALLOC_ARENA_MAX": "4"}) == (4, "False")


@pytest.mark.skipif(not malloc.glibc(), reason="glibc's malloc only")
def test_serve_tunes_malloc_before_its_workers_start(notes: Path) -> None:
    script = f"""
from tablerest import cli
from tablerest.cli import serve

def run(factory, **options):  # where the server would fork its workers
    exec({_THREADS!r}, {{}})

serve.run = run
cli.main(["serve", {str(notes)!r}, "--port", "9322"], standalone_mode=False)
"""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Arena ") == malloc.ARENA_MAX
