"""The RealWorld spec's JSON shapes: bodies wrapped in one key, camelCase, its error document.

tablerest's generated routes answer in their own shapes (plain rows, problem+json); the spec's
routes take and give these instead, and this module is the whole difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Request, Response, request
from werkzeug.exceptions import HTTPException

from tablerest import BadRequest, FieldError, TablerestError, ValidationFailed

__all__ = [
    "current_token",
    "error_response",
    "http_error_response",
    "json_response",
    "timestamp",
    "unwrap",
]


def timestamp(t: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the spec's examples show: 2016-02-18T03:22:56.637Z."""
    if t.tzinfo is None:  # SQLite and MariaDB hand back what was stored: UTC, without a zone
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def unwrap(req: Request, key: str, allowed: Sequence[str]) -> dict[str, Any]:
    """The object under ``key`` in a JSON body (``{"article": {...}}``), with only ``allowed``
    members; anything else is a 400 (not JSON, not an object) or a 422 (a bad member)."""
    data = req.get_json(silent=True)
    if data is None:
        raise BadRequest("The request body must be JSON (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    inner = data.get(key)
    errors = [FieldError(f"/{k}", "Unknown field") for k in data if k != key]
    if not isinstance(inner, dict):
        errors.append(FieldError(f"/{key}", "Field required: an object"))
        raise ValidationFailed(errors)
    errors += [FieldError(f"/{key}/{k}", "Unknown field") for k in inner if k not in allowed]
    if errors:
        raise ValidationFailed(errors)
    return inner


def error_response(exc: TablerestError) -> Response:
    """A tablerest error in the spec's shape: ``{"errors": {"body": ["..."]}}``.

    Each field error becomes ``"<field>: <message>"`` (``"title: Field required"``,
    ``"tagList/1: ..."``); the status and headers (``WWW-Authenticate``, ``Retry-After``) stay
    tablerest's.
    """
    messages = [f"{_field(e.pointer)}: {e.detail}" for e in exc.errors] or [exc.detail]
    resp = json_response({"errors": {"body": messages}}, exc.status)
    for name, value in (exc.headers or {}).items():
        resp.headers[name] = value
    return resp


def _field(pointer: str) -> str:
    """``/article/tagList/1`` -> ``tagList/1``: the pointer inside the wrapping object."""
    steps = pointer.lstrip("/").split("/")
    return "/".join(steps[1:] if len(steps) > 1 else steps)


def http_error_response(exc: HTTPException) -> Response | HTTPException:
    """Errors outside any view under ``/api`` (404, 405, a body over the limit, a crash),
    in the spec's shape; other paths keep Flask's pages."""
    if not (request.path == "/api" or request.path.startswith("/api/")):
        return exc
    code = exc.code or 500
    detail = "Internal server error" if code >= 500 else (exc.description or exc.name)
    resp = json_response({"errors": {"body": [detail]}}, code)
    if code == 405:
        resp.headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or [])
    return resp


def current_token() -> str:
    """The token the request came with (GET /user answers with it)."""
    return request.headers.get("Authorization", "").partition(" ")[2].strip()
