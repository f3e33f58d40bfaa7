"""Keys derived from the application's one secret: one key per purpose.

The app's secret (``Api(secret_key=...)`` or Flask's ``SECRET_KEY``) is never used as a key
itself. Each use takes its own key, ``derive(secret, purpose)``: page cursors, access and
refresh tokens (when ``Auth`` has no secret of its own) and account stamps. A key that leaks
out of one use (a cursor MAC, say, which any client can try to brute-force offline) can then
not sign anything of another: a cursor key cannot make a token, nor a token key a cursor.

The derivation is HKDF-Expand (RFC 5869 §2.3, one block of HMAC-SHA256) with the secret as
the pseudorandom key and ``b"tablerest " + purpose`` as the info: 32 bytes per purpose.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

__all__ = ["Purpose", "derive"]

#: What a derived key is for; each name gives an unrelated key.
Purpose = Literal["cursor", "token", "account-stamp"]


def derive(secret: bytes, purpose: Purpose) -> bytes:
    """The 32-byte key for ``purpose`` made from ``secret``."""
    return hmac.new(secret, b"tablerest " + purpose.encode() + b"\x01", hashlib.sha256).digest()
