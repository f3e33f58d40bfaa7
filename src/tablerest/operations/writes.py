"""Write operations on one resource: create rows, change one, delete one. Each takes the
caller's view and validated data, runs the permissions, owner claims, hooks, the transaction,
conflict diagnosis and change recording, and returns the rows as stored.

A write that needs nothing of the ORM session (no hooks, no ORM behaviour, no change feed, no
row rules) runs as prepared Core statements on a bare connection: the fast path (and a create
that wants no rows back, as an import, as one executemany per set of fields). Every other
runs in a session transaction that the hooks share.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import Conflict, PreconditionFailed, TablerestError
from ..execute.checks import check_failure
from ..execute.dberrors import Failure, classify
from ..execute.prepared import Prepared, execute, fetch_all
from ..execute.store import Readable, diagnose_integrity, translate
from ..grants import Rows
from ..resource import Resource, WriteContext
from .caller import Caller
from .context import Shared
from .rowchecks import (
    Unreadable,
    claim,
    hold,
    key_unchanged,
    reach,
    reachable,
    refer,
    require_filled,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Expect", "ListWriter", "Writes"]

#: A condition on the row as it is before a change, as the caller sees it (``If-Match``):
#: False stops the write with a 412.
Expect = Callable[[dict[str, Any]], bool]

#: Sets the links of a written row to the rows its value lists name, in the write's
#: transaction: (session, caller, the row's key, field name -> values, the row's pointer).
ListWriter = Callable[["Session", Caller, tuple[Any, ...], dict[str, list[Any]], str], None]

_METHOD = {"replace": "PUT", "patch": "PATCH"}


class Writes:
    """The write operations of one resource."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.resource = shared.resource
        #: Writes the value lists of the resource (``value_lists=``): the operations, which
        #: reach the other resources, set it.
        self.lists: ListWriter = _no_lists

    # -- create ----------------------------------------------------------------------------

    def create(
        self,
        caller: Caller,
        items: list[dict[str, Any]],
        *,
        many: bool | None = None,
        returning: bool = True,
    ) -> list[dict[str, Any]]:
        """Create every item in one transaction (all are stored, or none); the rows as
        stored (:meth:`Caller.visible` makes them what the caller may see). Pointers carry
        the item's index when ``many`` (by default: when there are several).

        ``returning=False``: the caller needs no rows back (``tablerest import``), and gets
        an empty list; on the Core path the items then go as one executemany per set of
        fields given rather than one INSERT each."""
        res = self.resource
        grant = caller.require(res, "create")
        many = len(items) > 1 if many is None else many
        for i, item in enumerate(items):
            caller.check_writable(res, item, f"/{i}" if many else "")
        lists = [_value_lists(res, item) for item in items]
        reachable(res, items, many)
        shared = self.shared
        st = shared.statements
        written: list[dict[sa.Column[Any], Any]] = []
        created: list[dict[str, Any]] = []
        readable = caller.references(res)
        try:
            if shared.core and grant is True and readable is None:
                for i, data in enumerate(items):
                    require_filled(res, data, f"/{i}" if many else "")
                # ``written`` stays empty: a failure's diagnosis maps every item (below).
                return self._create_core(items, caller) if returning else self._insert_core(items)
            with _linking(shared, any(lists)), shared.db.writing(res.table) as session:
                for i, data in enumerate(items):
                    at = f"/{i}" if many else ""
                    if isinstance(grant, Rows):
                        claim(res, data, grant, caller, at)
                    require_filled(res, data, at)
                    ctx = WriteContext(
                        res, "create", session, "POST", data, identity=caller.identity
                    )
                    self._run_hooks("before_create", ctx)
                    written.append(st.values(ctx.data))
                    key = self._insert(session, ctx.data)
                    if grant is not True:
                        hold(shared, session, key, grant, caller)
                    if readable is not None:
                        refer(res, session, written[-1], readable)
                    if lists[i]:
                        self.lists(session, caller, key, lists[i], at)
                    row = shared.fetch_one(key, session, caller)
                    ctx.row, ctx.key = row, key
                    self._run_hooks("after_create", ctx)
                    created.append(row)
                shared.changes.record(session, "create", created)
        except (sa_exc.IntegrityError, Unreadable) as exc:
            # Every item, as the Core path diagnoses them: the pointers then carry the index
            # of an array's item whichever item failed first.
            rest = [st.values(data) for data in items[len(written) :]]
            raise self.diagnose(exc, [*written, *rest], readable=readable) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return created if returning else []

    def _create_core(self, items: list[dict[str, Any]], caller: Caller) -> list[dict[str, Any]]:
        shared = self.shared
        st = shared.statements
        created = []
        returning = st.returnable and shared.db.engine(self.resource.table).dialect.insert_returning
        statements = len(items) * (1 if returning else 2)
        plans: list[Prepared] = [
            shared.plan(
                ("insert", tuple(data), returning),
                functools.partial(_prepare, st.insert_statement, tuple(data), returning),
            )
            for data in items
        ]
        # Without RETURNING the new key comes from Connection.execute's inserted_primary_key.
        direct_plans = plans if returning else []
        with shared.db.transaction(
            self.resource.table, statements=statements, plans=direct_plans
        ) as conn:
            for data, plan in zip(items, plans, strict=True):
                params = st.write_values(data)
                if returning:
                    row = fetch_all(conn, plan, params)[0]
                else:
                    assert isinstance(conn, sa.Connection)
                    result = conn.execute(plan.statement, params)
                    key = tuple(result.inserted_primary_key or ())
                    if self.resource.looked_up:
                        key = shared.key_of(conn, key)
                    row = shared.read_back(conn, key, caller)[0]
                created.append(shared.encoder.row(row))
        return created

    def _insert_core(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items without reading them back: a field left out keeps its column default,
        so each set of fields given is its own INSERT, run once for all its items."""
        shared = self.shared
        st = shared.statements
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for data in items:
            shapes.setdefault(tuple(data), []).append(st.write_values(data))
        # One item is one statement, its own transaction; an executemany may be several.
        statements = 1 if len(items) == 1 else 2
        with shared.db.transaction(self.resource.table, statements=statements) as conn:
            assert isinstance(conn, sa.Connection)  # no plans given: never a bare DBAPI one
            for names, params in shapes.items():
                plan: Prepared = shared.plan(
                    ("insert", names, False),
                    functools.partial(_prepare, st.insert_statement, names, False),
                )
                conn.execute(plan.statement, params)
        return []

    def _insert(self, session: Session, data: Mapping[str, Any]) -> tuple[Any, ...]:
        res = self.resource
        if res.use_orm:
            assert res.mapper is not None
            assert res.model is not None
            obj = res.model(**{self._attr(k): v for k, v in data.items()})
            session.add(obj)
            session.flush()
            pk = tuple(res.mapper.primary_key_from_instance(obj))
        else:
            result = session.execute(self.shared.statements.insert(data))
            pk = tuple(result.inserted_primary_key or ())  # type: ignore[attr-defined]
        return self.shared.key_of(session, pk)

    def _orm_row(self, session: Session, key: tuple[Any, ...]) -> Any:
        """The mapped object of the row ``key`` (by its ``lookup=`` values, or primary key)."""
        res = self.resource
        if not res.looked_up:
            return session.get(res.model, key)  # type: ignore[arg-type]
        where = self.shared.statements.key_where(key)
        return session.execute(sa.select(res.model).where(where)).scalar_one_or_none()  # type: ignore[arg-type]

    # -- change ----------------------------------------------------------------------------

    def update(
        self,
        caller: Caller,
        key: tuple[Any, ...],
        data: dict[str, Any],
        *,
        replace: bool = False,
        expect: Expect | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Change the row ``key`` with validated ``data`` (``replace``: every writable field
        left out goes back to its default); the row as stored.
        ``expect``: the write's precondition (``If-Match``); ``method``: what hooks see."""
        res = self.resource
        shared = self.shared
        grant = caller.require(res, "update")
        caller.check_writable(res, data)
        key_unchanged(self.shared, data, key)
        reachable(res, [data], False)  # a new lookup value (a slug) must be a URL's too
        lists = _value_lists(res, data)
        if replace:
            kept = caller.locked(res) | caller.concealed(res)
            data = _with_resets(res, data, kept)
            # PUT replaces the links too: a value list left out is emptied.
            lists = {n: lists.get(n, []) for n in res.value_lists if n in lists or n not in kept}
        method = method or _METHOD["replace" if replace else "patch"]
        written: dict[sa.Column[Any], Any] = {}
        readable = caller.references(res)
        try:
            if shared.core and expect is None and grant is True and readable is None:
                written = shared.statements.values(data)
                return self._update_core(key, data, caller)
            with _linking(shared, any(lists)), shared.db.writing(res.table) as session:
                if grant is not True:
                    reach(shared, session, key, grant, caller, "update")
                if expect is not None:
                    self._check_current(session, key, caller, expect)
                was = shared.changes.current(session, key)  # the feed records what changed
                ctx = WriteContext(
                    res, "update", session, method, data, key, identity=caller.identity
                )
                self._run_hooks("before_update", ctx)
                reachable(res, [ctx.data], False)  # and one a hook sets
                written = shared.statements.values(ctx.data)
                if res.use_orm:
                    obj = self._orm_row(session, key)
                    if obj is None:
                        raise shared.missing(key)
                    for name, value in ctx.data.items():
                        setattr(obj, self._attr(name), value)
                    session.flush()
                elif ctx.data:
                    result = session.execute(shared.statements.update(key, ctx.data))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise shared.missing(key)
                key = shared.rekeyed(key, written)  # a new slug names the row from here on
                ctx.key = key
                if grant is not True:
                    hold(shared, session, key, grant, caller)
                if readable is not None:
                    refer(res, session, written, readable)
                if lists:
                    self.lists(session, caller, key, lists, "")
                row: dict[str, Any] = shared.fetch_one(key, session, caller)
                ctx.row = row
                self._run_hooks("after_update", ctx)
                shared.changes.record(session, "update", [row], before=[was])
        except (sa_exc.IntegrityError, Unreadable) as exc:
            raise self.diagnose(exc, [written], key=key, readable=readable) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return row

    def _update_core(
        self, key: tuple[Any, ...], data: dict[str, Any], caller: Caller
    ) -> dict[str, Any]:
        shared = self.shared
        st = shared.statements
        returning = st.returnable and shared.db.engine(self.resource.table).dialect.update_returning
        select_one = shared.select_one
        assert select_one is not None  # a table without a key has no item routes
        plans = [select_one]
        if data:
            names = tuple(data)
            plan: Prepared = shared.plan(
                ("update", names, returning),
                lambda: Prepared(st.update_statement(names, returning)),
            )
            plans = [plan] if returning else [plan, select_one]
        statements = 1 if returning or not data else 2
        with shared.db.transaction(self.resource.table, statements=statements, plans=plans) as conn:
            if not data:
                rows = shared.read_back(conn, key, caller)
            else:
                params = st.write_values(data, key)
                if returning:
                    rows = fetch_all(conn, plan, params)
                elif execute(conn, plan, params) == 0:
                    rows = []
                else:
                    # A write of a new lookup value (a slug) has moved the row to it.
                    rows = shared.read_back(conn, shared.rekeyed(key, st.values(data)), caller)
            if not rows:
                raise shared.missing(key)
            return shared.encoder.row(rows[0])

    def _check_current(
        self, session: Session, key: tuple[Any, ...], caller: Caller, expect: Expect
    ) -> None:
        """412 unless ``expect`` holds for the row as it is now, as this caller would GET it
        (without the fields hidden from them: a tag over those could never match theirs, and
        200-vs-412 would tell whether a guessed hidden value is right). The row is locked
        until the write's transaction ends (``FOR UPDATE``; on SQLite the write lock, taken
        first), so no other write can slip in between the check and the change."""
        shared = self.shared
        stmt = shared.statements.select_one
        assert stmt is not None  # a table without a key has no item routes
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            dbapi: Any = conn.connection.dbapi_connection
            if not dbapi.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt, shared.row_params(key, caller)).first()
        if row is None:
            raise shared.missing(key)
        if not expect(caller.visible(self.resource, shared.encoder.row(row))):
            raise PreconditionFailed(
                f"This {self.resource.name} row has changed since the ETag in If-Match was "
                "read; read it again and reapply the change"
            )

    # -- delete ----------------------------------------------------------------------------

    def delete(self, caller: Caller, key: tuple[Any, ...], *, expect: Expect | None = None) -> None:
        """Delete the row ``key``; 404 when the caller cannot see it."""
        res = self.resource
        shared = self.shared
        st = shared.statements
        grant = caller.require(res, "delete")
        try:
            if shared.core and expect is None and grant is True:
                plan = shared.plan(("delete",), lambda: Prepared(st.delete_statement()))
                with shared.db.transaction(res.table, statements=1, plans=(plan,)) as conn:
                    if execute(conn, plan, st.write_values({}, key)) == 0:
                        raise shared.missing(key)
                return
            with shared.db.writing(res.table) as session:
                if grant is not True:
                    reach(shared, session, key, grant, caller, "delete")
                if expect is not None:
                    self._check_current(session, key, caller, expect)
                ctx = WriteContext(
                    res, "delete", session, "DELETE", key=key, identity=caller.identity
                )
                self._run_hooks("before_delete", ctx)
                shared.changes.deleting(session, key)
                if res.use_orm:
                    obj = self._orm_row(session, key)
                    if obj is None:
                        raise shared.missing(key)
                    session.delete(obj)
                    session.flush()
                else:
                    result = session.execute(st.delete(key))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise shared.missing(key)
                self._run_hooks("after_delete", ctx)
        except sa_exc.IntegrityError as exc:
            raise self.diagnose(exc, [], key=key, deleting=True) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc

    # -- shared ----------------------------------------------------------------------------

    def diagnose(
        self,
        failed: Exception,
        written: list[dict[sa.Column[Any], Any]],
        *,
        key: Sequence[Any] | None = None,
        deleting: bool = False,
        readable: Readable | None = None,
    ) -> TablerestError:
        """The client's error for a write the database refused (after its rollback)."""
        # A CHECK constraint's failure is the client's value (422), not a clash with stored
        # rows (409).
        if isinstance(failed, sa_exc.IntegrityError) and classify(failed) is Failure.CHECK:
            return check_failure(failed, self.resource, written)
        if deleting:  # a foreign key of another row: nothing to look up
            return Conflict("The row is still referenced by other rows and cannot be deleted")
        try:
            with self.shared.db.connection(self.resource.table) as conn:
                return diagnose_integrity(conn, self.resource, written, key=key, readable=readable)
        except TablerestError as error:
            return error

    def _run_hooks(self, event: str, ctx: WriteContext) -> None:
        for hook in self.resource.hooks[event]:
            hook(ctx)

    def _attr(self, name: str) -> str:
        """The mapped attribute for a field or column name (hooks may use either)."""
        mapper = self.resource.mapper
        assert mapper is not None
        if name in mapper.attrs:
            return name
        (column,) = self.shared.statements.values({name: None})
        return mapper.get_property_by_column(column).key


