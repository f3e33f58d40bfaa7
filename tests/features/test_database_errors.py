"""Database errors get the status they mean (issue 18, items 6 and 8).

Only a database that cannot be reached (or stays locked) is a 503; a schema that does not
match the server's (a missing table, a column renamed under it, a materialized view never
populated) is a 500 whose database message is in the log with the request id; an overflow is
a 400 naming the parameter; a CHECK constraint's refusal is a 422 pointing at the column.

Every database here is built with raw SQL, the way other programs write them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Observability
from tablerest.server import create_app
from tests.databases import fresh_database
from tests.helpers import problem

NULLPOOL = {"poolclass": sa.NullPool}


def _sql(url: str, *statements: str) -> None:
    """Run statements as text through the driver, as any other program would."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def _served_rows(url: str, table: str, column: str) -> list[Any]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        q = engine.dialect.identifier_preparer.quote
        found = [r[0] for r in conn.exec_driver_sql(f"SELECT {q(column)} FROM {q(table)}")]
    engine.dispose()
    return found


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def mariadb_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("mariadb", tmp_path) as url:
        yield url


def _no_internals(resp: Any) -> None:
    text = resp.get_data(as_text=True)
    for leak in ("SELECT", "Traceback", "sqlite3", "no such", "SQLSTATE"):
        assert leak not in text, text


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> str:
    """The tablerest log line that contains every one of ``parts``."""
    lines = [r.getMessage() for r in caplog.records if r.name == "tablerest"]
    matching = [line for line in lines if all(p in line for p in parts)]
    assert matching, lines
    return matching[0]


# -- item 6: schema errors are 500s, logged with the request id -----------------------------


def test_a_missing_table_is_a_500_logged_with_the_request_id_not_a_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The README's code-first way, run without creating the tables first.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}", poolclass=sa.NullPool)
    md = sa.MetaData()
    books = sa.Table(
        "books", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.Text)
    )
    app = Flask("missing")
    Api(app, engine, observability=Observability()).resource(books)
    client = app.test_client()

    with caplog.at_level(logging.WARNING, logger="tablerest"):
        resp = client.get("/api/books", headers={"X-Request-ID": "req-missing-1"})
        written = client.post("/api/books", json={"title": "Dune"})

    body = problem(resp, 500)
    assert "Retry-After" not in resp.headers
    assert body["detail"] == "Internal server error"
    _no_internals(resp)
    assert resp.headers["X-Request-ID"] == "req-missing-1"
    assert "no such table: books" in _logged(caplog, "req-missing-1")
    problem(written, 500)
    _no_internals(written)
    # The database answers: the server is ready, and says so.
    assert client.get("/readyz").status_code == 200


def test_a_column_renamed_under_a_running_server_is_a_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
        conn.execute("INSERT INTO items (label) VALUES ('pen')")
    app = create_app(str(path), engine_options=NULLPOOL, observability=Observability())
    client = app.test_client()
    assert client.get("/api/items").status_code == 200

    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE items RENAME COLUMN label TO name")
    with caplog.at_level(logging.WARNING, logger="tablerest"):
        resp = client.get("/api/items", headers={"X-Request-ID": "req-renamed"})

    problem(resp, 500)
    _no_internals(resp)
    assert "no such column" in _logged(caplog, "req-renamed")
    assert client.get("/readyz").status_code == 200


