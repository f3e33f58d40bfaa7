"""What one app holds for one ``Api``: its database, the operations of every resource, the
HTTP endpoints, and the catalog the stages follow relations through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from flask import Flask, Request
from werkzeug.wrappers import Request as CoreRequest

from ..auth.access import Access
from ..auth.policies import Identity
from ..calls import Calls
from ..changes import ChangeFeed
from ..execute.store import Database
from ..http import AllowedHosts
from ..operations.context import Config
from ..operations.registry import Registry
from ..relations import Relation
from ..resource import Resource
from ..routes.common import RouteContext, Settings
from ..routes.endpoint import Endpoint
from .ratelimit import Limiter

__all__ = ["EXTENSION", "AppState"]

#: Where an app keeps its APIs' states: ``app.extensions["tablerest"][prefix]``.
EXTENSION = "tablerest"


if TYPE_CHECKING:
    # A protocol for mypy only: importing openapi.source at run time would put it in every
    # serve worker (the OpenAPI builders wait for the first document).
    from ..changes.fanout import Feeds
    from ..openapi.source import Options

    class ApiOptions(Options, Protocol):
        """What mounting reads of ``Api(...)``."""

        @property
        def settings(self) -> Settings:
            """Also what the routes read (the body size), beyond the document's prefix and
            limits."""

        @property
        def identify(self) -> Callable[[Request], Identity | None] | None: ...

        @property
        def authenticates(self) -> bool: ...

        @property
        def security_headers(self) -> bool: ...

        @property
        def allowed_hosts(self) -> AllowedHosts | None: ...

        @property
        def cross_site_writes(self) -> bool | None: ...

        @property
        def cors(self) -> Any: ...

        @property
        def change_feed(self) -> ChangeFeed: ...


class AppState:
    """What one application holds for one Api: its database handle and endpoints.

    It is also the catalog the stages use to follow relations to other resources.
    """

    def __init__(self, api: ApiOptions, app: Flask, db: Database, secret: bytes) -> None:
        self.api = api
        self.app = app
        self.db = db
        self.secret = secret
        #: Every resource's operations (the layer under HTTP) and the catalog they share.
        self.registry = Registry(db, Config(api.settings.limits, secret))
        self.endpoints: dict[str, Endpoint] = {}
        #: What every HTTP route of this app works with (the batch's too).
        self.route_context = RouteContext(self.registry, api.settings, self.authorize)
        #: Each resource's operations as the application's code calls them (``books.create``).
        self.calls: dict[str, Calls] = {}
        identify = None
        if api.identify is not None:
            # Here rather than at the top: auth.service (tokens, sessions) is for apps with
            # auth or identify, and every serve worker would hold it (test_worker_memory).
            from ..auth.service import remembered

            identify = remembered(api.identify)
        if identify is None and api.auth is not None:
            identify = api.auth.identify  # remembers by itself
        self.identify: Callable[[Request], Identity | None] | None = identify
        #: The app's rate limiter (``Api(rate_limits=...)``), once installed.
        self.limits: Limiter | None = None
        #: The change feed's outboxes, hubs and recorders (resources with ``changes``).
        self.feeds: Feeds | None = None
        #: The OpenAPI documents as served, by what the caller may see (openapi.view_key),
        #: each built on its first request (Flask takes no more routes, hence no more
        #: resources, once the app has served a request).
        self.openapi: dict[Any, bytes] = {}
        #: Whether ``Api(cors=...)`` lets a page of this origin use the API.
        self.cors_allows: Callable[[str], bool] = lambda _origin: False

    def target(self, relation: Relation) -> Resource | None:
        return self.registry.target(relation)

    def by_name(self, name: str) -> Resource | None:
        return self.registry.by_name(name)

    def link(self, relation: Relation) -> Resource | None:
        return self.registry.link(relation)

    def prepare_writes(self) -> None:
        """What must exist before a write (the change feed's outbox tables)."""
        if self.feeds is not None:
            self.feeds.prepare()

    def authorize(self, req: CoreRequest) -> Access | None:
        """The request's caller and their grants; None when nothing is guarded (no
        authentication and no permissions anywhere: every request is served as before)."""
        if self.identify is None and not self.api.guarded:
            return None
        # The routes hand back the Flask request this adapter gave them.
        identity = self.identify(cast(Request, req)) if self.identify is not None else None
        scheme = self.api.auth.scheme if self.api.auth is not None else "Bearer"
        return Access(identity, self.registry, scheme)
