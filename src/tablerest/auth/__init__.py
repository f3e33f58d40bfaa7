"""Authentication and permissions: the authorize stage of the pipeline.

``tokens`` issues and verifies JWTs, ``passwords`` hashes them (argon2id, a few at a time, under
a length policy), ``sessions`` keeps refresh-token rotation and revocation (the database, Redis,
or memory when asked), ``service`` serves the token routes and binds tokens to their account,
``policies`` holds the permission building blocks, and ``access`` applies them to one request.
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
