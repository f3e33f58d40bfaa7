"""What the OpenAPI document reads of a mounted API: a protocol, so that this package does not
import the Flask extension that serves it (``api`` imports ``openapi``, never the reverse).

``tablerest.api``'s per-app state satisfies it structurally; mypy checks that where the
extension and the CLI call :func:`tablerest.openapi.document`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ..errors import ErrorRenderer, UniqueViolationMode
from ..resource import Catalog, Resource

if TYPE_CHECKING:
    from ..auth.service import Auth
    from ..limits import Limits
    from ..nests import Nest
    from ..toggles import Toggle


class Settings(Protocol):
    """The API-wide options the document names: its base path and limits."""

    @property
    def prefix(self) -> str: ...

    @property
    def limits(self) -> Limits: ...


class Options(Protocol):
    """The options of ``Api(...)`` that change the document."""

    @property
    def settings(self) -> Settings: ...

    @property
    def title(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def auth(self) -> Auth | None: ...

    @property
    def batch(self) -> bool: ...

    @property
    def docs(self) -> bool: ...

    @property
    def format(self) -> str:
        """The representation answered when a request does not choose one."""
        ...

    @property
    def guarded(self) -> bool:
        """Whether any resource has permissions."""

    @property
    def rate_limits(self) -> object | None: ...

    @property
    def nests(self) -> Sequence[Nest]:
        """The sub-resources scoped to a parent row (``Api.nest``)."""
        ...

    @property
    def toggles(self) -> Sequence[Toggle]:
        """The membership toggles (``Api.toggle``)."""
        ...

    @property
    def error_renderer(self) -> ErrorRenderer | None:
        """What error documents the API's routes answer (None: RFC 9457 problems)."""

    @property
    def unique_violation(self) -> UniqueViolationMode: ...


class Mounted(Protocol):
    """One resource as mounted on the app."""

    @property
    def resource(self) -> Resource: ...


class Source(Catalog, Protocol):
    """One app's mounted API: its options, its resources (in the order they were mounted), and
    whether requests say who the caller is."""

    @property
    def api(self) -> Options: ...

    @property
    def endpoints(self) -> Mapping[str, Mounted]: ...

    @property
    def identify(self) -> object | None: ...
