"""tablerest: SQLAlchemy models, or an existing database, as a complete REST JSON API on Flask."""

from .api import Api
from .errors import (
    BadRequest,
    Conflict,
    FieldError,
    InvalidParameter,
    NotFound,
    TablerestError,
    ValidationFailed,
)
from .request import Limits
from .resource import Resource, WriteContext

__all__ = [
    "Api",
    "BadRequest",
    "Conflict",
    "FieldError",
    "InvalidParameter",
    "Limits",
    "NotFound",
    "Resource",
    "TablerestError",
    "ValidationFailed",
    "WriteContext",
]

__version__ = "0.1.0.dev0"
