"""HTTP negotiation: what the client accepts, what it sent, and how big it is.

This is the first stage of the pipeline, so that even an early error renders in a format the
client can read. It reads the Flask request and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import (
    InvalidParameter,
    MalformedBody,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)

__all__ = [
    "Body",
    "ListFormat",
    "check_accept",
    "etag",
    "if_match",
    "list_format",
    "not_modified",
    "read_body",
]

JSON_TYPES = ("application/json", "application/problem+json")
ListFormat = Literal["json", "csv", "ndjson"]
#: What a list can be sent as, by media type; JSON first, so ``*/*`` and ties get JSON.
LIST_TYPES: dict[str, ListFormat] = {
    "application/json": "json",
    "application/problem+json": "json",
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: raw JSON bytes, or the fields of a form."""

    kind: Literal["json", "form"]
    raw: bytes = b""
    form: dict[str, str] | None = None


def check_accept(request: Request) -> None:
    """Raise 406 unless the client accepts JSON (no ``Accept`` header accepts anything)."""
    if "HTTP_ACCEPT" not in request.environ:
        return
    if request.accept_mimetypes.best_match(JSON_TYPES) is None:
        raise NotAcceptable(
            "This API answers with application/json; the Accept header rules it out"
        )


def list_format(request: Request, exportable: bool) -> ListFormat:
    """The representation of a list: ``?format=`` if given, else the best the ``Accept``
    header allows (JSON by default). Exports (CSV, NDJSON) only where ``exportable``."""
    given = request.args.getlist("format")
    if given:
        if len(given) > 1:
            raise InvalidParameter("format", "format is given more than once")
        if given[0] == "json" or (exportable and given[0] in ("csv", "ndjson")):
            return given[0]  # type: ignore[return-value]
        allowed = "json, csv or ndjson" if exportable else "json (this resource has no export)"
        raise InvalidParameter("format", f"format must be {allowed}")
    if "HTTP_ACCEPT" not in request.environ:
        return "json"
    offered = LIST_TYPES if exportable else dict.fromkeys(JSON_TYPES, "json")
    best = request.accept_mimetypes.best_match(tuple(offered))
    if best is None:
        raise NotAcceptable(
            f"This list is available as {', '.join(offered)}; the Accept header rules them out"
        )
    return offered[best]  # type: ignore[return-value]


def etag(body: bytes) -> str:
    """A strong entity tag for a representation: a digest of its bytes (unquoted).

    Tags only tell versions of one URL's representation apart (they guard against lost
    updates, not forgery), and SHA-1 is the fastest digest here with hardware support.
    """
    digest = hashlib.sha1(body, usedforsecurity=False).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def not_modified(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names this representation (weak comparison, RFC 9110)."""
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        return False
    return request.if_none_match.contains_weak(tag)


def if_match(request: Request, tag: str | None) -> bool:
    """Whether ``If-Match`` allows changing the row whose current tag is ``tag`` (strong
    comparison; ``*`` matches any existing row, ``tag`` None means there is none)."""
    if tag is None:
        return False
    condition = request.if_match
    return condition.star_tag or condition.contains(tag)


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_body(request: Request, limit: int) -> Body:
    """Read a write request's body, at most ``limit`` bytes, as JSON or form fields."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The body is {length} bytes; the limit is {limit}")
    mimetype = request.mimetype
    if _is_json(mimetype):
        # With a Content-Length the stream ends there: ask for no more (no large read buffer).
        raw = request.stream.read(limit + 1 if length is None else length)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes")
        if not raw.strip():
            raise MalformedBody("The request body is empty; send a JSON object")
        return Body("json", raw=raw)
    if mimetype in FORM_TYPES:
        request.max_content_length = limit
        request.max_form_memory_size = limit
        try:
            form = request.form
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes") from None
        multi = [k for k, v in form.lists() if len(v) > 1]
        if multi:
            raise MalformedBody(f"Form field {multi[0]!r} is given more than once")
        return Body("form", form=form.to_dict())
    if not mimetype:
        raise UnsupportedMediaType(
            "The request has no Content-Type; send application/json "
            "or application/x-www-form-urlencoded"
        )
    raise UnsupportedMediaType(
        f"Content-Type {mimetype} is not supported; send application/json "
        "or application/x-www-form-urlencoded"
    )
