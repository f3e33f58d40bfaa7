"""JSON:API client libraries that nobody here wrote, driven against a real ``tablerest serve``
(the demo, on 127.0.0.1), the way their documentation shows: kitsu, devour-client and
@orbit/jsonapi in Node (``jsonapi_clients.mjs``, pinned in ``package.json``), and the Python
``jsonapi-requests`` ORM (pinned in the ``dev`` extra).

Each step is what a user of the library does on the first day: page through a list (by
number and size, by offset and limit, following ``links.next``), read a row with its
author included, create, update and delete a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.clients import node
from tests.e2e.conftest import Server, call

JSONAPI = "application/vnd.api+json"


@pytest.fixture(scope="module")
def javascript(server: Server) -> dict[str, Any]:
    """What each step of ``jsonapi_clients.mjs`` got: one run for the module's tests."""
    return node.run("jsonapi_clients.mjs", server.base)


def _book(server: Server, key: int) -> dict[str, Any]:
    status, _, body = call("GET", f"{server.base}/api/books/{key}?include=author")
    assert status == 200
    return body


def _got(javascript: dict[str, Any], step: str) -> dict[str, Any]:
    got = javascript[step]
    assert "error" not in got, f"{step}: {got}"
    return got


@pytest.mark.parametrize("client", ["kitsu", "devour"])
def test_pages_and_links_next(javascript: dict[str, Any], client: str) -> None:
    # kitsu follows links.next with its own axios instance, devour with request(url): a
    # link relative to the server's root would be joined to the API's base URL (kitsu:
    # /api/api/books) or refused (devour: "Invalid URL").
    assert _got(javascript, f"{client}_page") == {"first": [1, 2], "next": [3, 4]}


def test_kitsu_pages_by_offset_and_limit(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "kitsu_offset")
    assert got["ids"] == [3, 4]
    assert got["next"]  # and there is a next page to follow


def test_orbit_pages_by_offset_and_limit(javascript: dict[str, Any], server: Server) -> None:
    # @orbit/jsonapi's query builder sends page[offset] and page[limit].
    got = _got(javascript, "orbit_page")
    assert got["ids"] == [3, 4]
    assert got["title"] == _book(server, 3)["title"]


@pytest.mark.parametrize("client", ["kitsu", "devour"])
def test_an_included_author(javascript: dict[str, Any], server: Server, client: str) -> None:
    book = _book(server, 1)
    assert _got(javascript, f"{client}_include") == {
        "title": book["title"],
        "author": book["author"]["name"],
    }


def test_orbit_finds_a_record(javascript: dict[str, Any], server: Server) -> None:
    assert _got(javascript, "orbit_find") == {"title": _book(server, 3)["title"]}


def test_kitsu_creates_updates_and_deletes(javascript: dict[str, Any]) -> None:
    assert _got(javascript, "kitsu_write") == {"title": "By kitsu, again", "after_delete": 404}


def test_devour_creates_updates_and_deletes(javascript: dict[str, Any]) -> None:
    assert _got(javascript, "devour_write") == {"title": "By devour, again"}


def test_jsonapi_requests_with_its_default_trailing_slash(server: Server, tmp_path: Path) -> None:
    # jsonapi-requests asks for /api/books/ and /api/books/1/ unless told otherwise.
    from jsonapi_requests import orm

    tablerest = orm.OrmApi.config({"API_ROOT": f"{server.base}/api", "TIMEOUT": 10})

    class Author(orm.ApiModel):
        class Meta:
            type = "authors"
            api = tablerest

        name = orm.AttributeField("name")

    class Book(orm.ApiModel):
        class Meta:
            type = "books"
            api = tablerest

        title = orm.AttributeField("title")
        author = orm.RelationField("author")

    expected = _book(server, 1)
    book = Book.from_id("1")
    assert book.title == expected["title"]
    assert book.author.name == expected["author"]["name"]
    titles = [b.title for b in Book.get_list()]
    assert titles[0] == expected["title"]
    created = Book()
    created.title = "By jsonapi-requests"
    created.author = Author.from_id("1")
    created.save()
    assert created.id
    assert call("GET", f"{server.base}/api/books/{created.id}")[2]["title"] == created.title
    created.delete()
    assert call("GET", f"{server.base}/api/books/{created.id}")[0] == 404
