"""Running statements: connections, one transaction per write, database errors -> domain errors.

A :class:`Database` wraps what the application gave ``Api``: a Flask-SQLAlchemy extension, an
``Engine`` or a ``sessionmaker``. Reads run on a pooled connection; writes run in one session
transaction that commits at the end or rolls back on any error, so a failed write leaves the
database exactly as it was.

Database errors are translated in one place (:func:`translate`). Integrity errors are
diagnosed after the rollback with a few ``SELECT``s (which unique key already has the value,
which referenced row is missing) so that the 409 names the field on every backend alike,
without parsing driver messages.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ColumnElement

from ..errors import (
    BadRequest,
    Conflict,
    FieldError,
    InternalError,
    OutOfRange,
    ServiceUnavailable,
    TablerestError,
    ValidationFailed,
)
from ..relations import unique_sets
from ..resource import Resource
from .dberrors import Failure, classify, database_message, request_ids
from .held import HeldReads, finished, holdable
from .prepared import Direct, Prepared, Runner, direct, wrapped

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "Database",
    "ReadReplicas",
    "diagnose_integrity",
    "refers_unreadable",
    "replica_reads",
    "translate",
]

log = logging.getLogger("tablerest")

#: Rows per batch of an export (see :meth:`Database.streaming`).
EXPORT_BATCH = 1000

#: Whether the current request's reads may go to a read replica (set per request by the Api:
#: a GET or HEAD from a client that has not just written).
replica_reads: ContextVar[bool] = ContextVar("tablerest_replica_reads", default=False)

#: The transaction that every write joins while :meth:`Database.atomic` runs (a batch, a nested
#: write): the database it belongs to and its session.
_shared: ContextVar[tuple[Database, Session] | None] = ContextVar(
    "tablerest_shared_transaction", default=None
)

_LAG_SQL = sa.text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


class ReadReplicas:
    """PostgreSQL read replicas for GET and HEAD: ``Api(read_replicas=ReadReplicas([...]))``.

    Reads go round robin to the replicas that answer and are at most ``max_lag`` seconds
    behind (checked at most every ``check_every`` seconds per replica); a replica that cannot
    be reached is left alone for ``retry_after`` seconds; with none usable, reads go to the
    primary. A client that has just written reads from the primary for ``read_your_writes``
    seconds (a cookie marks it), so it never sees its own change missing.
    """

    def __init__(
        self,
        urls: Sequence[str | sa.Engine],
        *,
        read_your_writes: float = 5.0,
        max_lag: float = 5.0,
        check_every: float = 1.0,
        retry_after: float = 10.0,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("ReadReplicas needs at least one URL")
        self.engines = [
            u if isinstance(u, sa.Engine) else sa.create_engine(u, **(engine_options or {}))
            for u in urls
        ]
        self.read_your_writes = read_your_writes
        self.max_lag = max_lag
        self.check_every = check_every
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._next = 0
        #: engine -> (time of its last lag check, whether it was usable then)
        self._checked: dict[sa.Engine, tuple[float, bool]] = {}
        #: engine -> when to try it again after it could not be reached
        self._down: dict[sa.Engine, float] = {}

    def pick(self) -> sa.Engine | None:
        """The next usable replica, or None (read from the primary)."""
        now = time.monotonic()
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.engines)
        for i in range(len(self.engines)):
            engine = self.engines[(start + i) % len(self.engines)]
            if self._down.get(engine, 0.0) > now:
                continue
            if self._fresh(engine, now):
                return engine
        return None

    def failed(self, engine: sa.Engine) -> None:
        """``engine`` could not be reached: leave it alone for a while."""
        log.warning("read replica unreachable; reading from the primary for %ss", self.retry_after)
        self._down[engine] = time.monotonic() + self.retry_after

    def _fresh(self, engine: sa.Engine, now: float) -> bool:
        checked = self._checked.get(engine)
        if checked is not None and now - checked[0] < self.check_every:
            return checked[1]
        try:
            with engine.connect() as conn:
                lag = float(conn.execute(_LAG_SQL).scalar() or 0.0)
        except sa_exc.SQLAlchemyError:
            self.failed(engine)
            return False
        usable = lag <= self.max_lag
        if not usable:
            log.warning("read replica %.1fs behind; reading from the primary", lag)
        self._checked[engine] = (now, usable)
        return usable


class Database:
    """The application's database handle, whatever form it was given in."""

    def __init__(self, handle: Any, replicas: ReadReplicas | None = None) -> None:
        self.handle = handle
        self.replicas = replicas
        #: Connections that server threads keep for their reads (:meth:`keep_read_connections`).
        self._held: HeldReads | None = None
        # Flask-SQLAlchemy's properties need an app context, so look at the class instead.
        kind = type(handle)
        self._fsa = hasattr(kind, "engines") and hasattr(handle, "session")
        # sqlalchemy.orm is imported only when the application uses it: an Engine alone (as
        # database-first serving gives) never needs it, and it costs each worker ~6 MiB.
        orm = sys.modules.get("sqlalchemy.orm")
        self._factory: sessionmaker[Session] | None = None
        self._engine: sa.Engine | None = None
        if self._fsa:
            pass
        elif isinstance(handle, sa.Engine):
            self._engine = handle
        elif orm is not None and isinstance(handle, orm.sessionmaker):
            self._factory = handle
        else:
            raise TypeError(
                "Api(db=...) takes a Flask-SQLAlchemy extension, an Engine or a sessionmaker, "
                f"not {type(handle).__name__}"
            )

    def engine(self, table: sa.Table | None = None) -> sa.Engine:
        if self._fsa:
            key = table.metadata.info.get("bind_key") if table is not None else None
            return self.handle.engines[key]  # type: ignore[no-any-return]
        if self._engine is not None:
            return self._engine
        assert self._factory is not None
        bind = self._factory.kw.get("bind")
        if not isinstance(bind, sa.Engine):
            raise TypeError("the sessionmaker given to Api must be bound to an Engine")
        return bind

    def keep_read_connections(self) -> bool:
        """Let each thread keep the connection of its reads from one request to the next
        (:mod:`tablerest.execute.held`): for servers whose threads serve many requests.
        False when this database cannot (it stays on a checkout per read)."""
        engine = self.engine()
        if self.replicas is not None or not direct(engine):
            return False
        if not holdable(engine, autocommit_reads=_autocommit_reads(engine)):
            return False
        self._held = HeldReads(engine)
        return True

    @contextmanager
    def reading(
        self, table: sa.Table | None = None, *, blame: str | None = None
    ) -> Iterator[Runner]:
        """A connection for reads: a bare pooled DBAPI connection (see ``prepared``), or a
        ``Connection`` when the engine has listeners or logging that must see every statement.
        On a read replica when the request may use one (see :class:`ReadReplicas`).
        ``blame``: the query parameter named when a value computed in the block overflows.
        """
        try:
            kept = self._kept_runner(table)
            if kept is not None:
                try:
                    yield kept
                finally:
                    finished(kept)
                return
            engine, opened = self._open_for_reading(self.engine(table), bare=True)
            if isinstance(opened, sa.Connection):
                with opened as conn:
                    if _autocommit_reads(engine):
                        with _autocommit(conn.connection.dbapi_connection, conn.invalidate):
                            yield conn
                    else:
                        yield conn
                return
            try:
                runner = Direct(engine, opened)
                if _autocommit_reads(engine):
                    with _autocommit(runner.dbapi_connection, runner.invalidate):
                        yield runner
                else:
                    yield runner
            finally:
                opened.close()
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc, reading=True, blame=blame) from exc

    def _kept_runner(self, table: sa.Table | None) -> Direct | None:
        """This thread's kept read connection, when reads keep one (and nothing has started
        listening to the engine's statements since)."""
        held = self._held
        if held is None or held.engine is not self.engine(table) or not direct(held.engine):
            return None
        return held.runner(_checkout)

    @contextmanager
    def streaming(
        self, table: sa.Table | None = None, *, blame: str | None = None
    ) -> Iterator[sa.Connection]:
        """A ``Connection`` whose results come in batches of ``EXPORT_BATCH`` rows from a
        server-side cursor (PostgreSQL, MariaDB; SQLite's cursor is lazy already), so an
        export of any size holds one batch in memory. On a replica, and ``blame``, as
        :meth:`reading`."""
        try:
            _engine, opened = self._open_for_reading(self.engine(table), bare=False)
            assert isinstance(opened, sa.Connection)
            with opened as conn:
                yield conn.execution_options(stream_results=True, yield_per=EXPORT_BATCH)
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc, reading=True, blame=blame) from exc

    def _open_for_reading(
        self, primary: sa.Engine, *, bare: bool
    ) -> tuple[sa.Engine, sa.Connection | PoolProxiedConnection]:
        """A replica's connection when this request may read from one and one answers, else
        the primary's; ``bare``: a DBAPI connection where the engine allows it."""
        replicas = self.replicas
        if replicas is not None and replica_reads.get():
            replica = replicas.pick()
            if replica is not None:
                try:
                    return replica, _open(replica, bare=bare)
                except sa_exc.DBAPIError:
                    replicas.failed(replica)
        return primary, _open(primary, bare=bare)

    @contextmanager
    def connection(self, table: sa.Table | None = None) -> Iterator[sa.Connection]:
        """A SQLAlchemy ``Connection`` (for the few statements run the ordinary way); inside
        :meth:`atomic`, its transaction's (which sees what the block wrote so far)."""
        joined = self._joined(self.engine(table))
        if joined is not None:
            yield joined.connection()
            return
        try:
            with self.engine(table).connect() as conn:
                yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc

    @contextmanager
    def transaction(
        self,
        table: sa.Table | None = None,
        *,
        statements: int = 2,
        plans: Sequence[Prepared] = (),
    ) -> Iterator[Runner]:
        """One Core transaction on a pooled connection (writes that need no ORM session).

        When ``plans`` names every statement the block will run and each can go straight to
        the DBAPI cursor, the block gets a bare DBAPI connection (:class:`Direct`), as reads
        do; otherwise a SQLAlchemy ``Connection``. A write of one statement (``statements=1``)
        runs in autocommit mode on SQLite and PostgreSQL: the statement is its own
        transaction there, all or nothing, and it saves the ``BEGIN`` and ``COMMIT``.
        """
        engine = self.engine(table)
        dialect = engine.dialect
        joined = self._joined(engine)
        if joined is not None:
            with _checks_as_integrity(), joined.begin_nested():
                yield joined.connection()
            return
        try:
            if plans and direct(engine) and all(p.compiled(dialect).usable for p in plans):
                with _direct_transaction(engine, single=statements == 1) as runner:
                    yield runner
                return
            with engine.connect() as conn:
                if dialect.name == "sqlite":
                    _enforce_foreign_keys(conn.connection.dbapi_connection)
                if statements == 1 and dialect.name == "postgresql":
                    with _autocommit(conn.connection.dbapi_connection, conn.invalidate):
                        yield conn
                    return
                with conn.begin():
                    yield conn
        except sa_exc.SQLAlchemyError as exc:
            if isinstance(exc, sa_exc.IntegrityError):
                raise
            if isinstance(exc, sa_exc.DBAPIError) and classify(exc) is Failure.CHECK:
                raise _as_integrity(exc) from exc
            raise translate(exc) from exc

    @contextmanager
    def writing(self, table: sa.Table | None = None) -> Iterator[Session]:
        """One transaction: commit when the block ends, roll back on any exception.

        On SQLite, foreign keys are enforced only when the connection asks for it, and only
        outside a transaction: the pragma is the first statement of every write.
        Inside :meth:`atomic`, the block runs in its transaction, which commits at its end.
        """
        joined = self._joined(self.engine(table))
        if joined is not None:
            with _checks_as_integrity(), joined.begin_nested():
                yield joined
            return
        if self._fsa:
            session: Session = self.handle.session()
        else:
            if self._factory is None:
                from sqlalchemy.orm import sessionmaker

                self._factory = sessionmaker(bind=self._engine)
            session = self._factory()
        try:
            with _checks_as_integrity():
                if self.engine(table).dialect.name == "sqlite":
                    session.connection().exec_driver_sql("PRAGMA foreign_keys=ON")
                yield session
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            if not self._fsa:
                session.close()

    @contextmanager
    def atomic(self) -> Iterator[Session]:
        """One transaction for several writes: every :meth:`writing` and :meth:`transaction`
        inside the block joins it, and it commits when the block ends or rolls back as a
        whole. Blocks nest (an inner one joins the outer one).

        Each write inside runs in a savepoint, so that after a failed statement the
        transaction can still be asked why (the diagnosis of a 409 sees the rows written
        before it).
        """
        current = _shared.get()
        if current is not None and current[0] is self:
            yield current[1]
            return
        with self.writing() as session:
            if self.engine().dialect.name == "sqlite":
                # pysqlite begins transactions itself only before DML: a SAVEPOINT first
                # would be the outermost transaction, and releasing it would commit.
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            token = _shared.set((self, session))
            try:
                yield session
            finally:
                _shared.reset(token)

    def _joined(self, engine: sa.Engine) -> Session | None:
        """The session of the :meth:`atomic` block the caller is in, if any."""
        current = _shared.get()
        if current is None or current[0] is not self:
            return None
        if engine is not self.engine():
            raise BadRequest("Tables in different databases cannot be written in one transaction")
        return current[1]