def _no_lists(*_args: Any) -> None:
    raise AssertionError("a resource with value lists gets its writer from its operations")


def _linking(shared: Shared, lists: bool) -> contextlib.AbstractContextManager[Any]:
    """The transaction of a write with value lists: the rows their links name are written
    (made, when missing) by their own resources' operations, which join it."""
    return shared.db.atomic() if lists else contextlib.nullcontext()


def _value_lists(res: Resource, data: dict[str, Any]) -> dict[str, list[Any]]:
    """The value lists of a body, taken out of it: they are no columns, but the links the
    row is given once written."""
    return {n: data.pop(n) for n in res.value_lists if n in data}


def _with_resets(res: Resource, data: dict[str, Any], kept: frozenset[str]) -> dict[str, Any]:
    """PUT replaces: every writable field left out goes back to its default, or null (but
    not those the caller may not write or see)."""
    out = dict(data)
    for f in res.writable:
        if f.name in out or f.primary_key or not f.readable or f.name in kept:
            continue  # write-only fields cannot be resent by a client, so PUT keeps them
        default = f.column.default
        if isinstance(default, sa.ColumnDefault) and default.is_scalar:
            out[f.name] = default.arg
        elif isinstance(default, sa.ColumnDefault) and default.is_callable:
            out[f.name] = default.arg(None)
        elif f.nullable:
            out[f.name] = None
    return out


def _prepare(build: Callable[..., Any], *args: Any) -> Prepared:
    return Prepared(build(*args))
