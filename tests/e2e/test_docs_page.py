"""The docs page in a real browser: Debian's headless Chromium driven by Playwright, offline."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from tests.databases import services_required
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _browser_missing(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def test_the_docs_page_lists_every_operation_offline(demo_server: Server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which("chromium") is None:
        _browser_missing("Chromium is not installed (apt-get install chromium)")
    with urllib.request.urlopen(f"{demo_server.base}/api/openapi.json", timeout=10) as resp:
        spec = json.loads(resp.read())
    expected = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }

    requested: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda req: requested.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{demo_server.base}/api/docs")
            page.wait_for_selector(".opblock-summary", timeout=30_000)
            shown = page.eval_on_selector_all(
                ".opblock-summary",
                """els => els.map(el => [
                    el.querySelector('.opblock-summary-method').textContent.trim(),
                    el.querySelector('.opblock-summary-path').getAttribute('data-path'),
                ])""",
            )
            title = page.title()
        finally:
            browser.close()

    assert errors == []
    assert title == "tablerest API"
    assert {(m, p) for m, p in shown} == expected
    assert ("GET", "/api/books/{id}/author") in expected
    # Offline: every request the page made went to the server itself (no CDN).
    assert requested
    assert all(url.startswith(demo_server.base + "/") for url in requested), requested
