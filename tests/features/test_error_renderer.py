"""Error documents in an application's own shape (``error_renderer``), and a value another row
holds in a unique key answered as a 422 (``unique_violation="validation"``): per API and per
resource, through Flask and the lean path, in plain JSON and JSON:API, on SQLite, PostgreSQL
and MariaDB."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask, Request
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, ErrorRenderer, Identity, TablerestError, authenticated, role
from tablerest.mount.lean import LeanApp, install
from tablerest.server import create_app
from tests.databases import BACKENDS
from tests.helpers import problem

JSONAPI = "application/vnd.api+json"
TAKEN = "A row with this value already exists"


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (sa.UniqueConstraint("team_id", "number", name="uq_team_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(100), unique=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    number: Mapped[int]


class Note(Base):
    """Guarded: reading needs a caller, writing the admin role."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(100))


def conduit(error: TablerestError) -> dict[str, Any]:
    """Conduit's (RealWorld's) error shape, as examples/conduit/rules.py writes it."""
    messages = [f"{_field(e.pointer)}: {e.detail}" for e in error.errors] or [error.detail]
    return {"errors": {"body": messages}}


def _field(pointer: str) -> str:
    steps = pointer.lstrip("/").split("/")
    return "/".join(steps[1:] if len(steps) > 1 else steps)


class Plain:
    """A renderer class of its own media type and schema."""

    media_type = "application/vnd.example.error+json"
    schema: Mapping[str, Any] | None = {
        "type": "object",
        "required": ["message", "status"],
        "properties": {"message": {"type": "string"}, "status": {"type": "integer"}},
    }

    def render(self, error: TablerestError) -> bytes:
        return orjson.dumps({"message": error.detail, "status": error.status})


class Broken:
    media_type = "application/json"
    schema = None

    def render(self, error: TablerestError) -> bytes:
        raise RuntimeError(f"secret-token-xyz {error.detail}")


def _who(request: Request) -> Identity | None:
    roles = request.headers.get("X-Roles")
    return Identity("1", frozenset(roles.split(","))) if roles is not None else None


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Team), [{"name": "red"}, {"name": "blue"}])
        conn.execute(sa.insert(Member), [{"email": "a@x.org", "team_id": 1, "number": 7}])
        conn.execute(sa.insert(Note), [{"text": "hello"}])
    yield eng
    eng.dispose()


def _client(
    engine: sa.Engine,
    path: str,
    members: dict[str, Any] | None = None,
    teams: dict[str, Any] | None = None,
    **api: Any,
) -> FlaskClient:
    app = Flask("error-renderer")
    app.config["TESTING"] = True
    rest = Api(app, engine, identify=_who, **api)
    rest.resource(Team, **(teams or {}))
    rest.resource(Member, **(members or {}))
    rest.resource(
        Note,
        permissions={
            "read": authenticated,
            "list": authenticated,
            "create": role("admin"),
            "update": role("admin"),
            "delete": role("admin"),
        },
    )
    if path == "lean":
        install(app)
    client = app.test_client()
    client.get("/api/teams")  # the first request decides whether the lean path serves
    if path == "lean":
        lean = app.wsgi_app
        assert isinstance(lean, LeanApp)
        assert lean.flask_reason is None
    return client


def _members(engine: sa.Engine) -> list[tuple[Any, ...]]:
    t = Member.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def _conduit(resp: Any, status: int) -> list[str]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert list(body) == ["errors"]
    assert list(body["errors"]) == ["body"]
    messages: list[str] = body["errors"]["body"]
    return messages


# -- the renderer, every kind of error ---------------------------------------------------------


