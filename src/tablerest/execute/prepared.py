"""Statements compiled once per dialect and run straight on the DBAPI cursor.

``Connection.execute`` spends tens of microseconds per call on a cache key, an execution
context and a result object: more than a primary-key read costs the database. The planner builds
each statement once per query shape, with named bind parameters for every value; a
:class:`Prepared` compiles it once per dialect with SQLAlchemy's own compiler, keeps the bind
and result processors of its types, and runs the SQL on the pooled DBAPI connection. Same SQL,
same type conversions, none of the per-call machinery.

It falls back to ``Connection.execute`` whenever that machinery has work to do: a statement
with parameters rendered at execution time (expanding ``IN``, literal-execute) or column
defaults computed in Python, and an engine with ``echo`` or execution events (so the
application's listeners and SQL logging see every statement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection

__all__ = ["Direct", "Prepared", "Runner", "direct", "execute", "fetch_all", "wrapped"]

_Processor = Callable[[Any], Any] | None
Statement: TypeAlias = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete


class _Compiled:
    """One statement compiled for one dialect, or ``usable = False`` when it must fall back."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, sa.sql.compiler.SQLCompiler)
        self.sql = compiled.string
        self.usable = not (
            compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.escaped_bind_names
        )
        self.positional = compiled.positional
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        #: Per parameter slot: (compiled name, key of a request value or None, fixed value,
        #: bind processor).
        self.slots: list[tuple[str, str | None, Any, _Processor]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                self.slots.append((name, bind.key, None, processor))
            else:
                value = bind.effective_value
                self.slots.append((name, None, processor(value) if processor else value, None))
        self.types = [c.type for c in getattr(statement, "exported_columns", ())]
        self.dialect = dialect
        self._results: list[tuple[int, Callable[[Any], Any]]] | None = None

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        out = []
        for _name, key, fixed, processor in self.slots:
            if key is None:
                out.append(fixed)
            else:
                value = values[key]
                out.append(processor(value) if processor is not None else value)
        if self.positional:
            return out
        return {slot[0]: value for slot, value in zip(self.slots, out, strict=True)}

    def results(self, cursor: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """The result processors that do something, from the first cursor's type codes (read
        once: building ``cursor.description`` is not free)."""
        if self._results is None:
            found = []
            for i, (col_type, desc) in enumerate(zip(self.types, cursor.description, strict=False)):
                proc = col_type.dialect_impl(self.dialect).result_processor(self.dialect, desc[1])
                if proc is not None:
                    found.append((i, proc))
            self._results = found
        return self._results


class Prepared:
    """A statement with named bind parameters, compiled lazily per dialect."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._by_dialect: dict[int, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(id(dialect))
        if found is None:
            found = self._by_dialect[id(dialect)] = _Compiled(self.statement, dialect)
        return found


class Direct:
    """A pooled DBAPI connection used without a SQLAlchemy ``Connection`` around it."""

    __slots__ = ("dbapi_connection", "dialect", "engine", "pooled", "writes")

    def __init__(
        self, engine: sa.Engine, pooled: PoolProxiedConnection, *, writes: bool = False
    ) -> None:
        self.engine = engine
        #: In a write transaction every statement must run on this connection: the store
        #: hands one out only when all of them can (no fallback to another connection).
        self.writes = writes
        self.dialect = engine.dialect
        self.pooled = pooled
        self.dbapi_connection: Any = pooled.dbapi_connection

    def invalidate(self, exc: BaseException | None = None) -> None:
        self.pooled.invalidate(exc)


Runner = sa.Connection | Direct


def direct(engine: sa.Engine) -> bool:
    """Whether statements may skip ``Connection.execute``: nothing listens or logs."""
    events = engine.dispatch
    return not (
        engine.echo
        or events.before_execute
        or events.after_execute
        or events.before_cursor_execute
        or events.after_cursor_execute
    )


def fetch_all(conn: Runner, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
    """Every row of a statement that returns rows, as tuples (SQLAlchemy rows on fallback)."""
    compiled = prepared.compiled(conn.dialect)
    if isinstance(conn, Direct):
        if not compiled.usable:
            if conn.writes:
                raise RuntimeError("a write statement that needs Connection.execute")
            with conn.engine.connect() as other:  # a read: any connection will do
                return list(other.execute(prepared.statement, dict(values)).all())
        dbapi = conn.dbapi_connection
    elif not (compiled.usable and direct(conn.engine)):
        return list(conn.execute(prepared.statement, dict(values)).all())
    else:
        dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.sql, compiled.parameters(values))
        rows = cursor.fetchall()
        processors = compiled.results(cursor)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, compiled.sql, exc) from exc
    finally:
        cursor.close()
    if processors:
        converted = []
        for row in rows:
            out = list(row)
            for i, proc in processors:
                out[i] = proc(out[i])
            converted.append(out)
        return converted
    return list(rows)


def execute(conn: Runner, prepared: Prepared, values: Mapping[str, Any]) -> int:
    """Run a statement that returns no rows; the number of rows it changed."""
    compiled = prepared.compiled(conn.dialect)
    if isinstance(conn, Direct):
        if not compiled.usable:
            raise RuntimeError("a write statement that needs Connection.execute")
        dbapi = conn.dbapi_connection
    elif not (compiled.usable and direct(conn.engine)):
        result: sa.CursorResult[Any] = conn.execute(prepared.statement, dict(values))
        return int(result.rowcount)
    else:
        dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.sql, compiled.parameters(values))
        return int(cursor.rowcount)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, compiled.sql, exc) from exc
    finally:
        cursor.close()


def wrapped(conn: Runner, sql: str, exc: Any) -> sa.exc.StatementError:
    """The DBAPI error as SQLAlchemy would raise it, invalidating a connection that is gone."""
    dialect = conn.dialect
    dbapi_conn = (
        conn.dbapi_connection if isinstance(conn, Direct) else conn.connection.dbapi_connection
    )
    disconnect = dialect.is_disconnect(exc, dbapi_conn, None)
    error = sa.exc.DBAPIError.instance(
        sql,
        None,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
        ismulti=False,
    )
    if disconnect:
        # As SQLAlchemy does on a disconnect: the other pooled connections are likely dead too.
        conn.invalidate(exc)
        conn.engine.dispose()
    return error  # type: ignore[no-any-return]
