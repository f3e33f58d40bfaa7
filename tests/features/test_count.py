"""Count strategies: ``count=exact|estimated|capped`` and a per-resource default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api
from tests.databases import BACKENDS
from tests.helpers import problem

every_backend = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Integer, nullable=False),
)


@pytest.fixture
def events(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    EVENTS.create(engine)
    with engine.begin() as conn:
        conn.execute(EVENTS.insert(), [{"kind": i % 4} for i in range(400)])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE events")
        elif engine.dialect.name != "sqlite":
            conn.exec_driver_sql("ANALYZE TABLE events")
    yield engine
    engine.dispose()


def _client(engine: sa.Engine, **options: Any) -> FlaskClient:
    app = Flask("counts")
    Api(app, engine).resource(EVENTS, **options)
    return app.test_client()


def _meta(client: FlaskClient, query: str) -> dict[str, Any]:
    resp = client.get(f"/api/events?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    meta: dict[str, Any] = resp.get_json()["meta"]
    meta.pop("page")
    return meta


@every_backend
def test_exact_counts_every_matching_row(events: sa.Engine) -> None:
    client = _client(events)

    assert _meta(client, "count=exact") == {"total": 400}
    assert _meta(client, "count=true&kind=1") == {"total": 100}
    assert _meta(client, "count") == {"total": 400}  # a bare flag
    assert _meta(client, "") == {}
    assert _meta(client, "count=false") == {}


@every_backend
def test_capped_counts_stop_at_the_cap(events: sa.Engine) -> None:
    client = _client(events, count_cap=150)

    assert _meta(client, "count=capped") == {"total": 150, "total_capped": True}
    assert _meta(client, "count=capped&kind=2") == {"total": 100, "total_capped": False}
    assert _meta(client, "count=capped&filter[id][gt]=250") == {
        "total": 150,
        "total_capped": False,
    }
    assert _meta(client, "count=capped&filter[id][gt]=249") == {
        "total": 150,
        "total_capped": True,
    }


@every_backend
def test_estimated_counts_ask_the_planner(events: sa.Engine) -> None:
    client = _client(events, count_cap=1000)

    meta = _meta(client, "count=estimated")

    if events.dialect.name == "sqlite":
        # SQLite's planner gives no row estimates: a capped count stands in.
        assert meta == {"total": 400, "total_capped": False}
    else:
        assert meta["total_estimated"] is True
        assert 200 <= meta["total"] <= 800  # the planner's statistics after ANALYZE


@every_backend
def test_a_resource_counts_by_default_when_told(events: sa.Engine) -> None:
    client = _client(events, count="exact")

    assert _meta(client, "") == {"total": 400}
    assert _meta(client, "count=false") == {}
    assert _meta(client, "count=capped") == {"total": 400, "total_capped": False}


@every_backend
def test_count_values_are_checked(events: sa.Engine) -> None:
    client = _client(events)

    body = problem(client.get("/api/events?count=maybe"), 400)

    assert body["parameter"] == "count"
    with pytest.raises(ValueError, match="count must be one of"):
        _client(events, count="roughly")


@every_backend
def test_counts_respect_relations_and_pages(events: sa.Engine) -> None:
    client = _client(events, count_cap=10)

    page = client.get("/api/events?count=capped&page[size]=5&page[number]=3").get_json()

    assert [e["id"] for e in page["data"]] == [11, 12, 13, 14, 15]
    assert page["meta"]["total"] == 10
    assert page["meta"]["total_capped"] is True


def test_a_capped_count_does_bounded_work(tmp_path: Any) -> None:
    """On a table of a million rows, the capped count executes about as many SQLite VM steps
    as on a table of ten thousand; the exact count a hundred times more."""
    # The work is counted with SQLite's progress handler: every 1,000 VM instructions.
    steps = {"n": 0}
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'big.db'}")

    @sa.event.listens_for(engine, "connect")
    def count_steps(dbapi: Any, _record: Any) -> None:
        def tick() -> int:
            steps["n"] += 1
            return 0

        dbapi.set_progress_handler(tick, 1000)

    def work(rows: int, query: str) -> int:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS events")
            EVENTS.create(conn)
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                " INSERT INTO events (id, kind) SELECT i, i % 4 FROM n",
                (rows,),
            )
        client = _client(engine, count_cap=1000)
        steps["n"] = 0
        meta = _meta(client, query)
        assert meta["total"] in (1000, rows // 4, rows), meta
        return steps["n"]

    capped_small = work(10_000, "count=capped&kind=1")
    capped_big = work(1_000_000, "count=capped&kind=1")
    exact_big = work(1_000_000, "count=exact&kind=1")
    engine.dispose()

    assert capped_big <= capped_small * 2 + 2
    assert exact_big > capped_big * 100
