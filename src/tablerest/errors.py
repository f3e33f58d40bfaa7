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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "BadRequest",
    "Conflict",
    "ErrorRenderer",
    "ErrorRendererSpec",
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
    "UniqueViolationMode",
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

    def __init_subclass__(
        cls, *, status: int | None = None, title: str | None = None, code: str | None = None
    ) -> None:
        """A kind of error, declared in its class line: ``class Gone(TablerestError,
        status=410, title="Gone")``. Its ``code`` is the title in lower case with hyphens
        (``gone``) unless ``code`` names another; what is not given is inherited."""
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if title is not None:
            cls.title = title
            cls.code = title.lower().replace(" ", "-")
        if code is not None:
            cls.code = code

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


class BadRequest(TablerestError, status=400, title="Bad request"):
    """The request is malformed (400)."""


class MalformedBody(BadRequest, title="Malformed request body", code="malformed-body"):
    """The body cannot be parsed: not JSON, empty, or a form field given twice (400)."""


class InvalidParameter(BadRequest, title="Invalid query parameter", code="invalid-parameter"):
    """A query parameter is unknown or its value is wrong; ``parameter`` names it."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail, parameter=parameter)


class OutOfRange(BadRequest, title="Value out of range", code="out-of-range"):
    """A value the database computed for the request (a sum) is beyond what it can hold;
    ``parameter`` names the query parameter that asked for it (400)."""


class Unauthorized(TablerestError, status=401, title="Unauthorized"):
    """No credentials, or credentials that are not valid (401).

    ``WWW-Authenticate`` says how to authenticate (RFC 6750): ``Bearer`` alone when the request
    had no token, with ``error="invalid_token"`` and a description when it had a bad one.
    """

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


class Forbidden(TablerestError, status=403, title="Forbidden"):
    """The request is understood but not allowed (403)."""


class NotFound(TablerestError, status=404, title="Not found"):
    """No such row, resource or route (404)."""


class MethodNotAllowed(TablerestError, status=405, title="Method not allowed"):
    """The route exists but not for this method; ``Allow`` lists those it takes (405)."""

    def __init__(self, allowed: Sequence[str], detail: str | None = None) -> None:
        allow = ", ".join(sorted(allowed))
        super().__init__(detail or f"Allowed methods: {allow}", headers={"Allow": allow})


class NotAcceptable(TablerestError, status=406, title="Not acceptable"):
    """The ``Accept`` header rules out every representation tablerest can send (406)."""


class Conflict(TablerestError, status=409, title="Conflict"):
    """The write conflicts with stored data: a unique or foreign key, or a hook's rule (409).

    ``taken`` names the resource whose unique key (or composite unique constraint) the write
    gave a value another row holds, when that is the whole conflict: with
    ``unique_violation="validation"`` on the API or on that resource (a nested or batch
    write can meet another resource's key), it answers as :meth:`as_validation`'s 422."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
        taken: str | None = None,
    ) -> None:
        super().__init__(detail, errors=errors, parameter=parameter, headers=headers)
        self.taken = taken

    def as_validation(self) -> ValidationFailed:
        """The same field errors as a 422, as a form library reports a taken value. The
        detail keeps what was said around it (a batch's "Operation 2 (...) failed")."""
        said = "Conflict on "
        detail = (
            self.detail.replace(said, "Already taken: ", 1)
            if said in self.detail
            else f"Already taken: {_fields(self.errors)}"
        )
        error = ValidationFailed(self.errors, detail=detail)
        error.headers = dict(self.headers)
        return error


#: What a unique violation answers: ``"conflict"`` (409) or ``"validation"`` (422).
UniqueViolationMode = Literal["conflict", "validation"]


def _fields(errors: Sequence[FieldError]) -> str:
    return ", ".join(sorted({e.pointer for e in errors})) or "a unique key"


class PreconditionFailed(TablerestError, status=412, title="Precondition failed"):
    """``If-Match`` names a version of the row that is no longer current (412)."""


class PreconditionRequired(TablerestError, status=428, title="Precondition required"):
    """The resource only takes writes that say which version they change (428)."""


class PayloadTooLarge(TablerestError, status=413, title="Payload too large"):
    """The body is over the API's ``max_body_size`` (413)."""


class UnsupportedMediaType(TablerestError, status=415, title="Unsupported media type"):
    """The body's ``Content-Type`` is not JSON or a form (415)."""


class ValidationFailed(TablerestError, status=422, title="Validation failed"):
    """The body is well-formed but its values are not acceptable; ``errors`` lists them all."""

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        n = len(errors)
        default = f"{n} field{'s are' if n != 1 else ' is'} invalid"
        super().__init__(detail or default, errors=errors)


class TooManyRequests(TablerestError, status=429, title="Too many requests"):
    """The caller is over a rate limit; ``Retry-After`` says when to come back (429)."""


class ServiceUnavailable(TablerestError, status=503, title="Service unavailable"):
    """The database cannot be reached; ``Retry-After`` says when to try again (503)."""

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InternalError(
    TablerestError, status=500, title="Internal server error", code="internal-error"
):
    """A server-side failure; the response carries no details of it (500)."""


class ErrorRenderer(Protocol):
    """How an API (or one resource) writes its error documents, for clients that expect an
    application's own format rather than RFC 9457 problems (DRF's renderer, for errors).

    ``render`` gets the error (status, code, title, detail, field ``errors`` with JSON
    pointers, ``parameter``) and returns the body; ``media_type`` is its ``Content-Type``;
    ``schema`` (a JSON Schema, or None; may be left out) describes it in the OpenAPI
    document. The status and the headers (``Allow``, ``WWW-Authenticate``, ``Retry-After``)
    stay tablerest's::

        class ConduitErrors:
            media_type = "application/json"
            schema = {"type": "object", "required": ["errors"]}

            def render(self, error: TablerestError) -> bytes:
                return orjson.dumps({"errors": {"body": [error.detail]}})
    """

    media_type: str
    schema: Mapping[str, Any] | None

    def render(self, error: TablerestError) -> bytes: ...


#: What ``error_renderer=`` takes: an :class:`ErrorRenderer`, or a function of the error
#: returning a JSON object (sent as ``application/json``).
ErrorRendererSpec = ErrorRenderer | Callable[[TablerestError], Mapping[str, Any]]
