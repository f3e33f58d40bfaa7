"""Errors -> RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

from flask import Response

from ..errors import TablerestError
from .json import dumps

__all__ = ["PROBLEM_JSON", "problem_response"]

PROBLEM_JSON = "application/problem+json"


def problem_response(error: TablerestError, response_class: type[Response] = Response) -> Response:
    """The response for ``error``: its problem body, status and headers (``Allow``, ...)."""
    resp = response_class(dumps(error.as_problem()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp
