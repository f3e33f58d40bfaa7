"""Clients generated from the served OpenAPI document, the way their users make them, driven
against a real ``tablerest serve`` (the demo, on 127.0.0.1).

TypeScript: ``openapi-typescript`` types from the document and ``openapi-fetch`` calls,
compiled with ``tsc --strict`` (``typed_client.ts``): a list page with its ``meta.page`` and
``links``, a row, a 404's problem, a create, a patch and a delete, each typed by the document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.clients import node
from tests.e2e.conftest import Server, call

TSC = ["--strict", "--target", "es2022", "--module", "nodenext", "--skipLibCheck"]


#: The full document lists every media type an answer may have: the client says which ones it
#: reads. The document of plain JSON (?format=json) needs no such word.
MEDIA = '<paths, "application/json" | "application/problem+json">'


@pytest.mark.parametrize("query", ["", "?format=json"])
def test_openapi_typescript_and_openapi_fetch(server: Server, query: str) -> None:
    work = node.workdir()
    status, _, doc = call("GET", f"{server.base}/api/openapi.json{query}")
    assert status == 200
    (work / "openapi.json").write_text(json.dumps(doc))
    generated = node.tool("openapi-typescript", "openapi.json", "-o", "api.d.ts", cwd=work)
    assert generated.returncode == 0, generated.stderr[-3000:]
    source = (node.HERE / "typed_client.ts").read_text()
    assert MEDIA in source
    (work / "typed_client.ts").write_text(source.replace(MEDIA, "<paths>") if query else source)
    compiled = node.tool("tsc", *TSC, "typed_client.ts", cwd=work)
    assert compiled.returncode == 0, compiled.stdout[-5000:]  # type errors
    got: dict[str, Any] = node.run("typed_client.js", server.base, cwd=work)
    first = call("GET", f"{server.base}/api/books?page[size]=2")[2]
    old = call(
        "GET", f"{server.base}/api/books?filter[year][lt]=1900&filter[genre][in]=poetry,drama"
    )[2]
    assert got == {
        "page_number": 1,
        "page_size": 2,
        "titles": [row["title"] for row in first["data"]],
        "next": first["links"]["next"],
        "one": call("GET", f"{server.base}/api/books/2")[2]["title"],
        "missing": 404,
        "missing_title": "Not found",
        "old_years": [row["year"] for row in old["data"]],
        "created": 201,
        "patched": 31,
        "removed": 204,
    }
