"""Issue 17, the HTTP edges: one URL per row (item 21), Host and cross-site write checks
(item 9), caching of caller-dependent responses and the pages' CSP (the "Also" list).

Each test is an attack through HTTP that succeeds when its protection is taken away.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, Identity
from tablerest.plan.cursor import encode_cursor

SECRET = "edge-secret-that-is-long-enough-for-hs256!"


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    year: Mapped[int] = mapped_column()
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authors.id"))
    author: Mapped[Author | None] = relationship(back_populates="books")


class Pair(Base):
    __tablename__ = "pairs"
    a: Mapped[int] = mapped_column(primary_key=True)
    b: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(50))


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'edge.sqlite3'}", poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Author.__table__), [{"id": i, "name": f"a{i}"} for i in (1, 10)])
        conn.execute(
            sa.insert(Book.__table__),
            [
                {"id": i, "title": f"book {i}", "year": 1990 + i, "author_id": 10}
                for i in (0, 1, 2, 10, 11)
            ],
        )
        conn.execute(sa.insert(Pair.__table__), [{"a": 1, "b": 10, "note": "one-ten"}])
    yield eng
    eng.dispose()


def _books_app(engine: sa.Engine, book_options: dict[str, Any] | None = None, **api: Any) -> Flask:
    app = Flask("edge-tests")
    app.config["TESTING"] = True
    tr = Api(app, engine, secret_key=SECRET, **api)
    tr.resource(Author)
    tr.resource(Book, **(book_options or {}))
    tr.resource(Pair)
    return app


@pytest.fixture
def books(lib: sa.Engine) -> FlaskClient:
    return _books_app(lib).test_client()


def _title(engine: sa.Engine, key: int) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(sa.select(Book.__table__.c.title).where(Book.__table__.c.id == key))
        return found.scalar_one_or_none()


def _assert_problem(resp: Any, status: int, *, jsonapi: bool = False) -> dict[str, Any]:
    """``resp`` is an error ``status`` with a problem body (a JSON:API errors document where
    the route speaks JSON:API)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body: dict[str, Any] = resp.get_json()
    if jsonapi:
        assert resp.mimetype == "application/vnd.api+json"
        assert body["errors"][0]["status"] == str(status)
    else:
        assert resp.mimetype == "application/problem+json"
        assert body["status"] == status
    return body


# -- item 21: one URL per row -----------------------------------------------------------------

#: Spellings that int() reads as 10 (or 0): none of them is the URL of a row.
VARIANTS_OF_10 = ["010", "+10", "1_0", "%2010", "10%20", "%EF%BC%91%EF%BC%90", "0010", "%0910"]


@pytest.mark.parametrize("spelling", VARIANTS_OF_10)
def test_a_key_spelt_other_than_canonically_reaches_no_row(
    books: FlaskClient, lib: sa.Engine, spelling: str
) -> None:
    assert books.get("/api/books/10").status_code == 200
    _assert_problem(books.get(f"/api/books/{spelling}"), 404)
    _assert_problem(books.get(f"/api/books/{spelling}/author"), 404)
    _assert_problem(books.get(f"/api/authors/{spelling}/books"), 404)
    _assert_problem(books.get(f"/api/books/{spelling}/relationships/author"), 404, jsonapi=True)
    _assert_problem(books.patch(f"/api/books/{spelling}", json={"title": "hacked"}), 404)
    _assert_problem(books.put(f"/api/books/{spelling}", json={"title": "hacked", "year": 1}), 404)
    _assert_problem(books.delete(f"/api/books/{spelling}"), 404)
    assert _title(lib, 10) == "book 10"


def test_zero_and_negative_keys_in_canonical_form_still_work(books: FlaskClient) -> None:
    assert books.get("/api/books/0").get_json()["title"] == "book 0"
    _assert_problem(books.get("/api/books/-0"), 404)
    _assert_problem(books.get("/api/books/00"), 404)
    _assert_problem(books.get("/api/books/-5"), 404)  # canonical, but no such row