@contextmanager
def _checks_as_integrity() -> Iterator[None]:
    """A CHECK constraint's failure raised as an integrity error, which the write paths
    diagnose field by field: pymysql alone reports MariaDB's as an ``OperationalError``."""
    try:
        yield
    except sa_exc.OperationalError as exc:
        if classify(exc) is Failure.CHECK:
            raise _as_integrity(exc) from exc
        raise


def _as_integrity(exc: sa_exc.DBAPIError) -> sa_exc.IntegrityError:
    assert exc.orig is not None
    return sa_exc.IntegrityError(exc.statement, exc.params, exc.orig)


def _open(engine: sa.Engine, *, bare: bool) -> sa.Connection | PoolProxiedConnection:
    return _checkout(engine) if bare and direct(engine) else engine.connect()


def _checkout(engine: sa.Engine) -> PoolProxiedConnection:
    """A pooled DBAPI connection; failing to connect raises what ``engine.connect()`` would."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return engine.raw_connection()
    except dbapi_error as exc:
        raise sa_exc.DBAPIError.instance(
            None, None, exc, dbapi_error, dialect=engine.dialect
        ) from exc


@contextmanager
def _autocommit(dbapi: Any, discard: Callable[[], None]) -> Iterator[None]:
    """Autocommit on the DBAPI connection (PostgreSQL drivers) for the block, and off again
    before it goes back to the pool; a connection that cannot be switched back is discarded.

    This is what ``isolation_level="AUTOCOMMIT"`` does, without also setting and resetting the
    isolation level: with psycopg each property set is a trip through its wait loop.
    """
    dbapi.autocommit = True
    try:
        yield
    finally:
        try:
            dbapi.autocommit = False
        except Exception:
            discard()


def _enforce_foreign_keys(dbapi: Any) -> None:
    """SQLite checks foreign keys only when the connection asks, and the pragma is a no-op
    inside a transaction: it runs first, on the DBAPI connection."""
    dbapi.execute("PRAGMA foreign_keys=ON")


@contextmanager
def _direct_transaction(engine: sa.Engine, *, single: bool) -> Iterator[Direct]:
    """A transaction on a bare pooled DBAPI connection: what ``Connection.begin()`` does
    (commit at the end, roll back on any error), without its per-call work."""
    pooled = _checkout(engine)
    try:
        runner = Direct(engine, pooled, writes=True)
        dbapi = runner.dbapi_connection
        name = engine.dialect.name
        if name == "sqlite":
            _enforce_foreign_keys(dbapi)
        if single and name == "sqlite":
            legacy = dbapi.isolation_level
            dbapi.isolation_level = None  # no implicit BEGIN: the statement commits itself
            try:
                yield runner
            finally:
                dbapi.isolation_level = legacy
        elif single and name == "postgresql":
            with _autocommit(dbapi, runner.invalidate):
                yield runner
        else:
            try:
                yield runner
            except BaseException:
                dbapi.rollback()
                raise
            try:
                dbapi.commit()
            except engine.dialect.loaded_dbapi.Error as exc:
                raise wrapped(runner, "COMMIT", exc) from exc
    finally:
        pooled.close()


def _autocommit_reads(engine: sa.Engine) -> bool:
    """Whether reads can skip ``BEGIN``/``ROLLBACK``: on PostgreSQL at READ COMMITTED, every
    statement sees its own snapshot inside a transaction or not, so a transaction around a
    read adds two round trips and nothing else. Other levels keep their transaction."""
    if engine.dialect.name != "postgresql":
        return False
    level = engine.get_execution_options().get("isolation_level")
    return (level or engine.dialect.default_isolation_level) == "READ COMMITTED"


def translate(
    exc: sa_exc.SQLAlchemyError, *, reading: bool = False, blame: str | None = None
) -> TablerestError:
    """The response for a database error, by the table in :mod:`tablerest.execute.dberrors`.

    An overflow on a read (``reading``) is a 400 naming ``blame``, the query parameter whose
    computed value went out of range (``aggregate``); on a write it is a 422. The statement
    and parameters never leave the server; the database's message goes to the log with the
    request id.
    """
    orm_errors = sys.modules.get("sqlalchemy.orm.exc")
    if orm_errors is not None and isinstance(exc, orm_errors.StaleDataError):
        # A version counter moved under the ORM's feet: another write changed the row.
        return Conflict("The row was changed by another request at the same time; read it again")
    kind = classify(exc)
    if kind is Failure.UNREACHABLE:
        _log(logging.WARNING, "database not reachable", exc)
        return ServiceUnavailable("The database is not reachable; try again shortly")
    if kind is Failure.BUSY:
        _log(logging.WARNING, "database busy", exc)
        return ServiceUnavailable("The database is busy with other writes; try again shortly", 1)
    if kind is Failure.CONFLICT:
        if isinstance(exc, sa_exc.IntegrityError):
            return Conflict("The change conflicts with data already stored")
        return Conflict("The row was changed by another request at the same time; try again")
    if kind is Failure.CHECK:
        return ValidationFailed([], detail="A value is not allowed by a CHECK constraint")
    if kind is Failure.OVERFLOW:
        if reading:
            return OutOfRange(
                f"A value computed for {blame or 'the request'} is out of the range the "
                "database can hold (64-bit integers for sums of integers)",
                parameter=blame,
            )
        return ValidationFailed([], detail="A value is out of the range its column can hold")
    if kind is Failure.VALUE:
        if reading:  # a GET has no body: the value was one of the query's
            return BadRequest("The database rejected a value of the query", parameter=blame)
        return ValidationFailed([], detail="The database rejected a value")
    _log(logging.ERROR, "database error", exc)
    return InternalError()


def _log(level: int, what: str, exc: sa_exc.SQLAlchemyError) -> None:
    """One line: what happened, the request id (as in the access log) and the database's
    own message (never the statement, whose parameters are what the client sent)."""
    log.log(level, "%s (request %s): %s", what, request_ids.get() or "-", database_message(exc))


def _pointer(prefix: str, name: str) -> str:
    return f"{prefix}/{name.replace('~', '~0').replace('/', '~1')}"


#: Which rows of a referenced table the caller may read: a condition on the table and its bind
#: values, or None when they may read every row (or the table is not served: nothing to hide).
Readable = Callable[[sa.Table], tuple[ColumnElement[bool], dict[str, Any]] | None]


def diagnose_integrity(
    conn: sa.Connection,
    resource: Resource,
    rows: Sequence[Mapping[sa.Column[Any], Any]],
    *,
    key: Sequence[Any] | None = None,
    readable: Readable | None = None,
) -> Conflict:
    """Find which field made a write violate a unique or foreign key, after the rollback.

    ``rows`` are the column values that were written (one per created item); ``key`` the
    URL key of the row being updated. With ``readable``, a referenced row the caller may
    not read is reported as missing, exactly like one that does not exist.
    """
    table = resource.table
    prefixed = len(rows) > 1
    errors: list[FieldError] = []
    taken_only = True
    for i, values in enumerate(rows):
        prefix = f"/{i}" if prefixed else ""
        for cols in unique_sets(table):
            if not all(c in values and values[c] is not None for c in cols):
                continue
            where = sa.and_(*(c == values[c] for c in cols))
            if key is not None:
                where = sa.and_(
                    where,
                    sa.not_(sa.and_(*(c == v for c, v in zip(resource.key, key, strict=True)))),
                )
            clash = conn.execute(sa.select(sa.literal(1)).select_from(table).where(where).limit(1))
            dup_in_batch = any(
                all(other.get(c) == values[c] for c in cols)
                for j, other in enumerate(rows)
                if j < i
            )
            if clash.first() is not None or dup_in_batch:
                msg = "A row with this value already exists"
                errors.extend(FieldError(p, msg) for p in _pointers(resource, prefix, cols))
                break
        for local in _missing_references(conn, resource, values, readable):
            taken_only = False
            msg = "The referenced row does not exist"
            errors.extend(FieldError(p, msg) for p in _pointers(resource, prefix, local))
    fields = sorted({e.pointer for e in errors})
    if not errors:
        return Conflict("The change conflicts with data already stored")
    detail = f"Conflict on {', '.join(fields)}"
    if taken_only:  # the API may answer those as a 422; a missing reference stays a 409
        return Conflict(detail, errors=errors, taken=resource.name)
    return Conflict(detail, errors=errors)


def refers_unreadable(
    conn: sa.Connection,
    resource: Resource,
    values: Mapping[sa.Column[Any], Any],
    readable: Readable,
) -> bool:
    """After a write, in its transaction: whether the row written (``values``) refers to a
    row the caller may not read. The write is then undone and answered by
    :func:`diagnose_integrity` with ``readable``, exactly as a dangling reference is, so that
    201-vs-409 tells nothing about rows the caller cannot see.

    The referenced rows are locked against change until the write's transaction ends
    (``FOR SHARE``; on SQLite the write lock is held already), so they cannot leave the
    caller's reach between the check and the commit. Only references to tables with a row
    rule are looked at: the database's own foreign keys have checked the others.
    """
    return bool(_missing_references(conn, resource, values, readable, only_guarded=True))


def _missing_references(
    conn: sa.Connection,
    resource: Resource,
    values: Mapping[sa.Column[Any], Any],
    readable: Readable | None,
    *,
    only_guarded: bool = False,
) -> list[list[sa.Column[Any]]]:
    """The referring columns of each foreign key of ``values`` whose referenced row is
    missing, or is not the caller's to read (``readable``); with ``only_guarded``, only
    references to tables with a row rule are looked at (and their rows locked)."""
    missing: list[list[sa.Column[Any]]] = []
    for fk in sorted(
        resource.table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]
    ):
        local = [e.parent for e in fk.elements]
        if not all(c in values and values[c] is not None for c in local):
            continue
        remote = [e.column for e in fk.elements]
        target = remote[0].table
        assert isinstance(target, sa.Table)
        scope = readable(target) if readable is not None else None
        if scope is None and only_guarded:
            continue
        where = sa.and_(*(r == values[lc] for lc, r in zip(local, remote, strict=True)))
        params: dict[str, Any] = {}
        stmt = sa.select(sa.literal(1)).select_from(target).where(where)
        if scope is not None:
            stmt = stmt.where(scope[0])
            params = scope[1]
        if only_guarded:
            stmt = stmt.with_for_update(read=True)
        if conn.execute(stmt.limit(1), params).first() is None:
            missing.append(local)
    return missing


def _pointers(resource: Resource, prefix: str, cols: Sequence[sa.Column[Any]]) -> list[str]:
    """Where columns are in a body. Columns the client cannot see (hidden, or set only by
    hooks) are never named."""
    found = [resource.field_by_column(c) for c in cols]
    return [_pointer(prefix, f.name) for f in found if f is not None]
