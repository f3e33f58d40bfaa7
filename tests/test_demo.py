"""The demo database: deterministic, complete, with the password hidden."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from tablerest.demo import DEMO_HIDDEN, ensure_demo
from tablerest.demo.build import N_BOOKS
from tablerest.server import create_app


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite3")


def test_demo_is_built_once_and_deterministically(demo: Path, tmp_path: Path) -> None:
    before = demo.stat().st_mtime_ns
    assert ensure_demo(demo) == demo
    assert demo.stat().st_mtime_ns == before  # not rebuilt
    again = ensure_demo(tmp_path / "again.sqlite3")
    assert _digest(again) == _digest(demo)


def test_demo_has_the_promised_tables_and_rows(demo: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{demo}", poolclass=sa.NullPool)
    with engine.connect() as conn:
        counts = {
            t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in ("authors", "books", "users", "cohorts", "students")
        }
        hashes = conn.exec_driver_sql("SELECT password FROM users").scalars().all()
    engine.dispose()
    assert counts["books"] == N_BOOKS >= 10_000
    assert all(counts[t] > 0 for t in counts)
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_demo_api_never_shows_passwords(demo: Path) -> None:
    app = create_app(str(demo), hidden=DEMO_HIDDEN, engine_options={"poolclass": sa.NullPool})
    client = app.test_client()
    users = client.get("/api/users?page[size]=100")
    assert users.status_code == 200
    assert b"argon2" not in users.data
    assert b"password" not in users.data
    assert b"password" not in client.get("/api/users/1").data
    assert b"password" not in client.get("/api").data
    # No create (the hidden password must be filled on insert), and no write of it.
    resp = client.post("/api/users", json={"username": "x", "email": "x@x", "password": "p"})
    assert resp.status_code == 405
    resp = client.patch("/api/users/1", json={"password": "p"})
    assert resp.status_code == 422
    assert b"argon2" not in resp.data
    books = client.get("/api/books?count=true").get_json()
    assert books["meta"]["total"] == N_BOOKS
