"""Read replicas without a replica server: the cookie that marks a writer, and reads that fall
back to the primary when no replica is usable (tests/e2e/test_replicas.py has real ones)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from tablerest import Api, ReadReplicas
from tablerest.mount.guards import WROTE_COOKIE
from tests.conftest import default_resources


def _app(engine: sa.Engine, replica: sa.Engine) -> Flask:
    app = Flask("replicas")
    api = Api(app, engine, read_replicas=ReadReplicas([replica], read_your_writes=3))
    default_resources(api, {})
    return app


def test_a_write_marks_its_client_for_primary_reads(engine: sa.Engine, tmp_path: Path) -> None:
    replica = sa.create_engine(f"sqlite:///{tmp_path / 'not-a-replica.db'}")
    client = _app(engine, replica).test_client()

    made = client.post("/api/authors", json={"name": "Le Guin"})
    read = client.get("/api/authors")
    failed = client.post("/api/authors", json={"name": 5})

    cookie = made.headers["Set-Cookie"]
    assert cookie.startswith(f"{WROTE_COOKIE}=")
    assert "Max-Age=3" in cookie
    assert "HttpOnly" in cookie
    assert "Set-Cookie" not in read.headers
    assert "Set-Cookie" not in failed.headers  # a refused write changed nothing
    replica.dispose()


def test_reads_fall_back_to_the_primary_when_no_replica_is_usable(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # A SQLite "replica" cannot answer PostgreSQL's lag question: it is left out.
    replica = sa.create_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    app = _app(engine, replica)
    client = app.test_client()
    client.post("/api/authors", json={"name": "Le Guin"})

    fresh = app.test_client()  # no cookie: may use a replica, and none is usable
    listed = fresh.get("/api/authors")

    assert listed.status_code == 200
    assert [a["name"] for a in listed.get_json()["data"]] == ["Le Guin"]
    replicas = app.extensions["tablerest"]["/api"].db.replicas
    assert replicas.pick() is None
    replica.dispose()
