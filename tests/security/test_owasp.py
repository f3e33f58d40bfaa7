"""The OWASP API Security Top 10 (2023), one section per item, each with attacks that succeed
if its protection is taken away. Deeper suites per item:

- API1 Broken Object Level Authorization: ``test_permissions.py``, ``test_write_scope.py``
  (writes and references reach only readable rows, upserts onto others' rows: issue 17
  items 2, 15, 22)
- API2 Broken Authentication: ``test_tokens.py``, ``test_rate_limits.py`` (sign-in)
- API3 Broken Object Property Level Authorization: ``test_field_rules.py``, ``test_tokens.py``
  (write-only passwords), ``tests/features`` (hidden and read-only fields),
  ``test_write_scope.py`` (``If-Match`` over hidden fields, keys no URL can name: items 8, 22)
- API4 Unrestricted Resource Consumption: ``test_rate_limits.py``, ``tests/features/test_http.py``
  (body size), ``tests/features/test_query.py`` (filter, page, include limits)
- API5 Broken Function Level Authorization: ``test_permissions.py``, ``test_serve_policy.py``
- API6 Unrestricted Access to Sensitive Business Flows: here (sign-in, refresh tokens)
- API7 Server Side Request Forgery: here (tablerest fetches no URL)
- API8 Security Misconfiguration: ``test_headers.py``, here (errors, defaults)
- API9 Improper Inventory Management: here (the OpenAPI document lists every route)
- API10 Unsafe Consumption of APIs: here (the session store, the database's own names)

Fixture people: ann (1, admin), bob (2), cy (3); posts 1 (ann's), 2 and 3 (bob's).
"""

from __future__ import annotations

import ast
import contextlib
import re
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import tablerest
from tablerest import Limits, RateLimits
from tablerest.server import create_app
from tests.security.conftest import AppFactory, login, tokens

SRC = Path(tablerest.__file__).parent

# -- API1: Broken Object Level Authorization ----------------------------------------------


def test_api1_another_users_object_cannot_be_read_changed_or_deleted(client: FlaskClient) -> None:
    bob = login(client, "bob")

    assert client.get("/api/posts/1", headers=bob).status_code == 404
    assert client.patch("/api/posts/1", json={"title": "x"}, headers=bob).status_code == 404
    assert client.delete("/api/posts/1", headers=bob).status_code == 404
    assert [p["id"] for p in client.get("/api/posts", headers=bob).get_json()["data"]] == [2, 3]
    # Nor reached sideways: through a relation, an include or a filter.
    assert client.get("/api/posts/1/comments", headers=bob).status_code == 404
    comment = client.get("/api/comments/1?include=post", headers=bob).get_json()
    assert comment["post"] is None
    probe = client.get(
        "/api/comments", query_string={"filter[post.title]": "ann's plans"}, headers=bob
    )
    assert probe.get_json()["data"] == []


# -- API2: Broken Authentication ----------------------------------------------------------


def test_api2_forged_and_replayed_credentials_are_refused(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    header, payload, _signature = pair["access_token"].split(".")
    unsigned = f"{header}.{payload}."

    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {unsigned}"}).status_code
        == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 200
    )
    replay = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401


def test_api2_password_guessing_is_rate_limited(make_app: AppFactory) -> None:
    client = make_app(api={"rate_limits": RateLimits(sign_in="3/minute")}).test_client()

    answers = [
        client.post("/api/auth/token", json={"username": "bob", "password": f"guess{i}"})
        for i in range(5)
    ]

    assert [r.status_code for r in answers] == [401, 401, 401, 429, 429]
    assert "Retry-After" in answers[-1].headers


# -- API3: Broken Object Property Level Authorization -------------------------------------


def test_api3_no_mass_assignment_and_no_excessive_exposure(make_app: AppFactory) -> None:
    from tablerest import role

    client = make_app(
        users_options={
            "hidden_unless": {"email": role("admin")},
            "read_only_unless": {"roles": role("admin")},
        }
    ).test_client()
    bob = login(client, "bob")

    escalate = client.patch("/api/users/2", json={"roles": "admin"}, headers=bob)
    own = client.get("/api/users/2", headers=bob).get_json()

    assert escalate.status_code == 422
    assert set(own) == {"id", "username", "roles"}  # no password, no email
    assert client.get("/api/users/2?fields=email", headers=bob).status_code == 400
    assert client.get("/api/users?sort=password", headers=login(client, "ann")).status_code == 400