def test_every_error_of_the_api_answers_in_the_renderers_shape(
    engine: sa.Engine, path: str
) -> None:
    client = _client(engine, path, error_renderer=conduit, max_body_size=200)

    assert _conduit(client.get("/api/members/99"), 404)
    assert _conduit(client.post("/api/members", json={"email": 3}), 422) == [
        "email: Input should be a valid string",
        "team_id: Field required",
        "number: Field required",
    ]
    assert _conduit(client.get("/api/members?sort=nope"), 400)
    assert _conduit(client.get("/api/no-such-thing"), 404) == ["No such resource or route"]
    resp = client.delete("/api/members")
    assert _conduit(resp, 405)
    assert "PATCH, POST" in resp.headers["Allow"]
    assert _conduit(client.post("/api/members", data="x", content_type="text/csv"), 415)
    assert _conduit(client.get("/api/members/1", headers={"Accept": "image/png"}), 406)
    assert _conduit(client.post("/api/members", json={"email": "x" * 300}), 413)
    assert _conduit(client.get("/api/openapi.json?format=xml"), 400)
    # The batch and its errors are the API's too.
    assert _conduit(client.post("/api/batch", json={"operations": 1}), 422)
    # Its security headers are kept.
    assert client.get("/api/members/99").headers["X-Content-Type-Options"] == "nosniff"


