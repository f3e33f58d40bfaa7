"""The lean path (``create_app(lean=True)``, what ``tablerest serve`` runs): tablerest's routes
served without Flask's request context answer exactly what Flask answers, and Flask serves
whatever the lean path cannot serve the same way.

Each differential test builds the same database twice with raw SQL (the way another program
writes it), serves one copy through Flask and one through the lean path, sends both the same
requests, and compares status, headers (but the request id and date) and bodies.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, signals
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tablerest.mount.lean import LeanApp
from tablerest.mount.observe import ACCESS_LOGGER, Observability
from tablerest.server import create_app

SCHEMA = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    year INTEGER CHECK (year > 0),
    price NUMERIC,
    author_id INTEGER REFERENCES authors(id)
);
CREATE TABLE tags (name TEXT NOT NULL, book_id INTEGER NOT NULL REFERENCES books(id));
INSERT INTO authors (name) VALUES ('Ann'), ('Bob');
INSERT INTO books (title, year, price, author_id) VALUES
    ('Dune', 1965, 9.5, 1), ('Emma', 1815, 4, 2), ('Ubik', 1969, NULL, 1);
"""
VOLATILE = {"X-Request-ID", "Date"}


def _database(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return path


def _app(path: Path, *, lean: bool, **options: Any) -> Flask:
    options.setdefault("observability", Observability(access_log=True))
    options.setdefault("allowed_hosts", ["localhost"])
    return create_app(str(path), secret_key="lean-tests-" + "k" * 32, lean=lean, **options)


class Counted:
    """Counts the requests the lean path hands to Flask."""

    def __init__(self, app: Flask) -> None:
        lean = app.wsgi_app
        assert isinstance(lean, LeanApp)
        self.lean, self.calls, flask = lean, 0, lean.flask

        def counted(environ: Any, start_response: Any) -> Any:
            self.calls += 1
            return flask(environ, start_response)

        lean.flask = counted  # type: ignore[assignment]

    def to_flask(self, client: FlaskClient, method: str, url: str, **kw: Any) -> bool:
        before = self.calls
        client.open(url, method=method, **kw)
        return self.calls > before


@pytest.fixture
def pair(tmp_path: Path) -> tuple[FlaskClient, FlaskClient]:
    flask_app = _app(_database(tmp_path / "flask.db"), lean=False)
    lean_app = _app(_database(tmp_path / "lean.db"), lean=True)
    for app in (flask_app, lean_app):
        app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: a 500 problem, not a raise
    return flask_app.test_client(), lean_app.test_client()


def _same(a: TestResponse, b: TestResponse, what: str) -> None:
    assert a.status_code == b.status_code, what
    headers_a = [(k, v) for k, v in a.headers.items() if k not in VOLATILE]
    headers_b = [(k, v) for k, v in b.headers.items() if k not in VOLATILE]
    assert headers_a == headers_b, what
    assert a.get_data() == b.get_data(), what
    assert ("X-Request-ID" in a.headers) == ("X-Request-ID" in b.headers), what


JSONAPI = "application/vnd.api+json"
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/books/1", {}),
    ("HEAD", "/api/books/1", {}),
    ("GET", "/api/books/1?include=author", {}),
    ("GET", "/api/books?sort=-year&page[size]=2", {}),
    ("GET", "/api/books?filter[year][ge]=1900&fields=title", {}),
    ("GET", "/api/books?format=csv", {}),
    ("GET", "/api/books?format=ndjson", {}),
    ("GET", "/api/books?count=true&aggregate=avg(price)", {}),
    ("GET", "/api/books/1", {"headers": {"Accept": JSONAPI}}),
    # Absolute links everywhere in a compound page (tests/features/test_links.py).
    ("GET", "/api/books?include=author&page[size]=1", {"headers": {"Accept": JSONAPI}}),
    ("GET", "/api/books/1", {"headers": {"Accept": "text/html"}}),  # 406
    ("GET", "/api/books/1", {"headers": {"If-None-Match": '"nope"'}}),
    ("GET", "/api/books/1", {"headers": {"If-None-Match": "*"}}),  # 304
    ("GET", "/api/books/99", {}),  # 404 from the handler
    ("GET", "/api/books/x", {}),  # a key that is not an integer
    ("GET", "/api/books?filter[nope]=1", {}),  # 400
    ("GET", "/api/books?page[size]=100000", {}),
    ("GET", "/api/books/1/author", {}),
    ("GET", "/api/books/1/relationships/author", {}),
    ("GET", "/api/authors/1/books", {}),
    ("GET", "/api", {}),
    ("GET", "/api/openapi.json", {}),
    ("GET", "/api/books/1", {"headers": {"Host": "evil.example"}}),  # DNS rebinding: 400
    ("GET", "/api/books/1", {"headers": {"Host": ""}}),
    ("GET", "/api/books/1", {"headers": {"Connection": "Upgrade", "Upgrade": "websocket"}}),
    ("POST", "/api/books", {"json": {"title": "Kim", "year": 1901}}),
    ("POST", "/api/books", {"json": {"title": 5}}),  # 422
    ("POST", "/api/books", {"data": "{not json", "content_type": "application/json"}),
    ("POST", "/api/books", {"data": "x" * 2_000_000, "content_type": "application/json"}),
    ("POST", "/api/books", {"json": {"title": "Z"}, "headers": {"Origin": "https://evil.example"}}),
    ("POST", "/api/books", {"json": [{"title": "A"}, {"title": "B", "year": 2}]}),
    (
        "POST",
        "/api/books",
        {
            "json": {"data": {"type": "books", "attributes": {"title": "J"}}},
            "headers": {"Content-Type": JSONAPI, "Accept": JSONAPI},
        },
    ),
    ("PATCH", "/api/books/2", {"json": {"year": 1816}}),
    ("PATCH", "/api/books/2", {"json": {"year": -1}}),  # the CHECK constraint: 4xx
    ("PATCH", "/api/books/2", {"json": {"year": 1}, "headers": {"If-Match": '"stale"'}}),
    ("PUT", "/api/books/3", {"json": {"title": "Ubik!", "year": 1969}}),
    ("PATCH", "/api/books", {"json": [{"id": 1, "year": 1966}]}),
    ("DELETE", "/api/books/3", {}),
    ("DELETE", "/api/authors/2", {}),  # still referenced
    (
        "POST",
        "/api/batch",
        {
            "json": {
                "operations": [
                    {"op": "add", "ref": {"type": "tags"}, "data": {"name": "x", "book_id": 1}}
                ]
            }
        },
    ),
    ("GET", "/api/tags", {}),
    # What third-party clients send: trailing slashes, JSON:API offsets, repeated equality.
    ("GET", "/api/books/", {}),
    ("GET", "/api/books/1/", {}),
    ("GET", "/api/books/1/author/", {}),
    ("GET", "/api/authors/1/books/?page[size]=1", {}),
    ("PATCH", "/api/books/1/", {"json": {"year": 1967}}),
    ("POST", "/api/books/", {"json": {"title": "Slash"}}),
    ("GET", "/api/books?page[offset]=1&page[limit]=1", {}),
    ("GET", "/api/books?page[offset]=1&offset=1", {}),  # 400
    ("GET", "/api/books?id=1&id=3", {}),
    ("GET", "/api/books?filter[year][ge]=1&filter[year][ge]=2", {}),  # 400
    # OR / NOT filter groups, and a malformed one (400).
    ("GET", "/api/books?filter[or][0][year][lt]=1900&filter[or][1][not][title]=Kim", {}),
    ("GET", "/api/authors/1/books?filter[not][year][ge]=1900&count=true", {}),
    ("GET", "/api/books?filter[or][x][year]=1", {}),
    # Left to Flask by the lean path: the answers must still be the same.
    ("OPTIONS", "/api/books", {}),
    ("OPTIONS", "/api/books/1/", {}),
    ("GET", "/api/nowhere", {}),
    ("DELETE", "/api/books", {}),  # 405
    ("GET", "//api/books", {}),  # a redirect
    ("GET", "/healthz", {}),
    ("GET", "/api/docs", {}),
]