def test_composite_keys_take_canonical_parts_only(books: FlaskClient) -> None:
    assert books.get("/api/pairs/1,10").get_json()["note"] == "one-ten"
    for spelling in ("01,10", "1,010", "+1,10", "1,%2010", "1,1_0", "%EF%BC%91,10"):
        _assert_problem(books.get(f"/api/pairs/{spelling}"), 404)
        _assert_problem(books.patch(f"/api/pairs/{spelling}", json={"note": "x"}), 404)


@pytest.mark.parametrize("spelling", ["010", "+10", "1_0", " 10", "\uff11\uff10", "-0"])
def test_integer_filter_values_are_400_unless_canonical(books: FlaskClient, spelling: str) -> None:
    assert [b["id"] for b in books.get("/api/books?filter[id]=10").get_json()["data"]] == [10]
    for query in (
        {"filter[id]": spelling},
        {"id": spelling},
        {"filter[year][ge]": f"{spelling}99"},
        {"filter[id][in]": f"1,{spelling}"},
        {"filter[author.id]": spelling},
    ):
        body = _assert_problem(books.get("/api/books", query_string=query), 400)
        assert body["parameter"] == next(iter(query))
    _assert_problem(books.get(f"/api/authors/10/books?filter[id]={spelling}"), 400)


def test_having_counts_are_canonical_too(books: FlaskClient) -> None:
    ok = books.get("/api/books?group_by=author_id&aggregate=count()&having[count()][ge]=5")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    bad = books.get("/api/books?group_by=author_id&aggregate=count()&having[count()][ge]=+5")
    _assert_problem(bad, 400)


def test_a_batch_key_spelt_other_than_canonically_reaches_no_row(
    books: FlaskClient, lib: sa.Engine
) -> None:
    for key in ["010", "+10", " 10", "1_0", "\uff11\uff10"]:
        resp = books.post(
            "/api/batch",
            json={
                "operations": [
                    {"op": "update", "resource": "books", "key": key, "data": {"title": "x"}}
                ]
            },
        )
        body = _assert_problem(resp, 404)
        assert body["errors"][0]["pointer"] == "/operations/0/key"
    resp = books.post(
        "/api/batch",
        json={"operations": [{"op": "delete", "resource": "pairs", "key": [1, "010"]}]},
    )
    _assert_problem(resp, 404)
    assert _title(lib, 10) == "book 10"


def test_a_jsonapi_identifier_spelt_other_than_canonically_names_no_row(
    books: FlaskClient, lib: sa.Engine
) -> None:
    jsonapi = "application/vnd.api+json"
    doc = {"data": {"type": "books", "id": "010", "attributes": {"title": "hacked"}}}
    resp = books.patch("/api/books/10", data=orjson.dumps(doc), content_type=jsonapi)
    # JSON:API: an id that differs from the URL's is a 409 (it was read as 10 before)
    assert _assert_problem(resp, 409, jsonapi=True)["errors"][0]["detail"].endswith("'10'")
    linkage = {"data": {"type": "authors", "id": "+1"}}
    resp = books.patch(
        "/api/books/10/relationships/author", data=orjson.dumps(linkage), content_type=jsonapi
    )
    body = _assert_problem(resp, 422, jsonapi=True)  # a linkage to no row (it was author 1)
    assert body["errors"][0]["source"] == {"pointer": "/data/id"}
    assert _title(lib, 10) == "book 10"
    with lib.connect() as conn:
        owner = conn.execute(sa.select(Book.__table__.c.author_id).where(Book.__table__.c.id == 10))
        assert owner.scalar_one() == 10


def test_a_keyset_cursor_holding_a_variant_spelling_is_refused(lib: sa.Engine) -> None:
    app = _books_app(lib)
    books = app.test_client()
    first = books.get("/api/books?sort=id&page[size]=2&page[after]=").get_json()
    token = first["links"]["next"].split("after%5D=")[-1].split("after]=")[-1].split("&")[0]
    body = token.split(".")[0]
    signature, *values = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    # Cursors signed with the endpoint's key (as a leaked or reused key would allow): the
    # values inside follow the URL's rule, so a canonical text works and a variant does not.
    secret = app.extensions["tablerest"]["/api"].secret

    def page(cursor_values: list[Any]) -> Any:
        cursor = encode_cursor(cursor_values, signature, secret)
        return books.get(f"/api/books?sort=id&page[size]=2&page[after]={cursor}")

    assert page([str(v) for v in values]).status_code == 200
    _assert_problem(page([f"+{v}" for v in values]), 400)
    _assert_problem(page([f"0{v}" for v in values]), 400)


