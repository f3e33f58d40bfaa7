"""Errors -> RFC 9457 ``application/problem+json`` responses, JSON:API error documents, or
the documents of an application's own :class:`~tablerest.errors.ErrorRenderer`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Response

from ..errors import ErrorRenderer, ErrorRendererSpec, InternalError, TablerestError
from ..http import JSONAPI
from .json import dumps

__all__ = ["PROBLEM_JSON", "error_response", "problem_response", "renderer_of"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("tablerest")


class _Function:
    """A function of the error returning a JSON object, as an :class:`ErrorRenderer`."""

    media_type = "application/json"
    schema: Mapping[str, Any] | None = None

    def __init__(self, fn: Callable[[TablerestError], Mapping[str, Any]]) -> None:
        self.fn = fn

    def render(self, error: TablerestError) -> bytes:
        return dumps(self.fn(error))


def renderer_of(spec: ErrorRendererSpec | None) -> ErrorRenderer | None:
    """``error_renderer=`` as given, checked once when declared: a renderer, or a function
    wrapped as one."""
    if spec is None:
        return None
    if hasattr(spec, "render") and hasattr(spec, "media_type"):  # schema may be left out
        found: ErrorRenderer = spec  # type: ignore[assignment]
        return found
    if callable(spec):
        return _Function(spec)
    raise TypeError(
        f"error_renderer must be an ErrorRenderer (media_type, schema, render) or a function "
        f"of the error returning a dict, not {spec!r}"
    )


def problem_response(error: TablerestError, response_class: type[Response] = Response) -> Response:
    """The response for ``error``: its problem body, status and headers (``Allow``, ...)."""
    resp = response_class(dumps(error.as_problem()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


def error_response(
    error: TablerestError,
    *,
    jsonapi: bool,
    pointers: Mapping[str, str] | None = None,
    renderer: ErrorRenderer | None = None,
) -> Response:
    """A problem response, or ``renderer``'s document, or for a JSON:API request a JSON:API
    error document (its field errors' pointers translated into the request document by
    ``pointers``): the JSON:API specification requires its own error objects, whatever the
    API's renderer."""
    if not jsonapi:
        return problem_response(error) if renderer is None else _rendered(error, renderer)
    doc = _error_document()(error, pointers)
    resp = Response(dumps(doc), status=error.status, mimetype=JSONAPI)
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


def _rendered(error: TablerestError, renderer: ErrorRenderer) -> Response:
    """``renderer``'s document for ``error`` with tablerest's status and headers. A renderer
    that fails answers a bare 500 problem (its exception goes to the log, never to the
    client: it may hold what the error or the request held)."""
    try:
        body = renderer.render(error)
        if not isinstance(body, bytes):
            raise TypeError(f"render() returned {type(body).__name__}, not bytes")
        resp = Response(body, status=error.status, content_type=renderer.media_type)
    except Exception:
        log.exception("error renderer %r failed on a %d error", renderer, error.status)
        return problem_response(InternalError())
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


@functools.cache
def _error_document() -> Callable[[TablerestError, Mapping[str, str] | None], dict[str, Any]]:
    """render.jsonapi's error documents, imported by the first JSON:API error answered (an API
    whose clients send plain JSON never loads the module) and kept."""
    from .jsonapi import error_document

    return error_document
