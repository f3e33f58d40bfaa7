"""Every operation's "Try it out" on the docs page, unchanged, against the demo: Debian's
headless Chromium clicks "Try it out" then "Execute" on each operation of a real
``tablerest serve`` and reads the status Swagger UI shows.

The operations of each resource run as a user would go through them on a fresh demo copy:
reads, then creates, replacements, changes and deletes (two pages side by side, each with its
own resources). Each answers a success, except the answers the API is meant
to give there, each checked for its reason (see :data:`MEANT`).

The browser goes through every operation of the resources in :data:`CLICKED`, which hold
every kind of operation the document has (lists, rows, bulk changes, change feeds, to-one and
to-many relations and their relationship routes, a users table without POST, the index and the
batch); the demo's other two resources repeat those kinds on another pair of tables. The
examples themselves are checked by tests/features/test_openapi_examples.py, in a fraction of
the time a browser takes: every example of the demo's document against its schema, and every
operation's example request, sent as Swagger UI sends it, over every column type.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_docs_page import CHROMIUM, _browser_missing

pytestmark = pytest.mark.e2e

#: The order a user meets a resource's operations in: reads first, deletes last.
ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}

#: (method, path) -> (status, why): the demo's answers that are not a success by design.
MEANT = {
    # A row other rows still point at is not deleted: every demo author has books (checked
    # in the database below).
    ("DELETE", "/api/authors/{id}"): (409, "still referenced"),
}


#: The resources (first path segment after the prefix) whose operations the browser runs.
CLICKED = {"", "authors", "batch", "books", "users"}


def _resource(path: str) -> str:
    return path.split("/")[2] if path.count("/") > 1 else ""


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters" and _resource(path) in CLICKED
    ]
    kinds = {_resource(path) for path in spec["paths"]}
    assert kinds >= CLICKED, sorted(CLICKED - kinds)  # a renamed resource would go unclicked
    return sorted(ops, key=lambda o: ORDER[o[0].lower()])


def _expected(method: str, path: str, op: dict[str, Any]) -> tuple[set[int], str]:
    """The statuses an operation's example may answer, and the words its detail holds."""
    if (method, path) in MEANT:
        status, why = MEANT[method, path]
        return {status}, why
    codes = {int(c) for c in op["responses"] if c.isdigit()}
    ok = {c for c in codes if 200 <= c < 300}
    if ok:
        return ok, ""
    # Described with no success at all (a to-many relationship's writes): its one answer.
    return {min(codes)}, ""


