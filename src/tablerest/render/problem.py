"""Errors -> RFC 9457 ``application/problem+json`` responses, or JSON:API error documents."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Response

from ..errors import TablerestError
from ..http import JSONAPI
from .json import dumps

__all__ = ["PROBLEM_JSON", "error_response", "problem_response"]

PROBLEM_JSON = "application/problem+json"


def problem_response(error: TablerestError, response_class: type[Response] = Response) -> Response:
    """The response for ``error``: its problem body, status and headers (``Allow``, ...)."""
    resp = response_class(dumps(error.as_problem()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


def error_response(
    error: TablerestError, *, jsonapi: bool, pointers: Mapping[str, str] | None = None
) -> Response:
    """A problem response, or for a JSON:API request a JSON:API error document (its field
    errors' pointers translated into the request document by ``pointers``)."""
    if not jsonapi:
        return problem_response(error)
    doc = _error_document()(error, pointers)
    resp = Response(dumps(doc), status=error.status, mimetype=JSONAPI)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


@functools.cache
def _error_document() -> Callable[[TablerestError, Mapping[str, str] | None], dict[str, Any]]:
    """render.jsonapi's error documents, imported by the first JSON:API error answered (an API
    whose clients send plain JSON never loads the module) and kept."""
    from .jsonapi import error_document

    return error_document
