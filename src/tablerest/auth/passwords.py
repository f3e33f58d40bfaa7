"""Password hashing: argon2id (argon2-cffi), verified in constant time per attempt.

Stored hashes carry their own parameters (PHC string format), so changing the hasher's
parameters never locks anyone out: a login with an older hash succeeds and the hash is
upgraded (:meth:`Passwords.needs_rehash`).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Passwords"]


class Passwords:
    """Hash and verify passwords with one argon2id hasher.

    ``Passwords()`` uses argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3
    passes); pass ``PasswordHasher(...)`` to choose others.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Verified against when the user does not exist, so that an unknown user costs what
        # a wrong password costs (no user enumeration by timing).
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (``None`` or empty: no such user, always False,
        after the same work)."""
        try:
            matched = self.hasher.verify(stored or self._decoy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and bool(stored)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the hasher's."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