# -- item 9: Host (DNS rebinding) and cross-site writes ---------------------------------------

EVIL = "http://evil.example"


def _authors(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(Author.__table__.c.name).order_by("id")).scalars())


def test_a_cross_site_form_post_is_refused_without_auth(books: FlaskClient, lib: sa.Engine) -> None:
    before = _authors(lib)
    resp = books.post("/api/authors", data={"name": "pwned"}, headers={"Origin": EVIL})
    body = _assert_problem(resp, 403)
    assert "evil.example" in body["detail"]
    assert _authors(lib) == before
    # The API's own pages (same origin) and clients that are not browsers still write.
    mine = books.post("/api/authors", data={"name": "mine"}, headers={"Origin": "http://localhost"})
    assert mine.status_code == 201, mine.get_data(as_text=True)
    assert books.post("/api/authors", json={"name": "curl"}).status_code == 201
    assert _authors(lib) == [*before, "mine", "curl"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # sandboxed frames, file: pages
        {"Origin": "http://localhost:8080"},  # another port is another origin
        {"Origin": "https://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},  # a browser that sent no Origin
    ],
)
def test_every_write_route_refuses_cross_site_pages(
    books: FlaskClient, lib: sa.Engine, headers: dict[str, str]
) -> None:
    jsonapi = {"Content-Type": "application/vnd.api+json", **headers}
    attempts = [
        books.post("/api/authors", json={"name": "x"}, headers=headers),
        books.post("/api/authors", json=[{"name": "x"}], headers=headers),
        books.patch("/api/books/1", json={"title": "x"}, headers=headers),
        books.put("/api/books/1", json={"title": "x", "year": 1}, headers=headers),
        books.patch("/api/books", json=[{"id": 1, "title": "x"}], headers=headers),
        books.delete("/api/books/1", headers=headers),
        books.post(
            "/api/batch",
            json={"operations": [{"op": "delete", "resource": "books", "key": 2}]},
            headers=headers,
        ),
        books.patch(
            "/api/books/1",
            data=orjson.dumps({"data": {"type": "books", "id": "1", "attributes": {"title": "x"}}}),
            headers=jsonapi,
        ),
        books.patch(
            "/api/books/1/relationships/author",
            data=orjson.dumps({"data": None}),
            headers=jsonapi,
        ),
    ]
    for resp in attempts:
        assert resp.status_code == 403, resp.get_data(as_text=True)
        assert resp.mimetype in ("application/problem+json", "application/vnd.api+json")
    assert _title(lib, 1) == "book 1"
    assert _title(lib, 2) == "book 2"
    assert _authors(lib) == ["a1", "a10"]
    # Reads stay open: the browser does not let the page read the answer anyway.
    assert books.get("/api/books/1", headers=headers).status_code == 200


def test_origins_that_cors_allows_may_write(lib: sa.Engine) -> None:
    client = _books_app(lib, cors={"origins": ["https://app.example"]}).test_client()
    ok = client.post(
        "/api/authors", json={"name": "app"}, headers={"Origin": "https://app.example"}
    )
    assert ok.status_code == 201
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    _assert_problem(client.post("/api/authors", json={"name": "x"}, headers={"Origin": EVIL}), 403)
    anyone = _books_app(lib, cors=True).test_client()
    assert (
        anyone.post("/api/authors", json={"name": "y"}, headers={"Origin": EVIL}).status_code == 201
    )
    assert _authors(lib) == ["a1", "a10", "app", "y"]


def test_cross_site_writes_can_be_allowed_or_refused_explicitly(lib: sa.Engine) -> None:
    open_api = _books_app(lib, cross_site_writes=True).test_client()
    assert (
        open_api.post("/api/authors", json={"name": "z"}, headers={"Origin": EVIL}).status_code
        == 201
    )


