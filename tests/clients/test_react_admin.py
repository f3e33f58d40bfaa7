"""react-admin against a real ``tablerest serve`` on 127.0.0.1, through the data provider this
repository ships (``clients/react-admin``, the npm package ``ra-data-tablerest``), in Node
with the pinned packages of ``package.json``: all nine DataProvider methods on the demo
(``react_admin.mjs``) and on keys not named ``id`` (``react_admin_keys.mjs``), each answer
checked by ra-core's own ``validateResponseFormat`` and its values by SQL on the database;
``tablerestAuth`` against ``serve --auth-table users`` (``react_admin_auth.mjs``); and the
type declarations compiled with ra-core's by ``tsc``. A react-admin app in Chromium:
``test_react_admin_browser.py``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients import node
from tests.clients.react_admin_support import demo_server, provider_workdir, rows
from tests.e2e.conftest import Server

# ---------------------------------------------------------------- Node: the nine methods


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = demo_server(tmp_path_factory.mktemp("react-admin"), "--searchable", "books=title")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def javascript(server: Server) -> dict[str, Any]:
    """What each step of ``react_admin.mjs`` got: one run for the module's Node tests."""
    cwd = provider_workdir("react_admin.mjs", "react_admin_steps.mjs")
    got: dict[str, Any] = node.run("react_admin.mjs", server.base, cwd=cwd)
    return got


def _got(javascript: dict[str, Any], step: str) -> dict[str, Any]:
    got: dict[str, Any] = javascript[step]
    assert "error" not in got, f"{step}: {got}"
    return got


def _ids(server: Server, sql: str, *params: Any) -> list[int]:
    return [row[0] for row in rows(server, sql, *params)]


def test_get_list_pages_sorts_filters_and_counts(
    javascript: dict[str, Any], server: Server
) -> None:
    got = _got(javascript, "getList")
    assert got["ids"] == _ids(
        server,
        "SELECT id FROM books WHERE genre = 'poetry' ORDER BY title DESC, id LIMIT 5 OFFSET 5",
    )
    assert got["total"] == rows(server, "SELECT count(*) FROM books WHERE genre = 'poetry'")[0][0]


def test_get_list_operators_in_and_pages_above_the_maximum(
    javascript: dict[str, Any], server: Server
) -> None:
    # filter {'year@ge': 2000, genre: [poetry, drama]} with perPage 150 (max_page_size: 100)
    got = _got(javascript, "getList_operators")
    where = "WHERE year >= 2000 AND genre IN ('poetry', 'drama')"
    expected = _ids(server, f"SELECT id FROM books {where} ORDER BY year, id LIMIT 150")
    assert len(expected) > 100  # the demo has enough rows for a second request
    assert got["ids"] == expected
    assert got["total"] == rows(server, f"SELECT count(*) FROM books {where}")[0][0]
    first, second = got["sent"]
    assert "count=exact" in first
    assert "limit=100" in first
    assert "count" not in second
    assert "offset=100" in second


def test_get_list_search_with_q(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "getList_search")
    where = "WHERE lower(title) LIKE '%atlas%'"
    assert got["ids"] == _ids(server, f"SELECT id FROM books {where} ORDER BY id LIMIT 10")
    assert got["total"] == rows(server, f"SELECT count(*) FROM books {where}")[0][0]


