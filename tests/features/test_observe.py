"""Observability: health probes, request ids, Prometheus metrics, JSON access logs."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tablerest import Api, Observability
from tests.conftest import AppFactory, default_resources


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app(api={"observability": Observability(access_log=True)})


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_health_and_readiness_probes(app: Flask) -> None:
    client = app.test_client()

    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readiness_is_503_with_retry_after_when_the_database_is_gone(tmp_path: Any) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    app = Flask("unready")
    Api(app, engine, observability=Observability())
    client = app.test_client()

    resp = client.get("/readyz")

    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["Retry-After"] == "5"
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    engine.dispose()


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123_x.y:z", True), ("", False), ("x" * 129, False), ("bad id", False), ("é", False)],
)
def test_request_ids_are_kept_when_sane_else_made(app: Flask, given: str, kept: bool) -> None:
    client = app.test_client()

    resp = client.get("/api/books", headers={"X-Request-ID": given} if given else {})

    rid = resp.headers["X-Request-ID"]
    assert (rid == given) is kept
    if not kept:
        assert len(rid) == 32
        assert int(rid, 16) >= 0


def test_each_request_gets_its_own_id_on_errors_too(app: Flask) -> None:
    client = app.test_client()

    ids = {client.get("/api/books/999").headers["X-Request-ID"] for _ in range(3)}
    ids.add(client.get("/api/nowhere").headers["X-Request-ID"])

    assert len(ids) == 4


def test_request_ids_made_in_forked_workers_are_their_own(app: Flask) -> None:
    """Workers forked from one process (gunicorn, granian) do not repeat each other's ids."""
    client = app.test_client()
    before = client.get("/api/books").headers["X-Request-ID"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers one request, hands its id over and leaves at once
        try:
            os.write(write, client.get("/api/books").headers["X-Request-ID"].encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    after = client.get("/api/books").headers["X-Request-ID"]

    # The child's request and the parent's next one each come right after ``before``.
    assert len({before, child, after}) == 3


def test_metrics_count_requests_by_route_template_method_and_status(app: Flask) -> None:
    client = app.test_client()
    client.get("/api/books")
    client.get("/api/books?page[size]=1")
    client.get("/api/books/999")
    client.post("/api/books", json={"title": 5})

    text = client.get("/metrics").get_data(as_text=True)
    samples = _samples(text)

    def count(route: str, method: str, status: str) -> float:
        labels = frozenset({"route": route, "method": method, "status": status}.items())
        return samples.get(("tablerest_requests_total", labels), 0.0)

    assert count("/api/books", "GET", "200") == 2
    assert count("/api/books/<key>", "GET", "404") == 1
    assert count("/api/books", "POST", "422") == 1
    latency = frozenset({"route": "/api/books", "method": "GET"}.items())
    assert samples[("tablerest_request_duration_seconds_count", latency)] == 2
    assert ("tablerest_db_connections_in_use", frozenset()) in samples
    # A client's paths never become labels (bounded series).
    client.get("/api/nowhere/at/all")
    text = client.get("/metrics").get_data(as_text=True)
    assert "nowhere" not in text
    assert 'route="<unmatched>"' in text


@pytest.fixture
def access_logger(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The access logger as a fresh process has it: no handler yet (the app adds its own,
    on the stderr of the test)."""
    logger = logging.getLogger("tablerest.access")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", True)
    return logger


def test_the_pool_gauge_counts_connections_checked_out_when_scraped(tmp_path: Any) -> None:
    from tablerest.server import create_app

    path = tmp_path / "pool.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT)")
    conn.close()
    app = create_app(str(path), observability=Observability())  # a pool of connections
    client = app.test_client()
    engine = app.extensions["tablerest"]["/api"].db.engine()
    gauge = ("tablerest_db_connections_in_use", frozenset())

    def in_use() -> float:
        return _samples(client.get("/metrics").get_data(as_text=True))[gauge]

    client.get("/api/books")
    assert in_use() == 0
    with engine.connect(), engine.connect():  # held by something else than a request
        assert in_use() == 2
    assert in_use() == 0


def test_access_log_is_one_json_line_per_request(
    make_app: AppFactory, access_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(api={"observability": Observability(access_log=True)})
    client = app.test_client()
    capsys.readouterr()
    resp = client.get("/api/books/7?fields=title", headers={"X-Request-ID": "trace-1"})

    (text,) = capsys.readouterr().err.splitlines()
    line: dict[str, Any] = json.loads(text)
    assert line["request_id"] == "trace-1" == resp.headers["X-Request-ID"]
    assert (line["method"], line["path"]) == ("GET", "/api/books/7")
    assert line["route"] == "/api/books/<key>"
    assert line["status"] == 404
    assert line["duration_ms"] > 0
    assert line["bytes"] == len(resp.data)
    assert line["user"] is None
    assert list(line) == ["time", "request_id", "method", "path", "route", "status",
                          "duration_ms", "bytes", "client", "user"]  # fmt: skip
    assert access_logger.propagate is False  # not twice, through the root logger


def test_an_access_log_set_up_by_the_app_gets_log_records(
    make_app: AppFactory,
    access_logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app(api={"observability": Observability(access_log=True)})
    client = app.test_client()
    capsys.readouterr()
    # A handler or a filter added afterwards, as logging.config would: records again.
    for change in ("handler", "filter"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="tablerest.access"):
            if change == "handler":
                access_logger.addHandler(caplog.handler)
            else:
                access_logger.removeHandler(caplog.handler)
                access_logger.addFilter(kept := lambda record: True)
                access_logger.propagate = True  # caplog listens on the root logger
            client.get("/api/books/7", headers={"X-Request-ID": f"by-{change}"})
        if change == "filter":
            access_logger.removeFilter(kept)
        (record,) = [r for r in caplog.records if r.name == "tablerest.access"]
        line: dict[str, Any] = record.access  # type: ignore[attr-defined]
        assert line["request_id"] == f"by-{change}"
        from tablerest.mount.observe import _JsonLines

        assert json.loads(_JsonLines().format(record)) == line
    # The app's own stderr handler wrote each line too, formatted the same way.
    written = [json.loads(t) for t in capsys.readouterr().err.splitlines()]
    assert [w["request_id"] for w in written] == ["by-handler", "by-filter"]


def test_nothing_is_added_without_the_option(make_app: AppFactory) -> None:
    client = make_app().test_client()

    assert client.get("/healthz").status_code == 404
    assert client.get("/metrics").status_code == 404
    assert "X-Request-ID" not in client.get("/api/books").headers


def test_paths_can_be_moved_or_turned_off(engine: sa.Engine) -> None:
    app = Flask("moved")
    api = Api(
        app,
        engine,
        observability=Observability(health="/-/live", ready=None, metrics="/-/metrics"),
    )
    default_resources(api, {})
    client = app.test_client()

    assert client.get("/-/live").status_code == 200
    assert client.get("/readyz").status_code == 404
    assert client.get("/-/metrics").status_code == 200
