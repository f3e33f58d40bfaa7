"""Keyset pages over a 10,000-row table, both ways: every row exactly once, no OFFSET."""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

N = 10_000


@pytest.fixture
def client(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    rng = random.Random(4)
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Author), [{"name": f"author {i:02d}"} for i in range(40)])
        conn.execute(
            sa.insert(models.Book),
            [
                {
                    "title": f"book {rng.randrange(500):03d}",
                    # Few distinct years and many NULLs: most of the order comes from ties.
                    "year": rng.choice([None, 1990, 2000, 2010]),
                    "pages": 100,
                    "author_id": rng.choice([None, *range(1, 41)]),
                }
                for _ in range(N)
            ],
        )
    return make_app().test_client()


def _walk(client: FlaskClient, url: str, link: str) -> tuple[list[int], int]:
    seen: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        body: dict[str, Any] = client.get(next_url).get_json()
        page = [b["id"] for b in body["data"]]
        seen = seen + page if link == "next" else page + seen
        next_url = body["links"][link]
        pages += 1
    return seen, pages


@pytest.mark.parametrize("sort", ["-year,title", "author.name,-year"])
def test_keyset_walks_every_row_once_both_ways(
    client: FlaskClient, engine: sa.Engine, sort: str
) -> None:
    offsets: list[Any] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "OFFSET" in statement.upper():
            # SQLite's dialect always writes LIMIT ? OFFSET ?; the offset must then be 0.
            offsets.append(parameters[-1] if isinstance(parameters, tuple | list) else statement)

    forward, pages = _walk(client, f"/api/books?page[size]=100&page[after]=&sort={sort}", "next")
    assert len(forward) == N
    assert len(set(forward)) == N
    assert pages == N // 100
    assert all(offset == 0 for offset in offsets)  # cost does not grow with depth

    last = client.get(f"/api/books?page[size]=100&page[before]=&sort={sort}").get_json()
    # page[before] with an empty cursor is the last page.
    assert [b["id"] for b in last["data"]] == forward[-100:]
    backward, _ = _walk(client, f"/api/books?page[size]=100&page[before]=&sort={sort}", "prev")
    assert backward == forward
