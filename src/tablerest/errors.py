"""Error types: every problem tablerest reports to a client is one of these.

Each error carries an HTTP status, a stable ``code`` (also the last part of the problem
``type`` URI, documented in the README), a short ``title`` and a ``detail`` for this occurrence,
plus optional ``errors`` (one per field, with a JSON pointer), a ``parameter`` (the query
parameter at fault) and extra response ``headers``. Errors are raised anywhere in the pipeline
and turned into a response in one place (``render.problem``).

The tree::

    TablerestError
    ├── BadRequest               400 bad-request
    │   ├── MalformedBody        400 malformed-body
    │   ├── InvalidParameter     400 invalid-parameter
    │   └── OutOfRange           400 out-of-range
    ├── Unauthorized             401 unauthorized
    ├── Forbidden                403 forbidden
    ├── NotFound                 404 not-found
    ├── MethodNotAllowed         405 method-not-allowed
    ├── NotAcceptable            406 not-acceptable
    ├── Conflict                 409 conflict
    ├── PreconditionFailed       412 precondition-failed
    ├── PreconditionRequired     428 precondition-required
    ├── PayloadTooLarge          413 payload-too-large
    ├── UnsupportedMediaType     415 unsupported-media-type
    ├── ValidationFailed         422 validation-failed
    ├── TooManyRequests          429 too-many-requests
    ├── ServiceUnavailable       503 service-unavailable
    └── InternalError            500 internal-error

This module imports no pipeline stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "InternalError",
    "InvalidParameter",
    "MalformedBody",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "OutOfRange",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "ServiceUnavailable",
    "TablerestError",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
]

PROBLEM_TYPE_PREFIX = "urn:tablerest:problem:"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one part of a request body, located by an RFC 6901 JSON pointer."""

    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


class TablerestError(Exception):
    """Base of every error tablerest turns into a problem response.

    Raise one (or a subclass) from a hook or validator to answer the client with it::

        raise tablerest.Conflict("This book is checked out", errors=[FieldError("/status", "...")])
    """

    status: int = 500
    code: str = "error"
    title: str = "Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = tuple(errors)
        self.parameter = parameter
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    def under(self, prefix: str) -> TablerestError:
        """This error with its field pointers moved under ``prefix`` (a write nested in a
        larger document), or pointing at ``prefix`` when it had none (the whole part was
        refused); returns itself, to be raised again."""
        if prefix and not self.errors:
            self.errors = (FieldError(prefix, self.detail),)
        elif prefix:
            named = sorted({e.pointer for e in self.errors if e.pointer}, key=len, reverse=True)
            if named:  # a detail naming the pointers names the new ones
                found = "|".join(re.escape(p) for p in named)
                self.detail = re.sub(rf"(?<= )(?:{found})\b", lambda m: prefix + m[0], self.detail)
            self.errors = tuple(FieldError(prefix + e.pointer, e.detail) for e in self.errors)
        return self

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.code

    def as_problem(self) -> dict[str, object]:
        """The RFC 9457 problem details object for this error."""
        body: dict[str, object] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.parameter is not None:
            body["parameter"] = self.parameter
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class BadRequest(TablerestError):
    """The request is malformed (400)."""

    status, code, title = 400, "bad-request", "Bad request"


class MalformedBody(BadRequest):
    """The body cannot be parsed: not JSON, empty, or a form field given twice (400)."""

    code, title = "malformed-body", "Malformed request body"


class InvalidParameter(BadRequest):
    """A query parameter is unknown or its value is wrong; ``parameter`` names it."""

    code, title = "invalid-parameter", "Invalid query parameter"

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail, parameter=parameter)


class OutOfRange(BadRequest):
    """A value the database computed for the request (a sum) is beyond what it can hold;
    ``parameter`` names the query parameter that asked for it (400)."""

    code, title = "out-of-range", "Value out of range"


class Unauthorized(TablerestError):
    """No credentials, or credentials that are not valid (401).

    ``WWW-Authenticate`` says how to authenticate (RFC 6750): ``Bearer`` alone when the request
    had no token, with ``error="invalid_token"`` and a description when it had a bad one.
    """

    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(
        self, detail: str | None = None, *, error: str | None = None, scheme: str = "Bearer"
    ) -> None:
        challenge = f'{scheme} realm="api"'
        if error is not None:
            # RFC 6750 §3: quoted-string values; details never carry a quote or backslash.
            text = (detail or "").replace('"', "'").replace("\\", "/")
            challenge += f', error="{error}", error_description="{text}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})
        self.error = error


class Forbidden(TablerestError):
    """The request is understood but not allowed (403)."""

    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(TablerestError):
    """No such row, resource or route (404)."""

    status, code, title = 404, "not-found", "Not found"


class MethodNotAllowed(TablerestError):
    """The route exists but not for this method; ``Allow`` lists those it takes (405)."""

    status, code, title = 405, "method-not-allowed", "Method not allowed"

    def __init__(self, allowed: Sequence[str], detail: str | None = None) -> None:
        allow = ", ".join(sorted(allowed))
        super().__init__(detail or f"Allowed methods: {allow}", headers={"Allow": allow})


class NotAcceptable(TablerestError):
    """The ``Accept`` header rules out every representation tablerest can send (406)."""

    status, code, title = 406, "not-acceptable", "Not acceptable"


class Conflict(TablerestError):
    """The write conflicts with stored data: a unique or foreign key, or a hook's rule (409)."""

    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(TablerestError):
    """``If-Match`` names a version of the row that is no longer current (412)."""

    status, code, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(TablerestError):
    """The resource only takes writes that say which version they change (428)."""

    status, code, title = 428, "precondition-required", "Precondition required"


class PayloadTooLarge(TablerestError):
    """The body is over the API's ``max_body_size`` (413)."""

    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(TablerestError):
    """The body's ``Content-Type`` is not JSON or a form (415)."""

    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(TablerestError):
    """The body is well-formed but its values are not acceptable; ``errors`` lists them all."""

    status, code, title = 422, "validation-failed", "Validation failed"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        n = len(errors)
        default = f"{n} field{'s are' if n != 1 else ' is'} invalid"
        super().__init__(detail or default, errors=errors)


class TooManyRequests(TablerestError):
    """The caller is over a rate limit; ``Retry-After`` says when to come back (429)."""

    status, code, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(TablerestError):
    """The database cannot be reached; ``Retry-After`` says when to try again (503)."""

    status, code, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InternalError(TablerestError):
    """A server-side failure; the response carries no details of it (500)."""

    status, code, title = 500, "internal-error", "Internal server error"
