"""Every link tablerest writes is an absolute URL, from the request's scheme and host (and the
app's mount point): body ``links`` (plain JSON and JSON:API, relationships and included rows
too), the ``Link`` header, ``Location``, a batch's ``location``, the index's ``url``. JSON:API
clients (kitsu, devour) join a root-relative link to their base URL, which already ends in
``/api``, and so could not follow ``links.next``.

``tablerest serve`` takes the scheme, host and prefix from ``X-Forwarded-*`` of trusted proxies
only (:class:`~tablerest.granian_runner.ServedApp`, tested here as serve installs it, and with
a real server in tests/e2e/test_serve.py); anyone else's cannot move the links elsewhere.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from tablerest.granian_runner import ServedApp
from tablerest.server import create_app

SCHEMA = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER REFERENCES authors(id)
);
INSERT INTO authors (name) VALUES ('Ann'), ('Bob');
INSERT INTO books (title, author_id) VALUES ('Dune', 1), ('Emma', 2), ('Ubik', 1);
"""
JSONAPI = "application/vnd.api+json"
HOST = "example.test"


def _app(tmp_path: Path, name: str = "links.db", **options: Any) -> Flask:
    path = tmp_path / name
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return create_app(str(path), secret_key="links-" + "k" * 32, **options)


def _urls(value: Any) -> list[str]:
    """Every string under a ``links`` member, a ``location`` or a ``url`` of a document."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "links":
                found.extend(v for v in item.values() if isinstance(v, str))
            elif key in ("location", "url") and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_urls(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_urls(item))
    return found


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return _app(tmp_path).test_client()


def test_a_plain_json_page_links_to_the_host_the_client_asked(client: Client) -> None:
    resp = client.get("/api/books?page[size]=1", headers={"Host": HOST})
    links = resp.get_json()["links"]

    assert links["self"] == "http://example.test/api/books?page%5Bsize%5D=1"
    assert links["next"] == "http://example.test/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    assert links["first"] == "http://example.test/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=1"
    assert resp.headers["Link"].startswith("<http://example.test/api/books?page%5Bsize%5D=1>;")
    assert (
        '<http://example.test/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2>; rel="next"'
        in (resp.headers["Link"])
    )
    # Followed as a client does, the next link gives the next page.
    after = client.get(links["next"], headers={"Host": HOST}).get_json()
    assert [b["title"] for b in after["data"]] == ["Emma"]
    assert (
        after["links"]["prev"]
        == "http://example.test/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=1"
    )


def test_keyset_pages_and_groups_link_absolutely(client: Client) -> None:
    page = client.get("/api/books?page[size]=1&page[after]=", headers={"Host": HOST}).get_json()
    assert page["links"]["next"].startswith("http://example.test/api/books?page%5Bsize%5D=1&")
    assert client.get(page["links"]["next"]).get_json()["data"][0]["title"] == "Emma"

    groups = client.get("/api/books?group_by=author_id&aggregate=count()", headers={"Host": HOST})
    assert groups.status_code == 200, groups.get_json()
    assert groups.get_json()["links"]["self"].startswith("http://example.test/api/books?")


def test_every_jsonapi_link_is_absolute(client: Client) -> None:
    headers = {"Host": HOST, "Accept": JSONAPI}
    one = client.get("/api/books/1?include=author", headers=headers).get_json()
    assert one["links"] == {"self": "http://example.test/api/books/1?include=author"}
    book = one["data"]
    assert book["links"] == {"self": "http://example.test/api/books/1"}
    assert book["relationships"]["author"]["links"] == {
        "self": "http://example.test/api/books/1/relationships/author",
        "related": "http://example.test/api/books/1/author",
    }
    (author,) = one["included"]
    assert author["links"] == {"self": "http://example.test/api/authors/1"}
    assert author["relationships"]["books"]["links"]["related"] == (
        "http://example.test/api/authors/1/books"
    )

    page = client.get("/api/authors/1/books?page[size]=1", headers=headers).get_json()
    assert page["links"]["next"] == (
        "http://example.test/api/authors/1/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    linkage = client.get("/api/books/1/relationships/author", headers=headers).get_json()
    assert linkage["links"]["related"] == "http://example.test/api/books/1/author"
    to_many = client.get("/api/authors/1/relationships/books?page[size]=1", headers=headers)
    assert to_many.get_json()["links"]["next"].startswith("http://example.test/api/authors/1/")

    everything = _urls(one) + _urls(page) + _urls(linkage) + _urls(to_many.get_json())
    assert everything
    assert all(url.startswith("http://example.test/api/") for url in everything), everything


def test_writes_locate_their_rows_absolutely(client: Client) -> None:
    made = client.post("/api/books", json={"title": "Kim"}, headers={"Host": HOST})
    assert made.status_code == 201
    assert made.headers["Location"] == f"http://example.test/api/books/{made.get_json()['id']}"

    doc = {"data": {"type": "books", "attributes": {"title": "Jaws"}}}
    headers = {"Host": HOST, "Content-Type": JSONAPI, "Accept": JSONAPI}
    made = client.post("/api/books", json=doc, headers=headers)
    assert made.status_code == 201
    url = f"http://example.test/api/books/{made.get_json()['data']['id']}"
    assert made.headers["Location"] == made.get_json()["data"]["links"]["self"] == url

    batch = {"operations": [{"op": "create", "resource": "authors", "data": {"name": "Cy"}}]}
    (result,) = client.post("/api/batch", json=batch, headers={"Host": HOST}).get_json()["results"]
    assert result["location"] == f"http://example.test/api/authors/{result['data']['id']}"

    index = client.get("/api", headers={"Host": HOST}).get_json()
    assert {r["name"]: r["url"] for r in index["resources"]} == {
        "authors": "http://example.test/api/authors",
        "books": "http://example.test/api/books",
    }


def test_links_keep_the_scheme_port_and_mount_point_of_the_app(client: Client) -> None:
    resp = client.get(
        "/api/books?page[size]=1",
        base_url="https://example.test:8443/shop",
        headers={"Accept": JSONAPI},
    )
    assert resp.status_code == 200, resp.get_json()
    links = resp.get_json()["links"]
    assert (
        links["next"]
        == "https://example.test:8443/shop/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    assert resp.get_json()["data"][0]["links"]["self"] == (
        "https://example.test:8443/shop/api/books/1"
    )


def test_both_request_paths_write_the_same_links(tmp_path: Path) -> None:
    flask = _app(tmp_path, "flask.db", lean=False).test_client()
    lean = _app(tmp_path, "lean.db", lean=True).test_client()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/books?page[size]=1&include=author", {"headers": {"Accept": JSONAPI}}),
        ("GET", "/api/books?page[size]=1&page[after]=", {}),
        ("GET", "/api/books/1/relationships/author", {"headers": {"Accept": JSONAPI}}),
        ("POST", "/api/books", {"json": {"title": "Kim"}}),
        ("GET", "/api", {}),
    ]
    for method, url, kw in requests:
        for base in ("http://example.test", "https://example.test:8443/shop"):
            a = flask.open(url, method=method, base_url=base, **kw)
            b = lean.open(url, method=method, base_url=base, **kw)
            assert (a.status_code, a.get_data()) == (b.status_code, b.get_data()), (url, base)
            shown = a.get_data(as_text=True) + a.headers.get("Location", "")
            assert f"{base}/api/" in shown, (url, base)
            assert a.headers.get("Link") == b.headers.get("Link")
            assert a.headers.get("Location") == b.headers.get("Location")
            assert a.headers.get("ETag") == b.headers.get("ETag")


def test_a_jsonapi_etag_is_of_the_links_the_client_got_and_if_match_still_holds(
    client: Client,
) -> None:
    """A strong ETag names the bytes sent: a JSON:API row shown with another host's links is
    another representation. A client's conditional requests go to the host it read from,
    where the tag matches."""
    headers = {"Accept": JSONAPI}
    here = client.get("/api/books/1", headers={**headers, "Host": HOST})
    there = client.get("/api/books/1", headers={**headers, "Host": "other.test"})
    assert here.headers["ETag"] != there.headers["ETag"]

    tag = here.headers["ETag"]
    again = client.get("/api/books/1", headers={**headers, "Host": HOST, "If-None-Match": tag})
    assert again.status_code == 304
    change = {"data": {"type": "books", "id": "1", "attributes": {"title": "Dune!"}}}
    write = {**headers, "Content-Type": JSONAPI, "If-Match": tag}
    assert (
        client.patch("/api/books/1", json=change, headers={**write, "Host": HOST}).status_code
        == 200
    )
    # The plain JSON row has no links: its tag does not depend on the host.
    a = client.get("/api/books/1", headers={"Host": HOST}).headers["ETag"]
    assert a == client.get("/api/books/1", headers={"Host": "other.test"}).headers["ETag"]


def _served(tmp_path: Path, trusted: str) -> Client:
    """The app as ``tablerest serve`` hands it to its server: behind :class:`ServedApp`."""
    return Client(ServedApp(_app(tmp_path, f"{trusted}.db"), trusted))


#: The connection's peer, as a server puts it in the environ.
PEER = {"REMOTE_ADDR": "127.0.0.1"}
FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "books.example",
    "X-Forwarded-Prefix": "/library",
}


def test_a_trusted_proxys_forwarded_host_scheme_and_prefix_make_the_links(
    tmp_path: Path,
) -> None:
    client = _served(tmp_path, "127.0.0.1")  # the peer of these requests
    resp = client.get("/api/books?page[size]=1", headers=FORWARDED, environ_base=PEER)
    assert resp.json is not None
    assert resp.json["links"]["next"] == (
        "https://books.example/library/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    made = client.post("/api/authors", json={"name": "Cy"}, headers=FORWARDED, environ_base=PEER)
    assert made.headers["Location"].startswith("https://books.example/library/api/authors/")


def test_an_untrusted_peer_cannot_move_the_links_to_another_host(tmp_path: Path) -> None:
    client = _served(tmp_path, "192.0.2.1")  # a proxy elsewhere: these requests' peer is not it
    resp = client.get("/api/books?page[size]=1", headers=FORWARDED, environ_base=PEER)
    assert resp.json is not None
    assert (
        resp.json["links"]["next"]
        == "http://localhost/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    made = client.post("/api/authors", json={"name": "Cy"}, headers=FORWARDED, environ_base=PEER)
    assert made.headers["Location"].startswith("http://localhost/api/authors/")
