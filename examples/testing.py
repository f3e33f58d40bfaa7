"""Helpers shared by the examples' tests: read the database with sqlite3, check problem bodies."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from werkzeug.test import TestResponse

__all__ = ["pointers", "problem", "sql"]


def sql(db_path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows as the database holds them, read without SQLAlchemy or tablerest."""
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(query, params).fetchall()


def problem(resp: TestResponse, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body: dict[str, Any] = resp.get_json()
    assert body["status"] == status
    return body


def pointers(body: dict[str, Any]) -> set[str]:
    return {e["pointer"] for e in body["errors"]}
