"""The HTTP side of the token routes: credentials read from a request body (a JSON object or a
form), and token responses (OAuth 2.0's, RFC 6749 §5.1, never cached)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from ..envelopes import Envelope, unwrap
from ..errors import FieldError, MalformedBody, ValidationFailed
from ..http import read_body

__all__ = ["credentials", "login_of", "no_content", "token_response"]


def credentials(
    request: Request, max_body: int, envelope: Envelope | None = None
) -> dict[str, str]:
    """A credentials body (JSON object or form) as text fields; 400 if it is neither. With
    the users' ``envelope``, a JSON body holds them in its member (``{"user": {...}}``)."""
    body = read_body(request, max_body)
    if body.kind == "form":
        data: Any = body.form or {}
    else:
        try:
            data = orjson.loads(body.raw)
        except orjson.JSONDecodeError:
            raise MalformedBody("The request body is not valid JSON") from None
        if envelope is not None:
            data = unwrap(envelope, data)
    if not isinstance(data, dict):
        raise MalformedBody("Send a JSON object with the credentials")
    inside = f"/{envelope.item}" if envelope is not None and body.kind == "json" else ""
    errors = [
        FieldError(f"{inside}/{k}", "Must be a string")
        for k, v in data.items()
        if v is not None and not isinstance(v, str)
    ]
    if errors:
        raise ValidationFailed(errors)
    return {k: v for k, v in data.items() if isinstance(v, str)}


def login_of(fields: Mapping[str, str], login_fields: list[str]) -> tuple[str, str | None]:
    """The login name a sign-in gives, and the login field it names (None: any); 422 when the
    login or the password is missing.

    A login field named by its own name is matched against that column alone; the generic
    ``username`` against every login field (the password tells accounts apart).
    """
    named = next((n for n in login_fields if n != "username" and fields.get(n)), None)
    login = fields[named] if named is not None else fields.get("username")
    errors = []
    if not login:
        errors.append(FieldError("/username", "Field required"))
    if not fields.get("password"):
        errors.append(FieldError("/password", "Field required"))
    if errors:
        raise ValidationFailed(errors)
    assert login is not None
    return login, named


def token_response(body: Mapping[str, Any]) -> Response:
    resp = Response(orjson.dumps(body), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def no_content() -> Response:
    resp = Response(status=204)
    del resp.headers["Content-Type"]
    return resp