# -- API4: Unrestricted Resource Consumption ----------------------------------------------


@pytest.mark.parametrize("depth", [33, 10_000])
def test_api4_deeply_nested_json_is_refused_before_parsing(client: FlaskClient, depth: int) -> None:
    body = "[" * depth + "]" * depth

    resp = client.post(
        "/api/comments", data=body, content_type="application/json", headers=login(client, "bob")
    )

    assert resp.status_code == 400
    assert "nested more than 32 levels" in resp.get_json()["detail"]


def test_api4_json_nesting_within_the_limit_is_read_as_usual(make_app: AppFactory) -> None:
    client = make_app(api={"limits": Limits(max_json_depth=3)}).test_client()
    bob = login(client, "bob")
    # Brackets inside strings are text, not nesting.
    body = '{"post_id": 2, "text": "[[[[{{{{ \\" ]]]] \\\\"}'

    made = client.post("/api/comments", data=body, content_type="application/json", headers=bob)
    deep = client.post(
        "/api/comments",
        data='{"post_id": 2, "text": "x", "extra": [[[1]]]}',
        content_type="application/json",
        headers=bob,
    )

    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["text"] == '[[[[{{{{ " ]]]] \\'
    assert deep.status_code == 400
    assert "3 levels" in deep.get_json()["detail"]


def test_api4_every_request_is_bounded(make_app: AppFactory) -> None:
    client = make_app(api={"max_body_size": 1000}).test_client()
    bob = login(client, "bob")

    big = client.post("/api/comments", json={"post_id": 2, "text": "x" * 2000}, headers=bob)
    page = client.get("/api/comments?page[size]=1000")
    filters = "&".join(f"filter[text][ne]={i}" for i in range(21))
    many = client.get(f"/api/comments?{filters}")
    deep = client.get(
        "/api/comments?include=post.comments.post.comments", headers=login(client, "ann")
    )

    assert [big.status_code, page.status_code, many.status_code, deep.status_code] == [
        413,
        400,
        400,
        400,
    ]


# -- API5: Broken Function Level Authorization --------------------------------------------


def test_api5_admin_functions_need_the_admin_role(client: FlaskClient) -> None:
    bob, ann = login(client, "bob"), login(client, "ann")

    assert client.get("/api/users", headers=bob).status_code == 403
    assert client.delete("/api/users/3", headers=bob).status_code == 403
    assert client.get("/api/users").status_code == 401
    assert client.get("/api/users", headers=ann).status_code == 200


# -- API6: Unrestricted Access to Sensitive Business Flows --------------------------------