def test_a_materialized_view_never_populated_is_a_500_not_a_503(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _sql(
        pg_url,
        "CREATE TABLE sales (id serial PRIMARY KEY, amount integer NOT NULL)",
        "INSERT INTO sales (amount) VALUES (3), (4)",
        "CREATE MATERIALIZED VIEW totals AS SELECT sum(amount) AS total FROM sales WITH NO DATA",
    )
    app = create_app(pg_url, engine_options=NULLPOOL, observability=Observability())
    client = app.test_client()

    with caplog.at_level(logging.WARNING, logger="tablerest"):
        resp = client.get("/api/totals", headers={"X-Request-ID": "req-mv"})

    problem(resp, 500)
    assert "Retry-After" not in resp.headers
    _no_internals(resp)
    assert "has not been populated" in _logged(caplog, "req-mv", "55000")
    assert client.get("/readyz").status_code == 200

    _sql(pg_url, "REFRESH MATERIALIZED VIEW totals")
    assert client.get("/api/totals").get_json()["data"] == [{"total": 7}]


def test_an_unknown_column_on_mariadb_is_a_500_not_a_503(
    mariadb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # pymysql reports MariaDB's "Unknown column" (1054) as an OperationalError.
    _sql(
        mariadb_url,
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(20))",
        "INSERT INTO items (label) VALUES ('pen')",
    )
    client = create_app(mariadb_url, engine_options=NULLPOOL).test_client()
    assert client.get("/api/items").status_code == 200
    _sql(mariadb_url, "ALTER TABLE items CHANGE label name VARCHAR(20)")

    with caplog.at_level(logging.WARNING, logger="tablerest"):
        resp = client.get("/api/items")
    problem(resp, 500)
    assert "Unknown column" in _logged(caplog, "1054")


# -- item 6: only an unreachable or locked database is a 503 --------------------------------


def test_a_sqlite_database_locked_past_the_busy_timeout_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    app = create_app(str(path), engine_options={**NULLPOOL, "connect_args": {"timeout": 0.2}})
    client = app.test_client()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        resp = client.post("/api/notes", json={"text": "waiting"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    body = problem(resp, 503)
    assert resp.headers["Retry-After"] == "1"
    assert "busy" in body["detail"]
    assert client.post("/api/notes", json={"text": "later"}).status_code == 201


def test_a_sqlite_file_that_cannot_be_opened_is_a_503(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/gone/dir/db.sqlite")
    md = sa.MetaData()
    notes = sa.Table("notes", md, sa.Column("id", sa.Integer, primary_key=True))
    app = Flask("gone")
    Api(app, engine, observability=Observability()).resource(notes)
    client = app.test_client()
    resp = client.get("/api/notes")
    problem(resp, 503)
    assert resp.headers["Retry-After"].isdigit()
    assert client.get("/readyz").status_code == 503
    engine.dispose()


# -- item 6: overflow is the client's: 400 naming the parameter, 422 on a write -------------


def test_a_sum_overflowing_64_bits_is_a_400_naming_aggregate(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE lines (id INTEGER PRIMARY KEY, kind TEXT, "order" INTEGER)')
        conn.executemany(
            'INSERT INTO lines (kind, "order") VALUES (?, ?)',
            [("a", 9223372036854775807), ("a", 1), ("b", 2)],
        )
    client = create_app(str(path), engine_options=NULLPOOL).test_client()

    resp = client.get("/api/lines?group_by=kind&aggregate=sum(order)")
    body = problem(resp, 400)
    assert body["parameter"] == "aggregate"
    assert "Retry-After" not in resp.headers
    _no_internals(resp)
    ordered = client.get("/api/lines?group_by=kind&aggregate=sum(order)&sort=-sum(order)")
    assert problem(ordered, 400)["parameter"] == "aggregate"
    # An export streams its groups, but reads the first batch before it answers: the
    # database has summed every group by then.
    exported = client.get("/api/lines?group_by=kind&aggregate=sum(order)&format=csv")
    assert problem(exported, 400)["parameter"] == "aggregate"
    # A sum that fits is answered as before.
    fits = client.get("/api/lines?group_by=kind&aggregate=sum(order)&filter[kind]=b")
    assert fits.get_json()["data"] == [{"kind": "b", "sum_order": 2}]


def test_a_value_out_of_range_for_a_mariadb_column_is_a_422(mariadb_url: str) -> None:
    _sql(
        mariadb_url,
        "CREATE TABLE counters (id INT AUTO_INCREMENT PRIMARY KEY, small TINYINT)",
    )
    client = create_app(mariadb_url, engine_options=NULLPOOL).test_client()
    resp = client.post("/api/counters", json={"small": 300})
    problem(resp, 422)
    assert _served_rows(mariadb_url, "counters", "small") == []


# -- item 8: a CHECK constraint's refusal is a 422 pointing at the column -------------------

#: The same table on each backend: a one-column CHECK (a PostgreSQL domain's for ``released``),
#: a named one-column CHECK, a CHECK over two visible columns and one over a hidden column.
_ALBUMS = {
    "sqlite": [
        "CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE,"
        " released INTEGER CHECK (released >= 1901 AND released <= 2155),"
        " price NUMERIC(8, 2) CONSTRAINT price_positive CHECK (price > 0),"
        " starts INTEGER, ends INTEGER, secret INTEGER DEFAULT 5,"
        " CONSTRAINT span CHECK (starts <= ends), CHECK (starts <= secret))",
    ],
    "postgresql": [
        "CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155)",
        "CREATE TABLE albums (id serial PRIMARY KEY, title text NOT NULL UNIQUE, released year,"
        " price numeric(8, 2) CHECK (price > 0),"
        " starts integer, ends integer, secret integer DEFAULT 5,"
        " CONSTRAINT span CHECK (starts <= ends), CHECK (starts <= secret))",
    ],
    "mariadb": [
        "CREATE TABLE albums (id INT AUTO_INCREMENT PRIMARY KEY,"
        " title VARCHAR(50) NOT NULL UNIQUE,"
        " released INT CHECK (released >= 1901 AND released <= 2155), price DECIMAL(8, 2),"
        " starts INT, ends INT, secret INT DEFAULT 5,"
        " CONSTRAINT price_positive CHECK (price > 0),"
        " CONSTRAINT span CHECK (starts <= ends), CHECK (starts <= secret))",
    ],
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_check_constraints_are_422_pointing_at_the_column(db_url: str, backend: str) -> None:
    _sql(db_url, *_ALBUMS[backend])
    app = create_app(db_url, engine_options=NULLPOOL, hidden={"albums": ["secret"]})
    client = app.test_client()

    for field, value in (("released", 1800), ("price", "-1.00")):
        resp = client.post("/api/albums", json={"title": "Kind of Blue", field: value})
        body = problem(resp, 422)
        assert [e["pointer"] for e in body["errors"]] == [f"/{field}"], body
        _no_internals(resp)

    made = client.post("/api/albums", json={"title": "Blue Train", "released": 1957})
    assert made.status_code == 201, made.get_data(as_text=True)
    patched = client.patch(made.headers["Location"], json={"released": 1492})
    assert [e["pointer"] for e in problem(patched, 422)["errors"]] == ["/released"]

    both = client.post("/api/albums", json={"title": "x", "starts": 3, "ends": 1})
    body = problem(both, 422)
    assert "span" in body["detail"], body
    assert "errors" not in body

    # A constraint over a hidden column: refused, without a word about that column.
    hidden = client.post("/api/albums", json={"title": "x", "starts": 9, "ends": 10})
    body = problem(hidden, 422)
    assert "secret" not in hidden.get_data(as_text=True), body
    assert "errors" not in body

    for title in ("Blue Train", "Giant Steps"):  # an upsert changing a row, or making one
        upsert = client.post("/api/albums?on_conflict=title", json={"title": title, "price": 0})
        assert [e["pointer"] for e in problem(upsert, 422)["errors"]] == ["/price"]

    many = client.post("/api/albums", json=[{"title": "a"}, {"title": "b", "released": 1}])
    assert "/released" in problem(many, 422)["detail"]

    # Nothing of the refused writes was stored; the good row is as it was.
    assert _served_rows(db_url, "albums", "released") == [1957]


@pytest.mark.parametrize("orm", [True, False])
def test_a_check_declared_on_a_model_points_at_its_field(tmp_path: Path, orm: bool) -> None:
    class Base(DeclarativeBase):
        pass

    class Product(Base):
        __tablename__ = "products"
        __table_args__ = (sa.CheckConstraint("stock >= 0", name="stock_not_negative"),)
        id: Mapped[int] = mapped_column(primary_key=True)
        in_stock: Mapped[int] = mapped_column("stock")

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:  # the table as the app's migration wrote it
        conn.execute(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL,"
            " CONSTRAINT stock_not_negative CHECK (stock >= 0))"
        )
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    app = Flask("shop")
    Api(app, engine).resource(Product, orm=orm)
    client = app.test_client()

    body = problem(client.post("/api/products", json={"in_stock": -1}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/in_stock"]
    assert "stock_not_negative" in body["errors"][0]["detail"]
    assert _served_rows(f"sqlite:///{path}", "products", "stock") == []


def test_a_check_in_a_nested_row_points_into_the_document(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT)")
        conn.execute(
            "CREATE TABLE lines (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id),"
            " qty INTEGER CHECK (qty > 0))"
        )
    client = create_app(str(path), engine_options=NULLPOOL).test_client()
    resp = client.post("/api/orders", json={"customer": "Ann", "lines": [{"qty": 0}]})
    body = problem(resp, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/lines/0/qty"]
    assert "/lines/0/qty" in body["detail"]
    assert "qty > 0" in body["detail"]
    assert _served_rows(f"sqlite:///{path}", "orders", "customer") == []
