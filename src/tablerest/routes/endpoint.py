"""The HTTP side of one resource: its read and write routes, and the relationship route that
takes both."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from .. import http
from ..operations.service import Operations
from .common import RouteContext
from .reads import ReadRoutes
from .writes import WriteRoutes

__all__ = ["Endpoint"]


class Endpoint:
    """Everything needed to serve one resource over HTTP, built once at registration."""

    def __init__(self, ops: Operations, context: RouteContext) -> None:
        self.ops = ops
        self.resource = ops.resource
        self.reads = ReadRoutes(ops, context)
        self.writes = WriteRoutes(ops, context)
        self.path = self.reads.path
        self.url = self.reads.url

    def relationship(self, request: Request, key: str, name: str) -> Response:
        """``/books/1/relationships/author``: the linkage of one relationship (JSON:API), and
        the change of a to-one one."""
        request.environ[http.JSONAPI_REQUEST] = True  # a JSON:API route: its errors too
        caller = self.reads.caller(request)
        rel, target = caller.relation(self.resource, name, "No such relationship")
        if request.method == "OPTIONS":
            resp = Response(status=200)
            resp.headers["Allow"] = ", ".join(self.writes.relationship_methods(rel, target))
            return resp
        http.representation(request, "jsonapi")
        if request.method not in ("GET", "HEAD"):
            return self.writes.set_relationship(request, caller, key, rel, target)
        return self.reads.linkage(request, caller, key, rel, target)
