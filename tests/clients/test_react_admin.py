"""react-admin against a real ``tablerest serve`` (the demo, on 127.0.0.1), through the data
provider this repository ships (``clients/react-admin``, the npm package ``ra-data-tablerest``).

Two ways, both with the pinned packages of ``package.json``: in Node (``react_admin.mjs``),
all nine DataProvider methods, each answer checked by ra-core's own
``validateResponseFormat`` and its values by SQL on the demo database; and in headless
Chromium, a react-admin app (``react_admin_app.jsx``, bundled by esbuild, served by a static
server on another port, so the API runs with ``--cors``) that lists books and edits one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.clients import node
from tests.databases import services_required
from tests.e2e.conftest import Server

REPO = Path(__file__).resolve().parents[2]
PROVIDER = REPO / "clients" / "react-admin"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _demo_server(folder: Path, *args: str) -> Server:
    return Server(list(args), {**os.environ, "TABLEREST_DEMO_PATH": str(folder / "demo.sqlite3")})


def _rows(server: Server, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """What the demo database holds now (read with SQL, not through the API)."""
    path = server.log.parent / "demo.sqlite3"
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


def _beside_the_clients(*files: str) -> Path:
    """A work folder beside the installed packages with these files of this folder and the
    provider as ``./ra-data-tablerest/`` (how a user who copies it imports it)."""
    cwd = node.workdir()
    for name in files:
        shutil.copy(Path(__file__).parent / name, cwd / name)
    shutil.copytree(PROVIDER, cwd / "ra-data-tablerest")
    return cwd


# ---------------------------------------------------------------- Node: the nine methods


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = _demo_server(tmp_path_factory.mktemp("react-admin"), "--searchable", "books=title")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def javascript(server: Server) -> dict[str, Any]:
    """What each step of ``react_admin.mjs`` got: one run for the module's Node tests."""
    cwd = _beside_the_clients("react_admin.mjs", "react_admin_steps.mjs")
    got: dict[str, Any] = node.run("react_admin.mjs", server.base, cwd=cwd)
    return got


def _got(javascript: dict[str, Any], step: str) -> dict[str, Any]:
    got: dict[str, Any] = javascript[step]
    assert "error" not in got, f"{step}: {got}"
    return got


def _ids(server: Server, sql: str, *params: Any) -> list[int]:
    return [row[0] for row in _rows(server, sql, *params)]


def test_get_list_pages_sorts_filters_and_counts(
    javascript: dict[str, Any], server: Server
) -> None:
    got = _got(javascript, "getList")
    assert got["ids"] == _ids(
        server,
        "SELECT id FROM books WHERE genre = 'poetry' ORDER BY title DESC, id LIMIT 5 OFFSET 5",
    )
    assert got["total"] == _rows(server, "SELECT count(*) FROM books WHERE genre = 'poetry'")[0][0]


def test_get_list_operators_in_and_pages_above_the_maximum(
    javascript: dict[str, Any], server: Server
) -> None:
    # filter {'year@ge': 2000, genre: [poetry, drama]} with perPage 150 (max_page_size: 100)
    got = _got(javascript, "getList_operators")
    where = "WHERE year >= 2000 AND genre IN ('poetry', 'drama')"
    expected = _ids(server, f"SELECT id FROM books {where} ORDER BY year, id LIMIT 150")
    assert len(expected) > 100  # the demo has enough rows for a second request
    assert got["ids"] == expected
    assert got["total"] == _rows(server, f"SELECT count(*) FROM books {where}")[0][0]
    first, second = got["sent"]
    assert "count=exact" in first
    assert "limit=100" in first
    assert "count" not in second
    assert "offset=100" in second


def test_get_list_search_with_q(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "getList_search")
    where = "WHERE lower(title) LIKE '%atlas%'"
    assert got["ids"] == _ids(server, f"SELECT id FROM books {where} ORDER BY id LIMIT 10")
    assert got["total"] == _rows(server, f"SELECT count(*) FROM books {where}")[0][0]


