"""tablerest: SQLAlchemy models, or an existing database, as a complete REST JSON API on Flask."""

from .api import Api
from .auth import Auth, Context, Identity, Permission, authenticated, nobody, owner, public, role
from .changes import ChangeFeed
from .errors import (
    BadRequest,
    Conflict,
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

__all__ = [
    "Api",
    "Auth",
    "BadRequest",
    "ChangeFeed",
    "Conflict",
    "Context",
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
    "nobody",
    "owner",
    "public",
    "role",
]

__version__ = "0.1.0.dev0"
