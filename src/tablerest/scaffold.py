"""``tablerest init DIR``: a new code-first project whose own tests pass right away.

The project: an app factory (``app/__init__.py``), models (``app/models.py``), settings from
environment variables (``app/settings.py``), migrations with a first revision, tests through
HTTP, and a Makefile with the same two-command quick start as tablerest's (``make serve``,
``make test``).
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import migrate

__all__ = ["create_project"]

TEMPLATE = Path(__file__).parent / "project_template"


def _tablerest_source() -> str:
    """What the project's Makefile installs: this checkout when tablerest runs from one, else
    where pip installed it from (tablerest is not on a package index yet)."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "tablerest").is_dir():
        return str(checkout)
    try:
        direct_url = metadata.distribution("tablerest").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct_url = None
    return _source_from_direct_url(direct_url)


def _source_from_direct_url(direct_url: str | None) -> str:
    """A pip requirement for the place an installed tablerest came from, read from the
    ``direct_url.json`` pip writes for a path, archive or git install (PEP 610); ``tablerest``
    (a package index) when there is none.

    >>> _source_from_direct_url('{"url": "file:///src/tablerest", "dir_info": {}}')
    '/src/tablerest'
    >>> _source_from_direct_url('{"url": "https://h/t.git", "vcs_info": {"vcs": "git", '
    ...                        '"commit_id": "ab12"}}')
    'tablerest @ git+https://h/t.git@ab12'
    """
    if not direct_url:
        return "tablerest"
    info = json.loads(direct_url)
    url = str(info["url"])
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        commit = vcs.get("commit_id")
        if url.startswith("file:///"):  # pip before 23.3 wants a host in a git+file URL
            url = "file://localhost/" + url[len("file:///") :]
        return f"tablerest @ {vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    if "dir_info" in info and url.startswith("file://"):
        return unquote(urlsplit(url).path)
    return f"tablerest @ {url}"  # an archive (a wheel or an sdist), local or not


def create_project(directory: Path) -> list[Path]:
    """Write the project into ``directory`` (new or empty); return the files written."""
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} exists and is not empty")
    name = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-") or "api"
    values = {"name": name, "tablerest": _tablerest_source()}
    written = []
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).with_suffix("")
        if relative.name == "gitignore":
            relative = relative.with_name(".gitignore")
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(string.Template(source.read_text()).substitute(values))
        written.append(target)
    migrations = directory / "migrations"
    migrate.init(migrations)
    _first_revision(directory)
    written += sorted(p for p in migrations.rglob("*") if p.is_file())
    return written


def _first_revision(directory: Path) -> None:
    """The models' tables as revision one, found by autogenerate against an empty database
    (in a process of its own: the project's ``app`` package is not importable here)."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
            [sys.executable, "-m", "tablerest", "db", "revision", "--autogenerate",
             "-m", "first tables", "--models", "app.models",
             "--database", str(Path(scratch) / "empty.db")],
            cwd=directory, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"could not write the first migration: {done.stderr or done.stdout}")
