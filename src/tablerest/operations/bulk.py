"""Writes of many rows at once: upserts (create, or change the row holding the same unique
key) and bulk updates (each row by its key). All or nothing, in one transaction.

Where nothing about the caller or the resource asks for rows one at a time (row rules, hooks,
ORM behaviour, the change feed, references to rows hidden from the caller), each row is one
Core statement; otherwise each row is the create or update it is, with everything those run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import (
    Conflict,
    FieldError,
    InvalidParameter,
    NotFound,
    TablerestError,
    ValidationFailed,
)
from ..execute.store import translate
from ..plan.writes import upsert_statement
from ..relations import unique_sets
from .caller import Caller
from .context import Shared, key_text
from .rowchecks import matches, reachable
from .writes import Writes

__all__ = ["Bulk", "Stored", "each"]

#: A row as stored, and whether the write created it.
Stored = tuple[dict[str, Any], bool]

_T = TypeVar("_T")


class Bulk:
    """The upserts and bulk updates of one resource."""

    def __init__(self, shared: Shared, writes: Writes) -> None:
        self.shared = shared
        self.resource = shared.resource
        self.writes = writes

    # -- upsert ----------------------------------------------------------------------------

    def conflict_key(self, caller: Caller, on_conflict: Sequence[str]) -> list[str]:
        """The field names of ``on_conflict``, checked: fields the caller can see that make
        a unique key of the table (400 naming the parameter otherwise)."""
        res = self.resource
        if len(on_conflict) != 1:
            raise InvalidParameter("on_conflict", "on_conflict is given more than once")
        names = [n.strip(" \t") for n in on_conflict[0].split(",") if n.strip(" \t")]
        fields = [res.fields.get(n) for n in names]
        hidden = caller.concealed(res)  # as unknown
        if not names or any(f is None or not f.readable or f.name in hidden for f in fields):
            raise InvalidParameter("on_conflict", "on_conflict names unknown fields")
        columns = {f.column for f in fields if f is not None}
        if columns not in [set(u) for u in unique_sets(res.table)]:
            raise InvalidParameter(
                "on_conflict", f"{', '.join(names)} is not a unique key of {res.name}"
            )
        return names

    def upsert(
        self, caller: Caller, items: list[dict[str, Any]], names: list[str], *, many: bool
    ) -> list[Stored]:
        """Create each row, or change the one that already has its value(s) of ``names`` (a
        unique key; a row without them, or with a null, is created)."""
        res = self.resource
        if not items:
            raise ValidationFailed([FieldError("", "The array is empty")], detail="Nothing to do")
        for i, item in enumerate(items):
            caller.check_writable(res, item, f"/{i}" if many else "")
        reachable(res, items, many)
        every_row = all(caller.grant(res, action) is True for action in ("create", "update"))
        if every_row and self.shared.core and caller.references(res) is None:
            return self._upsert_core(items, names, caller)
        # Owner rules, hooks or ORM behaviour: each row as the create or update it is.
        return each(
            self.shared,
            lambda i: self.upsert_one(caller, items[i], names),
            len(items),
            None if many else "",
        )

    def _upsert_core(
        self, items: list[dict[str, Any]], names: list[str], caller: Caller
    ) -> list[Stored]:
        """Upsert rows with one ``INSERT ... ON CONFLICT`` statement each."""
        res = self.resource
        shared = self.shared
        table = res.table
        columns = [res.fields[n].column for n in names]
        stored: list[Stored] = []
        written = [{res.fields[k].column: v for k, v in item.items()} for item in items]
        try:
            with shared.db.transaction(table) as conn:
                assert isinstance(conn, sa.Connection)
                pk = list(res.key)
                for values in written:
                    if any(values.get(c) is None for c in columns):
                        # No value (or null) for the key matches no row: a plain create.
                        result = conn.execute(sa.insert(table).values(values))
                        key = shared.key_of(conn, tuple(result.inserted_primary_key or ()))
                        found = None
                    else:
                        match = sa.and_(*(c == values[c] for c in columns))
                        found = conn.execute(sa.select(*pk).where(match)).first()
                        conn.execute(upsert_statement(conn.dialect.name, table, values, columns))
                        got = conn.execute(sa.select(*pk).where(match)).first()
                        if got is None:
                            # MariaDB/MySQL: ON DUPLICATE KEY UPDATE met another unique key
                            # and changed that row. A clash: rolled back, and diagnosed below.
                            raise sa.exc.IntegrityError(
                                "upsert", None, Exception("duplicate entry on another key")
                            )
                        key = tuple(got)
                    row = shared.encoder.row(shared.read_back(conn, key, caller)[0])
                    stored.append((row, found is None))
        except sa.exc.IntegrityError as exc:
            # The rows holding the on_conflict values are the ones meant: not the clash.
            diagnosed = self.writes.diagnose(exc, written)
            if isinstance(diagnosed, ValidationFailed):  # a CHECK: the value, not a clash
                raise diagnosed from None
            kept = [e for e in diagnosed.errors if e.pointer.rsplit("/", 1)[-1] not in names]
            if kept:
                where = ", ".join(sorted({e.pointer for e in kept}))
                taken = diagnosed.taken if isinstance(diagnosed, Conflict) else None
                raise Conflict(f"Conflict on {where}", errors=kept, taken=taken) from None
            if not diagnosed.errors:
                raise diagnosed from None
            raise Conflict("The change conflicts with data already stored") from None
        return stored

    def upsert_one(self, caller: Caller, data: dict[str, Any], names: list[str]) -> Stored:
        """One row of an upsert as the create or update it is (permissions, hooks). Runs
        inside :meth:`Database.atomic`."""
        res = self.resource
        shared = self.shared
        key = None
        if all(data.get(n) is not None for n in names):
            match = sa.and_(*(res.fields[n].column == data[n] for n in names))
            with shared.db.connection(res.table) as conn:
                found = conn.execute(sa.select(*res.key).where(match))
                key = found.first()
        if key is None:
            (row,) = self.writes.create(caller, [data])
            return row, True
        # A row holding the key that the caller may not change, seen by them or not, is the
        # same 409 a create of that key would meet: neither 403 (seen) nor 404 (not) says more.
        taken = Conflict(
            f"A {res.name} row with this {', '.join(names)} exists that you may not change",
            errors=[FieldError(f"/{n}", "A row you may not change has this value") for n in names],
        )
        grant = caller.grant(res, "update")
        if grant is not True:
            with shared.db.connection(res.table) as conn:
                if not matches(shared, conn, tuple(key), grant, caller):
                    raise taken
        try:
            return self.writes.update(caller, tuple(key), data, method="POST"), False
        except NotFound:  # deleted, or gone out of the caller's reach, since the look-up
            raise taken from None

    # -- bulk update -----------------------------------------------------------------------

    def update_many(self, caller: Caller, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Change each row (``items``: each with its key and the fields to change), in the
        order given; the rows as stored."""
        res = self.resource
        shared = self.shared
        grant = caller.require(res, "update")
        if not items:
            raise ValidationFailed([FieldError("", "The array is empty")], detail="Nothing to do")
        pk = res.key_fields
        pk_names = {f.name for f in pk}
        errors: list[FieldError] = []
        keys: list[tuple[Any, ...]] = []
        changes = [{k: v for k, v in item.items() if k not in pk_names} for item in items]
        for i, item in enumerate(items):
            caller.check_writable(res, changes[i], f"/{i}")
            missing = [f.name for f in pk if item.get(f.name) is None]
            errors += [FieldError(f"/{i}/{n}", "Field required: the key of the row to change")
                       for n in missing]  # fmt: skip
            keys.append(tuple(item.get(f.name) for f in pk))  # twice: applied in order
        if errors:
            raise ValidationFailed(errors)
        if grant is not True or not shared.core or caller.references(res) is not None:
            return each(
                shared,
                lambda i: self.writes.update(caller, keys[i], changes[i], method="PATCH"),
                len(items),
            )
        written = [{res.fields[k].column: v for k, v in item.items()} for item in changes]
        pk_columns = [f.column for f in pk]
        rows = []
        try:
            with shared.db.transaction(res.table) as conn:
                assert isinstance(conn, sa.Connection)
                for i, (key, values) in enumerate(zip(keys, written, strict=True)):
                    match = sa.and_(*(f.column == v for f, v in zip(pk, key, strict=True)))
                    if values:
                        changed = conn.execute(sa.update(res.table).where(match).values(values))
                        found = changed.rowcount > 0
                    else:
                        found = (
                            conn.execute(sa.select(*pk_columns).where(match)).first() is not None
                        )
                    if not found:
                        raise NotFound(f"Item /{i}: no row {key_text(key)!r}")
                    rows.append(shared.encoder.row(shared.read_back(conn, key, caller)[0]))
        except sa.exc.IntegrityError as exc:
            raise self.writes.diagnose(exc, written) from None
        return rows


def each(shared: Shared, write: Callable[[int], _T], count: int, at: str | None = None) -> list[_T]:
    """``write(i)`` for each item of a bulk write, in one transaction (all or nothing);
    errors point at the item (``/i``, or ``at`` for a single row)."""
    out = []
    try:
        with shared.db.atomic():
            for i in range(count):
                try:
                    out.append(write(i))
                except TablerestError as exc:
                    raise exc.under(f"/{i}" if at is None else at) from None
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc) from exc
    return out
