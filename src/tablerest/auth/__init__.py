"""Authentication and permissions: the authorize stage of the pipeline.

``tokens`` issues and verifies JWTs, ``passwords`` hashes them (argon2id), ``sessions`` keeps
refresh-token rotation and revocation (memory or Redis), ``service`` serves the token routes,
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
