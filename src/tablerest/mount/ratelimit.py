"""Rate limits on the API's own routes (Flask-Limiter): per client, per user, and on sign-in.

``Api(rate_limits=RateLimits())`` limits every route tablerest serves: an anonymous caller by
address, a signed-in one by user id (each user has their own budget, wherever they connect
from), and the sign-in route by address *and* by the login name tried (a password-guessing run
against one account from many addresses still stops); ``sign_up`` limits the accounts one
address creates (every row created in the users table of ``Auth``, whatever the route: a POST,
an array, a batch, a nested write). Counters live in Redis when
``TABLEREST_REDIS_URL`` is set (every process and server shares them), in the process's memory
otherwise. A caller over a limit gets a 429 problem with ``Retry-After``; every limited response
carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.

Behind a proxy, the client's address is the proxy's unless the app trusts ``X-Forwarded-For``:
wrap it in ``werkzeug.middleware.proxy_fix.ProxyFix``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Request, has_request_context, request

from ..errors import TablerestError, TooManyRequests

__all__ = ["Limiter", "RateLimits"]

_F = TypeVar("_F", bound=Callable[..., Any])
Identify = Callable[[Request], Any]


class RateLimits:
    """How many requests a caller may make, as Flask-Limiter strings (``"100/minute"``,
    ``"10 per second; 500 per hour"``); None turns one off.

    ``anonymous``: per client address, for callers without a token; ``user``: per user id, for
    signed-in callers; ``sign_in``: ``/auth/token`` and ``/auth/refresh``, per address and per
    login name; ``sign_up``: rows created in the users table (of ``Auth``) per address, on
    every path that creates them (off by default here; ``tablerest serve`` turns it on).
    ``storage_uri``: a Flask-Limiter storage (default ``TABLEREST_REDIS_URL``, else
    ``memory://``).
    """

    def __init__(
        self,
        anonymous: str | None = "300/minute",
        user: str | None = "1200/minute",
        sign_in: str | None = "10/minute",
        sign_up: str | None = None,
        *,
        storage_uri: str | None = None,
        key_prefix: str = "tablerest",
    ) -> None:
        self.anonymous = anonymous
        self.user = user
        self.sign_in = sign_in
        self.sign_up = sign_up
        self.storage_uri = storage_uri or os.environ.get("TABLEREST_REDIS_URL") or "memory://"
        self.key_prefix = key_prefix

    def install(self, app: Flask, identify: Identify | None) -> Limiter:
        """A limiter for one app; its ``route`` and ``sign_in_route`` decorate views."""
        # Imported here: an API without rate limits does not pay for Flask-Limiter (~2 MiB).
        from flask_limiter import Limiter as FlaskLimiter

        limiter = FlaskLimiter(
            _client,
            app=app,
            storage_uri=self.storage_uri,
            headers_enabled=True,
            key_prefix=self.key_prefix,
            # An unreachable Redis must not take the API down: count in memory meanwhile.
            in_memory_fallback_enabled=True,
        )
        return Limiter(self, limiter, identify)


class Limiter:
    """An app's Flask-Limiter, applied to the API's views."""

    def __init__(self, limits: RateLimits, limiter: Any, identify: Identify | None) -> None:
        self.limits = limits
        self.limiter = limiter
        self.identify = identify

    def _user(self) -> str | None:
        if self.identify is None:
            return None
        try:
            identity = self.identify(request)
        except TablerestError:
            return None  # a bad token: the view answers 401; count it against the address
        return None if identity is None else str(identity.id)

    def _key(self) -> str:
        user = self._user()
        return f"user:{user}" if user is not None else f"addr:{_client()}"

    def _value(self) -> str:
        limits = self.limits
        chosen = limits.user if self._user() is not None else limits.anonymous
        return chosen or ""

    def route(self, view: _F) -> _F:
        """Count a view's requests against the caller's one budget for the whole API: per
        user, or per address for anonymous callers. Each view must have its own
        ``__qualname__`` (Flask-Limiter files limits under it)."""
        if self.limits.anonymous is None and self.limits.user is None:
            return view
        return self.limiter.shared_limit(  # type: ignore[no-any-return]
            self._value, "api", key_func=self._key, exempt_when=lambda: not self._value()
        )(view)

    def sign_in_route(self, view: _F) -> _F:
        """Limit a sign-in view per address (per login name: see :meth:`attempt`)."""
        value = self.limits.sign_in
        if value is None:
            return view
        return self.limiter.limit(  # type: ignore[no-any-return]
            value, key_func=lambda: f"addr:{_client()}", scope="sign-in"
        )(view)

    def attempt(self, login: str) -> None:
        """Count a sign-in attempt for ``login``; 429 over the limit. Called by the token view
        once it has read the credentials (the body is read once, by the view)."""
        value = self.limits.sign_in
        if value is None:
            return
        name = f"login:{login.strip().lower()}"
        with self.limiter.limit(value, key_func=lambda: name, scope="sign-in-login"):
            pass

    def sign_up(self) -> None:
        """Count one account created from the caller's address; 429 over the limit (and the
        write is rolled back). Called for each row created in the users table."""
        value = self.limits.sign_up
        if value is None or not has_request_context():
            return  # not a request (an import, a script): nobody to count
        from flask_limiter.errors import RateLimitExceeded

        key = f"addr:{_client()}"
        try:
            with self.limiter.limit(value, key_func=lambda: key, scope="sign-up"):
                pass
        except RateLimitExceeded:
            # Ours, not werkzeug's: a batch or nested write reports it as the failing
            # operation's problem, and the transaction is rolled back.
            raise TooManyRequests(
                f"Too many accounts created from this address ({value}); try again later"
            ) from None


def _client() -> str:
    return request.remote_addr or "unknown"
