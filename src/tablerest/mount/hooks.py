"""tablerest's request hooks, views and error handlers: each one a function of the request,
registered on Flask through a thin adapter that hands it Flask's request. The adapter keeps the
function (:func:`of_request`), so the lean path (:mod:`tablerest.mount.lean`) runs the very same
code without a Flask request context, and can tell tablerest's adapters from anyone else's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, request
from werkzeug.wrappers import Request, Response

__all__ = [
    "After",
    "Before",
    "Teardown",
    "after",
    "before",
    "current",
    "error_handler",
    "of_request",
    "teardown",
    "view",
]

Before = Callable[[Request], Response | None]
After = Callable[[Request, Response], Response]
Teardown = Callable[[Request, BaseException | None], None]
E = TypeVar("E", bound=Exception)
F = TypeVar("F", bound=Callable[..., Any])
_FN, _SELF = "tablerest_of_request", "tablerest_adapter"


def current() -> Request:
    """The request being served itself, not Flask's proxy to it: the core reads many of its
    attributes, and each read through the proxy looks the request up again."""
    found: Request = cast(Any, request)._get_current_object()
    return found


def _adapter(adapter: F, fn: Callable[..., Any]) -> F:
    setattr(adapter, _FN, fn)
    # Itself too: a decorator's functools.wraps copies the attributes onto its wrapper, which
    # then runs more than ``fn`` (see of_request).
    setattr(adapter, _SELF, adapter)
    return adapter


def of_request(adapter: Callable[..., Any]) -> Callable[..., Any] | None:
    """The function of the request an adapter made here runs; None for anything else,
    including a wrapper another decorator put around such an adapter."""
    if getattr(adapter, _SELF, None) is not adapter:
        return None
    found: Callable[..., Any] = getattr(adapter, _FN)
    return found


def before(app: Flask, fn: Before) -> None:
    """Run ``fn`` before every request (Flask's ``before_request``)."""
    app.before_request(_adapter(lambda: fn(current()), fn))


def after(app: Flask, fn: After) -> None:
    """Run ``fn`` on every response (Flask's ``after_request``)."""
    app.after_request(_adapter(lambda resp: fn(current(), resp), fn))


def teardown(app: Flask, fn: Teardown) -> None:
    """Run ``fn`` when a request is torn down (Flask's ``teardown_request``)."""
    app.teardown_request(_adapter(lambda exc: fn(current(), exc), fn))


def view(fn: Callable[..., Response], name: str) -> Callable[..., Response]:
    """A Flask view (named ``name``) that calls ``fn`` with the request and the rule's
    arguments."""

    def adapter(**args: Any) -> Response:
        return fn(current(), **args)

    adapter.__name__ = adapter.__qualname__ = name
    return _adapter(adapter, fn)


def error_handler(app: Flask, error: type[E], fn: Callable[[Request, E], Any]) -> None:
    """Answer ``error`` with ``fn`` (Flask's ``register_error_handler``)."""
    app.register_error_handler(error, _adapter(lambda exc: fn(current(), exc), fn))
