"""The OpenAPI document as Redocly's linter sees it (``@redocly/cli lint`` with its
recommended rules, what a user runs first): no errors, on the document ``tablerest serve``
serves (open, and with sign-in) and on the one ``tablerest openapi`` prints, which describes
the same operations. The warnings left are the ones the README explains (Clients, OpenAPI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import node
from tests.e2e.conftest import Server, call

#: Warnings the README explains: the API's license is its owner's to state; a to-many
#: relationship's writes are described with the 403 they answer (JSON:API's rule).
EXPLAINED = {"info-license", "operation-2xx-response"}


def _served(tmp_path: Path, *args: str) -> dict[str, Any]:
    """The document a demo server serves, started with ``args``."""
    server = Server(list(args), {**os.environ, "TABLEREST_DEMO_PATH": str(tmp_path / "d.db")})
    try:
        status, _, doc = call("GET", f"{server.base}/api/openapi.json")
        assert status == 200
        return doc  # type: ignore[no-any-return]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _served(tmp_path_factory.mktemp("open"))


@pytest.fixture(scope="module", params=["open", "signed-in"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, open_doc: Any
) -> Iterator[dict[str, Any]]:
    if request.param == "open":
        yield open_doc
    else:
        doc = _served(tmp_path_factory.mktemp("signed-in"), "--auth-table", "users")
        assert "bearerAuth" in doc["components"]["securitySchemes"]
        yield doc


def _lint(doc: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    result = node.tool("redocly", "lint", str(path), "--format=json")
    assert result.stdout, result.stderr[-2000:]
    return list(json.loads(result.stdout)["problems"])


def _summary(problems: list[dict[str, Any]]) -> list[str]:
    return [
        f"{p['severity']} {p['ruleId']}: {p['message']} at {p['location'][0]['pointer']}"
        for p in problems
    ]


def test_the_served_document_has_no_lint_errors(served: dict[str, Any], tmp_path: Path) -> None:
    problems = _lint(served, tmp_path)
    assert [p for p in _summary(problems) if p.startswith("error")] == []
    assert {p["ruleId"] for p in problems} <= EXPLAINED, _summary(problems)


def test_servers_and_security_say_where_and_how_to_call(served: dict[str, Any]) -> None:
    doc = served
    assert doc["servers"][0]["url"] == "/"  # relative to the document's own server
    signed_in = "bearerAuth" in doc["components"].get("securitySchemes", {})
    assert doc["security"] == ([{"bearerAuth": []}, {}] if signed_in else [])
    # Every operation described can answer something but an error, except the writes of a
    # to-many relationship, which answer 403 (it is changed from the other side).
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters" or op["operationId"].endswith("_linkage"):
                continue
            assert any(code.startswith("2") for code in op["responses"]), (method, path)


def test_tablerest_openapi_prints_what_serve_serves(
    open_doc: dict[str, Any], tmp_path: Path
) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "tablerest", "openapi"],
        env={**os.environ, "TABLEREST_DEMO_PATH": str(tmp_path / "demo.sqlite3")},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    offline = json.loads(printed.stdout)
    assert sorted(offline["paths"]) == sorted(open_doc["paths"])
    assert [p for p in _summary(_lint(offline, tmp_path)) if p.startswith("error")] == []
