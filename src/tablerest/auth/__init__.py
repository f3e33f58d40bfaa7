"""Authentication and permissions: the authorize stage of the pipeline.

``tokens`` issues and verifies JWTs, ``passwords`` hashes them (argon2id, a few at a time, under
a length policy), ``sessions`` keeps refresh-token rotation and revocation (the database, Redis,
or memory when asked), ``accounts`` reads the users resource (lookups, roles, account stamps),
``issuer`` hands out token pairs and checks each use against the account and the session,
``views`` reads the token routes' bodies and writes their responses, ``service`` holds ``Auth``,
which ties these together for the API, ``policies`` holds the permission building blocks, and
``access`` applies them to one request.
"""

from .policies import Context, Identity, Permission, authenticated, nobody, owner, public, role
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