def test_permission_errors_answer_in_the_renderers_shape(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, error_renderer=conduit)

    resp = client.get("/api/notes/1")
    assert _conduit(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert _conduit(client.post("/api/notes", json={"text": "x"}, headers={"X-Roles": ""}), 403)
    assert client.get("/api/notes/1", headers={"X-Roles": ""}).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 1


def test_without_a_renderer_errors_stay_problems(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    problem(client.get("/api/members/99"), 404)
    problem(client.get("/api/notes/1"), 401)
    problem(client.get("/api/no-such-thing"), 404)


def test_jsonapi_requests_keep_jsonapi_errors(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, error_renderer=conduit)
    resp = client.get("/api/members/99", headers={"Accept": JSONAPI})
    assert resp.status_code == 404
    assert resp.mimetype == JSONAPI
    assert resp.get_json()["errors"][0]["status"] == "404"
    resp = client.get("/api/nowhere", headers={"Accept": JSONAPI})
    assert resp.status_code == 404
    assert resp.mimetype == JSONAPI


def test_a_resource_renderer_overrides_the_apis(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, members={"error_renderer": Plain()}, error_renderer=conduit)
    resp = client.get("/api/members/99")
    assert resp.status_code == 404
    assert resp.mimetype == Plain.media_type
    assert resp.get_json() == {"message": "No members row with key 99", "status": 404}
    assert _conduit(client.get("/api/teams/99"), 404)  # other resources: the API's


def test_a_renderer_that_fails_answers_a_bare_500_and_is_logged(
    engine: sa.Engine, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(engine, path, error_renderer=Broken())
    with caplog.at_level(logging.ERROR, logger="tablerest"):
        resp = client.get("/api/members/99")
    body = problem(resp, 500)
    assert "secret-token-xyz" not in resp.get_data(as_text=True)
    assert body["detail"] == "Internal server error"
    assert "secret-token-xyz" in caplog.text  # for the operator, in the log only


def test_a_renderer_that_is_neither_object_nor_function_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(TypeError, match="error_renderer"):
        Api(Flask("x"), engine, error_renderer="conduit")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="error_renderer"):
        Api(Flask("y"), engine).resource(Team, error_renderer=42)
    with pytest.raises(ValueError, match="unique_violation"):
        Api(Flask("z"), engine, unique_violation="422")  # type: ignore[arg-type]
    typed: ErrorRenderer = Plain()  # the protocol is public, and Plain fits it (mypy)
    assert typed.media_type == Plain.media_type


def test_conduit_renderer_matches_the_examples_own() -> None:
    from examples.conduit.rules import spec_errors
    from tablerest import FieldError, NotFound, Unauthorized, ValidationFailed

    errors: list[TablerestError] = [
        ValidationFailed([FieldError("/article/title", "Field required")]),
        ValidationFailed([FieldError("/article/tagList/1", "Input should be a valid string")]),
        NotFound("No articles row with key 'x'"),
        Unauthorized("Sign in first"),
    ]
    for error in errors:
        assert spec_errors(error) == conduit(error)


# -- unique violations -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_unique_violations_are_409_by_default(engine: sa.Engine) -> None:
    client = _client(engine, "flask")
    body = problem(
        client.post("/api/members", json={"email": "a@x.org", "team_id": 2, "number": 1}), 409
    )
    assert body["errors"] == [
        {"pointer": "/email", "detail": "A row with this value already exists"}
    ]
    assert len(_members(engine)) == 1


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_unique_violations_are_422_field_errors_when_asked(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, unique_violation="validation")
    taken = TAKEN

    body = problem(
        client.post("/api/members", json={"email": "a@x.org", "team_id": 2, "number": 1}), 422
    )
    assert body["type"] == "urn:tablerest:problem:validation-failed"
    assert body["errors"] == [{"pointer": "/email", "detail": taken}]
    # A composite unique constraint: a field error per column.
    body = problem(
        client.post("/api/members", json={"email": "b@x.org", "team_id": 1, "number": 7}), 422
    )
    assert body["errors"] == [
        {"pointer": "/team_id", "detail": taken},
        {"pointer": "/number", "detail": taken},
    ]
    # An array: the pointers carry the row's index.
    rows = [
        {"email": "c@x.org", "team_id": 2, "number": 2},
        {"email": "a@x.org", "team_id": 2, "number": 3},
    ]
    body = problem(client.post("/api/members", json=rows), 422)
    assert body["errors"] == [{"pointer": "/1/email", "detail": taken}]
    # Updates and replaces of another row.
    made = client.post("/api/members", json={"email": "d@x.org", "team_id": 2, "number": 4})
    assert made.status_code == 201
    key = made.get_json()["id"]  # failed inserts may have used up ids
    body = problem(client.patch(f"/api/members/{key}", json={"email": "a@x.org"}), 422)
    assert body["errors"] == [{"pointer": "/email", "detail": taken}]
    full = {"email": "a@x.org", "team_id": 2, "number": 4}
    replaced = problem(client.put(f"/api/members/{key}", json=full), 422)
    assert replaced["errors"] == [{"pointer": "/email", "detail": taken}]
    # A foreign key that names no row stays a 409.
    body = problem(
        client.post("/api/members", json={"email": "e@x.org", "team_id": 99, "number": 1}), 409
    )
    assert body["errors"] == [
        {"pointer": "/team_id", "detail": "The referenced row does not exist"}
    ]
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, email, team_id, number FROM members ORDER BY id"))
        assert [tuple(r) for r in stored] == [(1, "a@x.org", 1, 7), (key, "d@x.org", 2, 4)]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_unique_violations_in_a_batch_and_in_jsonapi_point_into_the_document(
    engine: sa.Engine, path: str
) -> None:
    client = _client(engine, path, unique_violation="validation")
    ops = [
        {"op": "create", "resource": "teams", "data": {"name": "green"}},
        {
            "op": "create",
            "resource": "members",
            "data": {"email": "a@x.org", "team_id": 1, "number": 1},
        },
    ]
    body = problem(client.post("/api/batch", json={"operations": ops}), 422)
    assert body["detail"] == (
        "Operation 1 (create members) failed, nothing was changed: "
        "Already taken: /operations/1/data/email"
    )
    assert body["errors"] == [
        {"pointer": "/operations/1/data/email", "detail": "A row with this value already exists"}
    ]
    doc = {
        "data": {"type": "members", "attributes": {"email": "a@x.org", "team_id": 2, "number": 1}}
    }
    resp = client.post(
        "/api/members", json=doc, headers={"Content-Type": JSONAPI, "Accept": JSONAPI}
    )
    assert resp.status_code == 422
    assert resp.mimetype == JSONAPI
    (error,) = resp.get_json()["errors"]
    assert error["source"] == {"pointer": "/data/attributes/email"}
    assert error["status"] == "422"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM teams")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM members")).scalar() == 1