def test_an_api_with_auth_leaves_cross_site_writes_to_its_permissions(
    make_app: Any,
) -> None:
    # Tokens travel in Authorization, which a cross-site form cannot set: no ambient authority.
    client = make_app().test_client()
    signup = {"username": "dee", "email": "dee@example.org", "password": "dee-password-1"}
    resp = client.post("/api/users", json=signup, headers={"Origin": EVIL})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    strict = make_app(api={"cross_site_writes": False}).test_client()
    signup2 = {"username": "eve", "email": "eve@example.org", "password": "eve-password-1"}
    _assert_problem(strict.post("/api/users", json=signup2, headers={"Origin": EVIL}), 403)


def test_allowed_hosts_refuse_other_host_headers(lib: sa.Engine) -> None:
    app = _books_app(lib, allowed_hosts=["localhost", "api.example.com:8443"])
    app.add_url_rule("/hello", "hello", lambda: "hi")
    client = app.test_client()
    assert client.get("/api/books/1").status_code == 200  # Host: localhost
    assert client.get("/api/books/1", headers={"Host": "api.example.com:8443"}).status_code == 200
    for host in (
        "evil.example",
        "api.example.com",
        "api.example.com:8000",
        "localhost.evil.example",
    ):
        body = _assert_problem(client.get("/api/books/1", headers={"Host": host}), 400)
        assert host in body["detail"]
        _assert_problem(
            client.post("/api/authors", json={"name": "r"}, headers={"Host": host}), 400
        )
        _assert_problem(client.get("/api/docs", headers={"Host": host}), 400)
    assert _authors(lib) == ["a1", "a10"]
    assert client.get("/hello", headers={"Host": "evil.example"}).status_code == 200  # not ours


def test_host_decisions_hold_whatever_was_asked_before(lib: sa.Engine) -> None:
    """Decisions are remembered per Host value, in bounded memory: a flood of made-up names
    neither grows the process nor changes an answer."""
    app = _books_app(lib, allowed_hosts=["localhost", "10.0.0.0/8"])
    client = app.test_client()
    for i in range(2000):
        _assert_problem(client.get("/api/books/1", headers={"Host": f"h{i}.evil.example"}), 400)
        assert (
            client.get("/api/books/1", headers={"Host": f"10.0.{i // 250}.{i % 250}"}).status_code
            == 200
        )
    assert client.get("/api/books/1").status_code == 200
    _assert_problem(client.get("/api/books/1", headers={"Host": "h0.evil.example"}), 400)
    allowed_hosts = app.extensions["tablerest"]["/api"].api.allowed_hosts
    assert allowed_hosts.allows.cache_info().currsize <= 256


@pytest.mark.parametrize("host", ["", "[::1", "a b", "evil.example:99999", "x@evil.example", ":80"])
def test_malformed_host_headers_are_a_400_problem_not_a_500(lib: sa.Engine, host: str) -> None:
    client = _books_app(lib, allowed_hosts=["localhost"]).test_client()
    resp = client.post("/api/authors", json={"name": "m"}, headers={"Host": host})
    _assert_problem(resp, 400)
    assert _authors(lib) == ["a1", "a10"]


def test_serve_refuses_a_bad_allowed_host_before_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tablerest import cli

    monkeypatch.setattr(cli.serve, "run", lambda factory, **options: pytest.fail("it served"))
    monkeypatch.setenv("TABLEREST_DEMO_PATH", str(tmp_path / "demo.sqlite3"))
    result = CliRunner().invoke(cli.main, ["serve", "--allowed-host", "http://x/"])
    assert result.exit_code == 2
    assert "--allowed-host" in result.output


def test_flasks_trusted_hosts_also_answer_with_a_problem(lib: sa.Engine) -> None:
    app = _books_app(lib)
    app.config["TRUSTED_HOSTS"] = ["localhost"]
    body = _assert_problem(
        app.test_client().get("/api/books", headers={"Host": "evil.example"}), 400
    )
    assert "evil.example" in body["detail"]


