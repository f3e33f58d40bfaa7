"""Token pairs for accounts, and the checks each later use of one passes: sign, verify,
refresh (rotating the refresh token), revoke.

Each use of a token (every request, every refresh) reads that user's row by primary key and
recomputes its account stamp (see :mod:`.accounts`): a deleted user, a row replaced by another
that got the same key (SQLite reuses ids), or a changed password (through the API or by hand)
gives another stamp or none, and every token issued before is a 401. With the database session
store on the users' database the same statement asks whether the session was signed out, so a
request with a token costs one round trip of two primary-key lookups.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import ServiceUnavailable, Unauthorized
from ..execute.store import Database, translate
from .accounts import Accounts
from .sessions import DatabaseStore, SessionStore

if TYPE_CHECKING:
    from .tokens import TokenOptions, Tokens

__all__ = ["Issuer", "make_tokens"]


class Issuer:
    """Issues and checks the tokens of :class:`~tablerest.Auth`, keeping their sessions in
    ``store``: ``tokens`` (the signer) and ``db`` are set when the API is mounted."""

    def __init__(self, accounts: Accounts, store: SessionStore, scheme: str) -> None:
        self.accounts = accounts
        self.store = store
        self.scheme = scheme
        self.tokens: Tokens | None = None
        self.db: Database | None = None

    def issue(self, user: Mapping[str, Any], sid: str, *, jti: str | None = None) -> dict[str, Any]:
        """A token pair for ``user`` in session ``sid`` (a new session unless ``jti``, the
        refresh token the store already holds as the session's current one, is given)."""
        assert self.tokens is not None
        subject = self.accounts.subject(user)
        roles = sorted(self.accounts.roles_of(user))
        stamp = self.accounts.stamp(user)
        access = self.tokens.issue("access", subject, sid, roles=roles, stamp=stamp)
        # On a refresh the store already holds ``jti`` as the session's current token.
        refresh = self.tokens.issue("refresh", subject, sid, jti=jti, stamp=stamp)
        if jti is None:
            self.call(self.store.begin, sid, refresh.claims["jti"], self.tokens.refresh_ttl)
        return {
            "access_token": access.token,
            "token_type": self.scheme,
            "expires_in": self.tokens.access_ttl,
            "refresh_token": refresh.token,
        }

    def verify(self, token: str, kind: Any) -> dict[str, Any]:
        """The claims of a well-signed, current token of ``kind``; 401 otherwise. The account
        and the session are :meth:`account`'s to check."""
        assert self.tokens is not None
        try:
            return self.tokens.verify(token, kind)
        except Unauthorized as exc:
            raise Unauthorized(exc.detail, error="invalid_token", scheme=self.scheme) from None

    def account(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        """The user row a verified token names, if the token still belongs to it: the row
        exists, its stamp is the token's (same account, same password) and the session was
        not signed out; a 401 otherwise.

        One statement: the row by primary key and, with the database session store on the
        same database, the session's revocation by primary key as a scalar subquery.
        """
        assert self.db is not None
        accounts, db, store = self.accounts, self.db, self.store
        res = accounts.users
        pk = res.pk_fields[0].column
        try:
            key = accounts.key(claims["sub"])
        except (TypeError, ValueError):
            raise self.invalid("The token names no account") from None
        cols = accounts.columns()
        stmt = sa.select(*cols).where(pk == key)
        joined = isinstance(store, DatabaseStore) and store.engine is db.engine(res.table)
        try:
            if joined:
                assert isinstance(store, DatabaseStore)
                store.ensure()
                sid = claims["sid"]
                stmt = stmt.add_columns(store.revoked_flag(sid), store.renewed_stamp(sid))
            with db.connection(res.table) as conn:
                row = conn.execute(stmt).first()
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        if row is None:
            raise self.invalid("The account this token was issued for no longer exists")
        revoked = row[-2] if joined else self.call(store.revoked, claims["sid"])
        if revoked:
            raise self.invalid("The session was signed out or revoked")
        user = accounts.row(cols, row)
        current = accounts.stamp(user)
        stamp = claims.get("stp")
        if isinstance(stamp, str) and hmac.compare_digest(stamp, current):
            return user
        # A password changed in this very session renews it (see Auth's _renew_own_session).
        renewed = row[-1] if joined else self.call(store.renewed, claims["sid"])
        if isinstance(stamp, str) and renewed is not None and hmac.compare_digest(renewed, current):
            return user
        raise self.invalid(
            "The account changed since this token was issued (a new password, or another "
            "account in its place): sign in again"
        )

    def refresh(self, token: str) -> dict[str, Any]:
        """A new token pair for a refresh token, which stops working: presenting it again
        revokes the whole session (a stolen token was used), as does a changed account."""
        claims = self.verify(token, "refresh")
        assert self.tokens is not None
        try:
            user = self.account(claims)
        except Unauthorized:
            # The account is gone or changed: the session ends for good.
            self.revoke(claims["sid"])
            raise
        new_jti = secrets.token_urlsafe(16)
        rotated = self.call(
            self.store.rotate, claims["sid"], claims["jti"], new_jti, self.tokens.refresh_ttl
        )
        if not rotated:
            # A refresh token that is not the session's latest: someone holds a copy.
            self.revoke(claims["sid"])
            raise Unauthorized(
                "This refresh token was already used; the session is revoked: sign in again",
                error="invalid_token",
                scheme=self.scheme,
            )
        return self.issue(user, claims["sid"], jti=new_jti)

    def revoke(self, sid: str) -> None:
        """End session ``sid``: its access and refresh tokens are refused from now on."""
        self.call(self.store.revoke, sid, self.keep_for)

    @property
    def keep_for(self) -> int:
        """Seconds a revocation must be kept: until every token of the session expired."""
        assert self.tokens is not None
        return max(self.tokens.access_ttl, self.tokens.refresh_ttl) + self.tokens.leeway

    def invalid(self, detail: str) -> Unauthorized:
        return Unauthorized(detail, error="invalid_token", scheme=self.scheme)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the session store: 503 when it cannot be reached."""
        try:
            return fn(*args)
        except Exception as exc:  # the Redis client's errors: the store is unreachable
            raise ServiceUnavailable("The session store cannot be reached") from exc


def make_tokens(options: TokenOptions) -> Tokens:
    """The signer for ``Auth``'s token options."""
    # PyJWT with its cryptography backend costs a worker ~9 MiB: only APIs with auth load it.
    from .tokens import Tokens

    return Tokens(options)
