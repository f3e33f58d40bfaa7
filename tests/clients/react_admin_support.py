"""What the react-admin tests share: a demo server whose database they read with SQL, and a
work folder with the provider of ``clients/react-admin`` installed beside the pinned clients."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from tests.clients import node
from tests.e2e.conftest import Server

PROVIDER = Path(__file__).resolve().parents[2] / "clients" / "react-admin"
DEMO = "demo.sqlite3"


def demo_server(folder: Path, *args: str) -> Server:
    """``tablerest serve`` on a new copy of the demo database, ``folder / DEMO``."""
    return Server(list(args), {**os.environ, "TABLEREST_DEMO_PATH": str(folder / DEMO)})


def rows(server: Server, sql: str, *params: Any, database: str = DEMO) -> list[tuple[Any, ...]]:
    """What the server's database (beside its log) holds now: read with SQL, not the API."""
    with sqlite3.connect(server.log.parent / database) as db:
        return db.execute(sql, params).fetchall()


def provider_workdir(*files: str) -> Path:
    """A work folder with these files of ``tests/clients`` and the provider installed as
    ``node_modules/ra-data-tablerest`` (as ``npm install clients/react-admin`` gives it)."""
    return node.workdir_with(*files, packages={"ra-data-tablerest": PROVIDER})
