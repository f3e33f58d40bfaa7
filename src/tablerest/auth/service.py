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

Account stamps. Every token carries ``stp``, an HMAC of the user's key and stored password
hash (under a key of its own, see :mod:`tablerest.keys`). Each use of a token (every request,
every refresh) reads that user's row by primary key and recomputes it: a deleted user, a row
replaced by another that got the same key (SQLite reuses ids), or a changed password (through
the API or by hand) gives another stamp or none, and every token issued before is a 401. With
the database session store the same statement asks whether the session was signed out, so a
request with a token costs one round trip of two primary-key lookups.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Request, Response, has_request_context
from flask import request as flask_request
from sqlalchemy import exc as sa_exc

from ..errors import (
    FieldError,
    MalformedBody,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from ..http import read_body
from ..keys import derive
from ..request import value_parser
from ..resource import Resource, WriteContext
from ..store import Database, translate
from .passwords import Passwords
from .policies import Identity
from .sessions import DatabaseStore, MemoryStore, SessionStore, store_for

if TYPE_CHECKING:
    from .tokens import Tokens

__all__ = ["Auth"]

log = logging.getLogger("tablerest")

#: WSGI environ key of the request's identity, once worked out.
#: Counts a sign-in attempt for a login name: the app's rate limiter, when it has one.
Attempt = Callable[[str], None]

IDENTITY = "tablerest.identity"
_ANONYMOUS = object()


def remembered(
    identify: Callable[[Request], Identity | None],
) -> Callable[[Request], Identity | None]:
    """``identify`` called once per request: the rate limiter, permissions and the app's own
    routes all ask who is calling."""

    def cached(request: Request) -> Identity | None:
        environ = request.environ
        found = environ.get(IDENTITY, _ANONYMOUS)
        if found is _ANONYMOUS:
            found = environ[IDENTITY] = identify(request)
        return found  # type: ignore[no-any-return]

    return cached


_LOGIN_CANDIDATES = ("username", "email", "login")
PASSWORD_CANDIDATES = ("password", "password_hash", "hashed_password")

RolesSpec = str | Callable[[Mapping[str, Any]], Iterable[str]] | None
#: Where sessions live: a store, or its kind by name (see :mod:`.sessions`).
SessionsSpec = SessionStore | Literal["database", "redis", "memory"] | None
#: Bytes of HMAC in an account stamp (``stp``): 128 bits.
_STAMP_BYTES = 16


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
    sign-in waits for a hashing slot before a 429, 2).
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
    ) -> None:
        self.users_name = users
        self._login = [login] if isinstance(login, str) else list(login or ())
        self._password = password
        self.roles = roles
        self._token_options: dict[str, Any] = {
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
        self.passwords = Passwords(
            hasher,
            min_length=min_password_length,
            max_bytes=max_password_bytes,
            max_concurrent=max_concurrent_hashes,
            wait=hash_wait,
        )
        self._db: Database | None = None
        self.store: SessionStore = self._session_store(sessions, redis_url)
        self.scheme = scheme
        self.tokens: Tokens | None = None
        self._stamp_key = b""
        if secret is not None or not algorithm.startswith("HS"):
            self.tokens = _tokens(self._token_options)
            self._stamp_key = _stamp_key(self._token_options)
        self.users: Resource | None = None
        self.login_fields: list[str] = []
        self.password_field = ""

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
        if self._db is None:
            raise RuntimeError("Auth is not mounted: Api(app, db, auth=Auth(...))")
        return self._db.engine(self.users.table if self.users is not None else None)

    def configure(self, secret: bytes | None, db: Database | None = None) -> None:
        """Take the API's database (for the session store and account checks) and, when
        ``Auth`` has no secret of its own, sign with a key derived from the app's (called by
        ``Api.init_app``)."""
        if self._db is None:
            self._db = db
        if self.tokens is None:
            from .tokens import MIN_SECRET_BYTES

            if secret is None or len(secret) < MIN_SECRET_BYTES:
                raise ValueError(
                    "Auth needs a secret: Auth(secret=...) or the app's SECRET_KEY "
                    f"(at least {MIN_SECRET_BYTES} bytes, e.g. secrets.token_urlsafe(32))"
                )
            # Never the app's secret itself: it also keys page cursors (see tablerest.keys).
            options = {**self._token_options, "secret": derive(secret, "token")}
            self.tokens = _tokens(options)
            self._stamp_key = _stamp_key(options)

    def bind(self, resource: Resource) -> None:
        """Take ``resource`` as the users: its password field becomes write-only and hashed."""
        names = list(resource.fields)
        login = self._login or [n for n in _LOGIN_CANDIDATES if n in names]
        password = self._password or next((n for n in PASSWORD_CANDIDATES if n in names), "")
        missing = [n for n in [*login, password] if n not in names]
        if missing or not login or not password:
            raise ValueError(
                f"Auth: {resource.name} needs a login field and a password field "
                f"(not found: {missing or 'login/password'}); pass login=... and password=..."
            )
        if len(resource.pk_fields) != 1:
            raise ValueError(f"Auth: {resource.name} needs a single-column primary key")
        if isinstance(self.roles, str) and self.roles not in names:
            raise ValueError(f"Auth: roles={self.roles!r} is not a field of {resource.name}")
        resource.conceal(password)
        resource.transform(password, self.passwords.hash)
        resource.hook("after_update")(self._renew_own_session)
        self.users, self.login_fields, self.password_field = resource, login, password

    def _renew_own_session(self, ctx: WriteContext) -> None:
        """After a password change (any update path: PATCH, PUT, bulk, batch, upsert), the
        account's stamp is new and every token issued before is refused; but the session the
        change was made in, by the user themself, carries on under the new stamp."""
        if self.password_field not in ctx.data or ctx.key is None or not has_request_context():
            return
        identity = flask_request.environ.get(IDENTITY)
        assert self.users is not None
        pk = self.users.pk_fields[0]
        if not isinstance(identity, Identity) or identity.id != str(ctx.key[0]):
            return  # an admin changing another's password: all of that user's sessions end
        sid = identity.claims.get("sid")
        if not isinstance(sid, str):
            return  # a caller from Api(identify=...): no session of ours to carry on
        column = self.users.fields[self.password_field].column
        stored = ctx.session.execute(sa.select(column).where(pk.column == ctx.key[0])).scalar()
        stamp = self.stamp({pk.name: ctx.key[0], self.password_field: stored})
        store, keep = self.store, self._keep_for
        if (
            isinstance(store, DatabaseStore)
            and store.ready
            and self._db is not None
            and store.engine is self._db.engine(self.users.table)
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
            claims = self._verify(token, "access")
            self._account(claims)
            roles = claims.get("roles")
            identity = Identity(
                claims["sub"],
                frozenset(r for r in roles if isinstance(r, str))
                if isinstance(roles, list)
                else frozenset(),
                claims,
            )
        environ[IDENTITY] = identity
        return identity

    def _verify(self, token: str, kind: Any) -> dict[str, Any]:
        """The claims of a well-signed, current token of ``kind``; 401 otherwise. The account
        and the session are :meth:`_account`'s to check."""
        assert self.tokens is not None
        try:
            return self.tokens.verify(token, kind)
        except Unauthorized as exc:
            raise Unauthorized(exc.detail, error="invalid_token", scheme=self.scheme) from None

    def _account(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        """The user row a verified token names, if the token still belongs to it: the row
        exists, its stamp is the token's (same account, same password) and the session was
        not signed out; a 401 otherwise.

        One statement: the row by primary key and, with the database session store on the
        same database, the session's revocation by primary key as a scalar subquery.
        """
        assert self.users is not None
        assert self._db is not None
        res, db, store = self.users, self._db, self.store
        pk = res.pk_fields[0].column
        try:
            key = value_parser(pk.type)(claims["sub"])
        except (TypeError, ValueError):
            raise self._invalid("The token names no account") from None
        cols = self._columns()
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
            raise self._invalid("The account this token was issued for no longer exists")
        revoked = row[-2] if joined else self._call(store.revoked, claims["sid"])
        if revoked:
            raise self._invalid("The session was signed out or revoked")
        names = {f.column: f.name for f in res.fields.values()}
        user = {names[c]: v for c, v in zip(cols, row, strict=False)}
        current = self.stamp(user)
        stamp = claims.get("stp")
        if isinstance(stamp, str) and hmac.compare_digest(stamp, current):
            return user
        # A password changed in this very session renews it (see _renew_own_session).
        renewed = row[-1] if joined else self._call(store.renewed, claims["sid"])
        if isinstance(stamp, str) and renewed is not None and hmac.compare_digest(renewed, current):
            return user
        raise self._invalid(
            "The account changed since this token was issued (a new password, or another "
            "account in its place): sign in again"
        )

    def stamp(self, user: Mapping[str, Any]) -> str:
        """The account stamp of a user row: an HMAC of its key and stored password hash (of
        its key and login values when it has no password), which every token for it carries.
        A new password, or another row under the same key, gives another stamp."""
        assert self.users is not None
        secret = user.get(self.password_field)
        parts = [str(user[self.users.pk_fields[0].name])]
        if secret:
            parts += ["password", str(secret)]
        else:
            parts += ["login", *(str(user.get(n)) for n in self.login_fields)]
        mac = hmac.new(self._stamp_key, "\x00".join(parts).encode(), "sha256").digest()
        return _b64(mac[:_STAMP_BYTES])

    def _invalid(self, detail: str) -> Unauthorized:
        return Unauthorized(detail, error="invalid_token", scheme=self.scheme)

    # -- the routes ------------------------------------------------------------------------

    def token_view(
        self, request: Request, db: Database, max_body: int, attempt: Attempt | None = None
    ) -> Response:
        fields = _fields(request, max_body)
        # A login field named by its own name is matched against that column alone; the
        # generic ``username`` against every login field (the password tells accounts apart).
        named = next((n for n in self.login_fields if n != "username" and fields.get(n)), None)
        login = fields[named] if named is not None else fields.get("username")
        errors = []
        if not login:
            errors.append(FieldError("/username", "Field required"))
        if not fields.get("password"):
            errors.append(FieldError("/password", "Field required"))
        if errors:
            raise ValidationFailed(errors)
        assert login is not None
        return _token_response(self.sign_in(db, login, fields["password"], attempt, field=named))

    def refresh_view(self, request: Request, db: Database, max_body: int) -> Response:
        fields = _fields(request, max_body)
        token = fields.get("refresh_token")
        if not token:
            raise ValidationFailed([FieldError("/refresh_token", "Field required")])
        claims = self._verify(token, "refresh")
        assert self.tokens is not None
        try:
            user = self._account(claims)
        except Unauthorized:
            # The account is gone or changed: the session ends for good.
            self._call(self.store.revoke, claims["sid"], self._keep_for)
            raise
        new_jti = secrets.token_urlsafe(16)
        rotated = self._call(
            self.store.rotate, claims["sid"], claims["jti"], new_jti, self.tokens.refresh_ttl
        )
        if not rotated:
            # A refresh token that is not the session's latest: someone holds a copy.
            self._call(self.store.revoke, claims["sid"], self._keep_for)
            raise Unauthorized(
                "This refresh token was already used; the session is revoked: sign in again",
                error="invalid_token",
                scheme=self.scheme,
            )
        return _token_response(self._issue(user, claims["sid"], jti=new_jti))

    def logout_view(self, request: Request) -> Response:
        identity = self.identify(request)
        if identity is None:
            raise Unauthorized("Sign in first", scheme=self.scheme)
        assert self.tokens is not None
        self._call(self.store.revoke, identity.claims["sid"], self._keep_for)
        resp = Response(status=204)
        del resp.headers["Content-Type"]
        return resp

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
        candidates: list[dict[str, Any] | None] = [*self._find(db, login, field)]
        user = None
        for found in candidates or [None]:  # no account: one verification all the same
            stored = found.get(self.password_field) if found is not None else None
            if self.passwords.verify(stored, password) and found is not None:
                user = found
                break
        if user is None:
            raise Unauthorized("Wrong username or password", scheme=self.scheme)
        stored = user.get(self.password_field)
        if stored is not None and self.passwords.needs_rehash(stored):
            # The new hash changes the account stamp: other sessions end (see the README).
            user = {**user, self.password_field: self.passwords.rehash(password)}
            self._store_hash(db, user, user[self.password_field])
        return self._issue(user, secrets.token_urlsafe(16))

    def open_session(self, db: Database, key: Any) -> dict[str, Any]:
        """A token pair for the user whose primary key is ``key`` (one just registered, say),
        without a password; 404 when there is no such user."""
        user = self._find_by_key(db, str(key))
        if user is None:
            raise NotFound(f"No user with key {key!r}")
        return self._issue(user, secrets.token_urlsafe(16))

    # -- helpers ---------------------------------------------------------------------------

    def _issue(
        self, user: Mapping[str, Any], sid: str, *, jti: str | None = None
    ) -> dict[str, Any]:
        assert self.tokens is not None
        assert self.users is not None
        subject = str(user[self.users.pk_fields[0].name])
        roles = sorted(self._roles(user))
        stamp = self.stamp(user)
        access = self.tokens.issue("access", subject, sid, roles=roles, stamp=stamp)
        # On a refresh the store already holds ``jti`` as the session's current token.
        refresh = self.tokens.issue("refresh", subject, sid, jti=jti, stamp=stamp)
        if jti is None:
            self._call(self.store.begin, sid, refresh.claims["jti"], self.tokens.refresh_ttl)
        return {
            "access_token": access.token,
            "token_type": self.scheme,
            "expires_in": self.tokens.access_ttl,
            "refresh_token": refresh.token,
        }

    def _roles(self, user: Mapping[str, Any]) -> set[str]:
        spec = self.roles
        if spec is None:
            return set()
        if callable(spec):
            return {str(r) for r in spec(user)}
        value = user.get(spec)
        if value is None:
            return set()
        if isinstance(value, list | tuple | set):
            return {str(r) for r in value}
        return {r for r in str(value).replace(",", " ").split() if r}

    def _columns(self) -> list[sa.Column[Any]]:
        assert self.users is not None
        res = self.users
        names = [f.name for f in res.pk_fields]
        names += [n for n in [*self.login_fields, self.password_field] if n not in names]
        if isinstance(self.roles, str) and self.roles not in names:
            names.append(self.roles)
        return [res.fields[n].column for n in names]

    def _select(self, db: Database, where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        """The user rows matching ``where``, by key."""
        assert self.users is not None
        cols = self._columns()
        names = {f.column: f.name for f in self.users.fields.values()}
        stmt = sa.select(*cols).where(where).order_by(self.users.pk_fields[0].column)
        with db.connection(self.users.table) as conn:
            rows = conn.execute(stmt).all()
        return [{names[c]: v for c, v in zip(cols, r, strict=True)} for r in rows]

    def _find(self, db: Database, login: str, field: str | None = None) -> list[dict[str, Any]]:
        """The accounts ``login`` names: in ``field`` alone, or in any login field (each is
        unique, so at most one per field), those matched by an earlier field first."""
        assert self.users is not None
        if field is not None and field not in self.login_fields:
            raise ValueError(f"{field!r} is not a login field of {self.users.name}")
        fields = [field] if field is not None else self.login_fields
        cols = [self.users.fields[n].column for n in fields]
        rows = self._select(db, sa.or_(*(c == login for c in cols)))
        # A case-insensitive collation (MariaDB's default) matches what Python's == does not:
        # such rows come last, in key order.
        return sorted(
            rows,
            key=lambda r: next((i for i, n in enumerate(fields) if r.get(n) == login), len(fields)),
        )

    def _find_by_key(self, db: Database, subject: str) -> Mapping[str, Any] | None:
        assert self.users is not None
        pk = self.users.pk_fields[0].column
        try:
            key = value_parser(pk.type)(subject)
        except (TypeError, ValueError):
            return None
        found = self._select(db, pk == key)
        return found[0] if found else None

    @property
    def _keep_for(self) -> int:
        """Seconds a revocation must be kept: until every token of the session expired."""
        assert self.tokens is not None
        return max(self.tokens.access_ttl, self.tokens.refresh_ttl) + self.tokens.leeway

    def _store_hash(self, db: Database, user: Mapping[str, Any], hashed: str) -> None:
        """An upgraded hash for a user who signed in with one made with older parameters."""
        assert self.users is not None
        res = self.users
        pk = res.pk_fields[0]
        col = res.fields[self.password_field].column
        stmt = sa.update(res.table).where(pk.column == user[pk.name]).values({col: hashed})
        with db.connection(res.table) as conn, conn.begin():
            conn.execute(stmt)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # the Redis client's errors: the store is unreachable
            raise ServiceUnavailable("The session store cannot be reached") from exc


def _stamp_key(options: Mapping[str, Any]) -> bytes:
    """The key of account stamps: derived from the token secret (HMAC algorithms) or from
    the public key, which every server that verifies tokens has (the stamp is not a secret
    of its own: it rides in signed tokens; the key only keeps hashes out of plain sight)."""
    material = options["secret"] if options["algorithm"].startswith("HS") else options["public_key"]
    return derive(material.encode() if isinstance(material, str) else material, "account-stamp")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tokens(options: Mapping[str, Any]) -> Tokens:
    # PyJWT with its cryptography backend costs a worker ~9 MiB: only APIs with auth load it.
    from .tokens import Tokens

    return Tokens(**options)


def _token_response(body: Mapping[str, Any]) -> Response:
    resp = Response(orjson.dumps(body), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _fields(request: Request, max_body: int) -> dict[str, str]:
    """A credentials body (JSON object or form) as text fields; 400 if it is neither."""
    body = read_body(request, max_body)
    if body.kind == "form":
        data: Any = body.form or {}
    else:
        try:
            data = orjson.loads(body.raw)
        except orjson.JSONDecodeError:
            raise MalformedBody("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody("Send a JSON object with the credentials")
    errors = [
        FieldError(f"/{k}", "Must be a string")
        for k, v in data.items()
        if v is not None and not isinstance(v, str)
    ]
    if errors:
        raise ValidationFailed(errors)
    return {k: v for k, v in data.items() if isinstance(v, str)}
