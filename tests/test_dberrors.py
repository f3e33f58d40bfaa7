"""The database error -> status table (``tablerest.execute.dberrors`` and ``store.translate``), for
the codes a feature test cannot easily provoke: each row built from the driver's own
exception class carrying the code the server sends."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg.errors
import pymysql.err
import pytest
from sqlalchemy import exc as sa_exc

from tablerest.errors import Conflict, OutOfRange, ServiceUnavailable, ValidationFailed
from tablerest.execute.dberrors import Failure, classify, constraint_name
from tablerest.execute.store import translate


def _wrap(orig: BaseException) -> sa_exc.DBAPIError:
    """What SQLAlchemy raises for ``orig``: the DB-API class picks the wrapper."""
    wrapped = sa_exc.DBAPIError.instance("SELECT 1", {}, orig, Exception)
    assert isinstance(wrapped, sa_exc.DBAPIError)
    return wrapped


def _sqlite_error(*statements: str) -> sqlite3.Error:
    conn = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            conn.execute(statement)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("orig", "kind"),
    [
        (psycopg.errors.SerializationFailure("could not serialize"), Failure.CONFLICT),
        (psycopg.errors.DeadlockDetected("deadlock detected"), Failure.CONFLICT),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), Failure.BUSY),
        (psycopg.errors.QueryCanceled("statement timeout"), Failure.BUSY),
        (psycopg.errors.AdminShutdown("terminating connection"), Failure.UNREACHABLE),
        (psycopg.errors.TooManyConnections("too many clients"), Failure.UNREACHABLE),
        (psycopg.OperationalError("connection refused"), Failure.UNREACHABLE),  # no SQLSTATE
        (psycopg.errors.ObjectNotInPrerequisiteState("not populated"), Failure.SERVER),
        (psycopg.errors.UndefinedTable('relation "x" does not exist'), Failure.SERVER),
        (psycopg.errors.NumericValueOutOfRange("integer out of range"), Failure.OVERFLOW),
        (psycopg.errors.CheckViolation("violates check constraint"), Failure.CHECK),
        (psycopg.errors.UniqueViolation("duplicate key"), Failure.CONFLICT),
        (psycopg.errors.InvalidTextRepresentation("invalid input"), Failure.VALUE),
        (pymysql.err.OperationalError(2013, "Lost connection"), Failure.UNREACHABLE),
        (pymysql.err.OperationalError(2003, "Can't connect"), Failure.UNREACHABLE),
        (pymysql.err.OperationalError(1205, "Lock wait timeout"), Failure.BUSY),
        (pymysql.err.OperationalError(1969, "max_statement_time exceeded"), Failure.BUSY),
        (pymysql.err.OperationalError(1213, "Deadlock found"), Failure.CONFLICT),
        (pymysql.err.OperationalError(1054, "Unknown column 'x'"), Failure.SERVER),
        (pymysql.err.OperationalError(1690, "BIGINT value is out of range"), Failure.OVERFLOW),
        (pymysql.err.OperationalError(4025, "CONSTRAINT `t.a` failed for `d`.`t`"), Failure.CHECK),
        (pymysql.err.ProgrammingError(1146, "Table 'd.x' doesn't exist"), Failure.SERVER),
        (_sqlite_error("SELECT * FROM nowhere"), Failure.SERVER),
        (_sqlite_error("SELECT abs(-9223372036854775807 - 1)"), Failure.OVERFLOW),
        (
            _sqlite_error("CREATE TABLE t (a INT CHECK (a > 0))", "INSERT INTO t VALUES (0)"),
            Failure.CHECK,
        ),
        (
            _sqlite_error("CREATE TABLE t (a INT UNIQUE)", "INSERT INTO t VALUES (1), (1)"),
            Failure.CONFLICT,
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_driver_error_is_sorted_by_its_code(orig: Any, kind: Failure) -> None:
    assert classify(_wrap(orig)) is kind


def test_sqlite_locked_and_unopenable_files_are_503(tmp_path: Any) -> None:
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (a INT)")
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0.05)
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            waiter.execute("INSERT INTO t VALUES (1)")
    finally:
        waiter.close()
        holder.close()
    busy = translate(_wrap(locked.value))
    assert isinstance(busy, ServiceUnavailable)
    assert busy.headers == {"Retry-After": "1"}
    with pytest.raises(sqlite3.OperationalError) as unopenable:
        sqlite3.connect(tmp_path / "no" / "such" / "dir.db")
    assert isinstance(translate(_wrap(unopenable.value)), ServiceUnavailable)


def test_statuses_of_the_kinds_that_are_the_clients() -> None:
    overflow = _wrap(psycopg.errors.NumericValueOutOfRange("bigint out of range"))
    read = translate(overflow, reading=True, blame="aggregate")
    assert isinstance(read, OutOfRange)
    assert (read.status, read.parameter) == (400, "aggregate")
    assert isinstance(translate(overflow), ValidationFailed)
    bad_value = _wrap(psycopg.errors.InvalidTextRepresentation("invalid input syntax"))
    assert translate(bad_value, reading=True).status == 400
    assert translate(bad_value).status == 422
    serialization = translate(_wrap(psycopg.errors.SerializationFailure("x")))
    assert isinstance(serialization, Conflict)


def test_the_constraint_is_named_from_each_drivers_report() -> None:
    mariadb = _wrap(pymysql.err.OperationalError(4025, "CONSTRAINT `span` failed for `d`.`t`"))
    assert constraint_name(mariadb) == "span"
    sqlite = _sqlite_error(
        "CREATE TABLE t (a INT, CONSTRAINT positive CHECK (a > 0))", "INSERT INTO t VALUES (0)"
    )
    assert constraint_name(_wrap(sqlite)) == "positive"
    unnamed = _sqlite_error("CREATE TABLE t (a INT CHECK (a > 0))", "INSERT INTO t VALUES (0)")
    assert constraint_name(_wrap(unnamed)) == "a > 0"
