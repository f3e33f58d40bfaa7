"""Unit tests of the error types and their problem documents."""

from __future__ import annotations

from tablerest.errors import (
    FieldError,
    InvalidParameter,
    MethodNotAllowed,
    ServiceUnavailable,
    TablerestError,
    ValidationFailed,
)


def test_problem_document_has_rfc9457_members_and_extensions() -> None:
    err = ValidationFailed([FieldError("/a", "bad"), FieldError("/b~1c", "worse")])
    assert err.as_problem() == {
        "type": "urn:tablerest:problem:validation-failed",
        "title": "Validation failed",
        "status": 422,
        "detail": "2 fields are invalid",
        "errors": [{"pointer": "/a", "detail": "bad"}, {"pointer": "/b~1c", "detail": "worse"}],
    }
    assert ValidationFailed([FieldError("/a", "x")]).detail == "1 field is invalid"


def test_parameter_and_headers() -> None:
    err = InvalidParameter("page[size]", "too big")
    assert err.as_problem()["parameter"] == "page[size]"
    assert err.status == 400
    assert MethodNotAllowed(["POST", "GET"]).headers == {"Allow": "GET, POST"}
    assert ServiceUnavailable(retry_after=9).headers == {"Retry-After": "9"}


def test_codes_are_unique_per_class() -> None:
    def walk(cls: type[TablerestError]) -> list[type[TablerestError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in walk(sub))]

    classes = walk(TablerestError)
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), codes
