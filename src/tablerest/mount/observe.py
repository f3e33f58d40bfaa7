"""Observability: health probes, request ids, Prometheus metrics and JSON access logs.

``Api(app, db, observability=Observability())`` adds, to the whole app:

- ``GET /healthz``: 200 while the process serves (liveness); ``GET /readyz``: 200 when the
  database answers ``SELECT 1``, else a 503 problem with ``Retry-After`` (readiness);
- an ``X-Request-ID`` on every response: the client's own when it is sane (1-128 characters of
  ``A-Z a-z 0-9 . _ : -``), else a new one;
- ``GET /metrics`` in Prometheus' text format (prometheus-client): requests by route template,
  method and status, a latency histogram per route and method, and the database connections
  checked out of the pool. Under several gunicorn workers (``PROMETHEUS_MULTIPROC_DIR`` set, as
  ``tablerest serve --workers N`` does), every worker's numbers are summed;
- with ``access_log=True``, one JSON line per request on the ``tablerest.access`` logger:
  time, request id, method, path, route, status, duration, response size, client address and,
  when known, the caller's id.

Routes are labelled by their URL rule (``/api/books/<key>``), never by the path a client sent,
so the number of series stays bounded.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from flask import Flask, Response, request
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as WResponse

from ..errors import ServiceUnavailable
from ..execute.dberrors import request_ids as current_request_id
from ..render.problem import problem_response
from . import hooks
from .scoped import RequestScoped

if TYPE_CHECKING:
    from ..execute.store import Database

__all__ = ["ACCESS_LOGGER", "Observability"]

ACCESS_LOGGER = "tablerest.access"
_STARTED = "tablerest.started"
_REQUEST_ID = "tablerest.request_id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Latency buckets (seconds): an API answers in milliseconds, exports take seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Observability:
    """What an app tells its operators; pass it as ``Api(observability=...)``.

    ``health``, ``ready``, ``metrics``: the probe and metrics paths (``None`` turns one off);
    ``request_ids``: accept or make an ``X-Request-ID`` per request; ``access_log``: one JSON
    line per request on the ``tablerest.access`` logger (a stderr handler is added when the
    logger has none).
    """

    def __init__(
        self,
        *,
        health: str | None = "/healthz",
        ready: str | None = "/readyz",
        metrics: str | None = "/metrics",
        request_ids: bool = True,
        access_log: bool = False,
    ) -> None:
        self.health, self.ready, self.metrics_path = health, ready, metrics
        self.request_ids = request_ids
        self.access_log = access_log

    def install(self, app: Flask, db: Database, identify: Callable[[Any], Any] | None) -> None:
        """Add the probes, the metrics route and the per-request hooks to ``app``."""
        metrics = _Metrics(db) if self.metrics_path else None
        log = _AccessLog() if self.access_log else None
        if self.health:
            app.add_url_rule(self.health, "tablerest.healthz", _healthz, methods=["GET"])
        if self.ready:
            app.add_url_rule(self.ready, "tablerest.readyz", lambda: _readyz(db), methods=["GET"])
        if metrics is not None and self.metrics_path:
            app.add_url_rule(
                self.metrics_path, "tablerest.metrics", metrics.exposition, methods=["GET"]
            )
        request_ids = self.request_ids
        # The store's log lines (a database error) carry it, without importing Flask.
        logged_id = RequestScoped(app, current_request_id)

        def started(req: Request) -> None:
            environ = req.environ
            environ[_STARTED] = time.perf_counter()
            if request_ids or log is not None:
                given = environ.get("HTTP_X_REQUEST_ID", "")
                environ[_REQUEST_ID] = given if _SANE_ID.fullmatch(given) else _new_id()
                logged_id.set(req, environ[_REQUEST_ID])

        def finished(req: Request, resp: WResponse) -> WResponse:
            environ = req.environ
            seconds = time.perf_counter() - environ.get(_STARTED, time.perf_counter())
            rid = environ.get(_REQUEST_ID)
            if request_ids and rid is not None:
                resp.headers["X-Request-ID"] = rid
            rule = getattr(req, "url_rule", None)  # Flask's request (or the lean path's) has it
            route = rule.rule if rule is not None else "<unmatched>"
            if metrics is not None:
                metrics.observe(req.method, route, resp.status_code, seconds)
            if log is not None:
                log.write(
                    {
                        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": rid,
                        "method": req.method,
                        "path": req.path,
                        "route": route,
                        "status": resp.status_code,
                        "duration_ms": round(seconds * 1000, 3),
                        # A streamed body (export, change feed) is not read here.
                        "bytes": None if resp.is_streamed else resp.calculate_content_length(),
                        "client": req.remote_addr,
                        "user": _user(identify, req),
                    }
                )
            return resp

        hooks.before(app, started)
        hooks.after(app, finished)


class _Ids:
    """New request ids: 32 hex digits, half random per process and half a counter (a uuid4 per
    request asks the kernel for randomness an id does not need)."""

    def __init__(self) -> None:
        self._start()
        os.register_at_fork(after_in_child=self._start)  # workers forked from one process

    def _start(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"


_new_id = _Ids()


def request_id() -> str | None:
    """The current request's id (``X-Request-ID``), for the app's own logs."""
    value = request.environ.get(_REQUEST_ID)
    return value if isinstance(value, str) else None


def _user(identify: Callable[[Any], Any] | None, req: Request) -> str | None:
    if identify is None:
        return None
    try:
        identity = identify(req)
    except Exception:  # a bad token: the response already says 401; the log says anonymous
        return None
    return None if identity is None else str(identity.id)


def _healthz() -> Response:
    return Response(b'{"status":"ok"}', mimetype="application/json")


def _readyz(db: Database) -> WResponse:
    try:
        with db.engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return problem_response(ServiceUnavailable("The database cannot be reached"))
    return Response(b'{"status":"ready"}', mimetype="application/json")


class _Metrics:
    """The app's Prometheus metrics, in a registry of its own (several apps per process)."""

    def __init__(self, db: Database) -> None:
        # Imported here: an app without metrics does not load prometheus-client.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.db = db
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tablerest_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tablerest_request_duration_seconds",
            "Time from request to response, by route template and method",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.in_use = Gauge(
            "tablerest_db_connections_in_use",
            "Database connections checked out of the pool",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        # One process: read the pool when scraped. Several (each writes its own file, which
        # the scrape sums): kept current by every request.
        self._per_request = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if not self._per_request:
            self.in_use.set_function(self._checked_out)

    def _checked_out(self) -> float:
        checked_out = getattr(self.db.engine().pool, "checkedout", None)
        return float(checked_out()) if checked_out is not None else 0.0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The series of a route, method and status, found once: labels() checks and joins its
        # arguments on every call. Routes are URL rules, so the keys are few.
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
        series[0].inc()
        series[1].observe(seconds)
        if self._per_request:
            self.in_use.set(self._checked_out())

    def exposition(self) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if access is None:
            return super().format(record)
        return orjson.dumps(access).decode()


class _AccessLog:
    """The JSON access log: one line per request on the ``tablerest.access`` logger (a stderr
    handler of its own is added when the logger has none)."""

    def __init__(self) -> None:
        self.logger = logger = logging.getLogger(ACCESS_LOGGER)
        if not logger.handlers:
            logger.addHandler(_StderrLines())
            logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)

    def write(self, access: dict[str, Any]) -> None:
        logger = self.logger
        # While the logger is as set up here (its one handler ours, no filter, INFO on), the
        # line goes straight to the handler's stream, as the handler would write it: a log
        # record (caller lookup, thread and process names) costs more than the rest of the
        # line. Any other set-up, made at any time, gets a record.
        handlers = logger.handlers
        if (
            len(handlers) == 1
            and type(own := handlers[0]) is _StderrLines
            and not (logger.filters or own.filters or logger.disabled)
            and logger.isEnabledFor(logging.INFO)
        ):
            line = orjson.dumps(access).decode() + own.terminator
            try:
                with own.lock:  # type: ignore[union-attr]
                    own.stream.write(line)
                    own.stream.flush()
                return
            except Exception:  # noqa: S110  # a closed or failing stream: logging's own handling
                pass
        logger.info("", extra={"access": access})


class _StderrLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The access log's own handler: JSON lines on stderr."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(_JsonLines())
