"""Small pieces every part of the document uses: component names and references, closed
objects, query parameters, JSON responses and bodies, and the problem responses (RFC 9457
problem details, or JSON:API error documents) with what each status means here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..render.jsonapi import JSONAPI
from ..resource import Resource

PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong and where.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A stable URN per kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "parameter": {"type": "string", "description": "The query parameter at fault"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the body"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}

_STATUS_TEXT = {
    400: "Malformed request or query parameter",
    401: "Sign-in needed, or the token is not valid (WWW-Authenticate says which)",
    403: "Not allowed: a permission the caller lacks (JSON:API: also a client-chosen id where "
    "the database chooses keys)",
    404: "No such row",
    406: "The Accept header rules out every representation",
    409: "Conflicts with stored data (a unique or foreign key)",
    412: "If-Match names a version of the row that is no longer current",
    413: "The body is too large",
    415: "The body is not JSON (or a form)",
    422: "The body's values are invalid; every field error has a JSON pointer",
    428: "This resource requires If-Match on changes",
    429: "Over a rate limit; Retry-After says when to come back",
    503: "The database is not reachable; Retry-After says when to try again",
}

#: The header an error status answers with, and the type of its value.
_STATUS_HEADER = {
    401: ("WWW-Authenticate", "string"),
    429: ("Retry-After", "integer"),
    503: ("Retry-After", "integer"),
}


#: gunicorn refuses an over-long request line before the API runs (so no problem body).
TOO_LONG = {"description": "The request line is too long for the server"}


def problems(*codes: int) -> dict[str, Any]:
    """The responses of these error statuses: a problem, or JSON:API errors."""
    out: dict[str, Any] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _STATUS_TEXT[code],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
                JSONAPI: {"schema": {"$ref": "#/components/schemas/JsonApiErrors"}},
            },
        }
        if code in _STATUS_HEADER:
            name, kind = _STATUS_HEADER[code]
            entry["headers"] = {name: {"schema": {"type": kind}}}
        out[str(code)] = entry
    return out


def headers(*names: str) -> dict[str, Any]:
    """The headers of a response, each a string (``ETag``, ``Location``, ``Link``)."""
    return {name: {"schema": {"type": "string"}} for name in names}


def schema_name(res: Resource, suffix: str = "") -> str:
    """The component name of ``res`` (with ``suffix``): ASCII, distinct per resource."""
    # Component names are ASCII: other letters lose their accents (``Ünï`` -> ``Uni``), and
    # a name that changed gets a digest of itself, so that two never meet (``Ärger``, ``Örger``).
    folded = unicodedata.normalize("NFKD", res.name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", folded)
    if base != res.name:
        base += "_" + hashlib.sha256(res.name.encode()).hexdigest()[:8]
    return base[:1].upper() + base[1:] + suffix


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


JSONAPI_ERRORS = {
    "type": "object",
    "description": "A JSON:API error document: one error object per problem.",
    "required": ["errors"],
    "properties": {
        "jsonapi": {"type": "object"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"},
                    "code": {"type": "string"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "source": {
                        "type": "object",
                        "properties": {
                            "pointer": {"type": "string"},
                            "parameter": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An object of exactly these members, those in ``required`` required."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": dict(schema),
            "description": description}  # fmt: skip


def json_ok(
    schema: Mapping[str, Any],
    description: str,
    *,
    etag: bool,
    jsonapi: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A success response as JSON (and JSON:API when given), with its ETag if ``etag``."""
    content: dict[str, Any] = {"application/json": {"schema": dict(schema)}}
    if jsonapi is not None:
        content[JSONAPI] = {"schema": dict(jsonapi)}
    out: dict[str, Any] = {"description": description, "content": content}
    if etag:
        out["headers"] = headers("ETag")
    return out


def json_body(
    schema: Mapping[str, Any], jsonapi: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A required request body as JSON (and JSON:API when given)."""
    content: dict[str, Any] = {"application/json": {"schema": dict(schema)}}
    if jsonapi is not None:
        content[JSONAPI] = {"schema": dict(jsonapi)}
    return {"required": True, "content": content}
