"""The ``tablerest serve`` command, without starting gunicorn: what it builds and prints."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tablerest import cli


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    path = tmp_path / "pets.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.executemany("INSERT INTO pets (name) VALUES (?)", [(f"pet {i}",) for i in range(9)])
    conn.close()
    return path


def _serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, dict[str, Any], str]:
    captured: dict[str, Any] = {}

    def fake_run(factory: Any, **options: Any) -> None:
        captured["factory"], captured["options"] = factory, options

    monkeypatch.setattr(cli, "run", fake_run)
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    return captured["factory"], captured["options"], result.output


def test_workers_share_one_cursor_key(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    factory, options, output = _serve(monkeypatch, str(pets), "--workers", "3", "--port", "9123")
    assert options == {
        "host": "127.0.0.1",
        "port": 9123,
        "workers": 3,
        "threads": 4,
        "access_log": True,
    }
    assert "http://127.0.0.1:9123/api" in output
    assert "pets" in output
    # Each worker builds its own app from the factory; a cursor from one works in another.
    first, second = factory().test_client(), factory().test_client()
    page = first.get("/api/pets?page[size]=4&page[after]=").get_json()
    following = second.get(page["links"]["next"])
    assert following.status_code == 200, following.get_data(as_text=True)
    assert [p["id"] for p in following.get_json()["data"]] == [5, 6, 7, 8]


def test_each_run_has_its_own_key_unless_given(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    one, _, _ = _serve(monkeypatch, str(pets))
    two, _, _ = _serve(monkeypatch, str(pets))
    page = one().test_client().get("/api/pets?page[size]=4&page[after]=").get_json()
    assert two().test_client().get(page["links"]["next"]).status_code == 400
    monkeypatch.setenv("TABLEREST_SECRET_KEY", "shared")
    three, _, _ = _serve(monkeypatch, str(pets))
    four, _, _ = _serve(monkeypatch, str(pets))
    page = three().test_client().get("/api/pets?page[size]=4&page[after]=").get_json()
    assert four().test_client().get(page["links"]["next"]).status_code == 200


def test_read_only_and_prefix_options(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    factory, _, output = _serve(monkeypatch, str(pets), "--read-only", "--prefix", "/v1")
    assert "read-only" in output
    client = factory().test_client()
    assert client.get("/v1/pets/1").get_json() == {"id": 1, "name": "pet 0"}
    assert client.post("/v1/pets", json={"name": "x"}).status_code == 405


def test_bad_database_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["serve", str(tmp_path / "missing.db")])
    assert result.exit_code != 0
    assert "no database file" in result.output
    result = CliRunner().invoke(cli.main, ["serve", "postgresql+psycopg://postgres@127.0.0.1:1/x"])
    assert result.exit_code != 0
    assert "cannot serve" in result.output


def test_searchable_columns(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    factory, _, _ = _serve(monkeypatch, str(pets), "--searchable", "pets=name")
    client = factory().test_client()
    assert [p["id"] for p in client.get("/api/pets?q=PET 3").get_json()["data"]] == [4]
    for bad in ("pets", "ghosts=name", "pets=id", "pets=nope"):
        result = CliRunner().invoke(cli.main, ["serve", str(pets), "--searchable", bad])
        assert result.exit_code != 0, bad


def test_database_first_serving_never_imports_the_orm(tmp_path: Path) -> None:
    # sqlalchemy.orm costs every worker ~6 MiB; a reflected database never needs it.
    path = tmp_path / "plain.sqlite3"
    script = f"""
import sqlite3, sys
con = sqlite3.connect({str(path)!r})
con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
con.commit()
from tablerest.server import create_app
client = create_app({str(path)!r}).test_client()
assert client.post("/api/notes", json={{"body": "x"}}).status_code == 201
assert client.patch("/api/notes/1", json={{"body": "y"}}).status_code == 200
assert client.get("/api/notes?include=").status_code == 200
assert client.delete("/api/notes/1").status_code == 204
print("sqlalchemy.orm" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
