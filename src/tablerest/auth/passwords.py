"""Password hashing: argon2id (argon2-cffi), verified in constant time per attempt.

Stored hashes carry their own parameters (PHC string format), so changing the hasher's
parameters never locks anyone out: a login with an older hash succeeds and the hash is
upgraded (:meth:`Passwords.needs_rehash`).

Two bounds protect the process. A password's length is checked before any hashing (a 1 MB
password is refused, not hashed), and only ``max_concurrent`` hashes or verifications run at
once: each costs the hasher's memory (64 MiB by default), so twelve concurrent sign-ins would
otherwise take a worker from ~140 MB to ~770 MB. A caller that finds every slot taken waits up
to ``wait`` seconds, then gets a 429 with ``Retry-After`` (never a 503: the server is not down,
it is busy with other people's sign-ins).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import TooManyRequests

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# argon2 is imported by the first Passwords (an app with sign-in): without one, serve's
# workers would each hold it for nothing.

__all__ = ["Passwords"]

#: Seconds a client is told to wait when every hashing slot stayed busy.
RETRY_AFTER = 1


class Passwords:
    """Hash and verify passwords with one argon2id hasher, a few at a time.

    ``Passwords()`` uses argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3
    passes); pass ``PasswordHasher(...)`` to choose others. ``min_length`` (characters) and
    ``max_bytes`` (UTF-8) are the password policy of :meth:`check`; ``max_concurrent`` hashes
    run at once in this process, a caller waits at most ``wait`` seconds for a slot.
    """

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        min_length: int = 8,
        max_bytes: int = 1024,
        max_concurrent: int = 2,
        wait: float = 2.0,
    ) -> None:
        if min_length < 0 or max_bytes < max(min_length, 1) or max_concurrent < 1 or wait < 0:
            raise ValueError(
                "password policy: need 0 <= min_length <= max_bytes, max_concurrent >= 1, wait >= 0"
            )
        if hasher is None:
            from argon2 import PasswordHasher

            hasher = PasswordHasher()
        self.hasher = hasher
        self.min_length = min_length
        self.max_bytes = max_bytes
        self.wait = wait
        self._slots = threading.BoundedSemaphore(max_concurrent)
        # Verified against when the user does not exist, so that an unknown user costs what
        # a wrong password costs (no user enumeration by timing).
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))

    def check(self, password: str) -> str:
        """``password`` if the policy allows it; ``ValueError`` saying why not (a validator's
        error: 422 at the password field)."""
        if len(password) < self.min_length:
            raise ValueError(f"Password must have at least {self.min_length} characters")
        if self.too_long(password):
            raise ValueError(f"Password must be at most {self.max_bytes} bytes long (UTF-8)")
        return password

    def too_long(self, password: str) -> bool:
        # Four bytes per character at most: only long texts need encoding to tell.
        return len(password) * 4 > self.max_bytes and len(password.encode()) > self.max_bytes

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password``, after :meth:`check` (so it is never run on a
        password the policy refuses)."""
        self.check(password)
        with self._slot():
            return self.hasher.hash(password)

    def rehash(self, password: str) -> str:
        """A new hash of a password that just verified against an older one (an upgrade of
        its parameters): no policy check, since a password set under an older policy must
        keep working."""
        with self._slot():
            return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (``None`` or empty: no such user, always False,
        after the same work)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self._slot():
            try:
                matched = self.hasher.verify(stored or self._decoy, password)
            except (VerificationError, InvalidHashError):
                return False
        return matched and bool(stored)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the hasher's."""
        from argon2.exceptions import InvalidHashError

        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait):
            raise TooManyRequests(
                "Too many passwords are being checked at the moment: try again shortly",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        try:
            yield
        finally:
            self._slots.release()