def test_get_list_without_counting_answers_page_info(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "getList_uncounted")
    assert got["ids"] == [9, 10, 11, 12]
    assert got["total"] is None
    assert got["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
    assert not any("count=" in url for url in got["sent"])


def test_get_one(javascript: dict[str, Any], server: Server) -> None:
    data = _got(javascript, "getOne")["data"]
    assert (data["id"], data["title"], data["year"]) == rows(
        server, "SELECT id, title, year FROM books WHERE id = 3"
    )[0]


def test_get_many_is_one_request(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "getMany")
    assert got["ids"] == [1, 5, 9]
    assert len(got["sent"]) == 1  # id=9&id=1&id=5 means IN on the server


def test_get_many_reference(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "getManyReference")
    assert got["ids"] == _ids(
        server, "SELECT id FROM books WHERE author_id = 1 ORDER BY title, id LIMIT 10"
    )
    assert got["total"] == rows(server, "SELECT count(*) FROM books WHERE author_id = 1")[0][0]


def test_create_and_update_write_the_database(javascript: dict[str, Any], server: Server) -> None:
    created = _got(javascript, "create")["data"]
    updated = _got(javascript, "update")["data"]
    assert created["title"] == "By react-admin"
    assert updated["id"] == created["id"]
    assert updated["title"] == "By react-admin, edited"
    assert updated["pages"] == 11
    assert rows(server, "SELECT title, pages FROM books WHERE id = ?", created["id"]) == [
        ("By react-admin, edited", 11)
    ]


def test_update_sends_the_etag_it_read_as_if_match(
    javascript: dict[str, Any], server: Server
) -> None:
    # the edit form read book 4, someone else changed its title, the form saves: a 412, and
    # the other change stays (not overwritten with the form's stale copy)
    got = _got(javascript, "update_stale")
    assert got["rejected"]
    assert got["httpError"]
    assert got["status"] == 412
    patch = got["sent"][-1]
    assert patch.startswith(f"PATCH {server.base}/api/books/4 If-Match: ")
    assert rows(server, "SELECT title, pages FROM books WHERE id = 4")[0][0] == "Changed elsewhere"
    assert rows(server, "SELECT pages FROM books WHERE id = 4") != [(1,)]
    # a form saved twice: the second save's If-Match is the ETag the first save answered
    first, second = _got(javascript, "update")["sent"][-2:]
    assert " If-Match: " in first
    assert " If-Match: " in second
    assert first.split(" If-Match: ")[1] != second.split(" If-Match: ")[1]
    # ifMatch: false, last write wins
    unchecked = _got(javascript, "update_stale_unchecked")
    assert "If-Match" not in unchecked["sent"][-1]
    assert rows(server, "SELECT title, pages FROM books WHERE id = 6") == [
        ("Changed elsewhere too", 2)
    ]


def test_update_many_is_one_bulk_patch(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "updateMany")
    assert got["sent"][-1].startswith("PATCH ")
    assert got["sent"][-1].endswith("/api/books")
    ids = got["data"]
    marks = ",".join("?" * len(ids))
    assert rows(server, f"SELECT pages FROM books WHERE id IN ({marks})", *ids) == [(77,), (77,)]


def test_delete_answers_the_deleted_record(javascript: dict[str, Any], server: Server) -> None:
    for step in ("delete", "delete_unread"):
        got = _got(javascript, step)
        assert got["data"]["title"].startswith("To delete")
        assert rows(server, "SELECT id FROM books WHERE title = ?", got["data"]["title"]) == []
    assert _got(javascript, "delete_unread")["data"] == javascript["delete_unread"]["created"]


def test_delete_many_is_one_batch(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "deleteMany")
    assert got["sent"][-1].endswith("/api/batch")
    assert rows(server, "SELECT id FROM books WHERE title LIKE 'Gone %'") == []


def test_a_422_becomes_field_errors(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "create_invalid")
    assert got["rejected"]
    assert got["httpError"]
    assert got["status"] == 422
    # react-admin's convention: body.errors maps each form field to its message
    assert got["errors"] == {
        "title": "Input should be a valid string",
        "year": "Input should be a valid integer",
        "author_id": "Field required",
    }
    assert got["message"] == got["problem"]["detail"] == "3 fields are invalid"


def test_a_missing_row_rejects_with_404(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "getOne_missing")
    assert got == {
        "rejected": True,
        "httpError": True,
        "status": 404,
        "message": "No books row with key 999999",
        "sent": got["sent"],
    }


# ---------------------------------------------------------------- keys not named id


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tablerest serve`` on a database whose keys are a text column and two columns, and
    with two views, one given a key with ``--key``."""
    folder = tmp_path_factory.mktemp("react-admin-keys")
    path = folder / "shelves.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE shelves (code TEXT PRIMARY KEY, label TEXT NOT NULL);
            CREATE TABLE loans (
                shelf_code TEXT NOT NULL REFERENCES shelves (code),
                reader TEXT NOT NULL,
                days INTEGER,
                PRIMARY KEY (shelf_code, reader)
            );
            INSERT INTO shelves VALUES ('a', 'Attic'), ('b', 'Basement'), ('c', 'Cellar');
            INSERT INTO loans VALUES ('a', 'ann', 7), ('a', 'amy', 14), ('b', 'bob', 21),
                                     ('b', 'bea', 3);
            CREATE VIEW loan_counts AS
                SELECT shelf_code, count(*) AS loans FROM loans GROUP BY shelf_code;
            CREATE VIEW shelf_labels AS SELECT code, upper(label) AS label FROM shelves;
            """
        )
    env = {**os.environ, "TABLEREST_DEMO_PATH": str(path)}  # the server's log goes beside it
    # JSON:API for clients that ask for no format: the provider asks for plain JSON each time
    served = Server([str(path), "--key", "shelf_labels=code", "--format", "jsonapi"], env)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def keys_javascript(keyed: Server) -> dict[str, Any]:
    cwd = provider_workdir("react_admin_keys.mjs", "react_admin_steps.mjs")
    got: dict[str, Any] = node.run("react_admin_keys.mjs", keyed.base, cwd=cwd)
    return got


