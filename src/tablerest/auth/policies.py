"""Permissions: who may do what to which rows. Pure: no request, no database.

A permission answers, for one caller (an :class:`Identity`, or ``None`` for anonymous) and one
action (``list``, ``read``, ``create``, ``update``, ``delete``) on one resource, with a
*grant*: ``True`` (every row), ``False`` (nothing), or :class:`Rows` (only rows matching a
condition on the caller, such as ``owner_id = <the caller's id>``). Building blocks::

    public                    anyone, signed in or not
    authenticated             any signed-in caller
    nobody                    no one
    role("admin", "editor")   a caller holding one of these roles
    owner("owner_id")         rows whose owner_id is the caller's id
    any callable              fn(ctx) -> bool, given a :class:`Context`

combine with ``|`` (either) and ``&`` (both): ``owner("owner_id") | role("admin")`` grants an
admin every row and anyone else their own. Row grants become SQL conditions (see
:class:`Policy`), so they scope lists, counts, relations and includes as well as single rows.

The values themselves (:class:`Identity`, actions, :class:`Rows`, :func:`both`) live below the
declarations, in :mod:`tablerest.grants`, so that a resource can hold its policy without
importing this layer; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from ..decode.values import value_parser
from ..grants import ACTIONS, Action, Grant, Identity, Rows, both
from ..resource import Resource

__all__ = [
    "ACTIONS",
    "Action",
    "Context",
    "Grant",
    "Identity",
    "Permission",
    "Policy",
    "Rows",
    "authenticated",
    "both",
    "nobody",
    "owner",
    "public",
    "role",
]


@dataclass(frozen=True, slots=True)
class Context:
    """What a callable permission is given."""

    identity: Identity | None
    action: Action
    resource: Resource


class Permission:
    """Base of every permission: ``grant(ctx)`` answers for one caller and action."""

    def grant(self, ctx: Context) -> Grant:
        raise NotImplementedError

    def fields(self) -> set[str]:
        """The fields row grants compare with the caller's id (checked at registration)."""
        return set()

    def __or__(self, other: Any) -> Permission:
        return _AnyOf((self, as_permission(other)))

    def __ror__(self, other: Any) -> Permission:
        return _AnyOf((as_permission(other), self))

    def __and__(self, other: Any) -> Permission:
        return _AllOf((self, as_permission(other)))

    def __rand__(self, other: Any) -> Permission:
        return _AllOf((as_permission(other), self))


class _Public(Permission):
    """Anyone, signed in or not."""

    def grant(self, ctx: Context) -> Grant:
        return True

    def __repr__(self) -> str:
        return "public"


class _Nobody(Permission):
    """No one: an action closed to every caller (the methods it maps to still answer)."""

    def grant(self, ctx: Context) -> Grant:
        return False

    def __repr__(self) -> str:
        return "nobody"


class _Authenticated(Permission):
    """Any signed-in caller."""

    def grant(self, ctx: Context) -> Grant:
        return ctx.identity is not None

    def __repr__(self) -> str:
        return "authenticated"


class _Role(Permission):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def grant(self, ctx: Context) -> Grant:
        return ctx.identity is not None and not self.names.isdisjoint(ctx.identity.roles)

    def __repr__(self) -> str:
        return f"role({', '.join(repr(n) for n in sorted(self.names))})"


class _Owner(Permission):
    def __init__(self, name: str) -> None:
        self.name = name

    def grant(self, ctx: Context) -> Grant:
        return Rows(owned=(self.name,)) if ctx.identity is not None else False

    def fields(self) -> set[str]:
        return {self.name}

    def __repr__(self) -> str:
        return f"owner({self.name!r})"


class _Check(Permission):
    def __init__(self, fn: Callable[[Context], bool]) -> None:
        self.fn = fn

    def grant(self, ctx: Context) -> Grant:
        return bool(self.fn(ctx))

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


