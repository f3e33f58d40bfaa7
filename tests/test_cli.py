"""The ``tablerest serve`` command, without starting a server: what it builds and prints."""

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

    monkeypatch.setattr(cli.serve, "run", fake_run)
    # serve --workers N sets it for its workers; the test process gets its own value back.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    return captured["factory"], captured["options"], result.output


def test_workers_share_one_cursor_key(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    factory, options, output = _serve(monkeypatch, str(pets), "--workers", "3", "--port", "9123")
    assert options == {
        "server": "granian",
        "host": "127.0.0.1",
        "port": 9123,
        "workers": 3,
        "threads": 4,
        "graceful_timeout": 30,
        "keep_alive": 5,
        "forwarded_allow_ips": "127.0.0.1,::1",
        "header_timeout": 5,
        "backlog": 2048,
        "workers_lifetime": None,
        "workers_max_rss": None,
        "ssl_certfile": None,
        "ssl_keyfile": None,
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


def test_every_setting_comes_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch, pets: Path
) -> None:
    for name, value in {
        "DATABASE": str(pets),
        "PORT": "9200",
        "WORKERS": "2",
        "THREADS": "1",
        "HEADER_TIMEOUT": "10",
        "WORKERS_LIFETIME": "3600",
        "READ_ONLY": "1",
        "PREFIX": "/v1",
    }.items():
        monkeypatch.setenv(f"TABLEREST_{name}", value)

    factory, options, output = _serve(monkeypatch)

    assert (options["port"], options["workers"], options["threads"]) == (9200, 2, 1)
    assert (options["header_timeout"], options["workers_lifetime"]) == (10, 3600)
    assert "read-only" in output
    client = factory().test_client()
    assert client.get("/v1/pets").status_code == 200
    assert client.post("/v1/pets", json={"name": "x"}).status_code == 405


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    monkeypatch.setenv("TABLEREST_PORT", "9200")

    _, options, _ = _serve(monkeypatch, str(pets), "--port", "9300")

    assert options["port"] == 9300


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "api.example.org"])
def test_open_writes_on_the_network_are_refused(
    monkeypatch: pytest.MonkeyPatch, pets: Path, host: str
) -> None:
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: None)

    refused = CliRunner().invoke(cli.main, ["serve", str(pets), "--host", host])

    assert refused.exit_code == 2
    assert "refusing to let anyone on the network write" in refused.output
    for fine in (["--read-only"], ["--allow-anonymous-writes"], ["--auth-table", "pets"]):
        result = CliRunner().invoke(cli.main, ["serve", str(pets), "--host", host, *fine])
        assert "refusing" not in result.output, (fine, result.output)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_serve_writes_without_auth(
    monkeypatch: pytest.MonkeyPatch, pets: Path, host: str
) -> None:
    _, options, _ = _serve(monkeypatch, str(pets), "--host", host)

    assert options["host"] == host


def test_gunicorn_on_request_with_its_own_options(
    monkeypatch: pytest.MonkeyPatch, pets: Path
) -> None:
    monkeypatch.setenv("TABLEREST_MAX_REQUESTS", "0")

    _, options, output = _serve(monkeypatch, str(pets), "--server", "gunicorn", "--timeout", "60")

    assert "1 worker(s) on gunicorn" in output
    assert options["server"] == "gunicorn"
    assert (options["timeout"], options["max_requests"], options["max_requests_jitter"]) == (
        60,
        0,
        1000,
    )
    assert options["access_log"] is False  # the app's JSON access log replaces gunicorn's
    assert "header_timeout" not in options
    assert "workers_lifetime" not in options


@pytest.mark.parametrize(
    ("server", "option"),
    [
        ("granian", ["--timeout", "60"]),
        ("granian", ["--max-requests", "100"]),
        ("granian", ["--max-requests-jitter", "10"]),
        ("gunicorn", ["--header-timeout", "3"]),
        ("gunicorn", ["--workers-lifetime", "600"]),
        ("gunicorn", ["--workers-max-rss", "512"]),
    ],
)
def test_an_option_the_chosen_server_lacks_is_an_error(
    monkeypatch: pytest.MonkeyPatch, pets: Path, server: str, option: list[str]
) -> None:
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: None)

    result = CliRunner().invoke(cli.main, ["serve", str(pets), "--server", server, *option])

    assert result.exit_code == 2
    assert f"{option[0]} is a" in result.output
    assert f"not {server}'s" in result.output


def test_tls_needs_a_certificate_and_its_key(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: None)

    result = CliRunner().invoke(cli.main, ["serve", str(pets), "--ssl-certfile", str(pets)])

    assert result.exit_code == 2
    assert "both --ssl-certfile and --ssl-keyfile" in result.output


def test_granian_gets_production_settings() -> None:
    from tablerest.granian_runner import granian_settings

    settings = granian_settings(host="::1", port=8000, workers=2, threads=8, keep_alive=0)

    assert (settings["address"], settings["port"], settings["workers"]) == ("::1", 8000, 2)
    assert settings["interface"] == "wsgi"
    assert settings["http"] == "1"
    assert settings["blocking_threads"] == 8
    assert settings["http1_settings"].header_read_timeout == 5000
    assert settings["http1_settings"].keep_alive is False
    assert settings["respawn_failed_workers"] is True
    assert settings["workers_kill_timeout"] == 30
    assert settings["log_access"] is False
    assert "ssl_cert" not in settings
    with pytest.raises(ValueError, match="both"):
        granian_settings(host="127.0.0.1", port=1, ssl_certfile="cert.pem")


def test_gunicorn_gets_production_settings() -> None:
    from tablerest.server import gunicorn_settings

    settings = gunicorn_settings(host="::1", port=8000, workers=4, threads=1, max_requests=0)

    assert settings["bind"] == "[::1]:8000"
    assert settings["worker_class"] == "sync"
    assert (settings["timeout"], settings["graceful_timeout"]) == (30, 30)
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (0, 0)
    assert settings["accesslog"] == "-"
    assert gunicorn_settings(host="127.0.0.1", port=1)["max_requests_jitter"] == 1000
    # One control socket per user would be shared by every serve process of that user.
    assert settings["control_socket_disable"] is True


def test_key_gives_a_view_item_routes(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    with sqlite3.connect(pets) as conn:
        conn.execute("CREATE VIEW named AS SELECT id, name FROM pets WHERE id < 4")
    conn.close()
    policy = pets.with_name("p.toml")
    policy.write_text('[keys]\nnamed = "id"\n')

    from_flag, _, _ = _serve(monkeypatch, str(pets), "--key", "named=id")
    from_file, _, _ = _serve(monkeypatch, str(pets), "--policy", str(policy))

    for factory in (from_flag, from_file):
        assert factory().test_client().get("/api/named/2").get_json() == {"id": 2, "name": "pet 1"}
    bad = CliRunner().invoke(cli.main, ["serve", str(pets), "--key", "named"])
    assert bad.exit_code == 2
    assert "is not TABLE=COL" in bad.output
