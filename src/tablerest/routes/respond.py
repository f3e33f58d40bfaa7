"""The render stage's HTTP side: responses with their ``ETag``, conditional reads, links
between pages, ``Location``, exports as CSV / NDJSON bodies.

Every URL tablerest writes (body ``links``, ``Link``, ``Location``, a batch's ``location``,
the index's ``url``) is absolute and starts with :func:`root`: JSON:API clients (kitsu,
devour) join a root-relative link to their own base URL, which already ends in the prefix."""

from __future__ import annotations

import functools
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from werkzeug.wrappers import Request, Response

from .. import http
from ..decode.queries import PAGE_PARAMETERS, ListIntent
from ..decode.urlkeys import unreachable_keys
from ..errors import InvalidParameter
from ..operations.reads import Export
from ..render.export import CSV, NDJSON, CsvEncoder, ndjson
from ..render.json import dumps
from ..resource import Resource

__all__ = [
    "JSON",
    "Query",
    "enveloped",
    "enveloped_rows",
    "export_response",
    "item_url",
    "json_response",
    "keyset_links",
    "link_header",
    "locate",
    "no_content",
    "offset_links",
    "page_meta",
    "refuse_page_params",
    "root",
    "self_link",
    "tagged",
    "uri",
]

JSON = "application/json"
#: Query parameters that shape pages, which an export (every matching row) has no use for.
_NOT_EXPORTED = (*PAGE_PARAMETERS, "count", "include")
#: What a path keeps unescaped in links: RFC 3986's ``pchar`` but ``%`` (a decoded ``%25``).
_PATH_SAFE = "/:@!$&'()*+,;="


def enveloped(res: Resource, row: Any) -> Any:
    """A plain JSON row as the resource answers it: in its envelope, if it has one."""
    env = res.envelope
    return row if env is None else env.row(row)


def enveloped_rows(res: Resource, rows: Sequence[Any]) -> Any:
    """Plain JSON rows (a bulk write's answer) as the resource answers them."""
    env = res.envelope
    return rows if env is None else env.rows(rows)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, mimetype=JSON)


def no_content() -> Response:
    resp = Response(status=204)
    del resp.headers["Content-Type"]
    return resp


def tagged(
    request: Request,
    payload: Any,
    res: Resource,
    status: int = 200,
    *,
    read: bool = True,
    media: str = JSON,
) -> Response:
    """A JSON representation with its strong ``ETag``; for a read whose ``If-None-Match``
    names it, a 304 instead (same headers, no body). Every representation depends on
    ``Accept`` (JSON or JSON:API; lists can be exports too): ``Vary: Accept``."""
    body = dumps(payload)
    tag = http.etag(body)
    if read and http.not_modified(request, tag):
        resp = Response(status=304)
        del resp.headers["Content-Type"]
    else:
        resp = Response(body, status=status, mimetype=media)
    headers = resp.headers
    # add(), not item assignment: these names are not there yet, so skip the search.
    headers.add("ETag", f'"{tag}"')
    headers.add("Vary", "Accept")
    if read and res.cache_control is not None:
        headers.add("Cache-Control", res.cache_control)
    return resp


def uri(path: str) -> str:
    """A decoded request path as it goes in a link or a header: percent-encoded, so that
    names in any script (and keys with spaces) make valid URLs and latin-1 headers."""
    return quote(path, safe=_PATH_SAFE)


def root(request: Request) -> str:
    """Where the request's links start: the scheme and host the client asked for, and the
    path the app is mounted at (``SCRIPT_NAME``), without a trailing ``/``:
    ``https://books.example/shop``. Werkzeug reads them from the request, after
    ``tablerest serve`` applied the ``X-Forwarded-Proto`` / ``-Host`` / ``-Prefix`` of a trusted
    proxy (and only of one: see :class:`tablerest.granian_runner.ServedApp`). Without a
    usable host (HTTP/1.0 with no ``Host`` and no server name) links stay root-relative."""
    mount = uri(request.root_path.rstrip("/"))
    host = request.host
    return f"{request.scheme}://{host}{mount}" if host else mount


def _path(request: Request) -> str:
    """The request's path as links name it: without the trailing slash some clients add (the
    routes answer ``/api/books/`` as ``/api/books``; so do the links, and the ETag)."""
    path = request.path
    return path.rstrip("/") if path.endswith("/") and len(path) > 1 else path


def self_link(request: Request) -> str:
    """The request's own URL, with its query string (a JSON:API ``self`` link)."""
    query = request.query_string.decode("latin-1")
    path = root(request) + uri(_path(request))
    return f"{path}?{query}" if query else path


def item_url(collection: str, res: Resource, row: Mapping[str, Any]) -> str:
    """The URL of a row of ``res`` under ``collection`` (its absolute URL)."""
    parts = [quote(str(row[f.name]), safe="") for f in res.key_fields]
    return f"{collection}/{','.join(parts)}"