def test_api6_guessing_one_accounts_password_from_many_addresses_is_limited(
    make_app: AppFactory,
) -> None:
    client = make_app(api={"rate_limits": RateLimits(sign_in="3/minute")}).test_client()

    answers = [
        client.post(
            "/api/auth/token",
            json={"username": "ann", "password": "guess"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        )
        for i in range(5)
    ]

    assert [r.status_code for r in answers][-1] == 429


def test_api6_a_stolen_refresh_token_ends_the_whole_session(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    access = {"Authorization": f"Bearer {pair['access_token']}"}
    thief = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert thief.status_code == 200

    # The owner comes back with the same refresh token: reuse revokes everything.
    owner = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    stolen_access = {"Authorization": f"Bearer {thief.get_json()['access_token']}"}

    assert owner.status_code == 401
    assert client.get("/api/auth/me", headers=stolen_access).status_code == 401
    assert client.get("/api/auth/me", headers=access).status_code == 401


# -- API7: Server Side Request Forgery ----------------------------------------------------

#: Modules that would let tablerest reach out to a URL a client gives. Redis is reached only
#: at the operator's TABLEREST_REDIS_URL, through the redis and limits packages.
NETWORK_MODULES = {"urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp",
                   "socket", "ftplib", "smtplib"}  # fmt: skip


def test_api7_tablerest_imports_no_network_client() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found += [f"{path.name}: {n}" for n in names if n in NETWORK_MODULES]
    assert found == []


def test_api7_urls_in_data_are_stored_never_fetched(client: FlaskClient) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    hits: list[Any] = []

    def watch() -> None:
        with contextlib.suppress(TimeoutError):
            hits.append(listener.accept())

    watcher = threading.Thread(target=watch)
    watcher.start()
    url = f"http://127.0.0.1:{port}/latest/meta-data"
    bob = login(client, "bob")
    made = client.post("/api/comments", json={"post_id": 2, "text": url}, headers=bob)
    client.get("/api/comments", query_string={"filter[text]": url})
    client.get(f"/api/comments/{made.get_json()['id']}")
    watcher.join()
    listener.close()

    assert made.status_code == 201
    assert hits == []


# -- API8: Security Misconfiguration ------------------------------------------------------


def test_api8_a_crash_answers_500_without_internals(make_app: AppFactory) -> None:
    app = make_app()
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    api = app.extensions["tablerest"]["/api"].api

    @api.resources["comments"].hook("before_create")
    def explode(ctx: Any) -> None:
        raise RuntimeError("SELECT secret FROM internals /srv/app/settings.py")

    client = app.test_client()
    resp = client.post(
        "/api/comments", json={"post_id": 2, "text": "x"}, headers=login(client, "bob")
    )

    text = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"
    assert "SELECT" not in text
    assert "Traceback" not in text
    assert "settings.py" not in text


def test_api8_safe_defaults(client: FlaskClient) -> None:
    resp = client.get("/api/comments", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in resp.headers  # CORS is opt-in
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert client.open("/api/comments", method="TRACE").status_code == 405


# -- API9: Improper Inventory Management --------------------------------------------------


def _shape(path: str) -> str:
    """A path with its parameters blanked: /api/posts/<key> and /api/posts/{id} match."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", path)


def test_api9_the_openapi_document_lists_every_route_served(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    documented = {_shape(p if p.startswith("/api") else f"/api{p}") for p in spec["paths"]}
    served = {
        _shape(rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api")
    }
    # The document itself and the docs page; relation routes are documented per relation.
    meta = {"/api/openapi.json", "/api/docs", "/api/docs/{}"}
    generic = {p for p in served if p.endswith("/{}/{}") or p.endswith("/relationships/{}")}

    assert served - generic - meta <= documented, sorted(served - generic - meta - documented)
    for route in generic:
        base = route.rsplit("{}", 1)[0]
        assert any(d.startswith(base) for d in documented), route


def test_api9_docs_can_be_taken_offline(make_app: AppFactory) -> None:
    client = make_app(api={"docs": False}).test_client()

    assert client.get("/api/openapi.json").status_code == 404
    assert client.get("/api/docs").status_code == 404


# -- API10: Unsafe Consumption of APIs ----------------------------------------------------


def test_api10_an_unreachable_session_store_is_a_503_never_a_pass(make_app: AppFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # nothing listens there once closed
    client = make_app(auth={"redis_url": f"redis://127.0.0.1:{dead_port}/0"}).test_client()

    resp = client.post("/api/auth/token", json={"username": "bob", "password": "bob-pw"})

    assert resp.status_code == 503
    assert "Traceback" not in resp.get_data(as_text=True)


def test_api10_hostile_names_in_a_served_database_stay_names(tmp_path: Path) -> None:
    path = tmp_path / "hostile.db"
    evil = 'x"; DROP TABLE victims; --'
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE victims (id INTEGER PRIMARY KEY)")
        quoted = '"' + evil.replace('"', '""') + '"'
        conn.execute(f"CREATE TABLE things (id INTEGER PRIMARY KEY, {quoted} TEXT)")
        conn.execute("INSERT INTO things VALUES (1, 'a')")
    conn.close()
    client = create_app(str(path)).test_client()

    listed = client.get("/api/things", query_string={f"filter[{evil}]": "a", "sort": evil})
    made = client.post("/api/things", json={evil: "b"})

    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json()["data"] == [{"id": 1, evil: "a"}]
    assert made.status_code == 201
    engine = sa.create_engine(f"sqlite:///{path}")
    assert "victims" in sa.inspect(engine).get_table_names()
    engine.dispose()
