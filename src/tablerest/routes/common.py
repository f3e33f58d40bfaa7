"""What the HTTP routes of a mounted API share: the API's HTTP settings, the caller and the
body of a request, a resource's operations, and how a written row is answered."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from .. import http
from ..auth.access import Access
from ..decode.exactjson import dump_exact, load_exact
from ..decode.queries import QueryReader
from ..envelopes import pointed, unwrap
from ..errors import TablerestError
from ..limits import Limits
from ..operations.caller import Caller
from ..operations.registry import Registry
from ..operations.service import Operations
from .respond import enveloped, item_url, root, tagged

if TYPE_CHECKING:
    from ..render.jsonapi import Renderer

__all__ = ["POINTERS", "Authorize", "RouteContext", "Routes", "Settings"]

#: WSGI environ key: where the fields of a JSON:API body came from (for error pointers).
POINTERS = "tablerest.pointers"

#: Works out a request's access (None: the API has no permissions and no authentication).
Authorize = Callable[[Request], Access | None]


@dataclass(frozen=True, slots=True)
class Settings:
    """API-wide HTTP options, fixed when ``Api`` is created."""

    prefix: str
    max_body_size: int
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What every route of one mounted API works with: every resource's operations (the
    registry, also the catalog), the API-wide settings, and how a request's caller is found."""

    registry: Registry
    settings: Settings
    authorize: Authorize

    def caller(self, request: Request) -> Caller:
        """The request's caller and their view of the API (worked out once per request)."""
        return self.registry.caller(self.authorize(request))

    def body(self, request: Request) -> http.Body:
        """The request's body, within the API's bounds on its size and nesting."""
        limits = self.settings.limits
        return http.read_body(request, self.settings.max_body_size, limits.max_json_depth)


class Routes:
    """One resource's routes: its operations, and the HTTP side of them."""

    def __init__(self, ops: Operations, context: RouteContext) -> None:
        self.ops = ops
        self.resource = ops.resource
        self.context = context
        self.registry = context.registry
        self.settings = context.settings
        prefix = context.settings.prefix
        #: The collection's URL rule (the name as it is: routing matches decoded paths), and
        #: its path in links (percent-encoded: ``/api/%C3%9Cn%C3%AFc%C3%B6d%C3%A9``), which
        #: :meth:`collection_url` makes absolute.
        self.path = f"{prefix}/{self.resource.path}"
        self.url = f"{prefix}/{quote(self.resource.path)}"
        self.queries = QueryReader(self.registry, context.settings.limits)

    @cached_property
    def jsonapi(self) -> Renderer:
        """The resource's JSON:API documents: built (and render.jsonapi imported) by its first
        JSON:API answer, then kept; plain JSON never needs them."""
        from ..render.jsonapi import Renderer

        return Renderer(self.registry, self.settings.prefix)

    def caller(self, request: Request) -> Caller:
        return self.context.caller(request)

    def body(self, request: Request) -> http.Body:
        return self.context.body(request)

    def collection_url(self, request: Request) -> str:
        """The collection's absolute URL, as ``request`` reached the app."""
        return root(request) + self.url

    def item_url(self, request: Request, row: dict[str, Any]) -> str:
        """The absolute URL of ``row``, as ``request`` reached the app."""
        return item_url(self.collection_url(request), self.resource, row)

    def written(
        self, request: Request, caller: Caller, row: dict[str, Any], fmt: str, status: int
    ) -> Response:
        """The row a write stored, in the representation the client negotiated."""
        res = self.resource
        row = caller.visible(res, row)
        if fmt == "jsonapi":
            url = self.item_url(request, row)
            doc = self.jsonapi.single(res, row, url, view=caller.access, root=root(request))
            return tagged(request, doc, res, status, read=False, media=http.JSONAPI)
        return tagged(request, enveloped(res, row), res, status, read=False)

    def unwrapped(self, body: http.Body, jsonapi: bool) -> tuple[http.Body, bool | None]:
        """A plain JSON write body out of the resource's envelope, and whether it held
        several rows (None: no envelope applies, the body is as sent)."""
        env = self.resource.envelope
        if env is None or jsonapi or body.kind != "json":
            return body, None
        try:
            data = load_exact(body.raw)
        except ValueError:
            return body, None  # not JSON: the decode stage answers it as for any body
        inner = unwrap(env, data)
        return dataclasses.replace(body, raw=dump_exact(inner)), isinstance(inner, list)

    @contextmanager
    def pointing(self, many: bool | None) -> Iterator[None]:
        """Field errors raised inside point into the enveloped body the client sent."""
        env = self.resource.envelope
        try:
            yield
        except TablerestError as exc:
            if env is None or many is None:
                raise
            raise pointed(env, exc, many) from None

    def pointers(self, request: Request) -> dict[str, str]:
        """Where the request's JSON:API body put each field (filled in by the decoder)."""
        found: dict[str, str] = request.environ.setdefault(POINTERS, {})
        return found
