"""Numbers, untyped and BLOB columns in databases other programs wrote (issue 18, items 3, 7,
10 and 16).

Every database here is built with raw SQL through the driver (``CREATE TABLE`` and ``INSERT``
text), the way other programs write them, never through tablerest: decimals stored as REAL on
SQLite, columns without a declared type, BLOBs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest.server import create_app
from tests.databases import BACKENDS


def _raw(url: str, statements: list[str]) -> None:
    """Run SQL text on the driver's own connection, as another program would."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            for statement in statements:
                cursor.execute(statement)
            cursor.close()
            conn.commit()
        finally:
            conn.close()
    finally:
        engine.dispose()


def _sqlite(tmp_path: Path, script: str) -> str:
    """A SQLite file written by the sqlite3 module alone; its URL."""
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(script)
        conn.commit()
    return f"sqlite:///{path}"


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows read back with the sqlite3 module (what is stored, with its storage class)."""
    with contextlib.closing(sqlite3.connect(sa.make_url(url).database or "")) as conn:
        return conn.execute(sql).fetchall()


def _client(url: str) -> FlaskClient:
    return create_app(url, engine_options={"poolclass": sa.NullPool}).test_client()


def _groups(client: FlaskClient, query: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/Invoice?group_by=BillingCountry&{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["data"]  # type: ignore[no-any-return]


# -- item 3: aggregates of decimals stored as floats ------------------------------------------

#: Chinook's invoice totals (0.99 a track): every country but USA spent 37.62, but as floats
#: (SQLite stores NUMERIC(10,2) as REAL) Argentina's and Chile's totals add up to
#: 37.620000000000005 in any order, Brazil's and Denmark's to 37.62.
INVOICES = {
    "Argentina": [3.96, 3.96, 5.94, 5.94, 5.94, 5.94, 5.94],
    "Brazil": [18.81, 18.81],
    "Chile": [3.96, 3.96, 3.96, 3.96, 3.96, 5.94, 5.94, 5.94],
    "Denmark": [37.62],
    "USA": [13.86, 13.86, 13.86],
}
EVEN = ["Argentina", "Brazil", "Chile", "Denmark"]


@pytest.fixture
def invoices(backend: str, db_url: str) -> FlaskClient:
    q = "`" if backend == "mariadb" else '"'
    rows = [(country, total) for country, totals in INVOICES.items() for total in totals]
    _raw(
        db_url,
        [
            f"CREATE TABLE {q}Invoice{q} ({q}InvoiceId{q} INTEGER PRIMARY KEY, "
            f"{q}BillingCountry{q} VARCHAR(40) NOT NULL, {q}Total{q} NUMERIC(10,2) NOT NULL)",
            *(
                f"INSERT INTO {q}Invoice{q} VALUES ({i}, '{country}', {total})"
                for i, (country, total) in enumerate(rows, start=1)
            ),
        ],
    )
    return _client(db_url)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_sums_of_decimals_are_shown_sorted_and_compared_alike(
    invoices: FlaskClient, backend: str, db_url: str
) -> None:
    if backend == "sqlite":  # the data shows the bug: equal totals, different floats
        sums = dict(_query(db_url, "SELECT BillingCountry, SUM(Total) FROM Invoice GROUP BY 1"))
        assert sums["Argentina"] == sums["Chile"] != sums["Brazil"] == sums["Denmark"]
    shown = _groups(invoices, "aggregate=sum(Total),min(Total),max(Total)&sort=-sum(Total)")
    # Ties in the sum are ordered by the country, as the shown values are equal.
    assert [g["BillingCountry"] for g in shown] == ["USA", *EVEN]
    assert [g["sum_Total"] for g in shown] == ["41.58"] + ["37.62"] * 4
    assert [(g["min_Total"], g["max_Total"]) for g in shown][:2] == [
        ("13.86", "13.86"),
        ("3.96", "5.94"),
    ]
    found = _groups(invoices, "aggregate=sum(Total)&having[sum(Total)][eq]=37.62")
    assert [g["BillingCountry"] for g in found] == EVEN
    found = _groups(invoices, "aggregate=sum(Total)&having[sum(Total)][gt]=37.62")
    assert [g["BillingCountry"] for g in found] == ["USA"]
    found = _groups(invoices, "aggregate=sum(Total)&having[sum(Total)][ne]=37.62")
    assert [g["BillingCountry"] for g in found] == ["USA"]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_avg_of_a_decimal_keeps_four_places_more_than_its_scale(invoices: FlaskClient) -> None:
    shown = {g["BillingCountry"]: g["avg_Total"] for g in _groups(invoices, "aggregate=avg(Total)")}
    # 37.62 / 7 = 5.37428571...: six places (the scale, 2, plus 4) on every database.
    assert shown == {
        "Argentina": 5.374286,
        "Brazil": 18.81,
        "Chile": 4.7025,
        "Denmark": 37.62,
        "USA": 13.86,
    }
    found = _groups(invoices, "aggregate=avg(Total)&having[avg(Total)][eq]=5.374286")
    assert [g["BillingCountry"] for g in found] == ["Argentina"]
    ordered = _groups(invoices, "aggregate=avg(Total)&sort=avg(Total)")
    assert [g["BillingCountry"] for g in ordered] == [
        "Chile",
        "Argentina",
        "USA",
        "Brazil",
        "Denmark",
    ]


# -- item 16: decimals without a scale ---------------------------------------------------------


def test_sqlite_decimals_without_a_scale_read_as_the_shortest_stored_value(
    tmp_path: Path,
) -> None:
    url = _sqlite(
        tmp_path,
        """
        CREATE TABLE products (id INTEGER PRIMARY KEY, price NUMERIC, weight DECIMAL(8,3));
        INSERT INTO products VALUES (1, 9.99, 1.5);
        INSERT INTO products VALUES (2, 10, 2);
        INSERT INTO products VALUES (3, 0.1 + 0.2, 0.1 + 0.2);
        """,
    )
    client = _client(url)
    rows = client.get("/api/products").get_json()["data"]
    # The stored floats as the shortest decimals that are them: no invented digits, and no
    # rounding that the column's declaration does not ask for; a scale still gives its places.
    assert [(r["price"], r["weight"]) for r in rows] == [
        ("9.99", "1.500"),
        ("10", "2.000"),
        ("0.30000000000000004", "0.300"),
    ]
    assert client.get("/api/products/1").get_json()["price"] == "9.99"
    assert client.get("/api/products?filter[price]=9.99").get_json()["data"] == [rows[0]]
    # A row read can be written back unchanged.
    put = client.put("/api/products/1", json=rows[0])
    assert put.status_code == 200, put.get_data(as_text=True)
    assert put.get_json() == rows[0]
    created = client.post("/api/products", json={"price": "12.5"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["price"] == "12.5"
    agg = client.get("/api/products?aggregate=max(price),sum(price)").get_json()["data"]
    assert agg[0]["max_price"] == "12.5"
    assert _query(url, "SELECT price, typeof(price) FROM products WHERE id IN (1, 4)") == [
        (9.99, "real"),
        (12.5, "real"),
    ]


# -- item 16: integers sent as 5.0 -------------------------------------------------------------


@pytest.fixture
def shelves(tmp_path: Path) -> str:
    return _sqlite(
        tmp_path,
        """
        CREATE TABLE shelves (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            shelf_id INTEGER REFERENCES shelves (id),
            "order" INTEGER,
            label TEXT UNIQUE
        );
        INSERT INTO shelves VALUES (1, 'top');
        INSERT INTO items VALUES (1, 1, 1, 'a');
        """,
    )


JSONAPI = "application/vnd.api+json"


def _five_point_zero(client: FlaskClient) -> Iterator[tuple[str, Any, str]]:
    """Every write path with ``"order": 5.0``, and where the error must point."""
    bad = {"order": 5.0}
    yield "POST", client.post("/api/items", json=bad), "/order"
    yield "POST array", client.post("/api/items", json=[{"order": 1}, bad]), "/1/order"
    put = {"shelf_id": 1, "order": 5.0, "label": "a"}
    yield "PUT", client.put("/api/items/1", json=put), "/order"
    yield "PATCH", client.patch("/api/items/1", json=bad), "/order"
    bulk = [{"id": 1, "order": 5.0}]
    yield "bulk PATCH", client.patch("/api/items", json=bulk), "/0/order"
    upsert = {"label": "a", "order": 5.0}
    yield "upsert", client.post("/api/items?on_conflict=label", json=upsert), "/order"
    batch = {"operations": [{"op": "update", "resource": "items", "key": 1, "data": bad}]}
    yield "batch", client.post("/api/batch", json=batch), "/operations/0/data/order"
    nested = {"name": "new", "items": [{"label": "n", "order": 5.0}]}
    yield "nested", client.post("/api/shelves", json=nested), "/items/0/order"
    doc = {"data": {"type": "items", "attributes": bad}}
    resp = client.post("/api/items", json=doc, content_type=JSONAPI, headers={"Accept": JSONAPI})
    yield "JSON:API POST", resp, "/data/attributes/order"
    doc = {"data": {"type": "items", "id": "1", "attributes": bad}}
    resp = client.patch("/api/items/1", json=doc, content_type=JSONAPI, headers={"Accept": JSONAPI})
    yield "JSON:API PATCH", resp, "/data/attributes/order"


def test_an_integer_column_refuses_5_0_on_every_json_write_path(shelves: str) -> None:
    client = _client(shelves)
    for path, resp, pointer in _five_point_zero(client):
        assert resp.status_code == 422, (path, resp.get_data(as_text=True))
        errors = resp.get_json()["errors"]
        found = [e.get("pointer") or e.get("source", {}).get("pointer") for e in errors]
        assert found == [pointer], (path, errors)
    assert _query(shelves, "SELECT * FROM items") == [(1, 1, 1, "a")]
    assert _query(shelves, "SELECT count(*) FROM shelves") == [(1,)]
    # An integer is taken; a form's text is read as forms are (laxly).
    assert client.patch("/api/items/1", json={"order": 5}).status_code == 200
    assert client.patch("/api/items/1", data={"order": "6"}).get_json()["order"] == 6
    assert _query(shelves, 'SELECT "order", typeof("order") FROM items') == [(6, "integer")]
