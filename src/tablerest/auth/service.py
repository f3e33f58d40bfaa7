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
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Request, Response

from ..errors import (
    FieldError,
    MalformedBody,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from ..http import read_body
from ..request import value_parser
from ..resource import Resource
from ..store import Database
from .passwords import Passwords
from .policies import Identity
from .sessions import SessionStore, store_for

if TYPE_CHECKING:
    from .tokens import Tokens

__all__ = ["Auth"]

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
    (an argon2 ``PasswordHasher``), ``redis_url`` (sessions shared through Redis; default
    ``TABLEREST_REDIS_URL``, else this process's memory), ``scheme`` (``Bearer``; the
    ``Authorization`` scheme tokens come with).
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
        self.passwords = Passwords(hasher)
        self.store: SessionStore = store_for(
            redis_url if redis_url is not None else os.environ.get("TABLEREST_REDIS_URL")
        )
        self.scheme = scheme
        self.tokens: Tokens | None = None
        if secret is not None or not algorithm.startswith("HS"):
            self.tokens = _tokens(self._token_options)
        self.users: Resource | None = None
        self.login_fields: list[str] = []
        self.password_field = ""

    # -- set-up (by Api) -------------------------------------------------------------------

    def configure(self, secret: bytes | None) -> None:
        """Sign with the app's secret when none was given (called by ``Api.init_app``)."""
        if self.tokens is None:
            if secret is None:
                raise ValueError(
                    "Auth needs a secret: Auth(secret=...) or the app's SECRET_KEY "
                    "(at least 32 bytes, e.g. secrets.token_urlsafe(32))"
                )
            self.tokens = _tokens({**self._token_options, "secret": secret})

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
        self.users, self.login_fields, self.password_field = resource, login, password

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
        assert self.tokens is not None
        try:
            claims = self.tokens.verify(token, kind)
        except Unauthorized as exc:
            raise Unauthorized(exc.detail, error="invalid_token", scheme=self.scheme) from None
        if self._call(self.store.revoked, claims["sid"]):
            raise Unauthorized(
                "The session was signed out or revoked", error="invalid_token", scheme=self.scheme
            )
        return claims

    # -- the routes ------------------------------------------------------------------------

    def token_view(
        self, request: Request, db: Database, max_body: int, attempt: Attempt | None = None
    ) -> Response:
        fields = _fields(request, max_body)
        login = next((fields[n] for n in ("username", *self.login_fields) if fields.get(n)), None)
        errors = []
        if not login:
            errors.append(FieldError("/username", "Field required"))
        if not fields.get("password"):
            errors.append(FieldError("/password", "Field required"))
        if errors:
            raise ValidationFailed(errors)
        assert login is not None
        return _token_response(self.sign_in(db, login, fields["password"], attempt))

    def refresh_view(self, request: Request, db: Database, max_body: int) -> Response:
        fields = _fields(request, max_body)
        token = fields.get("refresh_token")
        if not token:
            raise ValidationFailed([FieldError("/refresh_token", "Field required")])
        claims = self._verify(token, "refresh")
        assert self.tokens is not None
        user = self._find_by_key(db, claims["sub"])
        if user is None:
            self._call(self.store.revoke, claims["sid"], self.tokens.refresh_ttl)
            raise Unauthorized("The user no longer exists", error="invalid_token")
        new_jti = secrets.token_urlsafe(16)
        rotated = self._call(
            self.store.rotate, claims["sid"], claims["jti"], new_jti, self.tokens.refresh_ttl
        )
        if not rotated:
            # A refresh token that is not the session's latest: someone holds a copy.
            self._call(self.store.revoke, claims["sid"], self.tokens.refresh_ttl)
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
        self._call(self.store.revoke, identity.claims["sid"], self.tokens.refresh_ttl)
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
        self, db: Database, login: str, password: str, attempt: Attempt | None = None
    ) -> dict[str, Any]:
        """Check a login name and password and open a session: the token pair, or 401.

        ``attempt(login)`` counts the try against the app's sign-in rate limit (429 over it).
        An unknown login costs one hash verification, like a wrong password, and gets the
        same answer; a hash made with older parameters is upgraded.
        """
        if attempt is not None:
            attempt(login)
        user = self._find(db, login)
        stored = user.get(self.password_field) if user is not None else None
        if not self.passwords.verify(stored, password) or user is None:
            raise Unauthorized("Wrong username or password", scheme=self.scheme)
        if stored is not None and self.passwords.needs_rehash(stored):
            self._store_hash(db, user, self.passwords.hash(password))
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
        access = self.tokens.issue("access", subject, sid, roles=roles)
        # On a refresh the store already holds ``jti`` as the session's current token.
        refresh = self.tokens.issue("refresh", subject, sid, jti=jti)
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

    def _select(
        self, db: Database, where: sa.ColumnElement[bool], login: str | None = None
    ) -> Mapping[str, Any] | None:
        """The user row matching ``where``; with ``login``, the row whose first login field
        (in the configured order) equals it, when the value is one user's username and
        another's email."""
        assert self.users is not None
        cols = self._columns()
        names = {f.column: f.name for f in self.users.fields.values()}
        stmt = sa.select(*cols).where(where).order_by(self.users.pk_fields[0].column)
        with db.connection(self.users.table) as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return None
        first = rows[0]
        for name in self.login_fields if login is not None else ():
            at = cols.index(self.users.fields[name].column)
            matched = [r for r in rows if r[at] == login]
            if matched:
                first = matched[0]
                break
        return {names[c]: v for c, v in zip(cols, first, strict=True)}

    def _find(self, db: Database, login: str) -> Mapping[str, Any] | None:
        assert self.users is not None
        cols = [self.users.fields[n].column for n in self.login_fields]
        return self._select(db, sa.or_(*(c == login for c in cols)), login)

    def _find_by_key(self, db: Database, subject: str) -> Mapping[str, Any] | None:
        assert self.users is not None
        pk = self.users.pk_fields[0].column
        try:
            key = value_parser(pk.type)(subject)
        except (TypeError, ValueError):
            return None
        return self._select(db, pk == key)

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
