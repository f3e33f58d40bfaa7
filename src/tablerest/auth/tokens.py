"""JSON Web Tokens (PyJWT): short-lived access tokens and rotating refresh tokens.

Every token carries ``iss``, ``aud``, ``sub`` (the user's key as text), ``iat``, ``nbf``, ``exp``,
``jti`` (unique per token), ``sid`` (the login session it belongs to) and ``typ`` (``access`` or
``refresh``, so that one can never be used as the other); access tokens also carry ``roles``.
Tokens issued for an account carry its stamp, ``stp`` (see ``Auth``), which ties them to that
account as it was when they were issued.

Verification accepts exactly the configured algorithm: ``alg: none``, a token signed with
another algorithm (HS256 signed with an RSA public key as the secret, the classic confusion)
or with another key, a wrong issuer or audience, a missing claim, and a token outside its
``nbf``..``exp`` window are all refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import jwt

from ..errors import Unauthorized

__all__ = ["ALGORITHMS", "TokenOptions", "Tokens"]

#: The algorithms tablerest signs with: HMAC with a shared secret, or a key pair.
ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
#: HMAC secrets shorter than this are refused (RFC 7518 §3.2: at least the hash's size).
MIN_SECRET_BYTES = 32
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "sid", "typ"]

Kind = Literal["access", "refresh"]


class TokenOptions(TypedDict):
    """How tokens are signed and checked: ``Auth``'s options of the same names, with their
    defaults there. A mapping, so that ``Auth`` holds them without importing PyJWT."""

    secret: str | bytes | None
    algorithm: str
    private_key: str | bytes | None
    public_key: str | bytes | None
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl: int
    leeway: int


@dataclass(frozen=True, slots=True)
class Issued:
    """A signed token and what it says."""

    token: str
    claims: Mapping[str, Any]


class Tokens:
    """Issue and verify the API's tokens.

    An HMAC ``algorithm`` (HS256, ...) signs with ``secret``; another (RS256, ES256, ...) with
    ``private_key``, and a server that only verifies needs only ``public_key``.
    """

    def __init__(self, options: TokenOptions) -> None:
        algorithm = options["algorithm"]
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        if algorithm.startswith("HS"):
            secret = options["secret"]
            if secret is None:
                raise ValueError(f"{algorithm} needs a secret")
            key = secret.encode() if isinstance(secret, str) else secret
            if len(key) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"the token secret must be at least {MIN_SECRET_BYTES} bytes: use "
                    "secrets.token_urlsafe(32) and keep it out of the code"
                )
            self._signing: Any = key
            self._verifying: Any = key
        else:
            if options["public_key"] is None:
                raise ValueError(f"{algorithm} needs public_key (and private_key to issue)")
            self._signing = options["private_key"]
            self._verifying = options["public_key"]
        self.algorithm = algorithm
        self.issuer = options["issuer"]
        self.audience = options["audience"]
        self.access_ttl = options["access_ttl"]
        self.refresh_ttl = options["refresh_ttl"]
        self.leeway = options["leeway"]
        if self.access_ttl <= 0 or self.refresh_ttl <= 0:
            raise ValueError("token lifetimes must be positive (seconds)")

    @property
    def can_issue(self) -> bool:
        return self._signing is not None

    def issue(
        self,
        kind: Kind,
        subject: str,
        session: str,
        *,
        roles: Sequence[str] = (),
        jti: str | None = None,
        stamp: str | None = None,
    ) -> Issued:
        """A new signed token of ``kind`` for ``subject`` in login session ``session``."""
        if self._signing is None:
            raise RuntimeError("this server has no private key: it can verify tokens only")
        now = int(time.time())
        ttl = self.access_ttl if kind == "access" else self.refresh_ttl
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": jti or secrets.token_urlsafe(16),
            "sid": session,
            "typ": kind,
        }
        if kind == "access":
            claims["roles"] = sorted(roles)
        if stamp is not None:
            claims["stp"] = stamp
        token = jwt.encode(claims, self._signing, algorithm=self.algorithm)
        return Issued(token, claims)

    def verify(self, token: str, kind: Kind) -> dict[str, Any]:
        """The claims of a valid token of ``kind``; :class:`Unauthorized` (401) otherwise."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._verifying,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired", error="invalid_token") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("The token is not valid yet", error="invalid_token") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("The token is for another audience", error="invalid_token") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("The token has another issuer", error="invalid_token") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(
                f"The token lacks the {exc.claim!r} claim", error="invalid_token"
            ) from None
        except jwt.InvalidTokenError:
            # Bad signature, algorithm not allowed, not a JWT at all: one answer for all.
            raise Unauthorized("The token is not valid", error="invalid_token") from None
        if claims.get("typ") != kind:
            raise Unauthorized(f"This is not an {kind} token", error="invalid_token")
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("sid"), str):
            raise Unauthorized("The token is not valid", error="invalid_token")
        return claims
