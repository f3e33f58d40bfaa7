"""``tablerest init DIR``: a new project whose own tests pass right away, with the same
two-command quick start (``make serve``, ``make test``) as tablerest's."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from tablerest import cli
from tablerest.scaffold import _source_from_direct_url
from tests.helpers import stop_group

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "My Notes"
    result = CliRunner().invoke(cli.main, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    # A command to paste into a shell: the name with a space is quoted.
    assert f"cd {shlex.quote(str(directory))} && make serve" in result.output
    return directory


def _run(cwd: Path, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABLEREST_", "DATABASE_URL"))}
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_project_has_its_parts(project: Path) -> None:
    files = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}

    assert {
        ".gitignore",
        "Makefile",
        "README.md",
        "pyproject.toml",
        "app/__init__.py",
        "app/models.py",
        "app/settings.py",
        "tests/__init__.py",
        "tests/test_api.py",
        "migrations/env.py",
        "migrations/script.py.mako",
    } <= files
    (first,) = (project / "migrations" / "versions").glob("*_first_tables.py")
    assert "create_table('notes'" in first.read_text()
    assert 'name = "my-notes"' in (project / "pyproject.toml").read_text()
    makefile = (project / "Makefile").read_text()
    assert "\tserve: migrate" not in makefile  # targets at column 0, recipes after a tab
    assert "serve: migrate\n\t$(BIN)/flask --app app run --host $(HOST) --port $(PORT)" in makefile
    assert f"TABLEREST ?= {CHECKOUT}\n" in makefile  # made from this checkout: installs it


def test_its_tests_pass_right_away_and_it_lints_clean(project: Path) -> None:
    tests = _run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    lint = _run(project, sys.executable, "-m", "ruff", "check", ".")

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
    assert lint.returncode == 0, lint.stdout


# -- the Makefile, for real: one project and one .venv for these tests (pip takes ~30 s) -----


def _make_env() -> dict[str, str]:
    """The environment a user's shell has: none of this suite's settings (its PYTHONPATH would
    put this checkout before what the project's .venv installed), nor an outer make's flags."""
    drop = ("TABLEREST_", "DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "MAKELEVEL"}


def _make(project: Path, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["make", *argv], cwd=project, env=_make_env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"make {' '.join(argv)}:\n{output}"
    return done


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project after its first ``make migrate`` (which makes .venv: pip installs tablerest
    from this checkout, by path, and the project)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    directory = tmp_path_factory.mktemp("made") / "My Notes"
    result = CliRunner().invoke(cli.main, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    _make(directory, "migrate", timeout=600)
    return directory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(method: str, url: str, body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


@pytest.mark.e2e
def test_make_migrate_builds_the_default_database(migrated: Path) -> None:
    (revision,) = (migrated / "migrations" / "versions").glob("*_first_tables.py")
    with sqlite3.connect(migrated / "instance" / "app.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()

    assert {"notes", "alembic_version"} <= tables
    assert revision.name.startswith(f"{version}_")
    assert (migrated / ".venv" / ".installed-serve").is_file()
    assert not (migrated / ".venv" / ".installed-dev").exists()  # serving needs no pytest
    pip = [str(migrated / ".venv" / "bin" / "python"), "-m", "pip", "show", "pytest"]
    assert subprocess.run(pip, capture_output=True, check=False).returncode != 0


@pytest.mark.e2e
def test_make_serve_serves_the_api_on_127_0_0_1(migrated: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = migrated / "instance" / "serve.log"
    with log.open("w") as out:
        # A session of its own, so that make and the flask it starts stop together.
        proc = subprocess.Popen(
            ["make", "serve", f"PORT={port}"], cwd=migrated, env=_make_env(), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no answer in 60 s\n" + log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        created, _ = _request("POST", f"{base}/api/notes", {"title": "Served"})
        status, listed = _request("GET", f"{base}/api/notes")
    finally:
        stop_group(proc)

    assert (created, status) == (201, 200)
    assert [n["title"] for n in listed["data"]] == ["Served"]  # type: ignore[index]
    with sqlite3.connect(migrated / "instance" / "app.db") as conn:
        assert conn.execute("SELECT title FROM notes").fetchall() == [("Served",)]


@pytest.mark.e2e
def test_make_migration_writes_a_revision_for_a_changed_model(migrated: Path) -> None:
    models = migrated / "app" / "models.py"
    models.write_text(models.read_text() + "    priority: Mapped[int | None]\n")

    _make(migrated, "migration", "m=add priority")
    _make(migrated, "migrate")

    (revision,) = (migrated / "migrations" / "versions").glob("*_add_priority.py")
    assert "add_column(sa.Column('priority'" in revision.read_text()
    with sqlite3.connect(migrated / "instance" / "app.db") as conn:
        assert "priority" in {r[1] for r in conn.execute("PRAGMA table_info(notes)")}


@pytest.mark.e2e
def test_make_test_adds_the_dev_extras_and_passes(migrated: Path) -> None:
    done = _make(migrated, "test", timeout=600)

    assert "4 passed" in done.stdout
    assert (migrated / ".venv" / ".installed-dev").is_file()
    again = _make(migrated, "serve", "--dry-run")  # after make test: nothing to install again
    assert "pip install" not in again.stdout


@pytest.mark.e2e
def test_a_project_made_by_an_installed_tablerest_installs_it_from_the_same_place(
    migrated: Path, tmp_path: Path
) -> None:
    # The project's .venv holds tablerest installed by path (not a checkout any more): a
    # project made with it must not point at a package index that does not have tablerest.
    tablerest = migrated / ".venv" / "bin" / "tablerest"
    done = subprocess.run(
        [str(tablerest), "init", str(tmp_path / "again")], env=_make_env(), capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"TABLEREST ?= {CHECKOUT}\n" in (tmp_path / "again" / "Makefile").read_text()


def test_a_git_install_is_named_as_pip_takes_it() -> None:
    recorded = {
        "url": "https://git.example/tablerest.git",
        "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"},
    }

    source = _source_from_direct_url(json.dumps(recorded))

    assert source == "tablerest @ git+https://git.example/tablerest.git@0123abc"
    assert _source_from_direct_url(None) == "tablerest"
    local = {"url": "file:///src/tablerest", "vcs_info": {"vcs": "git", "commit_id": "ab"}}
    assert _source_from_direct_url(json.dumps(local)) == (
        "tablerest @ git+file://localhost/src/tablerest@ab"
    )


def test_a_directory_with_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")

    result = CliRunner().invoke(cli.main, ["init", str(tmp_path)])

    assert result.exit_code != 0
    assert "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