def test_bad_allowed_host_entries_fail_at_startup(lib: sa.Engine) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        _books_app(lib, allowed_hosts=["http://x/"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    import os

    from tests.e2e.conftest import Server

    env = {**os.environ, "TABLEREST_DEMO_PATH": str(tmp_path / "demo.sqlite3")}
    server = Server(["--no-changes", "--allowed-host", "proxy.example"], env)
    yield server
    server.stop()


def _raw(server: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


@pytest.mark.e2e
def test_serve_on_loopback_refuses_rebinding_and_cross_site_forms(served: Any) -> None:
    port = served.port
    names = (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"[::1]:{port}",
        "localhost",
        "proxy.example",
    )
    for host in names:
        status, _, _ = _raw(served, "GET", "/api/authors/1", {"Host": host})
        assert status == 200, host
    for host in (
        f"evil.example:{port}",
        "evil.example",
        "127.0.0.1.nip.io",
        f"proxy.example.evil:{port}",
    ):
        status, ctype, raw = _raw(served, "GET", "/api/authors/1", {"Host": host})
        assert (status, ctype) == (400, "application/problem+json"), (host, raw)
        assert host in orjson.loads(raw)["detail"]
    form = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/x-www-form-urlencoded"}
    status, ctype, raw = _raw(
        served, "POST", "/api/authors", {**form, "Origin": EVIL}, b"name=Pwned"
    )
    assert (status, ctype) == (403, "application/problem+json"), raw
    own = {**form, "Origin": f"http://127.0.0.1:{port}"}
    status, _, raw = _raw(served, "POST", "/api/authors", own, b"name=Mine")
    assert status == 201, raw
    status, _, raw = _raw(served, "GET", "/api/authors?filter[name][in]=Pwned,Mine", form)
    assert [a["name"] for a in orjson.loads(raw)["data"]] == ["Mine"]


# -- "Also": responses that depend on the caller ----------------------------------------------


def _vary(resp: Any) -> set[str]:
    return {v.strip().lower() for v in resp.headers.get("Vary", "").split(",") if v.strip()}


def test_an_api_with_auth_varies_on_authorization_and_keeps_signed_in_answers_private(
    client: FlaskClient,
) -> None:
    from tests.security.conftest import login

    bob = login(client, "bob")
    anonymous = client.get("/api/comments")
    assert _vary(anonymous) >= {"accept", "authorization"}
    assert "private" not in anonymous.headers.get("Cache-Control", "")
    signed_in = [
        client.get("/api/comments", headers=bob),
        client.get("/api/posts/2", headers=bob),
        client.get("/api/posts/2/comments", headers=bob),
        client.get("/api/comments?format=csv", headers=bob),
        client.get("/api/auth/me", headers=bob),
        client.get("/api/posts/1", headers=bob),  # a 404 depends on the caller too
    ]
    for resp in signed_in:
        assert _vary(resp) >= {"authorization"}, resp.headers
        assert "private" in resp.headers["Cache-Control"], resp.headers
        resp.close()  # the export streams: its read must end before the writes below
    # A 304 carries what its 200 carries (RFC 9110 15.4.5).
    tag = signed_in[1].headers["ETag"]
    again = client.get("/api/posts/2", headers={**bob, "If-None-Match": tag})
    assert again.status_code == 304
    assert _vary(again) == _vary(signed_in[1]) >= {"accept", "authorization"}
    assert again.headers["Cache-Control"] == signed_in[1].headers["Cache-Control"]
    # Tokens are never stored at all, not merely kept private.
    token = client.post("/api/auth/token", json={"username": "bob", "password": "bob-pw"})
    assert token.headers["Cache-Control"] == "no-store"


def test_a_resources_public_cache_control_is_kept_for_anonymous_callers_only(
    lib: sa.Engine,
) -> None:
    def identify(request: Any) -> Identity | None:
        header = request.headers.get("Authorization", "")
        return Identity(header.removeprefix("Bearer ")) if header else None

    client = _books_app(
        lib, book_options={"cache_control": "public, max-age=60, s-maxage=600"}, identify=identify
    ).test_client()
    anonymous = client.get("/api/books/1")
    assert anonymous.headers["Cache-Control"] == "public, max-age=60, s-maxage=600"
    assert _vary(anonymous) == {"accept", "authorization"}
    signed_in = client.get("/api/books/1", headers={"Authorization": "Bearer ann"})
    cache = {d.strip() for d in signed_in.headers["Cache-Control"].split(",")}
    assert cache == {"private", "max-age=60"}
    assert _vary(signed_in) == {"accept", "authorization"}


def test_an_api_without_callers_does_not_vary_on_authorization(books: FlaskClient) -> None:
    # Nothing depends on the caller there: shared caches may keep one copy per Accept.
    resp = books.get("/api/books/1", headers={"Authorization": "Bearer whatever"})
    assert _vary(resp) == {"accept"}
    assert "Cache-Control" not in resp.headers


# -- "Also": the docs page and the live page cannot be framed, and load nothing foreign --------


def test_the_pages_send_a_csp_with_frame_ancestors_none(lib: sa.Engine) -> None:
    client = _books_app(lib, changes=True).test_client()
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    csp = docs.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp  # no inline script, no eval
    assert docs.headers["X-Frame-Options"] == "DENY"
    nonces = set()
    for _ in range(2):
        live = client.get("/api/changes.html")
        assert live.status_code == 200
        csp = live.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert live.headers["X-Frame-Options"] == "DENY"
        nonce = csp.split("script-src 'nonce-")[1].split("'")[0]
        assert "unsafe-inline" not in csp
        html = live.get_data(as_text=True)
        assert html.count(f'nonce="{nonce}"') == 2  # the inline <script> and <style>
        nonces.add(nonce)
    assert len(nonces) == 2  # a new nonce per answer
    off = _books_app(lib, changes=True, security_headers=False).test_client()
    assert "Content-Security-Policy" not in off.get("/api/changes.html").headers


CHROMIUM = "/usr/bin/chromium"

#: Collects CSP violations on every page the browser opens.
_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


@contextlib.contextmanager
def _framing_site(base: str) -> Iterator[str]:
    """A page on another local origin that frames the docs page and the live page."""
    import http.server
    import threading

    page = "".join(f'<iframe src="{base}/api/{p}"></iframe>' for p in ("docs", "changes.html"))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"<html><body>{page}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()
        thread.join()


@pytest.mark.e2e
def test_the_pages_work_under_their_csp_in_a_browser_and_refuse_framing(tmp_path: Path) -> None:
    import os
    import shutil
    import urllib.request

    from tests.databases import services_required
    from tests.e2e.conftest import Server

    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which("chromium") is None:
        if services_required():
            pytest.fail("Chromium is not installed; TABLEREST_REQUIRE_SERVICES=1 requires it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    env = {**os.environ, "TABLEREST_DEMO_PATH": str(tmp_path / "demo.sqlite3")}
    server = Server([], env)  # the demo: no auth, change feed on
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                page = browser.new_page()
                page.add_init_script(_VIOLATIONS)
                page.goto(f"{server.base}/api/docs")
                page.wait_for_selector(".opblock-summary", timeout=30_000)
                assert page.evaluate("window.__csp") == []

                page.goto(f"{server.base}/api/changes.html")
                # Playwright's locator assertion, not wait_for_function: a string predicate is
                # compiled inside the page, where the page's CSP (no 'unsafe-eval') may refuse it.
                sync_api.expect(page.locator("#state")).to_have_text(
                    re.compile(r"^connected"), timeout=15_000
                )
                req = urllib.request.Request(
                    f"{server.base}/api/authors",
                    data=b'{"name": "Live"}',
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    assert resp.status == 201
                page.wait_for_selector("#log .create", timeout=15_000)
                assert page.evaluate("window.__csp") == []

                # Another origin frames the pages (clickjacking): the browser shows nothing. It
                # is a real local server, so that only the pages' headers, not the browser's
                # local network rules for public pages, keep the frames empty.
                framer = browser.new_page()
                with _framing_site(server.base) as outside:
                    framer.goto(outside)
                    framer.wait_for_timeout(2_000)
                    children = framer.main_frame.child_frames
                    assert len(children) == 2
                    for child in children:
                        assert child.query_selector("#swagger-ui, #log") is None, child.url
            finally:
                browser.close()
    finally:
        server.stop()