class _AnyOf(Permission):
    def __init__(self, parts: tuple[Permission, ...]) -> None:
        self.parts = parts

    def grant(self, ctx: Context) -> Grant:
        rows: list[Rows] = []
        for part in self.parts:
            got = part.grant(ctx)
            if got is True:
                return True
            if isinstance(got, Rows):
                rows.append(got)
        if not rows:
            return False
        return rows[0] if len(rows) == 1 else Rows(any_of=tuple(rows))

    def fields(self) -> set[str]:
        return set().union(*(p.fields() for p in self.parts))

    def __repr__(self) -> str:
        return " | ".join(repr(p) for p in self.parts)


class _AllOf(Permission):
    def __init__(self, parts: tuple[Permission, ...]) -> None:
        self.parts = parts

    def grant(self, ctx: Context) -> Grant:
        found: Grant = True
        for part in self.parts:
            found = both(found, part.grant(ctx))
            if found is False:
                return False
        return found

    def fields(self) -> set[str]:
        return set().union(*(p.fields() for p in self.parts))

    def __repr__(self) -> str:
        return " & ".join(f"({p!r})" for p in self.parts)


public: Permission = _Public()
authenticated: Permission = _Authenticated()
nobody: Permission = _Nobody()


def role(*names: str) -> Permission:
    """Callers holding at least one of ``names``."""
    if not names:
        raise ValueError("role() needs at least one role name")
    return _Role(frozenset(names))


def owner(field_name: str) -> Permission:
    """Rows whose ``field_name`` holds the caller's id (the ``sub`` of their token).

    On create the field is filled with the caller's id when the body leaves it out, and a
    row created or changed so that it would not be the caller's is refused (403).
    """
    return _Owner(field_name)


def as_permission(value: Any) -> Permission:
    """A permission from a permission or a callable ``fn(ctx) -> bool``."""
    if isinstance(value, Permission):
        return value
    if callable(value):
        return _Check(value)
    raise TypeError(f"not a permission: {value!r} (use public, role(...), owner(...), a callable)")


PermissionSpec = Permission | Callable[[Context], bool] | Mapping[str, Any]


