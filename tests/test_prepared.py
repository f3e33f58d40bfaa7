"""prepared: the direct DBAPI path and its fallbacks give what Connection.execute gives."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tablerest.execute.prepared import Direct, Prepared, direct, execute, fetch_all
from tablerest.execute.store import Database

META = sa.MetaData()
THINGS = sa.Table(
    "things",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("price", sa.Numeric(8, 2)),
    sa.Column("seen", sa.DateTime),
    sa.Column("token", sa.Uuid, default=uuid.uuid4),
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    META.create_all(eng)
    with eng.begin() as conn:
        conn.execute(
            THINGS.insert(),
            [
                {"name": "a", "price": decimal.Decimal("1.50"), "seen": dt.datetime(2024, 1, 2)},
                {"name": "b", "price": None, "seen": None},
            ],
        )
    yield eng
    eng.dispose()


def _direct(engine: sa.Engine) -> Direct:
    return Direct(engine, engine.raw_connection())


def test_direct_rows_are_converted_like_sqlalchemy_does(engine: sa.Engine) -> None:
    stmt = sa.select(THINGS.c.name, THINGS.c.price, THINGS.c.seen).where(
        THINGS.c.id == sa.bindparam("k0", type_=sa.Integer)
    )
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(stmt, {"k0": 1})]
    runner = _direct(engine)
    try:
        got = [tuple(r) for r in fetch_all(runner, Prepared(stmt), {"k0": 1})]
    finally:
        runner.pooled.close()
    # SQLite stores both as text and numbers: the types' result processors turn them back.
    assert got == expected == [("a", decimal.Decimal("1.50"), dt.datetime(2024, 1, 2))]


def test_bind_values_are_processed_by_their_types(engine: sa.Engine) -> None:
    stmt = sa.select(THINGS.c.name).where(THINGS.c.seen == sa.bindparam("when", type_=sa.DateTime))
    runner = _direct(engine)
    try:
        rows = fetch_all(runner, Prepared(stmt), {"when": dt.datetime(2024, 1, 2)})
    finally:
        runner.pooled.close()
    assert [r[0] for r in rows] == ["a"]


def test_statements_that_need_sqlalchemy_fall_back(engine: sa.Engine) -> None:
    # An expanding IN is rendered at execution time: Prepared cannot run it directly.
    expanding = sa.select(THINGS.c.name).where(THINGS.c.id.in_(sa.bindparam("ids", expanding=True)))
    prepared = Prepared(expanding)
    assert not prepared.compiled(engine.dialect).usable
    runner = _direct(engine)
    try:
        assert sorted(r[0] for r in fetch_all(runner, prepared, {"ids": [1, 2]})) == ["a", "b"]
    finally:
        runner.pooled.close()

    # A Python-side default (uuid4) must be computed per row by SQLAlchemy.
    insert = THINGS.insert().values(name=sa.bindparam("n", type_=sa.String))
    prepared = Prepared(insert)
    assert not prepared.compiled(engine.dialect).usable
    with engine.begin() as conn:
        assert execute(conn, prepared, {"n": "c"}) == 1
        token = conn.execute(sa.select(THINGS.c.token).where(THINGS.c.name == "c")).scalar()
    assert isinstance(token, uuid.UUID)


def test_listeners_and_echo_switch_the_direct_path_off(engine: sa.Engine) -> None:
    assert direct(engine)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert not direct(engine)
        stmt = sa.select(THINGS.c.name).where(THINGS.c.id == sa.bindparam("k0"))
        with engine.connect() as conn:
            assert [r[0] for r in fetch_all(conn, Prepared(stmt), {"k0": 2})] == ["b"]
        assert len(seen) == 1  # the statement went through Connection.execute
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    engine.echo = True
    assert not direct(engine)


def test_database_errors_come_out_as_sqlalchemy_errors(engine: sa.Engine) -> None:
    stmt = THINGS.insert().values(
        id=sa.bindparam("i", type_=sa.Integer), token=sa.bindparam("t", type_=sa.Uuid)
    )
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        execute(conn, Prepared(stmt), {"i": 1, "t": uuid.uuid4()})


def _insert() -> Prepared:
    # Every column given, so no Python-side default: the statement can run directly.
    return Prepared(
        THINGS.insert().values(
            name=sa.bindparam("n", type_=sa.String),
            token=sa.bindparam("t", type_=sa.Uuid),
        )
    )


def _names(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(THINGS.c.name)).scalars())


@pytest.mark.parametrize("statements", [1, 2])
def test_store_writes_directly_commit_and_roll_back(engine: sa.Engine, statements: int) -> None:
    db = Database(engine)
    plan = _insert()
    with db.transaction(statements=statements, plans=(plan,)) as runner:
        assert isinstance(runner, Direct)
        assert execute(runner, plan, {"n": "c", "t": uuid.uuid4()}) == 1
    assert _names(engine) == ["a", "b", "c"]

    def fails_after_one_insert() -> None:
        with db.transaction(statements=2, plans=(plan,)) as runner:
            execute(runner, plan, {"n": "d", "t": uuid.uuid4()})
            raise RuntimeError("a later step fails")

    with pytest.raises(RuntimeError, match="a later step"):
        fails_after_one_insert()
    assert _names(engine) == ["a", "b", "c"]  # the first statement was rolled back

    # The connection goes back to the pool as it came: legacy transactions, foreign keys on.
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.isolation_level == ""  # type: ignore[attr-defined]


def test_store_uses_a_connection_when_a_plan_needs_sqlalchemy(engine: sa.Engine) -> None:
    db = Database(engine)
    needs_default = Prepared(THINGS.insert().values(name=sa.bindparam("n", type_=sa.String)))
    with db.transaction(statements=1, plans=(_insert(), needs_default)) as runner:
        assert isinstance(runner, sa.Connection)
        execute(runner, needs_default, {"n": "e"})
    with db.transaction(statements=1) as runner:  # plans unknown: a Connection too
        assert isinstance(runner, sa.Connection)
    assert _names(engine) == ["a", "b", "e"]


def test_direct_writes_fail_loudly_on_a_statement_they_cannot_run(engine: sa.Engine) -> None:
    db = Database(engine)
    plan = _insert()
    needs_default = Prepared(THINGS.insert().values(name=sa.bindparam("n", type_=sa.String)))

    def run_it() -> None:
        with db.transaction(plans=(plan,)) as runner:
            execute(runner, needs_default, {"n": "f"})

    with pytest.raises(RuntimeError, match=r"needs Connection\.execute"):
        run_it()
    assert _names(engine) == ["a", "b"]
