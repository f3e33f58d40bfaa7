"""Authentication and permissions: the authorize stage of the pipeline.

``tokens`` issues and verifies JWTs, ``passwords`` hashes them (argon2id, a few at a time, under
a length policy), ``sessions`` keeps refresh-token rotation and revocation (the database, Redis,
or memory when asked), ``accounts`` reads the users resource (lookups, roles, account stamps),
``issuer`` hands out token pairs and checks each use against the account and the session,
``views`` reads the token routes' bodies and writes their responses, ``service`` holds ``Auth``,
which ties these together for the API, ``policies`` holds the permission building blocks, and
``access`` applies them to one request.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .policies import Context, Identity, Permission, authenticated, nobody, owner, public, role

if TYPE_CHECKING:
    from .service import Auth

__all__ = [
    "Auth",
    "Context",
    "Identity",
    "Permission",
    "authenticated",
    "nobody",
    "owner",
    "public",
    "role",
]


def __getattr__(name: str) -> Any:
    # ``Auth`` (with tokens, sessions, accounts, passwords) is imported by the first use of it,
    # not by every app: the policies and ``access`` are all that an app without ``Api(auth=)``
    # needs, and a serve worker without --auth-table is ~0.5 MiB lighter.
    if name != "Auth":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    auth = importlib.import_module(".service", __name__).Auth
    globals()["Auth"] = auth
    return auth
