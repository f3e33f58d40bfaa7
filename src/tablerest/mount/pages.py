"""The pages and documents of one mounted API that are not a resource's: the index, the
OpenAPI document, the docs page (Swagger UI, from assets shipped with tablerest) and the page
that follows change feeds live."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import request, send_from_directory
from markupsafe import escape
from werkzeug.wrappers import Request, Response

from .. import http, openapi
from ..errors import InvalidParameter
from ..render.json import dumps
from ..routes.respond import root
from .state import AppState

__all__ = ["changes_page", "docs_asset", "docs_page", "index", "openapi_document"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = STATIC / "swagger-ui"
#: The page that shows change feeds live (``{prefix}/changes.html``).
CHANGES_PAGE = STATIC / "changes.html"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{assets}/docs/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{assets}/docs/swagger-ui-bundle.js"></script>
<script src="{assets}/docs/init.js"></script>
</body>
</html>
"""
#: OpenAPI documents kept per app: one per distinct view of the API (callers' roles).
OPENAPI_VIEWS = 16


def index(state: AppState, req: Request) -> Response:
    """Each resource's name, URL, fields and methods: the fields this caller may see."""
    view = state.authorize(req)
    base = root(req)  # absolute URLs, as every link tablerest writes
    out = []
    for name, ep in state.endpoints.items():
        res = ep.resource
        hidden = view.concealed(res) if view is not None else frozenset()
        entry = {
            "name": name,
            "url": base + ep.url,
            "fields": [f.name for f in res.readable if f.name not in hidden],
            "primary_key": [f.name for f in res.pk_fields],
            "methods": sorted(res.methods),
        }
        if res.looked_up:  # the fields its item URLs name rows by
            entry["lookup"] = [f.name for f in res.key_fields]
        out.append(entry)
    return Response(dumps({"resources": out}), mimetype="application/json")


def openapi_document(state: AppState, req: Request) -> Response:
    """The document of what this caller may see: the one of their token, if any."""
    view = state.authorize(req)
    only = req.args.get("format")
    if only is not None and only not in openapi.FORMATS:
        raise InvalidParameter("format", f"format must be {' or '.join(openapi.FORMATS)}")
    key = (openapi.view_key(state, view), req.script_root, only)
    found = state.openapi.get(key)
    if found is None:
        if len(state.openapi) >= OPENAPI_VIEWS:
            del state.openapi[next(iter(state.openapi))]
        doc = openapi.document(state, view, req.script_root, only)
        found = state.openapi[key] = dumps(doc)
    return Response(found, mimetype="application/json")


def docs_page(state: AppState) -> Response:
    """Swagger UI over the OpenAPI document, from assets shipped with tablerest."""
    api = state.api
    base = f"{request.script_root}{api.settings.prefix}"
    page = DOCS_PAGE.format(
        title=escape(api.title), spec=escape(f"{base}/openapi.json"), assets=escape(base)
    )
    resp = Response(page, mimetype="text/html")
    if api.security_headers:
        resp.headers.extend(http.page_headers(http.DOCS_PAGE_CSP))
    return resp


def docs_asset(asset: str) -> Response:
    # send_from_directory refuses paths that leave the directory.
    return send_from_directory(ASSETS, asset, max_age=24 * 3600)


def changes_page(state: AppState) -> Response:
    """A page that follows a resource's change feed live (EventSource)."""
    api = state.api
    names = [n for n, ep in state.endpoints.items() if ep.resource.changes]
    options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n in names)
    base = f"{request.script_root}{api.settings.prefix}"
    nonce = secrets.token_urlsafe(18)  # new per answer: the page's inline script and style
    page = CHANGES_PAGE.read_text().replace("{{options}}", options)
    page = page.replace("{{base}}", str(escape(base))).replace("{{title}}", str(escape(api.title)))
    resp = Response(page.replace("{{nonce}}", nonce), mimetype="text/html")
    if api.security_headers:
        resp.headers.extend(http.page_headers(http.CHANGES_PAGE_CSP.format(nonce=nonce)))
    return resp