#: MariaDB's ON DUPLICATE KEY UPDATE fires on any unique key: an upsert on ``email`` whose
#: (team_id, number) another row holds is a 500 there, before this option is reached (a bug
#: of the upsert path on main, reported to the lead, not of this option).
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_upserts_answer_by_the_option_of_the_taken_key(engine: sa.Engine) -> None:
    # Only members says "validation".
    client = _client(engine, "flask", members={"unique_violation": "validation"})
    clash = {"email": "n@x.org", "team_id": 1, "number": 7}  # (team_id, number) is taken
    body = problem(client.post("/api/members?on_conflict=email", json=clash), 422)
    assert body["errors"] == [
        {"pointer": "/team_id", "detail": TAKEN},
        {"pointer": "/number", "detail": TAKEN},
    ]
    rows = [{"email": "m@x.org", "team_id": 2, "number": 1}, clash]
    body = problem(client.post("/api/members?on_conflict=email", json=rows), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/1/team_id", "/1/number"]
    # Without the option: the 409 (on MariaDB, ON DUPLICATE KEY UPDATE met the other key and
    # changed that row, until the upsert checked the row it meant; it was a 500).
    plain = _client(engine, "flask")
    problem(plain.post("/api/members?on_conflict=email", json=clash), 409)
    assert _members(engine) == [(1, "a@x.org", 1, 7)]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_nested_writes_answer_by_the_option_of_the_taken_key(engine: sa.Engine) -> None:
    # Only members says "validation": its keys answer 422 from a write to teams too.
    client = _client(engine, "flask", members={"unique_violation": "validation"})
    nested = {"name": "x", "members": [{"email": "a@x.org", "number": 1}]}
    body = problem(client.post("/api/teams", json=nested), 422)
    assert body["errors"] == [{"pointer": "/members/0/email", "detail": TAKEN}]
    client = _client(engine, "flask", teams={"unique_violation": "validation"})
    problem(client.post("/api/teams", json=nested), 409)  # teams' option: not its key
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM teams")).scalar() == 2
    assert _members(engine) == [(1, "a@x.org", 1, 7)]


def test_the_resource_option_overrides_the_apis(engine: sa.Engine) -> None:
    client = _client(
        engine, "flask", members={"unique_violation": "conflict"}, unique_violation="validation"
    )
    body = {"email": "a@x.org", "team_id": 2, "number": 1}
    problem(client.post("/api/members", json=body), 409)
    client = _client(engine, "flask", members={"unique_violation": "validation"})
    problem(client.post("/api/members", json=body), 422)


def test_a_rendered_unique_violation_is_the_renderers_422(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, unique_violation="validation", error_renderer=conduit)
    resp = client.post("/api/members", json={"email": "a@x.org", "team_id": 2, "number": 1})
    assert _conduit(resp, 422) == ["email: A row with this value already exists"]


# -- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_describes_the_renderers_documents_and_the_unique_option(
    engine: sa.Engine,
) -> None:
    client = _client(
        engine,
        "flask",
        members={"error_renderer": Plain()},
        error_renderer=conduit,
        unique_violation="validation",
    )
    doc = client.get("/api/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorDocument"] == {"type": "object"}
    assert schemas["MembersErrorDocument"] == Plain.schema
    teams = doc["paths"]["/api/teams/{id}"]["get"]["responses"]["404"]["content"]
    assert teams["application/json"] == {"schema": {"$ref": "#/components/schemas/ErrorDocument"}}
    assert "application/problem+json" not in teams
    members = doc["paths"]["/api/members"]["post"]["responses"]
    assert set(members["422"]["content"]) == {Plain.media_type, JSONAPI}
    assert members["422"]["content"][Plain.media_type]["schema"] == {
        "$ref": "#/components/schemas/MembersErrorDocument"
    }
    assert "unique key" in members["422"]["description"]
    assert members["409"]["description"] == "Conflicts with stored data (a foreign key)"
    batch = doc["paths"]["/api/batch"]["post"]["responses"]["422"]["content"]
    assert "application/json" in batch


def test_openapi_without_options_keeps_problems(engine: sa.Engine) -> None:
    doc = _client(engine, "flask").get("/api/openapi.json").get_json()
    answers = doc["paths"]["/api/members"]["post"]["responses"]
    assert "application/problem+json" in answers["422"]["content"]
    assert "unique or foreign key" in answers["409"]["description"]
    assert "unique key" not in answers["422"]["description"]
    assert "ErrorDocument" not in doc["components"]["schemas"]


# -- database-first ----------------------------------------------------------------------------

