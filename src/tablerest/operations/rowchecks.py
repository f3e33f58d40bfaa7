"""The checks a write makes on the rows it touches, inside its transaction: that the caller
may reach the row, that it is still theirs after the change, that what it refers to is
readable to them, and that owner fields are their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..columns.untyped import keys_agree
from ..decode.urlkeys import unreachable_keys
from ..errors import FieldError, Forbidden, ValidationFailed
from ..execute.store import Readable, refers_unreadable
from ..grants import Grant, Rows
from ..resource import Resource
from .caller import Caller
from .context import Shared

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "Unreadable",
    "claim",
    "hold",
    "key_unchanged",
    "matches",
    "reach",
    "reachable",
    "refer",
    "require_filled",
    "within",
]


class Unreadable(Exception):
    """A write referred to a row the caller may not read: roll it back, then diagnose it
    as the dangling reference it is to them."""


def claim(res: Resource, data: dict[str, Any], grant: Rows, caller: Caller, at: str) -> None:
    """A create under an owner rule: the owner fields are the caller's (filled in when left
    out; someone else's id is a 403)."""
    identity = caller.identity
    assert identity is not None
    policy = res.policy
    assert policy is not None
    for name, mine in policy.owner_values(grant, identity).items():
        if name not in data:
            data[name] = mine
        elif data[name] != mine:
            raise Forbidden(
                f"{name} must be your own id: you may only create rows you own",
                errors=[FieldError(f"{at}/{name}", "Must be your own id")],
            )


def matches(
    shared: Shared,
    conn: Session | sa.Connection,
    key: Sequence[Any],
    grant: Grant,
    caller: Caller,
) -> bool:
    """Whether the row ``key`` exists and falls within ``grant``."""
    res = shared.resource
    stmt = sa.select(sa.literal(1)).select_from(res.table).where(shared.statements.key_where(key))
    found = within(res, stmt, grant, caller)
    return found is not None and conn.execute(*found).first() is not None


def within(
    res: Resource, stmt: sa.Select[Any], grant: Grant, caller: Caller
) -> tuple[sa.Select[Any], dict[str, Any]] | None:
    """``stmt`` on the rows of ``res`` kept to those within ``grant``, with its parameters;
    None when the grant holds no row for this caller."""
    if grant is False:
        return None
    params: dict[str, Any] = {}
    if isinstance(grant, Rows):
        assert res.policy is not None
        stmt = stmt.where(res.policy.clause(grant, res.table))
        if not res.policy.values(grant, caller.identity, params):
            return None
    return stmt, params


def reach(
    shared: Shared, session: Session, key: Sequence[Any], grant: Grant, caller: Caller, verb: str
) -> None:
    """Before changing the row ``key``: 404 when the caller cannot see it, 403 when they
    can see it but not change it."""
    if matches(shared, session, key, grant, caller):
        return
    res = shared.resource
    if matches(shared, session, key, caller.grant(res, "read"), caller):
        raise Forbidden(f"You may not {verb} this {res.name} row")
    raise shared.missing(key)


def hold(
    shared: Shared, session: Session, key: Sequence[Any], grant: Grant, caller: Caller
) -> None:
    """After a write: the row must still be within the caller's grant (a row cannot be
    created for, or handed over to, someone else); 403 and nothing stored otherwise."""
    if not matches(shared, session, key, grant, caller):
        raise Forbidden(f"The {shared.resource.name} row would not be yours after this change")


def refer(
    res: Resource, session: Session, written: Mapping[sa.Column[Any], Any], readable: Readable
) -> None:
    """After writing ``written``, in the same transaction: when it refers to a row the
    caller may not read, undo the write and answer as for a dangling reference (the
    write's ``except`` diagnoses it, with the same words; see :meth:`Caller.references`)."""
    if refers_unreadable(session.connection(), res, written, readable):
        raise Unreadable


def require_filled(res: Resource, data: Mapping[str, Any], at: str) -> None:
    """A field an owner rule fills in for others is still required from a caller whose
    grant covers every row (an admin creating a row for someone)."""
    missing = [
        n for n in res.filled_on_create if res.fields[n].required_on_create and n not in data
    ]
    if missing:
        raise ValidationFailed([FieldError(f"{at}/{n}", "Field required") for n in missing])


def reachable(res: Resource, items: Sequence[Mapping[str, Any]], many: bool | None = None) -> None:
    """422 for new rows whose key no item URL could name (see :func:`unreachable_keys`);
    pointers carry the item's index when ``many`` (by default: when there are several)."""
    many = len(items) > 1 if many is None else many
    errors = [
        e
        for i, data in enumerate(items)
        for e in unreachable_keys(res, data, f"/{i}" if many else "")
    ]
    if errors:
        raise ValidationFailed(errors)


def key_unchanged(shared: Shared, data: dict[str, Any], key: Sequence[Any]) -> None:
    """An update's body may hold the row's key only as the URL has it (a client PUTs back
    what it GOT); a key field that cannot be written is taken out of it."""
    if shared.resource.looked_up:
        _pk_unchanged(shared, data, key)
        return
    errors = []
    for f, value in zip(shared.resource.pk_fields, key, strict=True):
        if f.name in data:
            agree = keys_agree(f.column.type, data[f.name], value)
            if not agree:
                errors.append(
                    FieldError(
                        f"/{f.name}", "The primary key cannot be changed; it must match the URL"
                    )
                )
            if not f.writable or agree:
                del data[f.name]
    if errors:
        raise ValidationFailed(errors)


def _pk_unchanged(shared: Shared, data: dict[str, Any], key: Sequence[Any]) -> None:
    """With ``lookup=``, the URL names the row by its lookup values, which a write may
    change (a rename); a primary key the database chooses may still come back in a body
    (a client PUTs what it GOT), but must be the row's: checked only when sent."""
    res = shared.resource
    sent = {f: data.pop(f.name) for f in res.pk_fields if f.name in data and not f.writable}
    if not sent:
        return
    where = shared.statements.key_where(key)
    with shared.db.connection(res.table) as conn:
        row = conn.execute(sa.select(*(f.column for f in sent)).where(where)).first()
    if row is None:
        return  # the write finds no row either: its 404
    errors = [
        FieldError(f"/{f.name}", "The primary key cannot be changed")
        for f, now in zip(sent, row, strict=True)
        if not keys_agree(f.column.type, sent[f], now)
    ]
    if errors:
        raise ValidationFailed(errors)
