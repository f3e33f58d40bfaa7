"""Third-party JavaScript clients, installed by the tests themselves from the pinned lock file.

``package.json`` and ``package-lock.json`` here pin every package. :func:`installed` runs
``npm ci`` once per lock file into a cache outside the repository (``$XDG_CACHE_HOME`` or
``~/.cache``, under ``tablerest-test-clients/<hash of the lock>``), so a clean clone installs
them on its first test run and later runs reuse them. :func:`run` copies a script of this
folder beside the installed ``node_modules`` and runs it with Node.

Without ``node`` and ``npm`` (or without the npm registry) the tests that need them are
skipped with the reason, unless ``TABLEREST_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.databases import services_required

HERE = Path(__file__).resolve().parent
INSTALL_SECONDS = 600


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def installed() -> Path:
    """The folder whose ``node_modules`` holds the pinned clients (installed on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the third-party JavaScript clients")
    lock = (HERE / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "tablerest-test-clients" / digest
    target.mkdir(parents=True, exist_ok=True)
    done = target / ".installed"
    with (target / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # one installer at a time (pytest-xdist workers)
        if not done.exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copy(HERE / name, target / name)
            try:
                subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                    cwd=target,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_SECONDS,
                )
            except subprocess.CalledProcessError as exc:
                _unavailable(f"npm ci failed: {exc.stderr.strip()[-500:]}")
            except subprocess.TimeoutExpired:
                _unavailable(f"npm ci did not finish in {INSTALL_SECONDS} s")
            done.touch()
    return target


def workdir() -> Path:
    """A new folder beside the installed clients (Node finds ``node_modules`` from there),
    for one test's files."""
    return Path(tempfile.mkdtemp(prefix="run-", dir=installed()))


def workdir_with(*files: str, packages: dict[str, Path] | None = None) -> Path:
    """A new work folder with these files of this folder and these local packages (name:
    folder) in its own ``node_modules``, copied, as ``npm install <folder>`` would give them
    (their own imports still find the pinned clients one level up)."""
    cwd = workdir()
    for name in files:
        shutil.copy(HERE / name, cwd / name)
    for name, folder in (packages or {}).items():
        shutil.copytree(folder, cwd / "node_modules" / name)
    return cwd


def tool(
    name: str, *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run an installed package's command (``node_modules/.bin/<name>``) in ``cwd``."""
    target = installed()
    return subprocess.run(
        [str(target / "node_modules" / ".bin" / name), *args],
        cwd=cwd or target,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run(script: str, *args: str, cwd: Path | None = None, timeout: float = 120) -> Any:
    """Run ``script`` with Node beside the installed clients (a file of this folder, copied
    to a new work folder, or one already in ``cwd``); its standard output is one JSON
    document, returned parsed."""
    if cwd is None:
        cwd = workdir()
        shutil.copy(HERE / script, cwd / script)
    proc = subprocess.run(
        ["node", str(cwd / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)
