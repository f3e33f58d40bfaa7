"""What a failed statement means to a client: the one table from database errors to HTTP.

A driver error is sorted into a :class:`Failure` by the codes the drivers give, never by
their prose where a code exists: PostgreSQL's SQLSTATE (psycopg ``diag.sqlstate``), MariaDB's
error number (pymysql's ``args[0]``), SQLite's result code name (``sqlite_errorname``).
:func:`classify` does the sorting; ``store.translate`` turns the kind into the response.

============  ======  ==============================================================
kind          status  from
============  ======  ==============================================================
unreachable   503     no connection (refused, lost, server shutting down, pool
                      exhausted); SQLite ``CANTOPEN``, ``IOERR``, ``FULL``
busy          503     a lock not granted in time: SQLite ``BUSY``/``LOCKED`` after the
                      busy timeout, PostgreSQL 55P03, MariaDB 1205: the request was
                      right and the same request succeeds once the other writer is
                      done, which is what 503 + ``Retry-After`` tells a client; also a
                      statement stopped by the database's own time limit (57014,
                      MariaDB 1969), as a connection that does not answer in time is
conflict      409     unique and foreign keys (diagnosed per field by the store),
                      serialization failures and deadlocks (40001, 40P01, MariaDB 1213)
check         422     a CHECK constraint or a domain's CHECK (23514, MariaDB 4025,
                      SQLite ``CONSTRAINT_CHECK``): the value written is not allowed
overflow      400     arithmetic out of range (22003, MariaDB 1264/1690, SQLite
                      "integer overflow"): 400 naming the parameter on a read, 422 on
                      a write
value         422     any other data exception (class 22) on a write
server        500     everything else: a missing table or column (the schema changed
                      under a running server), a materialized view never populated
                      (55000: only ``REFRESH MATERIALIZED VIEW`` on the server can fix
                      it, so it is neither the client's fault nor worth retrying),
                      a read-only or corrupt SQLite file. The database's message goes
                      to the log with the request id; the response says nothing of it
============  ======  ==============================================================

SQLite gives one code (``SQLITE_ERROR``) for both a missing table and an overflow: there,
and only there, the message tells them apart.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from typing import Any

from sqlalchemy import exc as sa_exc

__all__ = [
    "Failure",
    "classify",
    "constraint_name",
    "database_message",
    "domain_name",
    "request_ids",
]

#: The current request's id (``X-Request-ID``), set by the observability hooks, so that the
#: log line of a database error can be matched with the request's access log line.
request_ids: ContextVar[str | None] = ContextVar("tablerest_request_id", default=None)


class Failure(enum.Enum):
    """What a database error means for the request that met it."""

    UNREACHABLE = "unreachable"
    BUSY = "busy"
    CONFLICT = "conflict"
    CHECK = "check"
    OVERFLOW = "overflow"
    VALUE = "value"
    SERVER = "server"


#: PostgreSQL SQLSTATE, whole code first, then its two-character class.
_POSTGRESQL: dict[str, Failure] = {
    "08": Failure.UNREACHABLE,  # connection exception
    "53": Failure.UNREACHABLE,  # insufficient resources (too many connections, disk full)
    "57P01": Failure.UNREACHABLE,  # admin shutdown
    "57P02": Failure.UNREACHABLE,  # crash shutdown
    "57P03": Failure.UNREACHABLE,  # cannot connect now (starting up)
    "55P03": Failure.BUSY,  # lock not available
    "57014": Failure.BUSY,  # query canceled: statement_timeout (serve's advice for hung queries)
    "40001": Failure.CONFLICT,  # serialization failure
    "40P01": Failure.CONFLICT,  # deadlock detected
    "23514": Failure.CHECK,  # check violation (tables and domains)
    "23": Failure.CONFLICT,  # other integrity constraints: unique, foreign key, not null
    "22003": Failure.OVERFLOW,  # numeric value out of range
    "22": Failure.VALUE,  # other data exceptions
}

#: MariaDB / MySQL error numbers (server errors and the client library's 2xxx).
_MYSQL: dict[int, Failure] = {
    1040: Failure.UNREACHABLE,  # too many connections
    1053: Failure.UNREACHABLE,  # server shutdown in progress
    1927: Failure.UNREACHABLE,  # connection was killed
    2002: Failure.UNREACHABLE,  # can't connect through socket
    2003: Failure.UNREACHABLE,  # can't connect to server
    2006: Failure.UNREACHABLE,  # server has gone away
    2013: Failure.UNREACHABLE,  # lost connection during query
    2055: Failure.UNREACHABLE,  # lost connection (system error)
    1205: Failure.BUSY,  # lock wait timeout
    1969: Failure.BUSY,  # query interrupted: max_statement_time exceeded
    1213: Failure.CONFLICT,  # deadlock
    4025: Failure.CHECK,  # CONSTRAINT `x` failed
    1264: Failure.OVERFLOW,  # out of range value for column
    1690: Failure.OVERFLOW,  # value is out of range in an expression
}

#: SQLite primary result codes (the part before an extended code's suffix).
_SQLITE: dict[str, Failure] = {
    "SQLITE_CANTOPEN": Failure.UNREACHABLE,
    "SQLITE_IOERR": Failure.UNREACHABLE,
    "SQLITE_FULL": Failure.UNREACHABLE,
    "SQLITE_BUSY": Failure.BUSY,
    "SQLITE_LOCKED": Failure.BUSY,
    "SQLITE_CONSTRAINT_CHECK": Failure.CHECK,
    "SQLITE_CONSTRAINT": Failure.CONFLICT,
}


def classify(exc: sa_exc.SQLAlchemyError) -> Failure:
    """The kind of failure ``exc`` is (see the module's table)."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return Failure.UNREACHABLE
    if not isinstance(exc, sa_exc.DBAPIError):
        return Failure.CONFLICT if isinstance(exc, sa_exc.IntegrityError) else Failure.SERVER
    if exc.connection_invalidated:  # SQLAlchemy saw the connection drop
        return Failure.UNREACHABLE
    orig: Any = exc.orig
    by_code = _by_code(orig)
    if by_code is not None:
        return by_code
    if isinstance(exc, sa_exc.IntegrityError):
        return Failure.CONFLICT
    if isinstance(exc, sa_exc.InterfaceError):  # the driver's connection object is unusable
        return Failure.UNREACHABLE
    if isinstance(exc, sa_exc.OperationalError) and _no_server_code(orig):
        # psycopg reports a failed connect without a SQLSTATE: no server answered.
        return Failure.UNREACHABLE
    if isinstance(exc, sa_exc.DataError):
        return Failure.VALUE
    return Failure.SERVER


def _by_code(orig: Any) -> Failure | None:
    sqlstate = getattr(orig, "sqlstate", None)
    module = type(orig).__module__
    if module.startswith("psycopg"):
        if not sqlstate:
            return None
        return _POSTGRESQL.get(sqlstate) or _POSTGRESQL.get(sqlstate[:2])
    if module.startswith(("pymysql", "MySQLdb", "mysql")):
        args = getattr(orig, "args", ())
        number = args[0] if args and isinstance(args[0], int) else None
        if number is None:
            return None
        if 2000 <= number < 3000 and number not in _MYSQL:
            return Failure.UNREACHABLE  # the client library's own errors: the connection
        return _MYSQL.get(number)
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        found = _SQLITE.get(name) or _SQLITE.get(_primary(name))
        if found is not None:
            return found
        if name == "SQLITE_ERROR" and "integer overflow" in str(orig):
            return Failure.OVERFLOW  # SQLITE_ERROR is all SQLite says: see the docstring
    return None


def _primary(name: str) -> str:
    """``SQLITE_IOERR_READ`` -> ``SQLITE_IOERR`` (an extended code's primary code)."""
    parts = name.split("_")
    return "_".join(parts[:2])


def _no_server_code(orig: Any) -> bool:
    return type(orig).__module__.startswith("psycopg") and not getattr(orig, "sqlstate", None)


def database_message(exc: sa_exc.SQLAlchemyError) -> str:
    """The database's own message for ``exc``, without the statement or its parameters
    (which can hold what clients sent), on one line."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc.__class__.__name__)
    code = _code_text(orig)
    first = " ".join(text.split())
    return f"{code} {first}" if code else first


def _code_text(orig: Any) -> str:
    if orig is None:
        return ""
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate and type(orig).__module__.startswith("psycopg"):
        return f"[SQLSTATE {sqlstate}]"
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return f"[{name}]"
    return ""


def constraint_name(exc: sa_exc.SQLAlchemyError) -> str | None:
    """The name of the constraint a CHECK failure names: PostgreSQL's ``constraint_name``
    diagnostic; for MariaDB and SQLite, which have no such field, their fixed message
    format (``CONSTRAINT `name` failed for ...``, ``CHECK constraint failed: name``)."""
    orig: Any = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    if diag is not None:
        name = diag.constraint_name
        return str(name) if name else None
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if len(args) > 1 and args[0] == 4025:  # MariaDB: CONSTRAINT `name` failed for `db`.`t`
        message = str(args[1])
        start, end = message.find("`"), message.find("` failed")
        return message[start + 1 : end] if 0 <= start < end else None
    marker = "CHECK constraint failed: "  # SQLite: the name, or the expression if unnamed
    text = str(orig)
    if marker in text:
        return text.split(marker, 1)[1].strip()
    return None


def domain_name(exc: sa_exc.SQLAlchemyError) -> str | None:
    """For a PostgreSQL domain's CHECK failure, the domain's name (``diag.datatype_name``)."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    if diag is None or diag.table_name:
        return None
    name = diag.datatype_name
    return str(name) if name else None