def test_get_list_without_counting_answers_page_info(javascript: dict[str, Any]) -> None:
    got = _got(javascript, "getList_uncounted")
    assert got["ids"] == [9, 10, 11, 12]
    assert got["total"] is None
    assert got["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
    assert not any("count=" in url for url in got["sent"])


def test_get_one(javascript: dict[str, Any], server: Server) -> None:
    data = _got(javascript, "getOne")["data"]
    assert (data["id"], data["title"], data["year"]) == _rows(
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
    assert got["total"] == _rows(server, "SELECT count(*) FROM books WHERE author_id = 1")[0][0]


def test_create_and_update_write_the_database(javascript: dict[str, Any], server: Server) -> None:
    created = _got(javascript, "create")["data"]
    updated = _got(javascript, "update")["data"]
    assert created["title"] == "By react-admin"
    assert updated["id"] == created["id"]
    assert updated["title"] == "By react-admin, edited"
    assert _rows(server, "SELECT title, pages FROM books WHERE id = ?", created["id"]) == [
        ("By react-admin, edited", 10)
    ]


def test_update_many_is_one_bulk_patch(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "updateMany")
    assert got["sent"][-1].startswith("PATCH ")
    assert got["sent"][-1].endswith("/api/books")
    ids = got["data"]
    marks = ",".join("?" * len(ids))
    assert _rows(server, f"SELECT pages FROM books WHERE id IN ({marks})", *ids) == [(77,), (77,)]


def test_delete_answers_the_deleted_record(javascript: dict[str, Any], server: Server) -> None:
    for step in ("delete", "delete_unread"):
        got = _got(javascript, step)
        assert got["data"]["title"].startswith("To delete")
        assert _rows(server, "SELECT id FROM books WHERE title = ?", got["data"]["title"]) == []
    assert _got(javascript, "delete_unread")["data"] == javascript["delete_unread"]["created"]


def test_delete_many_is_one_batch(javascript: dict[str, Any], server: Server) -> None:
    got = _got(javascript, "deleteMany")
    assert got["sent"][-1].endswith("/api/batch")
    assert _rows(server, "SELECT id FROM books WHERE title LIKE 'Gone %'") == []


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


# ---------------------------------------------------------------- Chromium: a react-admin app


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _browser_missing(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def test_a_react_admin_app_lists_and_edits_books(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which("chromium") is None:
        _browser_missing("Chromium is not installed (apt-get install chromium)")
    cwd = _beside_the_clients("react_admin_app.jsx")
    static = cwd / "static"
    static.mkdir()
    (static / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>books</title>'
        '<link rel="icon" href="data:,"></head>'
        '<body><div id="root"></div><script type="module" src="app.js"></script></body></html>'
    )
    pages = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(static)))
    origin = f"http://127.0.0.1:{pages.server_address[1]}"
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    api = _demo_server(tmp_path, "--cors", origin)
    try:
        # development mode: react-admin then checks every answer with validateResponseFormat
        built = node.tool(
            "esbuild",
            "react_admin_app.jsx",
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            "--log-level=warning",
            f"--outfile={static / 'app.js'}",
            f'--define:API_URL="{api.base}/api"',
            '--define:process.env.NODE_ENV="development"',
            cwd=cwd,
        )
        assert built.returncode == 0, built.stderr
        _list_and_edit(sync_api, origin, api)
    finally:
        pages.shutdown()
        pages.server_close()
        api.stop()


def _list_and_edit(sync_api: Any, origin: str, api: Server) -> None:
    expect = sync_api.expect
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if "dataProvider" in m.text else None,
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.request.method} {r.url}")
                    if r.status >= 400
                    else None
                ),
            )
            page.goto(f"{origin}/index.html#/books")

            # the first page, in key order, as the database has it, and the total
            rows = page.locator("tbody tr")
            expect(rows).to_have_count(10, timeout=30_000)
            titles = [t for (t,) in _rows(api, "SELECT title FROM books ORDER BY id LIMIT 10")]
            assert [rows.nth(i).locator("td").nth(2).inner_text() for i in range(10)] == titles
            total = _rows(api, "SELECT count(*) FROM books")[0][0]
            expect(page.get_by_text(f"1-10 of {total}")).to_be_visible()

            # open the second book, change its title, save
            rows.nth(1).click()
            title = page.locator("input[name=title]")
            expect(title).to_have_value(titles[1], timeout=15_000)
            # a taken ISBN: the 409's pointer becomes the message under the field
            isbn = page.locator("input[name=isbn]")
            (own_isbn,), (taken,) = _rows(
                api, "SELECT isbn FROM books WHERE id IN (2, 1) ORDER BY id DESC"
            )
            isbn.fill(taken)
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_text("A row with this value already exists")).to_be_visible(
                timeout=15_000
            )
            assert _rows(api, "SELECT isbn FROM books WHERE id = 2") == [(own_isbn,)]

            isbn.fill(own_isbn)
            title.fill("Edited in react-admin")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_text("Element updated")).to_be_visible(timeout=15_000)
        finally:
            browser.close()
    assert _rows(api, "SELECT title, year FROM books WHERE id = 2")[0][0] == "Edited in react-admin"
    # the one failed request is the conflict the test asked for
    assert problems == [f"409 PATCH {api.base}/api/books/2"]


# ---------------------------------------------------------------- keys not named id


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tablerest serve`` on a database whose keys are a text column and two columns."""
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
            """
        )
    env = {**os.environ, "TABLEREST_DEMO_PATH": str(path)}  # the server's log goes beside it
    served = Server([str(path)], env)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def keys_javascript(keyed: Server) -> dict[str, Any]:
    cwd = _beside_the_clients("react_admin_keys.mjs", "react_admin_steps.mjs")
    got: dict[str, Any] = node.run("react_admin_keys.mjs", keyed.base, cwd=cwd)
    return got


def _keyed_rows(keyed: Server, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(keyed.log.parent / "shelves.sqlite3") as db:
        return db.execute(sql).fetchall()


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
    cwd = _beside_the_clients("react_admin_types.ts")
    compiled = node.tool(
        "tsc",
        *("--strict", "--noEmit", "--target", "es2022", "--module", "nodenext"),
        *("--skipLibCheck", "react_admin_types.ts"),
        cwd=cwd,
    )
    assert compiled.returncode == 0, compiled.stdout[-5000:]  # type errors
