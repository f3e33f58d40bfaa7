"""tablerest: SQLAlchemy models, or an existing database, as a complete REST JSON API on Flask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import Api
from .auth import Context, Identity, Permission, authenticated, nobody, owner, public, role
from .changes import ChangeFeed
from .columns.jsonobject import json_object
from .envelopes import Envelope
from .errors import (
    BadRequest,
    Conflict,
    ErrorRenderer,
    FieldError,
    Forbidden,
    InvalidParameter,
    NotFound,
    TablerestError,
    Unauthorized,
    ValidationFailed,
)
from .execute.store import ReadReplicas
from .limits import Limits
from .mount.observe import Observability
from .mount.ratelimit import RateLimits
from .resource import Resource, WriteContext
from .viewer import caller

if TYPE_CHECKING:
    from .auth.service import Auth

__all__ = [
    "Api",
    "Auth",
    "BadRequest",
    "ChangeFeed",
    "Conflict",
    "Context",
    "Envelope",
    "ErrorRenderer",
    "FieldError",
    "Forbidden",
    "Identity",
    "InvalidParameter",
    "Limits",
    "NotFound",
    "Observability",
    "Permission",
    "RateLimits",
    "ReadReplicas",
    "Resource",
    "TablerestError",
    "Unauthorized",
    "ValidationFailed",
    "WriteContext",
    "authenticated",
    "caller",
    "json_object",
    "nobody",
    "owner",
    "public",
    "role",
]

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    # ``Auth`` waits for its first use (see tablerest.auth): an app without it never loads it.
    if name != "Auth":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .auth.service import Auth

    globals()["Auth"] = Auth
    return Auth