SERVED_SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
INSERT INTO users (email) VALUES ('a@x.org');
"""


def _served_db(tmp_path: Path) -> Path:
    path = tmp_path / "served.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SERVED_SCHEMA)
    conn.close()
    return path


@pytest.mark.parametrize("lean", [True, False])
def test_serve_takes_unique_violation(tmp_path: Path, lean: bool) -> None:
    db = str(_served_db(tmp_path))
    client = create_app(db, secret_key="k" * 32, lean=lean).test_client()
    problem(client.post("/api/users", json={"email": "a@x.org"}), 409)
    app = create_app(db, secret_key="k" * 32, lean=lean, unique_violation="validation")
    body = problem(app.test_client().post("/api/users", json={"email": "a@x.org"}), 422)
    assert body["errors"] == [{"pointer": "/email", "detail": TAKEN}]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("a@x.org",)]
    conn.close()


def test_the_cli_option_reaches_the_api(tmp_path: Path) -> None:
    from tablerest import cli

    db = str(_served_db(tmp_path))
    runner = CliRunner()
    described = runner.invoke(cli.main, ["openapi", db, "--unique-violation", "validation"])
    assert described.exit_code == 0, described.output
    answers = json.loads(described.output)["paths"]["/api/users"]["post"]["responses"]
    assert answers["409"]["description"] == "Conflicts with stored data (a foreign key)"
    plain = json.loads(runner.invoke(cli.main, ["openapi", db]).output)
    assert "unique" in plain["paths"]["/api/users"]["post"]["responses"]["409"]["description"]
    wrong = runner.invoke(cli.main, ["openapi", db, "--unique-violation", "422"])
    assert wrong.exit_code == 2
    assert "Invalid value for '--unique-violation'" in wrong.output


# -- the token routes, the app's own routes, the README's example -------------------------------


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50), unique=True)
    password: Mapped[str] = mapped_column(sa.String(200))


def test_token_routes_and_the_apps_own_routes_use_the_apis_renderer(
    engine: sa.Engine, path: str
) -> None:
    from argon2 import PasswordHasher

    from tablerest import Auth, NotFound

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = Flask("renderer-auth")
    app.config["TESTING"] = True
    rest = Api(app, engine, auth=Auth("accounts", secret="s" * 32, hasher=fast),
               error_renderer=conduit)  # fmt: skip
    rest.resource(Account)

    @app.get("/own")
    def own() -> str:
        raise NotFound("Not in this app either")

    if path == "lean":
        install(app)
    client = app.test_client()
    resp = client.post("/api/auth/token", json={"username": "nobody", "password": "wrong-pass"})
    assert _conduit(resp, 401)
    assert _conduit(client.get("/api/auth/me"), 401)
    assert _conduit(client.get("/own"), 404) == ["Not in this app either"]


def test_a_rate_limit_answers_in_the_renderers_shape(engine: sa.Engine) -> None:
    from tablerest import RateLimits

    app = Flask("renderer-limits")
    app.config["TESTING"] = True
    rest = Api(app, engine, rate_limits=RateLimits(anonymous="2/minute"), error_renderer=conduit)
    rest.resource(Team)
    client = app.test_client()
    assert [client.get("/api/teams/1").status_code for _ in range(2)] == [200, 200]
    resp = client.get("/api/teams/1")
    assert _conduit(resp, 429)[0].startswith("Rate limit exceeded")
    assert int(resp.headers["Retry-After"]) > 0


def test_the_readmes_renderer_writes_conduits_shape(engine: sa.Engine) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    start = readme.index("def conduit_errors(")
    block = readme[readme.rindex("```python\n", 0, start) + 10 : readme.index("```\n", start)]
    app = Flask("readme-renderer")
    app.config["TESTING"] = True
    names: dict[str, Any] = {"app": app, "db": engine}
    exec(block, names)  # the README's block, as a reader copies it
    names["api"].resource(Member)
    client = app.test_client()
    resp = client.post("/api/members", json={"email": "a@x.org", "team_id": 2, "number": 1})
    assert resp.status_code == 422
    assert resp.get_json() == {"errors": {"body": [f"email: {TAKEN}"]}}
    assert client.get("/api/members/9").get_json() == {
        "errors": {"body": ["No members row with key 9"]}
    }