def test_every_operation_s_try_it_out_succeeds_on_the_demo(
    demo_server: Server, env: dict[str, str]
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        _browser_missing("Chromium is not installed (apt-get install chromium)")
    with urllib.request.urlopen(f"{demo_server.base}/api/openapi.json", timeout=10) as resp:
        spec = json.loads(resp.read())
    operations = _operations(spec)

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            errors: list[str] = []
            pages = []
            for _lane in range(LANES):
                page = browser.new_context().new_page()  # a renderer process each
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{demo_server.base}/api/docs")
                pages.append(page)
            for page in pages:
                page.wait_for_selector(".opblock-summary", timeout=30_000)
            answers = _run(pages, _lanes(operations, LANES))
        finally:
            browser.close()
    assert errors == []

    wrong = {}
    for method, path, op in operations:
        statuses, why = _expected(method, path, op)
        status, body = answers[method, path]
        if status not in statuses or why not in body:
            wrong[f"{method} {path}"] = (status, body[:300])
    assert wrong == {}, json.dumps(wrong, indent=1)

    # What the examples did, read back from the database.
    db = sqlite3.connect(env["TABLEREST_DEMO_PATH"])
    try:
        made = db.execute("SELECT count(*) FROM authors WHERE name = 'example'").fetchone()
        assert made[0] >= 2  # the create, and the batch's
        assert db.execute("SELECT title FROM books WHERE id = 1").fetchone() is None  # deleted
        book = db.execute("SELECT count(*) FROM books WHERE title = 'example'").fetchone()
        assert book[0] >= 1  # created by its example
        # The deletes refused: the rows are there, and other rows still point at them.
        assert db.execute("SELECT count(*) FROM books WHERE author_id = 1").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM authors WHERE id = 1").fetchone()[0] == 1
    finally:
        db.close()


#: Pages driven side by side, each through its own resources' operations in order (the
#: demo's resources change nothing another's example reads): Swagger UI's rendering of an
#: operation, not the API, takes most of the time.
LANES = 2

Key = tuple[str, str]
Answer = tuple[int, str]


def _lanes(operations: list[tuple[str, str, dict[str, Any]]], lanes: int) -> list[list[Key]]:
    """The operations by resource (each in order), the resources shared out among lanes."""
    by_resource: dict[str, list[Key]] = {}
    for method, path, _op in operations:
        by_resource.setdefault(_resource(path), []).append((method, path))
    out: list[list[Key]] = [[] for _ in range(lanes)]
    for ops in sorted(by_resource.values(), key=len, reverse=True):
        min(out, key=len).extend(ops)
    return out


def _run(pages: list[Any], lanes: list[list[Key]]) -> dict[Key, Answer]:
    """Each lane's operations on its page, one step of each page in turn."""
    answers: dict[Key, Answer] = {}
    queues = [iter(lane) for lane in lanes]
    current: list[tuple[Key, Iterator[None]] | None] = [None] * len(pages)
    done = [False] * len(pages)
    while not all(done):
        for i, page in enumerate(pages):
            if done[i]:
                continue
            if current[i] is None:
                key = next(queues[i], None)
                if key is None:
                    done[i] = True
                    continue
                current[i] = (key, _try_it_out(page, *key))
            key, steps = current[i]  # type: ignore[misc]
            try:
                next(steps)
            except StopIteration as finished:
                answers[key] = finished.value
                current[i] = None
    return answers


def _try_it_out(page: Any, method: str, path: str) -> Generator[None, None, Answer]:
    """Open one operation, click Try it out and Execute, changing nothing: the status and
    body Swagger UI shows (0 when it sent nothing, with its validation message). Yields
    where Swagger UI renders, so that another page can go on meanwhile. The clicks are DOM
    click events, which Swagger UI's handlers take as a user's, dispatched without
    Playwright's wait for a still layout (which took longer than Swagger UI itself)."""
    block = page.locator(f".opblock-{method.lower()}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )
    block.locator(".opblock-summary-control").dispatch_event("click")
    yield
    block.locator(".try-out__btn").dispatch_event("click")
    yield
    block.locator(".execute").dispatch_event("click")
    yield
    status = block.locator(".live-responses-table tr.response .response-col_status")
    invalid = block.locator(".validation-errors, .parameters .invalid")
    status.or_(invalid).first.wait_for(timeout=30_000)
    if status.count() == 0:
        return 0, " ".join(invalid.all_inner_texts())
    shown = status.first.inner_text().strip()
    answer = block.locator(".live-responses-table tr.response .response-col_description")
    text: str = answer.first.inner_text()
    code = int(shown) if shown.isdigit() else 0  # no status: the request failed
    block.locator(".opblock-summary-control").dispatch_event("click")  # closed: a lighter page
    return code, text


def test_sign_up_then_sign_in_by_their_examples_on_the_demo_with_auth(
    env: dict[str, str],
) -> None:
    """``serve --auth-table users``: Try it out on the sign-up, then on the sign-in, changing
    nothing, gives a token; the page "Authorize"d with it reads the new user's own row."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        _browser_missing("Chromium is not installed (apt-get install chromium)")
    server = Server(["--auth-table", "users"], env)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                page = browser.new_page()
                page.goto(f"{server.base}/api/docs")
                page.wait_for_selector(".opblock-summary", timeout=30_000)
                signed_up = _finish(_try_it_out(page, "POST", "/api/users"))
                signed_in = _finish(_try_it_out(page, "POST", "/api/auth/token"))
                assert (signed_up[0], signed_in[0]) == (201, 200), (signed_up, signed_in)
                shown = signed_in[1]  # "Response body", then the JSON, then its headers
                token, _end = json.JSONDecoder().raw_decode(shown, shown.index("{"))
                page.locator(".btn.authorize").first.click()
                page.locator(".auth-container input").first.fill(token["access_token"])
                page.locator(".auth-btn-wrapper .authorize").first.click()
                page.locator(".btn-done").first.click()
                me = _finish(_try_it_out(page, "GET", "/api/auth/me"))
            finally:
                browser.close()
    finally:
        server.stop()
    assert me[0] == 200, me
    assert '"username": "create-example"' in me[1]


def _finish(steps: Generator[None, None, Answer]) -> Answer:
    """Run one Try it out to its end."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
