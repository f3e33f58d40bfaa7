"""react-admin apps in headless Chromium (Debian's, driven by Playwright) against a real
``tablerest serve`` on the demo, through the provider of ``clients/react-admin``.

Each app is bundled by esbuild (pinned in ``package.json``) in development mode, where
react-admin itself checks every answer of the provider, and served as static files from
another port, so the API runs with ``--cors`` that origin, as a user's dev server would be.
``react_admin_app.jsx`` lists books and edits one (a 409 shown under its field, then a save),
on an open API and, through react-admin's login page, on one with ``--auth-table users``;
the README's react-admin snippet is bundled as written and lists books.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.clients import node
from tests.clients.react_admin_support import demo_server, provider_workdir, rows
from tests.databases import services_required
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
README = Path(__file__).resolve().parents[2] / "README.md"
PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>books</title>'
    '<link rel="icon" href="data:,"></head>'
    '<body><div id="root"></div><script type="module" src="app.js"></script></body></html>'
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _playwright() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which("chromium") is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if services_required():
            pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(reason)
    return sync_api


@contextmanager
def _app(
    tmp_path: Path, entry: str, write: Callable[[Path, str], None], *serve: str
) -> Iterator[tuple[str, Server]]:
    """Serve the app bundled from ``entry`` (in a work folder that ``write(folder, api_url)``
    fills) on one port and the demo API (with the options ``serve``), allowing that origin,
    on another: (origin, API)."""
    cwd = provider_workdir()
    static = cwd / "static"
    static.mkdir()
    (static / "index.html").write_text(PAGE)
    pages = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(static)))
    origin = f"http://127.0.0.1:{pages.server_address[1]}"
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    api = demo_server(tmp_path, "--cors", origin, *serve)
    try:
        write(cwd, f"{api.base}/api")
        built = node.tool(
            "esbuild",
            entry,
            *("--bundle", "--format=esm", "--jsx=automatic", "--log-level=warning"),
            f"--outfile={static / 'app.js'}",
            f'--define:API_URL="{api.base}/api"',
            f"--define:AUTH={'true' if '--auth-table' in serve else 'false'}",
            # development: react-admin then checks every answer with validateResponseFormat
            '--define:process.env.NODE_ENV="development"',
            cwd=cwd,
        )
        assert built.returncode == 0, built.stderr
        yield origin, api
    finally:
        pages.shutdown()
        pages.server_close()
        api.stop()


@contextmanager
def _page(sync_api: Any) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page, and what went wrong in it: page errors, react-admin's complaints
    about the provider's answers, and every request answered 400 or more."""
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
            yield page, problems
        finally:
            browser.close()


def _books_app(folder: Path, api_url: str) -> None:
    shutil.copy(node.HERE / "react_admin_app.jsx", folder)  # API_URL: esbuild's --define


@pytest.mark.parametrize("signed_in", [False, True], ids=["open-api", "signed-in"])
def test_a_react_admin_app_lists_and_edits_books(tmp_path: Path, signed_in: bool) -> None:
    sync_api = _playwright()
    expect = sync_api.expect
    serve = ("--auth-table", "users") if signed_in else ()
    with (
        _app(tmp_path, "react_admin_app.jsx", _books_app, *serve) as (origin, api),
        _page(sync_api) as (page, problems),
    ):
        patches: list[str | None] = []  # each PATCH's If-Match
        page.on(
            "request",
            lambda r: patches.append(r.headers.get("if-match")) if r.method == "PATCH" else None,
        )
        page.goto(f"{origin}/index.html#/books")
        if signed_in:
            # react-admin's login page, through tablerestAuth's authProvider
            page.locator("input[name=username]").fill("user1")
            page.locator("input[name=password]").fill("password1")
            page.get_by_role("button", name="Sign in").click()

        # the first page, in key order, as the database has it, and the total
        lines = page.locator("tbody tr")
        expect(lines).to_have_count(10, timeout=30_000)
        titles = [t for (t,) in rows(api, "SELECT title FROM books ORDER BY id LIMIT 10")]
        assert [lines.nth(i).locator("td").nth(2).inner_text() for i in range(10)] == titles
        total = rows(api, "SELECT count(*) FROM books")[0][0]
        expect(page.get_by_text(f"1-10 of {total}")).to_be_visible()

        # open the second book
        lines.nth(1).click()
        title = page.locator("input[name=title]")
        expect(title).to_have_value(titles[1], timeout=15_000)

        # a taken ISBN: the 409's pointer becomes the message under the field
        isbn = page.locator("input[name=isbn]")
        (own_isbn,), (taken,) = rows(
            api, "SELECT isbn FROM books WHERE id IN (2, 1) ORDER BY id DESC"
        )
        isbn.fill(taken)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("A row with this value already exists")).to_be_visible(
            timeout=15_000
        )
        assert rows(api, "SELECT isbn FROM books WHERE id = 2") == [(own_isbn,)]

        # put it back, change the title, save: the database has the new title
        isbn.fill(own_isbn)
        title.fill("Edited in react-admin")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Element updated")).to_be_visible(timeout=15_000)
        assert rows(api, "SELECT title, isbn FROM books WHERE id = 2") == [
            ("Edited in react-admin", own_isbn)
        ]
        # the one failed request is the conflict the test asked for
        assert problems == [f"409 PATCH {api.base}/api/books/2"]
        # the ETag of the form's read (exposed to the page by CORS) went with both saves
        assert len(patches) == 2
        assert patches[0] is not None
        assert patches[0] == patches[1]


def _readme_app(folder: Path, api_url: str) -> None:
    """The README's react-admin snippet, its address made the test server's, and a main
    module that renders its ``App``."""
    blocks = re.findall(r"```jsx\n(.*?)```", README.read_text("utf-8"), re.S)
    (snippet,) = [b for b in blocks if "ra-data-tablerest" in b]
    (folder / "readme_app.jsx").write_text(snippet.replace("http://127.0.0.1:8000/api", api_url))
    (folder / "main.jsx").write_text(
        "import { createRoot } from 'react-dom/client';\n"
        "import { App } from './readme_app.jsx';\n"
        "createRoot(document.getElementById('root')).render(<App />);\n"
    )


def test_the_readme_react_admin_app_lists_books(tmp_path: Path) -> None:
    sync_api = _playwright()
    expect = sync_api.expect
    with (
        _app(tmp_path, "main.jsx", _readme_app) as (origin, api),
        _page(sync_api) as (
            page,
            problems,
        ),
    ):
        page.goto(f"{origin}/index.html#/books")
        lines = page.locator("tbody tr")
        expect(lines).to_have_count(10, timeout=30_000)
        total = rows(api, "SELECT count(*) FROM books")[0][0]
        expect(page.get_by_text(f"1-10 of {total}")).to_be_visible()
        first = rows(api, "SELECT title FROM books ORDER BY id LIMIT 1")[0][0]
        expect(lines.first).to_contain_text(first)
        assert problems == []
