"""``tablerest init DIR``: a new project whose own tests pass right away, with the same
two-command quick start (``make serve``, ``make test``) as tablerest's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tablerest import cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "My Notes"
    result = CliRunner().invoke(cli.main, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    assert "make serve" in result.output
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
    assert "serve: migrate\n\t$(BIN)/flask --app app run --host 127.0.0.1 --port 8000" in makefile


def test_its_tests_pass_right_away_and_it_lints_clean(project: Path) -> None:
    tests = _run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    lint = _run(project, sys.executable, "-m", "ruff", "check", ".")

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
    assert lint.returncode == 0, lint.stdout


@pytest.mark.e2e
def test_make_test_builds_its_venv_and_passes(project: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    done = _run(project, "make", "test", timeout=600)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 passed" in done.stdout


def test_a_directory_with_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")

    result = CliRunner().invoke(cli.main, ["init", str(tmp_path)])

    assert result.exit_code != 0
    assert "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