def _keyed_rows(keyed: Server, sql: str) -> list[tuple[Any, ...]]:
    return rows(keyed, sql, database="shelves.sqlite3")


def test_a_key_with_another_name_is_the_records_id(keys_javascript: dict[str, Any]) -> None:
    got = _got(keys_javascript, "shelves_list")
    assert got["ids"] == got["codes"] == ["c", "b", "a"]  # sort by id is sort by the key
    assert got["total"] == 3
    assert _got(keys_javascript, "shelves_filter_by_id")["ids"] == ["a", "c"]
    assert _got(keys_javascript, "shelves_one")["data"] == {
        "id": "b",
        "code": "b",
        "label": "Basement",
    }
    assert _got(keys_javascript, "shelves_many")["ids"] == ["a", "c"]


def test_writes_on_a_key_with_another_name(keys_javascript: dict[str, Any], keyed: Server) -> None:
    got = _got(keys_javascript, "shelves_write")
    assert got["created"] == {"id": "z", "code": "z", "label": "Zed"}
    assert got["updated"]["label"] == "Zed, again"
    assert got["gone"]["id"] == "z"
    assert got["goneMany"] == ["x", "y"]
    assert got["sent"][-1].startswith("POST ")  # deleteMany: one batch
    assert got["sent"][-1].endswith("/api/batch")
    assert _keyed_rows(keyed, "SELECT code, label FROM shelves ORDER BY code") == [
        ("a", "Same"),
        ("b", "Same"),
        ("c", "Cellar"),
    ]


def test_a_composite_key_is_its_values_joined(keys_javascript: dict[str, Any]) -> None:
    assert _got(keys_javascript, "loans_list") == {
        "ids": ["a,amy", "a,ann"],  # sort by id: by shelf_code, then reader
        "total": 2,
        "sent": keys_javascript["loans_list"]["sent"],
    }
    one = _got(keys_javascript, "loans_one")["data"]
    assert one == {"id": "a,ann", "shelf_code": "a", "reader": "ann", "days": 7}
    assert _got(keys_javascript, "loans_many")["ids"] == ["a,ann", "b,bob"]
    assert _got(keys_javascript, "loans_reference")["ids"] == ["b,bea", "b,bob"]


