"""Context variables set for one request: the store reads them (whether reads may go to a
replica, the request id its log lines carry) without importing Flask."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Generic, TypeVar

from flask import Flask
from werkzeug.wrappers import Request

from . import hooks

__all__ = ["RequestScoped"]

T = TypeVar("T")


class RequestScoped(Generic[T]):
    """``var`` as set for the request being served, back to what it was once the request is
    torn down (the next request on the thread must not inherit it)."""

    def __init__(self, app: Flask, var: ContextVar[T]) -> None:
        self.var = var
        # Where the token that undoes the set is kept until then.
        self._reset_key = f"tablerest.reset.{var.name}"
        hooks.teardown(app, self._reset)

    def set(self, req: Request, value: T) -> None:
        req.environ[self._reset_key] = self.var.set(value)

    def _reset(self, req: Request, _exc: BaseException | None) -> None:
        token = req.environ.pop(self._reset_key, None)
        if token is not None:
            self.var.reset(token)