class Policy:
    """A resource's permissions per action, and their row grants as SQL.

    ``permissions`` is one permission for every action, or a mapping from action to
    permission; actions left out are ``public``. ``list`` limits what collections return on
    top of ``read``, which decides which rows exist for the caller anywhere (items, relation
    routes, includes, filters and sorts through relations).
    """

    def __init__(
        self,
        resource: Resource,
        permissions: PermissionSpec,
        ordinal: int,
        *,
        hidden_unless: Mapping[str, Any] | None = None,
        read_only_unless: Mapping[str, Any] | None = None,
    ) -> None:
        self.resource = resource
        #: Field rules: hidden from, or read-only for, callers the permission does not grant.
        self.hidden_unless = _field_rules(resource, hidden_unless, "hidden_unless", "readable")
        self.read_only_unless = _field_rules(
            resource, read_only_unless, "read_only_unless", "writable"
        )
        if isinstance(permissions, Mapping):
            unknown = sorted(set(permissions) - set(ACTIONS))
            if unknown:
                raise ValueError(
                    f"{resource.name}: permissions for unknown actions {unknown}; "
                    f"actions are {', '.join(ACTIONS)}"
                )
            rules = {a: as_permission(permissions.get(a, public)) for a in ACTIONS}
        else:
            one = as_permission(permissions)
            rules = dict.fromkeys(ACTIONS, one)
        self.rules: dict[Action, Permission] = rules
        self._binds: dict[str, tuple[str, Callable[[str], Any]]] = {}
        for name in sorted(set().union(*(p.fields() for p in rules.values()))):
            f = resource.fields.get(resource.named(name))
            if f is None:
                raise ValueError(f"{resource.name}: owner({name!r}) names no field")
            if f.expression is not None:
                raise ValueError(f"{resource.name}: owner({name!r}) names a computed field")
            self._binds[name] = (f"own{ordinal}_{len(self._binds)}", value_parser(f.column.type))
        # A create fills the owner in (see owner()): the body need not carry it.
        resource.filled_on_create = frozenset(map(resource.named, rules["create"].fields()))

    def grant(self, action: Action, identity: Identity | None) -> Grant:
        return self.rules[action].grant(Context(identity, action, self.resource))

    def concealed(self, identity: Identity | None) -> frozenset[str]:
        """The fields this caller may not see (``hidden_unless``)."""
        ctx = Context(identity, "read", self.resource)
        return frozenset(n for n, p in self.hidden_unless.items() if p.grant(ctx) is not True)

    def locked(self, identity: Identity | None) -> frozenset[str]:
        """The fields this caller may not write (``read_only_unless``)."""
        ctx = Context(identity, "update", self.resource)
        return frozenset(n for n, p in self.read_only_unless.items() if p.grant(ctx) is not True)

    def clause(self, rows: Rows, source: FromClause) -> ColumnElement[bool]:
        """The SQL condition of a row grant on ``source`` (this table, or an alias of it);
        the caller's id is a bind parameter (see :meth:`values`)."""
        terms: list[ColumnElement[bool]] = []
        for name in rows.owned:
            col = self.resource.fields[self.resource.named(name)].column
            terms.append(source.c[col.key] == sa.bindparam(self._binds[name][0], type_=col.type))
        if rows.any_of:
            terms.append(sa.or_(*(self.clause(sub, source) for sub in rows.any_of)))
        return sa.and_(*terms)

    def values(self, rows: Rows, identity: Identity | None, out: dict[str, Any]) -> bool:
        """Put the caller's id, as each owner field's type, into ``out``; False when the id
        cannot be one (a text id for an integer column: the caller owns no row)."""
        if identity is None:
            return False
        for name in rows.fields():
            bind, parse = self._binds[name]
            try:
                out[bind] = parse(identity.id)
            except (TypeError, ValueError):
                return False
        return True

    def matches(self, rows: Rows, identity: Identity | None, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` (field name -> value, as its column's Python type) is within the
        row grant, as :meth:`clause` would decide in SQL (a field missing from ``row``: no)."""
        if identity is None:
            return False
        for name in rows.owned:
            try:
                mine = self._binds[name][1](identity.id)
            except (TypeError, ValueError):
                return False
            value = row.get(self.resource.named(name))
            if value is None or value != mine:
                return False
        return not rows.any_of or any(self.matches(sub, identity, row) for sub in rows.any_of)

    def owner_values(self, rows: Rows, identity: Identity) -> dict[str, Any]:
        """What a create fills in: the caller's id in the fields every alternative owns."""
        out: dict[str, Any] = {}
        for name in rows.owned:
            try:
                out[self.resource.named(name)] = self._binds[name][1](identity.id)
            except (TypeError, ValueError):
                continue
        return out


def _field_rules(
    resource: Resource, rules: Mapping[str, Any] | None, option: str, kind: str
) -> dict[str, Permission]:
    out: dict[str, Permission] = {}
    for name, rule in (rules or {}).items():
        name = resource.named(name)
        f = resource.fields.get(name)
        if f is None or not getattr(f, kind) or f.primary_key:
            raise ValueError(f"{resource.name}: {option} names {name!r}, not a {kind} field")
        if option == "hidden_unless" and any(k.name == name for k in resource.key_fields):
            # A row's URL, links and ids show its lookup value to everyone who may read it.
            raise ValueError(
                f"{resource.name}: hidden_unless names the lookup field {name!r}: rows are "
                "named by it in URLs, so it cannot be hidden from some callers"
            )
        permission = as_permission(rule)
        if permission.fields():
            raise ValueError(
                f"{resource.name}: {option}[{name!r}] takes rules about the caller (role, "
                "authenticated, callables), not owner(): a field is shown or not for a caller, "
                "not per row"
            )
        out[name] = permission
    return out