def test_writes_on_a_composite_key(keys_javascript: dict[str, Any], keyed: Server) -> None:
    got = _got(keys_javascript, "loans_write")
    assert got["created"]["id"] == "c,cy"
    assert got["updated"] == {"id": "c,cy", "shelf_code": "c", "reader": "cy", "days": 2}
    assert got["gone"] == got["updated"]  # read before the delete
    assert got["many"] == ["a,ann", "a,amy"]
    assert got["goneMany"] == ["b,bob", "b,bea"]
    assert _keyed_rows(keyed, "SELECT shelf_code, reader, days FROM loans ORDER BY 1, 2") == [
        ("a", "amy", 30),
        ("a", "ann", 30),
    ]


def test_the_type_declarations_compile_with_ra_core() -> None:
    cwd = provider_workdir("react_admin_types.ts")
    compiled = node.tool(
        "tsc",
        *("--strict", "--noEmit", "--target", "es2022", "--module", "nodenext"),
        *("--skipLibCheck", "react_admin_types.ts"),
        cwd=cwd,
    )
    assert compiled.returncode == 0, compiled.stdout[-5000:]  # type errors


def test_views_need_a_key(keys_javascript: dict[str, Any]) -> None:
    # a view served with --key reads like a table; one without a key is a clear error
    assert _got(keys_javascript, "view_with_key")["ids"] == ["a", "b", "c"]
    error = keys_javascript["view_without_key"]["error"]
    assert "loan_counts has no key" in error
    assert "--key loan_counts=" in error


# ---------------------------------------------------------------- signing in


@pytest.fixture(scope="module")
def auth_javascript(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any]]:
    served = demo_server(tmp_path_factory.mktemp("react-admin-auth"), "--auth-table", "users")
    try:
        cwd = provider_workdir("react_admin_auth.mjs", "react_admin_steps.mjs")
        yield served, node.run("react_admin_auth.mjs", served.base, cwd=cwd)
    finally:
        served.stop()


def test_signed_out_react_admin_goes_to_its_login_page(
    auth_javascript: tuple[Server, dict[str, Any]],
) -> None:
    _, javascript = auth_javascript
    got = _got(javascript, "signed_out")
    assert got["checkAuth"]["rejected"]  # react-admin shows its login page
    assert got["create"] == {"rejected": 401, "message": "Sign in to create rows of books"}
    assert got["wrong"] == {"rejected": 401, "message": "Wrong username or password"}
    assert not any("/auth/refresh" in url for url in got["sent"])


def test_signed_in_react_admin_writes_as_its_user(
    auth_javascript: tuple[Server, dict[str, Any]],
) -> None:
    server, javascript = auth_javascript
    got = _got(javascript, "signed_in")
    assert got["checkAuth"] == {"resolved": None}
    assert got["identity"]["id"] == 1
    assert got["identity"]["fullName"] == "user1"
    assert got["permissions"] == []  # the demo has no roles column
    assert rows(server, "SELECT title FROM books WHERE id = ?", got["created"]["id"]) == [
        ("Signed in",)
    ]


def test_an_expiring_token_is_refreshed_once(
    auth_javascript: tuple[Server, dict[str, Any]],
) -> None:
    server, javascript = auth_javascript
    got = _got(javascript, "refreshed_once")
    assert got["ids"] == [1, 2, 3]
    assert sum("/auth/refresh" in url for url in got["sent"]) == 1
    assert rows(server, "SELECT title FROM books WHERE id = ?", got["created"]["id"]) == [
        ("After a refresh",)
    ]
    assert _got(javascript, "forbidden_is_not_a_sign_out")["checkError"] == {"resolved": None}


def test_logout_ends_the_session_on_the_server(
    auth_javascript: tuple[Server, dict[str, Any]],
) -> None:
    _, javascript = auth_javascript
    got = _got(javascript, "signed_out_again")
    assert got["checkAuth"]["rejected"]
    assert got["oldToken"] == 401  # POST /auth/logout revoked it
    assert got["checkError"]["rejected"] == 401