def test_both_paths_answer_the_same(pair: tuple[FlaskClient, FlaskClient]) -> None:
    flask_client, lean_client = pair
    for method, url, kw in REQUESTS:
        what = f"{method} {url} {kw.get('headers', '')}"
        by_flask = flask_client.open(url, method=method, **kw)
        _same(by_flask, lean_client.open(url, method=method, **kw), what)


def test_the_lean_path_serves_tablerests_routes_and_hands_flask_the_rest(tmp_path: Path) -> None:
    app = _app(_database(tmp_path / "b.db"), lean=True)
    counted = Counted(app)
    client = app.test_client()
    for url in ["/api/books/1", "/api/books", "/api/books/1/author", "/api", "/api/openapi.json",
                "/api/books/", "/api/books/1/", "/api/"]:  # fmt: skip
        assert not counted.to_flask(client, "GET", url), url
    assert not counted.to_flask(client, "POST", "/api/books", json={"title": "T"})
    assert not counted.to_flask(client, "GET", "/api/books/1", headers={"Host": "evil.example"})
    flasks = [("OPTIONS", "/api/books"), ("GET", "/api/nope"), ("DELETE", "/api/books"),
              ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/api/docs")]  # fmt: skip
    for method, url in flasks:
        assert counted.to_flask(client, method, url), (method, url)
    assert counted.lean.flask_reason is None


def test_the_access_log_and_metrics_of_both_paths_are_the_same(tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(dict(record.access))  # type: ignore[attr-defined]

    logger = logging.getLogger(ACCESS_LOGGER)
    keep = Keep()
    logger.addHandler(keep)
    try:
        scrapes = []
        for lean in (False, True):
            app = _app(_database(tmp_path / f"{lean}.db"), lean=lean)
            client = app.test_client()
            client.get("/api/books/2", headers={"X-Request-ID": "abc-1"})
            client.post("/api/books", json={"title": 1}, headers={"X-Request-ID": "abc-2"})
            scrapes.append(client.get("/metrics").get_data(as_text=True))
    finally:
        logger.removeHandler(keep)
    for line in lines:
        line.pop("time"), line.pop("duration_ms")
    flask_lines, lean_lines = lines[:2], lines[3:5]  # the scrapes differ: not compared
    assert flask_lines == lean_lines
    assert lean_lines[0]["request_id"] == "abc-1"
    assert lean_lines[0]["route"] == "/api/books/<key>"
    assert lean_lines[1]["status"] == 422
    counted = 'tablerest_requests_total{method="GET",route="/api/books/<key>",status="200"} 1.0'
    assert counted in scrapes[0]
    assert counted in scrapes[1]


def test_an_unexpected_error_is_logged_and_answered_as_on_flask(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers = []
    for lean in (False, True):
        app = _app(_database(tmp_path / f"{lean}.db"), lean=lean)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        books = app.extensions["tablerest"]["/api"].registry.by_name("books")

        @books.hook("before_create")
        def boom(_ctx: Any) -> None:
            raise RuntimeError("a bug in a hook")

        caplog.clear()
        with caplog.at_level(logging.ERROR, logger=app.logger.name):
            answers.append(app.test_client().post("/api/books", json={"title": "T"}))
        (record,) = [r for r in caplog.records if r.name == app.logger.name]
        assert record.getMessage() == "Exception on /api/books [POST]"
        assert record.exc_info is not None
        assert "a bug in a hook" in str(record.exc_info[1])
    _same(answers[0], answers[1], "500")
    assert answers[1].status_code == 500
    assert b"a bug in a hook" not in answers[1].get_data()  # no detail leaks
    # Under test settings (PROPAGATE_EXCEPTIONS), the error reaches the caller as on Flask.
    app = _app(_database(tmp_path / "raise.db"), lean=True)
    app.testing = True
    books = app.extensions["tablerest"]["/api"].registry.by_name("books")
    books.hook("before_create")(boom)
    with pytest.raises(RuntimeError, match="a bug in a hook"):
        app.test_client().post("/api/books", json={"title": "T"})


def test_the_teardown_resets_the_request_id_the_store_logs(tmp_path: Path) -> None:
    from tablerest.execute.dberrors import request_ids

    app = _app(_database(tmp_path / "t.db"), lean=True)
    app.test_client().get("/api/books/1", headers={"X-Request-ID": "kept-too-long"})
    assert request_ids.get(None) != "kept-too-long"


# -- whatever the app has that the lean path does not run: Flask serves ----------------------


FOREIGN: list[tuple[str, Callable[[Flask, list[str]], None]]] = [
    ("before_request", lambda app, seen: app.before_request(lambda: seen.append("x") and None)),
    ("after_request", lambda app, seen: app.after_request(lambda r: seen.append("x") or r)),
    ("teardown_request", lambda app, seen: app.teardown_request(lambda e: seen.append("x"))),
    ("error handler", lambda app, seen: app.register_error_handler(418, lambda e: ("", 418))),
    ("app-context teardown", lambda app, seen: app.teardown_appcontext(lambda e: seen.append("x"))),
]


@pytest.mark.parametrize(("what", "add"), FOREIGN, ids=[w for w, _ in FOREIGN])
def test_anything_not_tablerests_sends_every_request_to_flask(
    tmp_path: Path, what: str, add: Callable[[Flask, list[str]], None]
) -> None:
    app = _app(_database(tmp_path / "f.db"), lean=True)
    seen: list[str] = []
    add(app, seen)
    counted = Counted(app)
    client = app.test_client()
    assert counted.to_flask(client, "GET", "/api/books/1")
    assert counted.lean.flask_reason is not None
    if what != "error handler":
        assert seen == ["x"]  # Flask ran it


def test_a_wrapped_view_goes_to_flask_and_the_others_stay_lean(tmp_path: Path) -> None:
    app = _app(_database(tmp_path / "w.db"), lean=True)
    calls: list[str] = []
    endpoint = "tablerest.books.item"
    inner = app.view_functions[endpoint]

    @functools.wraps(inner)  # copies the adapter's attributes: still not tablerest's own
    def audited(**args: Any) -> Any:
        calls.append("audited")
        return inner(**args)

    app.view_functions[endpoint] = audited
    counted = Counted(app)
    client = app.test_client()
    assert counted.to_flask(client, "GET", "/api/books/1")
    assert calls == ["audited"]
    assert not counted.to_flask(client, "GET", "/api/books")


def test_a_signal_receiver_sends_requests_to_flask_while_it_listens(tmp_path: Path) -> None:
    app = _app(_database(tmp_path / "s.db"), lean=True)
    counted = Counted(app)
    client = app.test_client()
    heard: list[str] = []

    def receiver(sender: Any, **extra: Any) -> None:
        heard.append("started")

    with signals.request_started.connected_to(receiver, app):
        assert counted.to_flask(client, "GET", "/api/books/1")
    assert heard == ["started"]
    assert not counted.to_flask(client, "GET", "/api/books/1")


def test_a_test_client_keeping_the_context_gets_flask(tmp_path: Path) -> None:
    from flask import request

    app = _app(_database(tmp_path / "c.db"), lean=True)
    with app.test_client() as client:
        client.get("/api/books/1?x=1")
        assert request.args["x"] == "1"  # the context Flask kept


def test_a_budget_per_caller_keeps_flask(tmp_path: Path) -> None:
    from tablerest.mount.ratelimit import RateLimits

    path = _database(tmp_path / "r.db")
    app = _app(path, lean=True, rate_limits=RateLimits(anonymous="2/minute"))
    client = app.test_client()
    assert [client.get("/api/books/1").status_code for _ in range(3)] == [200, 200, 429]
    lean = app.wsgi_app
    assert isinstance(lean, LeanApp)
    assert lean.flask_reason == "rate limits on every route"


def test_sign_in_and_sign_up_limits_leave_reads_lean_and_writes_to_flask(tmp_path: Path) -> None:
    # serve's defaults with an auth table: Flask-Limiter's hooks are on the app, yet a read
    # meets no limit, so it is served lean and answered as on Flask; a write may create a
    # user row (a sign-up to count), so Flask serves it.
    from tablerest.auth.policyfile import load_policy
    from tablerest.mount.ratelimit import RateLimits

    def served(name: str, lean: bool) -> Flask:
        path = _database(tmp_path / name)
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, "
                         "password TEXT)")  # fmt: skip
        conn.close()
        policy_file = tmp_path / "policy.toml"
        policy_file.write_text('[auth]\ntable = "users"\n')
        limits = RateLimits(anonymous=None, user=None, sign_in="5/minute", sign_up="1/hour")
        return _app(path, lean=lean, rate_limits=limits, policy=load_policy(policy_file))

    lean_app, flask_app = served("l.db", True), served("f.db", False)
    counted = Counted(lean_app)
    lean_client, flask_client = lean_app.test_client(), flask_app.test_client()
    for url in ("/api/books/1", "/api/books?sort=-year", "/api/books/1?include=author"):
        assert not counted.to_flask(lean_client, "GET", url)
        _same(flask_client.get(url), lean_client.get(url), url)
    assert isinstance(lean_app.wsgi_app, LeanApp)
    assert lean_app.wsgi_app.flask_reason is None
    sign_up = {"username": "new", "password": "a-long-password"}
    before = counted.calls
    first = lean_client.post("/api/users", json=sign_up)
    assert first.status_code == 201, first.get_data(as_text=True)
    assert counted.calls == before + 1  # served by Flask
    again = lean_client.post("/api/users", json={**sign_up, "username": "newer"})
    assert again.status_code == 429


def test_off_leaves_flask_alone(tmp_path: Path) -> None:
    app = _app(_database(tmp_path / "o.db"), lean=False)
    assert not isinstance(app.wsgi_app, LeanApp)
    assert app.test_client().get("/api/books/1").status_code == 200


def test_streamed_exports_and_json_bodies_survive_the_lean_path(tmp_path: Path) -> None:
    app = _app(_database(tmp_path / "e.db"), lean=True)
    client = app.test_client()
    body = client.get("/api/books?format=ndjson").get_data(as_text=True)
    assert [json.loads(line)["title"] for line in io.StringIO(body)] == ["Dune", "Emma", "Ubik"]


def test_a_body_in_memory_is_handed_to_the_server_whole_and_a_stream_as_a_stream(
    tmp_path: Path,
) -> None:
    from werkzeug.test import EnvironBuilder

    app = _app(_database(tmp_path / "b.db"), lean=True)
    started: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        started.append(status)

    def call(url: str) -> Any:
        return app.wsgi_app(EnvironBuilder(url).get_environ(), start_response)

    whole = call("/api/books/1")
    assert isinstance(whole, list)
    assert len(whole) == 1
    assert json.loads(whole[0])["title"] == "Dune"
    streamed = call("/api/books?format=ndjson")
    assert not isinstance(streamed, list)  # an export is never read into memory here
    lines = b"".join(streamed).splitlines()
    streamed.close()
    assert len(lines) == 3
    assert started == ["200 OK", "200 OK"]


@pytest.mark.parametrize("lean", [False, True])
def test_teardown_hears_of_an_exit_as_on_flask(tmp_path: Path, lean: bool) -> None:
    from tablerest.mount import hooks

    class Stop(BaseException):
        """What an interrupt or ``sys.exit`` in a hook looks like to the server."""

    app = _app(_database(tmp_path / "x.db"), lean=lean)
    heard: list[BaseException | None] = []
    hooks.teardown(app, lambda _req, exc: heard.append(exc))  # tablerest's kind: stays lean
    books = app.extensions["tablerest"]["/api"].registry.by_name("books")

    @books.hook("before_create")
    def stop(_ctx: Any) -> None:
        raise Stop

    client = app.test_client()
    assert client.get("/api/books/1").status_code == 200
    with pytest.raises(Stop):
        client.post("/api/books", json={"title": "T"})
    assert heard[0] is None
    assert isinstance(heard[1], Stop)
    if lean:
        lean_app = app.wsgi_app
        assert isinstance(lean_app, LeanApp)
        assert lean_app.flask_reason is None  # the lean path served both


def test_options_answers_carry_the_security_headers_on_both_paths(
    pair: tuple[FlaskClient, FlaskClient],
) -> None:
    """The lean path hands OPTIONS to Flask, whose automatic answer runs no view of the API."""
    for client in pair:
        for url in ["/api/books", "/api/books/1", "/api", "/api/books/1/relationships/author"]:
            resp = client.options(url)
            assert resp.status_code == 200, url
            assert resp.headers["X-Content-Type-Options"] == "nosniff", url
            assert resp.headers.getlist("Content-Security-Policy") == [
                "default-src 'none'; frame-ancestors 'none'"
            ], url
