"""tablerest's own Makefile: `make serve` installs what serving needs, `make test` adds the dev
extras, and neither installs again what the other has installed. Read from ``make -n`` (what
make would run) on a copy of the Makefile with a stand-in .venv, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(CHECKOUT / name, tmp_path / name)
    return tmp_path


def _would_run(checkout: Path, target: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    done = subprocess.run(
        ["make", "-n", target], cwd=checkout, env=env, capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    return done.stdout


def _venv(checkout: Path, *stamps: str) -> None:
    """A .venv as the Makefile leaves it: its python, and the given stamps, newer than
    pyproject.toml."""
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").touch(mode=0o755)
    later = time.time() + 5
    for stamp in stamps:
        (checkout / ".venv" / stamp).touch()
        os.utime(checkout / ".venv" / stamp, (later, later))


def test_serve_on_a_fresh_checkout_installs_the_package_without_the_dev_extras(
    checkout: Path,
) -> None:
    commands = _would_run(checkout, "serve")

    assert "-m venv .venv" in commands
    assert "pip install --quiet -e .\n" in commands
    assert "[dev]" not in commands
    assert commands.rstrip().endswith("tablerest serve --host 127.0.0.1 --port 8000")


def test_test_after_serve_adds_the_dev_extras(checkout: Path) -> None:
    _venv(checkout, ".installed-serve")

    commands = _would_run(checkout, "test")

    assert "pip install --quiet -e '.[dev]'" in commands
    assert "-m venv" not in commands


def test_serve_after_test_installs_nothing(checkout: Path) -> None:
    # make test's install stands for serve's too (the dev extras include the package).
    assert "touch .venv/.installed-dev .venv/.installed-serve" in _would_run(checkout, "test")
    _venv(checkout, ".installed-dev", ".installed-serve")

    commands = _would_run(checkout, "serve")

    assert commands.strip() == ".venv/bin/tablerest serve --host 127.0.0.1 --port 8000"


def test_a_changed_pyproject_installs_again(checkout: Path) -> None:
    _venv(checkout, ".installed-serve", ".installed-dev")
    later = time.time() + 10
    os.utime(checkout / "pyproject.toml", (later, later))

    assert "pip install --quiet -e .\n" in _would_run(checkout, "serve")
    assert "pip install --quiet -e '.[dev]'" in _would_run(checkout, "test")
