"""The users resource as authentication reads it: which fields sign in, hold the password and
the roles; the rows a login name or a token's subject names; each row's account stamp.

Account stamps. Every token carries ``stp``, an HMAC of the user's key and stored password
hash (under a key of its own, see :mod:`tablerest.keys`): a new password, or another row under
the same key, gives another stamp, so every token issued before it is refused (see
:mod:`.issuer`).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..decode.values import value_parser
from ..execute.store import Database
from ..keys import derive
from ..resource import Resource

__all__ = ["PASSWORD_CANDIDATES", "Accounts", "RolesSpec", "stamp_key"]

LOGIN_CANDIDATES = ("username", "email", "login")
PASSWORD_CANDIDATES = ("password", "password_hash", "hashed_password")

RolesSpec = str | Callable[[Mapping[str, Any]], Iterable[str]] | None
#: Bytes of HMAC in an account stamp (``stp``): 128 bits.
_STAMP_BYTES = 16


class Accounts:
    """The user rows of the resource :meth:`bind` takes: found by login name or by key, with
    their roles and account stamp."""

    def __init__(
        self, login: str | Sequence[str] | None, password: str | None, roles: RolesSpec
    ) -> None:
        self._login = [login] if isinstance(login, str) else list(login or ())
        self._password = password
        self.roles = roles
        self.resource: Resource | None = None
        self.login_fields: list[str] = []
        self.password_field = ""
        #: The key of account stamps (see :func:`stamp_key`), once the token key is known.
        self.stamp_key = b""

    def bind(self, resource: Resource) -> None:
        """Take ``resource`` as the users, once its login and password fields are found."""
        names = list(resource.fields)
        named = resource.named  # the names clients use (aliases), given the model's or theirs
        login = [named(n) for n in self._login] or [
            named(n) for n in LOGIN_CANDIDATES if named(n) in names
        ]
        password = named(self._password) if self._password else ""
        password = password or next(
            (named(n) for n in PASSWORD_CANDIDATES if named(n) in names), ""
        )
        missing = [n for n in [*login, password] if n not in names]
        if missing or not login or not password:
            raise ValueError(
                f"Auth: {resource.name} needs a login field and a password field "
                f"(not found: {missing or 'login/password'}); pass login=... and password=..."
            )
        if len(resource.pk_fields) != 1:
            raise ValueError(f"Auth: {resource.name} needs a single-column primary key")
        if isinstance(self.roles, str):
            self.roles = named(self.roles)
        if isinstance(self.roles, str) and self.roles not in names:
            raise ValueError(f"Auth: roles={self.roles!r} is not a field of {resource.name}")
        self.resource, self.login_fields, self.password_field = resource, login, password

    @property
    def users(self) -> Resource:
        assert self.resource is not None
        return self.resource

    def subject(self, user: Mapping[str, Any]) -> str:
        """A user row's key, as tokens carry it (``sub``)."""
        return str(user[self.users.pk_fields[0].name])

    def key(self, subject: str) -> Any:
        """A token's subject as the primary key's value: TypeError or ValueError if it is none."""
        return value_parser(self.users.pk_fields[0].column.type)(subject)

    def stamp(self, user: Mapping[str, Any]) -> str:
        """The account stamp of a user row: an HMAC of its key and stored password hash (of
        its key and login values when it has no password), which every token for it carries.
        A new password, or another row under the same key, gives another stamp."""
        secret = user.get(self.password_field)
        parts = [self.subject(user)]
        if secret:
            parts += ["password", str(secret)]
        else:
            parts += ["login", *(str(user.get(n)) for n in self.login_fields)]
        mac = hmac.new(self.stamp_key, "\x00".join(parts).encode(), "sha256").digest()
        return _b64(mac[:_STAMP_BYTES])

    def roles_of(self, user: Mapping[str, Any]) -> set[str]:
        """A user row's roles, from the roles field or the ``roles`` callable."""
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

    def columns(self) -> list[sa.Column[Any]]:
        """The columns auth reads of a user: key, login fields, password, roles."""
        res = self.users
        names = [f.name for f in res.pk_fields]
        names += [n for n in [*self.login_fields, self.password_field] if n not in names]
        if isinstance(self.roles, str) and self.roles not in names:
            names.append(self.roles)
        return [res.fields[n].column for n in names]

    def row(self, columns: Sequence[sa.Column[Any]], values: Iterable[Any]) -> dict[str, Any]:
        """A row of :meth:`columns` (and maybe more after them) as a user, by field name."""
        names = {f.column: f.name for f in self.users.fields.values()}
        return {names[c]: v for c, v in zip(columns, values, strict=False)}

    def select(self, db: Database, where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        """The user rows matching ``where``, by key."""
        cols = self.columns()
        stmt = sa.select(*cols).where(where).order_by(self.users.pk_fields[0].column)
        with db.connection(self.users.table) as conn:
            rows = conn.execute(stmt).all()
        return [self.row(cols, r) for r in rows]

    def find(self, db: Database, login: str, field: str | None = None) -> list[dict[str, Any]]:
        """The accounts ``login`` names: in ``field`` alone, or in any login field (each is
        unique, so at most one per field), those matched by an earlier field first."""
        if field is not None and field not in self.login_fields:
            raise ValueError(f"{field!r} is not a login field of {self.users.name}")
        fields = [field] if field is not None else self.login_fields
        cols = [self.users.fields[n].column for n in fields]
        rows = self.select(db, sa.or_(*(c == login for c in cols)))
        # A case-insensitive collation (MariaDB's default) matches what Python's == does not:
        # such rows come last, in key order.
        return sorted(
            rows,
            key=lambda r: next((i for i, n in enumerate(fields) if r.get(n) == login), len(fields)),
        )

    def find_by_key(self, db: Database, subject: str) -> Mapping[str, Any] | None:
        """The user whose key is ``subject``, if any."""
        try:
            key = self.key(subject)
        except (TypeError, ValueError):
            return None
        found = self.select(db, self.users.pk_fields[0].column == key)
        return found[0] if found else None

    def store_hash(self, db: Database, user: Mapping[str, Any], hashed: str) -> None:
        """An upgraded hash for a user who signed in with one made with older parameters."""
        res = self.users
        pk = res.pk_fields[0]
        col = res.fields[self.password_field].column
        stmt = sa.update(res.table).where(pk.column == user[pk.name]).values({col: hashed})
        with db.connection(res.table) as conn, conn.begin():
            conn.execute(stmt)


def stamp_key(options: Mapping[str, Any]) -> bytes:
    """The key of account stamps: derived from the token secret (HMAC algorithms) or from
    the public key, which every server that verifies tokens has (the stamp is not a secret
    of its own: it rides in signed tokens; the key only keeps hashes out of plain sight)."""
    material = options["secret"] if options["algorithm"].startswith("HS") else options["public_key"]
    return derive(material.encode() if isinstance(material, str) else material, "account-stamp")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
