"""The options ``tablerest serve`` passes to :func:`~tablerest.server.create_app` for
third-party clients: ``format`` (JSON:API as the default representation, as ``Api(format=...)``
does code-first; also the policy file's ``[api] format``) and ``cors`` (origins whose pages may
call the API, as ``Api(cors=...)``), on both request paths. tests/e2e/test_serve.py runs them
in a real ``tablerest serve`` process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tablerest.auth.policyfile import load_policy
from tablerest.mount.cors import CORS_EXPOSED
from tablerest.mount.lean import LeanApp
from tablerest.server import create_app

SCHEMA = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL CHECK (length(title) > 0),
    author_id INTEGER REFERENCES authors(id)
);
INSERT INTO authors (name) VALUES ('Ann');
INSERT INTO books (title, author_id) VALUES ('Dune', 1), ('Emma', 1);
"""
JSONAPI = "application/vnd.api+json"
APP = "https://app.example"
EVIL = "https://evil.example"


def _db(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return path


def _app(tmp_path: Path, name: str = "o.db", **options: Any) -> Flask:
    return create_app(str(_db(tmp_path, name)), secret_key="opts-" + "k" * 32, **options)


# -- format ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lean", [True, False])
def test_format_jsonapi_answers_jsonapi_unless_the_client_asks_for_json(
    tmp_path: Path, lean: bool
) -> None:
    client = _app(tmp_path, format="jsonapi", lean=lean).test_client()
    one = client.get("/api/books/1")
    assert one.mimetype == JSONAPI
    assert one.get_json()["data"]["attributes"] == {"title": "Dune"}
    page = client.get("/api/books", headers={"Accept": "*/*"})
    assert page.mimetype == JSONAPI
    assert [b["id"] for b in page.get_json()["data"]] == ["1", "2"]
    made = client.post("/api/authors", json={"name": "Bob"})  # a plain JSON body, as sent
    assert (made.status_code, made.mimetype) == (201, JSONAPI)
    assert made.get_json()["data"]["attributes"] == {"name": "Bob"}
    assert client.get("/api/books/99").mimetype == JSONAPI  # errors in the format too

    asked = client.get("/api/books/1", headers={"Accept": "application/json"})
    assert (asked.mimetype, asked.get_json()) == (
        "application/json",
        {"id": 1, "title": "Dune", "author_id": 1},
    )


def test_format_json_is_the_default(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    assert client.get("/api/books/1").mimetype == "application/json"


def test_the_policy_files_api_format_and_the_option_over_it(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[api]\nformat = "jsonapi"\n')
    by_file = _app(tmp_path, "f.db", policy=load_policy(policy)).test_client()
    assert by_file.get("/api/books/1").mimetype == JSONAPI
    over = _app(tmp_path, "o.db", policy=load_policy(policy), format="json").test_client()
    assert over.get("/api/books/1").mimetype == "application/json"

    policy.write_text('[api]\nformat = "xml"\n')
    with pytest.raises(ValueError, match="format"):
        load_policy(policy)
    with pytest.raises(ValueError, match="format"):
        _app(tmp_path, "x.db", format="xml")


# -- CORS -------------------------------------------------------------------------------------


def _exposed(headers: Any) -> set[str]:
    return {h.strip() for h in headers.get("Access-Control-Expose-Headers", "").split(",")}


@pytest.mark.parametrize("lean", [True, False])
def test_cors_origins_get_preflights_and_every_answer_with_the_paging_headers_exposed(
    tmp_path: Path, lean: bool
) -> None:
    app = _app(tmp_path, cors=[APP, "http://localhost:5173"], lean=lean)
    client = app.test_client()
    pre = client.options(
        "/api/books/1",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Content-Type, If-Match, Authorization",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == APP
    assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "if-match", "authorization"} <= allowed

    page = client.get("/api/books?page[size]=1", headers={"Origin": APP})
    assert page.headers["Access-Control-Allow-Origin"] == APP
    assert {"Link", "ETag", "Location"} <= _exposed(page.headers)
    assert set(CORS_EXPOSED) <= _exposed(page.headers)
    assert "Origin" in page.headers.get_all("Vary") or "Origin" in page.headers["Vary"]
    # Error answers carry them too, or a page could not read why it failed.
    for resp in (
        client.get("/api/books/99", headers={"Origin": APP}),  # 404 from the view
        client.get("/api/nowhere", headers={"Origin": APP}),  # 404 from routing
        client.delete("/api/books", headers={"Origin": APP}),  # 405
        client.post("/api/books", json={"title": 5}, headers={"Origin": APP}),  # 422
        client.get("/api/books?filter[nope]=1", headers={"Origin": APP}),  # 400
    ):
        assert resp.status_code >= 400
        assert resp.headers["Access-Control-Allow-Origin"] == APP, resp.status_code
    other = client.get("/api/books", headers={"Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in client.get("/healthz").headers  # not the API's
    if lean:  # CORS is tablerest's own hook: the lean path stays on
        lean_app = app.wsgi_app
        assert isinstance(lean_app, LeanApp)
        assert lean_app.flask_reason is None


def test_both_paths_answer_cors_requests_the_same(tmp_path: Path) -> None:
    clients: list[FlaskClient] = [
        _app(tmp_path, f"{lean}.db", cors=[APP], lean=lean).test_client() for lean in (False, True)
    ]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("OPTIONS", "/api/books", {"Access-Control-Request-Method": "POST"}),
        ("GET", "/api/books", {}),
        ("GET", "/api/books/99", {}),
        ("POST", "/api/books", {}),
    ]
    for method, url, headers in requests:
        kw: dict[str, Any] = {"headers": {"Origin": APP, **headers}}
        if method == "POST":
            kw["json"] = {"title": ""}
        a, b = (c.open(url, method=method, **kw) for c in clients)
        assert a.status_code == b.status_code, url
        assert [h for h in a.headers if h[0].startswith("Access-Control")] == [
            h for h in b.headers if h[0].startswith("Access-Control")
        ]
        assert "Access-Control-Allow-Origin" in a.headers


def test_an_allowed_origins_page_may_write_and_another_sites_may_not(tmp_path: Path) -> None:
    """Without authentication, writes from another site's page are refused (its browser would
    send them on the user's behalf); an origin given to ``cors`` is one the operator trusts."""
    client = _app(tmp_path, cors=[APP]).test_client()
    made = client.post("/api/authors", json={"name": "Cy"}, headers={"Origin": APP})
    assert made.status_code == 201, made.get_json()
    assert made.headers["Access-Control-Allow-Origin"] == APP
    refused = client.post("/api/authors", json={"name": "Eve"}, headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert EVIL in refused.get_json()["detail"]
    assert "Access-Control-Allow-Origin" not in refused.headers
    with sqlite3.connect(tmp_path / "o.db") as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM authors ORDER BY id")]
    conn.close()
    assert names == ["Ann", "Cy"]


def test_cors_any_origin_answers_with_a_wildcard_and_no_credentials(tmp_path: Path) -> None:
    client = _app(tmp_path, cors=["*"]).test_client()
    resp = client.get("/api/books", headers={"Origin": "https://anyone.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize(
    "origin", ["app.example", "https://app.example/", "https://app.example/page", "https:/x"]
)
def test_an_origin_no_browser_sends_is_refused_at_start(tmp_path: Path, origin: str) -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        _app(tmp_path, cors=[origin])


def test_no_cors_no_cors_headers(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    pre = client.options(
        "/api/books", headers={"Origin": APP, "Access-Control-Request-Method": "GET"}
    )
    assert "Access-Control-Allow-Origin" not in pre.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/api/books", headers={"Origin": APP}).headers
    )