def locate(resp: Response, collection: str, res: Resource, row: Mapping[str, Any]) -> None:
    """``Location`` of a created row, unless no URL can name it: a key the database made
    (a default, a trigger) with a ``/`` in it, which clients cannot send themselves."""
    if not unreachable_keys(res, row):
        resp.headers["Location"] = item_url(collection, res, row)


def page_meta(intent: ListIntent) -> dict[str, int]:
    if intent.page_number is not None:
        return {"number": intent.page_number, "size": intent.limit}
    if intent.direction is not None:
        return {"size": intent.limit}
    return {"offset": intent.offset, "limit": intent.limit}


def offset_links(
    request: Request, base: Mapping[str, list[str]], intent: ListIntent, more: bool
) -> dict[str, str | None]:
    query = Query(root(request) + uri(_path(request)), base)
    # The links page the way the client did: by number, by offset, or by page[offset].
    name = "page[number]" if intent.page_number is not None else intent.offset_parameter

    def at(offset: int) -> str:
        value = offset // intent.limit + 1 if intent.page_number is not None else offset
        return query.url(name, str(value))

    return {
        "self": query.url(),
        "first": at(0),
        "prev": at(max(intent.offset - intent.limit, 0)) if intent.offset > 0 else None,
        "next": at(intent.offset + intent.limit) if more else None,
    }


def keyset_links(
    request: Request,
    base: Mapping[str, list[str]],
    intent: ListIntent,
    more: bool,
    cursors: Sequence[str],
) -> dict[str, str | None]:
    query = Query(root(request) + uri(_path(request)), base)
    rest = Query(
        query.path,
        {k: v for k, v in base.items() if k not in ("page[after]", "page[before]")},
    )
    forward = intent.direction == "after"
    has_next = more if forward else bool(intent.cursor)
    has_prev = bool(intent.cursor) if forward else more
    return {
        "self": query.url(),
        "first": rest.url("page[after]", ""),
        "prev": rest.url("page[before]", cursors[0]) if has_prev and cursors else None,
        "next": rest.url("page[after]", cursors[-1]) if has_next and cursors else None,
    }


def link_header(links: Mapping[str, str | None]) -> str:
    """RFC 8288 ``Link`` for a page's links."""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url)


def refuse_page_params(args: Mapping[str, list[str]], what: str) -> None:
    """An export holds every matching row (or group): page parameters are a 400 there."""
    for name in _NOT_EXPORTED:
        if name in args:
            raise InvalidParameter(
                name, f"An export has every matching {what}: {name} is for pages"
            )


def rows_body(
    fmt: str, names: Sequence[str], batches: Iterable[list[dict[str, Any]]], guard: bool
) -> Generator[bytes]:
    """Rows as a CSV (with its header) or NDJSON body, a batch at a time."""
    if fmt == "csv":
        out = CsvEncoder(names, guard=guard)
        yield out.header()
        for rows in batches:
            yield out.rows(rows)
    else:
        for rows in batches:
            yield ndjson(rows)


def export_response(res: Resource, fmt: str, export: Export) -> Response:
    """Every row (or group) of an export, streamed: the body ends the export's statement when
    the server closes it (or the client goes away)."""
    stream = rows_body(fmt, export.names, export.batches, res.csv_formula_guard)

    def close() -> None:
        # The server's close of the response must reach the statement, or its connection
        # (and on SQLite its read lock) lasts until garbage collection.
        stream.close()
        export.batches.close()

    resp = Response(stream, mimetype=None)
    resp.call_on_close(close)
    resp.headers["Content-Type"] = CSV if fmt == "csv" else NDJSON
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", res.name)
    disposition = f'attachment; filename="{filename}.{fmt}"'
    if filename != res.name:  # RFC 6266: the name in its own letters, for those who can
        disposition += f"; filename*=UTF-8''{quote(res.name, safe='')}.{fmt}"
    resp.headers["Content-Disposition"] = disposition
    resp.headers["Vary"] = "Accept"
    return resp


class Query:
    """A request's query string, encoded once, for links that change one parameter."""

    __slots__ = ("pairs", "path")

    def __init__(self, path: str, args: Mapping[str, list[str]]) -> None:
        #: The URL without its query string, as it goes in links (see :func:`uri`).
        self.path = path
        self.pairs = [(k, f"{_quoted(k)}={quote_plus(v)}") for k, vs in args.items() for v in vs]

    def url(self, name: str | None = None, value: str = "") -> str:
        """The URL, with parameter ``name`` set to ``value`` (in its place, or last)."""
        if name is None:
            parts = [encoded for _, encoded in self.pairs]
        else:
            new = f"{_quoted(name)}={quote_plus(value)}"
            parts, placed = [], False
            for key, encoded in self.pairs:
                if key != name:
                    parts.append(encoded)
                elif not placed:
                    parts.append(new)
                    placed = True
            if not placed:
                parts.append(new)
        return f"{self.path}?{'&'.join(parts)}" if parts else self.path


@functools.lru_cache(maxsize=256)
def _quoted(name: str) -> str:
    return quote_plus(name)
