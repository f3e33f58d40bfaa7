"""Token authentication against a users resource: sign in, refresh, sign out, who am I.

``Api(app, db, auth=Auth("users", secret=...))`` serves, under the API's prefix:

- ``POST /auth/token``: ``username`` (or any login field's own name) and ``password``, as
  JSON or a form, give ``{"access_token", "token_type": "Bearer", "expires_in",
  "refresh_token"}`` (OAuth 2.0's token response, RFC 6749 §5.1);
- ``POST /auth/refresh``: ``refresh_token`` gives a new pair; the old refresh token stops
  working, and presenting it again revokes the whole session (a stolen token was used);
- ``POST /auth/logout``: revokes the caller's session (its access and refresh tokens);
- ``GET /auth/me``: the caller's row of the users resource.

Requests to the API carry ``Authorization: Bearer <access token>``; a missing token makes the
caller anonymous, a bad one is a 401 with ``WWW-Authenticate: Bearer error="invalid_token"``.
The users resource's password field becomes write-only and is stored as an argon2id hash.

:class:`Auth` is the façade the API holds; it ties together :mod:`.accounts` (the users
resource: lookups, roles, account stamps), :mod:`.issuer` (token pairs, their checks, refresh
and revocation), :mod:`.sessions` (where sessions live), :mod:`.passwords` (hashing) and
:mod:`.views` (the routes' request bodies and responses).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import sqlalchemy as sa
from werkzeug.wrappers import Request, Response

from ..errors import FieldError, NotFound, Unauthorized, ValidationFailed
from ..execute.store import Database
from ..keys import derive
from ..resource import Resource, WriteContext
from .accounts import PASSWORD_CANDIDATES, Accounts, RolesSpec, stamp_key
from .issuer import Issuer, make_tokens
from .passwords import Passwords
from .policies import Identity
from .sessions import DatabaseStore, MemoryStore, SessionStore, store_for
from .views import credentials, no_content, token_response

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from .tokens import TokenOptions, Tokens

__all__ = ["AUTH_ROUTES", "PASSWORD_CANDIDATES", "Auth", "remembered"]

log = logging.getLogger("tablerest")

#: Counts a sign-in attempt for a login name: the app's rate limiter, when it has one.
Attempt = Callable[[str], None]

#: WSGI environ key of the request's identity, once worked out.
IDENTITY = "tablerest.identity"
_ANONYMOUS = object()


_R = TypeVar("_R", bound=Request)


def remembered(identify: Callable[[_R], Identity | None]) -> Callable[[_R], Identity | None]:
    """``identify`` called once per request: the rate limiter, permissions and the app's own
    routes all ask who is calling."""

    def cached(request: _R) -> Identity | None:
        environ = request.environ
        found = environ.get(IDENTITY, _ANONYMOUS)
        if found is _ANONYMOUS:
            found = environ[IDENTITY] = identify(request)
        return found  # type: ignore[no-any-return]

    return cached


#: Where sessions live: a store, or its kind by name (see :mod:`.sessions`).
SessionsSpec = SessionStore | Literal["database", "redis", "memory"] | None


class Auth:
    """Token authentication for an :class:`~tablerest.Api`, against one of its resources.

    ::

        api = Api(app, db, auth=Auth("users", secret=os.environ["TOKEN_SECRET"]))
        api.resource(User)

    Options: ``login`` (the field or fields a user signs in with, each unique; default
    those of username, email and login that exist), ``password`` (default ``password``),
    ``roles`` (a field holding roles, comma- or space-separated text or a JSON list, or a
    callable ``fn(user_row) -> roles``), ``secret`` (HS256; default the app's
    ``SECRET_KEY``), or ``algorithm="RS256"|"ES256"|...`` with ``private_key`` and
    ``public_key`` (PEM), ``issuer``, ``audience``, ``access_ttl`` (seconds, 900),
    ``refresh_ttl`` (14 days), ``leeway`` (seconds of clock skew allowed, 0), ``hasher``
    (an argon2 ``PasswordHasher``), ``sessions`` (where sign-in sessions live:
    ``"database"``, the table ``tablerest_sessions`` in the API's database, the default;
    ``"redis"``, the default when ``redis_url`` or ``TABLEREST_REDIS_URL`` is set;
    ``"memory"``, this process only, lost on restart; or a ``SessionStore``), ``redis_url``,
    ``scheme`` (``Bearer``; the ``Authorization`` scheme tokens come with),
    ``min_password_length`` (8 characters) and ``max_password_bytes`` (1024, checked before
    any hashing), ``max_concurrent_hashes`` (2 per process) and ``hash_wait`` (seconds a
    sign-in waits for a hashing slot before a 429, 2), ``token_field`` (``"token"``: sign-in,
    an anonymous sign-up and the caller's own row answer the user's row with the access token
    in this field, as specs such as RealWorld want, instead of a token pair), ``paths`` (the
    token routes' paths under the prefix: ``{"token": "/users/login", "me": "/user"}``).
    """

    def __init__(
        self,
        users: str = "users",
        *,
        login: str | Sequence[str] | None = None,
        password: str | None = None,
        roles: RolesSpec = None,
        secret: str | bytes | None = None,
        algorithm: str = "HS256",
        private_key: str | bytes | None = None,
        public_key: str | bytes | None = None,
        issuer: str = "tablerest",
        audience: str = "tablerest",
        access_ttl: int = 15 * 60,
        refresh_ttl: int = 14 * 24 * 3600,
        leeway: int = 0,
        hasher: PasswordHasher | None = None,
        redis_url: str | None = None,
        scheme: str = "Bearer",
        sessions: SessionsSpec = None,
        min_password_length: int = 8,
        max_password_bytes: int = 1024,
        max_concurrent_hashes: int = 2,
        hash_wait: float = 2.0,
        token_field: str | None = None,
        paths: Mapping[str, str] | None = None,
    ) -> None:
        self.users_name = users
        #: Where sign-in, sign-up and the caller's own row put the access token in the user's
        #: row (``"token"``); None: sign-in answers an OAuth 2.0 token pair.
        self.token_field = token_field
        unknown = sorted(set(paths or {}) - set(AUTH_ROUTES))
        bad = [p for p in (paths or {}).values() if not p.startswith("/") or p.endswith("/")]
        if unknown or bad:
            raise ValueError(
                f"Auth(paths=...) takes {', '.join(AUTH_ROUTES)} -> a path under the prefix "
                f"such as '/users/login' (unknown: {unknown}, bad paths: {bad})"
            )
        #: Each token route's path under the API's prefix.
        self.paths: dict[str, str] = {**AUTH_ROUTES, **(paths or {})}
        self.passwords = Passwords(
            hasher,
            min_length=min_password_length,
            max_bytes=max_password_bytes,
            max_concurrent=max_concurrent_hashes,
            wait=hash_wait,
        )
        self._token_options: TokenOptions = {
            "secret": secret,
            "algorithm": algorithm,
            "private_key": private_key,
            "public_key": public_key,
            "issuer": issuer,
            "audience": audience,
            "access_ttl": access_ttl,
            "refresh_ttl": refresh_ttl,
            "leeway": leeway,
        }
        self.accounts = Accounts(login, password, roles)
        self.issuer = Issuer(self.accounts, self._session_store(sessions, redis_url), scheme)
        if secret is not None or not algorithm.startswith("HS"):
            self._sign_with(self._token_options)

    # -- what the API and the docs read ----------------------------------------------------

    @property
    def scheme(self) -> str:
        """The ``Authorization`` scheme tokens come with (``Bearer``)."""
        return self.issuer.scheme

    @property
    def tokens(self) -> Tokens | None:
        """The token signer: None until there is a key (see :meth:`configure`)."""
        return self.issuer.tokens

    @property
    def users(self) -> Resource | None:
        """The users resource, once bound."""
        return self.accounts.resource

    @property
    def login_fields(self) -> list[str]:
        return self.accounts.login_fields

    # -- set-up (by Api) -------------------------------------------------------------------

    def _session_store(self, sessions: SessionsSpec, redis_url: str | None) -> SessionStore:
        url = redis_url if redis_url is not None else os.environ.get("TABLEREST_REDIS_URL")
        if sessions is None:
            sessions = "redis" if url else "database"
        if sessions == "database":
            # The engine of the users' table, known once the API is mounted and users bound.
            return DatabaseStore(self._engine)
        if sessions == "redis":
            if not url:
                raise ValueError('Auth(sessions="redis") needs redis_url or TABLEREST_REDIS_URL')
            return store_for(url)
        if sessions == "memory":
            return MemoryStore()
        if isinstance(sessions, str):
            raise ValueError(f"sessions={sessions!r}: use 'database', 'redis' or 'memory'")
        return sessions

    def _engine(self) -> sa.Engine:
        db = self.issuer.db
        if db is None:
            raise RuntimeError("Auth is not mounted: Api(app, db, auth=Auth(...))")
        return db.engine(self.users.table if self.users is not None else None)

    def _sign_with(self, options: TokenOptions) -> None:
        self.issuer.tokens = make_tokens(options)
        self.accounts.stamp_key = stamp_key(options)

    def configure(self, secret: bytes | None, db: Database | None = None) -> None:
        """Take the API's database (for the session store and account checks) and, when
        ``Auth`` has no secret of its own, sign with a key derived from the app's (called by
        ``Api.init_app``)."""
        if self.issuer.db is None:
            self.issuer.db = db
        if self.tokens is None:
            from .tokens import MIN_SECRET_BYTES

            if secret is None or len(secret) < MIN_SECRET_BYTES:
                raise ValueError(
                    "Auth needs a secret: Auth(secret=...) or the app's SECRET_KEY "
                    f"(at least {MIN_SECRET_BYTES} bytes, e.g. secrets.token_urlsafe(32))"
                )
            # Never the app's secret itself: it also keys page cursors (see tablerest.keys).
            self._sign_with({**self._token_options, "secret": derive(secret, "token")})

    def bind(self, resource: Resource) -> None:
        """Take ``resource`` as the users: its password field becomes write-only and hashed."""
        self.accounts.bind(resource)
        password = self.accounts.password_field
        resource.conceal(password)
        resource.transform(password, self.passwords.hash)
        resource.hook("after_update")(self._renew_own_session)

    def _renew_own_session(self, ctx: WriteContext) -> None:
        """After a password change (any update path: PATCH, PUT, bulk, batch, upsert), the
        account's stamp is new and every token issued before is refused; but the session the
        change was made in, by the user themself, carries on under the new stamp."""
        password = self.accounts.password_field
        if password not in ctx.data or ctx.key is None:
            return
        identity = ctx.identity
        assert self.users is not None
        pk = self.users.pk_fields[0]
        if not isinstance(identity, Identity) or identity.id != str(ctx.key[0]):
            return  # an admin changing another's password: all of that user's sessions end
        sid = identity.claims.get("sid")
        if not isinstance(sid, str):
            return  # a caller from Api(identify=...): no session of ours to carry on
        column = self.users.fields[password].column
        stored = ctx.session.execute(sa.select(column).where(pk.column == ctx.key[0])).scalar()
        stamp = self.accounts.stamp({pk.name: ctx.key[0], password: stored})
        store, keep, db = self.issuer.store, self.issuer.keep_for, self.issuer.db
        if (
            isinstance(store, DatabaseStore)
            and store.ready
            and db is not None
            and store.engine is db.engine(self.users.table)
        ):
            # In the change's own transaction: both commit, or neither.
            store.renew(sid, stamp, keep, ctx.session.connection())
            return

        def renew(_session: Any) -> None:
            try:
                store.renew(sid, stamp, keep)
            except Exception:  # the password is changed: failing now would hide that
                log.warning("could not renew session %s after a password change", sid)

        sa.event.listen(ctx.session, "after_commit", renew, once=True)

    # -- who is asking ---------------------------------------------------------------------

    def identify(self, request: Request) -> Identity | None:
        """The caller of ``request``: None without a token, 401 with a bad one."""
        environ = request.environ
        found = environ.get(IDENTITY, _ANONYMOUS)
        if found is not _ANONYMOUS:
            return found  # type: ignore[no-any-return]
        header = environ.get("HTTP_AUTHORIZATION")
        identity = None
        if header:
            scheme, _, token = header.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != self.scheme.lower() or not token:
                raise Unauthorized(
                    f"Send Authorization: {self.scheme} <access token>",
                    error="invalid_request",
                    scheme=self.scheme,
                )
            claims = self.issuer.verify(token, "access")
            self.issuer.account(claims)
            identity = _identity(claims)
        environ[IDENTITY] = identity
        return identity

    def identity_of(self, tokens: Mapping[str, Any]) -> Identity:
        """Who a token pair just issued (a sign-in, a sign-up's session) is for."""
        return _identity(self.issuer.verify(tokens["access_token"], "access"))

    # -- the routes ------------------------------------------------------------------------

    def refresh_view(self, request: Request, db: Database, max_body: int) -> Response:
        fields = credentials(request, max_body)
        token = fields.get("refresh_token")
        if not token:
            raise ValidationFailed([FieldError("/refresh_token", "Field required")])
        return token_response(self.issuer.refresh(token))

    def logout_view(self, request: Request) -> Response:
        identity = self.me(request)
        assert self.tokens is not None
        self.issuer.revoke(identity.claims["sid"])
        return no_content()

    def me(self, request: Request) -> Identity:
        identity = self.identify(request)
        if identity is None:
            raise Unauthorized("Sign in first", scheme=self.scheme)
        return identity

    # -- for the application's own routes (through Api.sign_in / Api.open_session) ------

    def sign_in(
        self,
        db: Database,
        login: str,
        password: str,
        attempt: Attempt | None = None,
        *,
        field: str | None = None,
    ) -> dict[str, Any]:
        """Check a login name and password and open a session: the token pair, or 401.

        ``field`` names the login field ``login`` is matched against; ``None``: every login
        field, and where the value names several accounts (one's username is another's email)
        the password decides, so that nobody can lock another out by taking their email as a
        username. ``attempt(login)`` counts the try against the app's sign-in rate limit (429
        over it). An unknown login costs one hash verification, like a wrong password, and
        gets the same answer; a hash made with older parameters is upgraded. A password longer
        than the policy's maximum is a 422 before any hashing.
        """
        if attempt is not None:
            attempt(login)
        if self.passwords.too_long(password):
            raise ValidationFailed(
                [FieldError("/password", f"At most {self.passwords.max_bytes} bytes (UTF-8)")]
            )
        candidates: list[dict[str, Any] | None] = [*self.accounts.find(db, login, field)]
        user = None
        for found in candidates or [None]:  # no account: one verification all the same
            stored = found.get(self.accounts.password_field) if found is not None else None
            if self.passwords.verify(stored, password) and found is not None:
                user = found
                break
        if user is None:
            raise Unauthorized("Wrong username or password", scheme=self.scheme)
        stored = user.get(self.accounts.password_field)
        if stored is not None and self.passwords.needs_rehash(stored):
            # The new hash changes the account stamp: other sessions end (see the README).
            user = {**user, self.accounts.password_field: self.passwords.rehash(password)}
            self.accounts.store_hash(db, user, user[self.accounts.password_field])
        return self.issuer.issue(user, secrets.token_urlsafe(16))

    def open_session(self, db: Database, key: Any) -> dict[str, Any]:
        """A token pair for the user whose primary key is ``key`` (one just registered, say),
        without a password; 404 when there is no such user."""
        user = self.accounts.find_by_key(db, str(key))
        if user is None:
            raise NotFound(f"No user with key {key!r}")
        return self.issuer.issue(user, secrets.token_urlsafe(16))


#: The token routes and their paths under the API's prefix (``Auth(paths=...)`` moves them).
AUTH_ROUTES = {
    "token": "/auth/token",
    "refresh": "/auth/refresh",
    "logout": "/auth/logout",
    "me": "/auth/me",
}


def _identity(claims: dict[str, Any]) -> Identity:
    roles = claims.get("roles")
    found = (
        frozenset(r for r in roles if isinstance(r, str))
        if isinstance(roles, list)
        else frozenset()
    )
    return Identity(claims["sub"], found, claims)
