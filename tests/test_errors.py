"""Unit tests of the error types and their problem documents."""

from __future__ import annotations

from tablerest.errors import (
    Conflict,
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


def test_a_taken_unique_value_becomes_a_422_with_the_same_field_errors() -> None:
    taken = Conflict(
        "Conflict on /email",
        errors=[FieldError("/email", "A row with this value already exists")],
        headers={"X-Why": "unique"},
        taken="users",
    )
    moved = taken.under("/operations/1/data")
    assert moved is taken  # a batch moves the pointers of the same error
    error = taken.as_validation()
    assert isinstance(error, ValidationFailed)
    assert error.as_problem() == {
        "type": "urn:tablerest:problem:validation-failed",
        "title": "Validation failed",
        "status": 422,
        "detail": "Already taken: /operations/1/data/email",
        "errors": [
            {
                "pointer": "/operations/1/data/email",
                "detail": "A row with this value already exists",
            }
        ],
    }
    assert error.headers == {"X-Why": "unique"}
    assert Conflict("x", parameter="on_conflict").parameter == "on_conflict"
    assert Conflict("x").taken is None  # any other conflict stays a 409
