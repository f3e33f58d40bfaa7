"""Numbers, untyped and BLOB columns in databases other programs wrote (issue 18, items 3, 7,
10 and 16).

Every database here is built with raw SQL through the driver (``CREATE TABLE`` and ``INSERT``
text), the way other programs write them, never through tablerest: decimals stored as REAL on
SQLite, columns without a declared type, BLOBs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tablerest import ChangeFeed
from tablerest.columns.untyped import (
    Untyped,
    loose_condition,
    loose_matches,
    loose_params,
    loose_value,
)
from tablerest.server import create_app
from tests.databases import BACKENDS
from tests.helpers import problem


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


def _client(url: str, lean: bool = True) -> FlaskClient:
    """A client of the app ``tablerest serve`` runs: the lean path, or Flask's."""
    app = create_app(url, engine_options={"poolclass": sa.NullPool}, lean=lean)
    return app.test_client()


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
        INSERT INTO products VALUES (4, 1e20, NULL);
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
        ("100000000000000000000", None),  # a float too big for an integer, written out
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
    assert agg[0]["max_price"] == "100000000000000000000"
    assert _query(url, "SELECT price, typeof(price) FROM products WHERE id IN (1, 5)") == [
        (9.99, "real"),
        (12.5, "real"),
    ]


# -- item 16 (and issue 21 item 4): integers sent as 5.0 and 5.5 --------------------------------


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


def _every_write_path(client: FlaskClient, order: float) -> Iterator[tuple[str, Any, str]]:
    """Every JSON write path with ``"order": order``, and where an error must point."""
    bad = {"order": order}
    yield "POST", client.post("/api/items", json=bad), "/order"
    yield "POST array", client.post("/api/items", json=[{"order": 1}, bad]), "/1/order"
    put = {"shelf_id": 1, "order": order, "label": "a"}
    yield "PUT", client.put("/api/items/1", json=put), "/order"
    yield "PATCH", client.patch("/api/items/1", json=bad), "/order"
    bulk = [{"id": 1, "order": order}]
    yield "bulk PATCH", client.patch("/api/items", json=bulk), "/0/order"
    upsert = {"label": "a", "order": order}
    yield "upsert", client.post("/api/items?on_conflict=label", json=upsert), "/order"
    batch = {"operations": [{"op": "update", "resource": "items", "key": 1, "data": bad}]}
    yield "batch", client.post("/api/batch", json=batch), "/operations/0/data/order"
    nested = {"name": "new", "items": [{"label": "n", "order": order}]}
    yield "nested", client.post("/api/shelves", json=nested), "/items/0/order"
    doc = {"data": {"type": "items", "attributes": bad}}
    resp = client.post("/api/items", json=doc, content_type=JSONAPI, headers={"Accept": JSONAPI})
    yield "JSON:API POST", resp, "/data/attributes/order"
    doc = {"data": {"type": "items", "id": "1", "attributes": bad}}
    resp = client.patch("/api/items/1", json=doc, content_type=JSONAPI, headers={"Accept": JSONAPI})
    yield "JSON:API PATCH", resp, "/data/attributes/order"


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "flask"])
def test_an_integer_column_refuses_5_5_on_every_json_write_path(shelves: str, lean: bool) -> None:
    client = _client(shelves, lean)
    for path, resp, pointer in _every_write_path(client, 5.5):
        assert resp.status_code == 422, (path, resp.get_data(as_text=True))
        errors = resp.get_json()["errors"]
        found = [e.get("pointer") or e.get("source", {}).get("pointer") for e in errors]
        assert found == [pointer], (path, errors)
        assert "valid integer" in errors[0]["detail"], (path, errors)
    # Too large for a float to be exact: 2**53 + 2 may have been written 2**53 + 1.
    resp = client.patch("/api/items/1", json={"order": float(2**53 + 2)})
    assert "not exact" in problem(resp, 422)["errors"][0]["detail"]
    assert _query(shelves, "SELECT * FROM items") == [(1, 1, 1, "a")]
    assert _query(shelves, "SELECT count(*) FROM shelves") == [(1,)]


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "flask"])
def test_an_integer_column_takes_5_0_as_5_on_every_json_write_path(
    shelves: str, lean: bool
) -> None:
    """JSON Schema counts 5.0 as an integer, so does every tool generating from the OpenAPI
    document (schemathesis sends ``653318531.0``), and JavaScript cannot tell the two apart."""
    client = _client(shelves, lean)
    for path, resp, _pointer in _every_write_path(client, 5.0):
        assert resp.status_code in (200, 201), (path, resp.get_data(as_text=True))
    # Stored as integers, never as REAL: each write path above wrote 5 (the array's first
    # item is 1): four new rows, and item 1 changed by each update path.
    assert _query(shelves, 'SELECT "order", typeof("order"), count(*) FROM items GROUP BY 1') == [
        (1, "integer", 1),
        (5, "integer", 5),
    ]
    # A batch's key too: 1.0 is row 1 (as text, "1.0", it would name no row).
    batch = {
        "operations": [{"op": "update", "resource": "items", "key": 1.0, "data": {"order": 4}}]
    }
    assert client.post("/api/batch", json=batch).status_code == 200
    assert _query(shelves, 'SELECT "order" FROM items WHERE id = 1') == [(4,)]
    assert client.patch("/api/items/1", json={"order": float(2**53)}).status_code == 200
    assert _query(shelves, 'SELECT "order" FROM items WHERE id = 1') == [(2**53,)]
    # A form's text is read as forms are (laxly).
    assert client.patch("/api/items/1", data={"order": "6.0"}).get_json()["order"] == 6
    assert _query(shelves, 'SELECT "order", typeof("order") FROM items WHERE id = 1') == [
        (6, "integer")
    ]


# -- item 7: untyped columns, big integers, filters on BLOBs ------------------------------------


@pytest.fixture
def things(tmp_path: Path) -> str:
    return _sqlite(
        tmp_path,
        """
        CREATE TABLE things (id INTEGER PRIMARY KEY, anything, payload BLOB, n INTEGER,
                             label TEXT);
        INSERT INTO things VALUES (1, 'text', X'00FF10', 1, 'one');
        INSERT INTO things VALUES (2, 7, X'FBEF', 2, 'two');
        """,
    )


BEFORE = [(1, "text", b"\x00\xff\x10", 1, "one"), (2, 7, b"\xfb\xef", 2, "two")]


def test_an_untyped_column_takes_json_scalars_and_refuses_objects(things: str) -> None:
    client = _client(things)
    refused = [
        ({"anything": {"a": 1}}, "/anything", "a string, a number or a boolean"),
        ({"anything": [1, 2]}, "/anything", "a string, a number or a boolean"),
        ({"anything": 2**64}, "/anything", "within 64 bits"),
        ({"anything": -(2**63) - 1}, "/anything", "within 64 bits"),
        ({"n": 2**63}, "/n", "9223372036854775807"),  # a typed INTEGER: 64 bits on SQLite
    ]
    for body, pointer, why in refused:
        for resp in (
            client.post("/api/things", json=body),
            client.patch("/api/things/1", json=body),
            client.post("/api/things", json=[{"label": "x"}, body]),
        ):
            errors = problem(resp, 422)["errors"]
            assert [e["pointer"].rsplit("/", 1)[-1] for e in errors] == [pointer[1:]], errors
            assert why in errors[0]["detail"]
    batch = {"operations": [{"op": "create", "resource": "things", "data": {"anything": [1]}}]}
    errors = problem(client.post("/api/batch", json=batch), 422)["errors"]
    assert errors[0]["pointer"] == "/operations/0/data/anything"
    assert _query(things, "SELECT * FROM things") == BEFORE

    stored = []
    for value in ("x", 42, 2**63 - 1, -(2**63), 4.5, True, None):
        resp = client.post("/api/things", json={"anything": value})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        stored.append(resp.get_json()["anything"])
    # As SQLite holds them: a boolean is the integer 1.
    assert stored == ["x", 42, 2**63 - 1, -(2**63), 4.5, 1, None]
    assert _query(things, "SELECT typeof(anything) FROM things WHERE id > 2 ORDER BY id") == [
        ("text",),
        ("integer",),
        ("integer",),
        ("integer",),
        ("real",),
        ("integer",),
        ("null",),
    ]


def test_a_blob_filter_takes_the_base64_it_is_shown_in(things: str) -> None:
    client = _client(things)
    shown = client.get("/api/things/1").get_json()["payload"]
    assert shown == "AP8Q"

    def ids(query: str) -> list[int]:
        resp = client.get(f"/api/things?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["id"] for r in resp.get_json()["data"]]

    assert ids("filter[payload]=AP8Q") == [1]
    assert ids("filter[payload][ne]=AP8Q") == [2]
    assert ids("filter[payload][in]=AAAA,AP8Q") == [1]
    assert ids("filter[payload]=%2B%2B8%3D") == [2]  # "++8=": b"\xfb\xef"
    assert ids("filter[payload][null]=false") == [1, 2]
    assert ids("filter[payload]=AP8") == []  # b"\x00\xff" (padding is optional)
    assert ids("filter[payload]=--8") == [2]  # the URL-safe alphabet, as JSON bodies take it
    for raw in ("AP8Q!", "not base64", "++8=", "A", "%C3%A9AAA"):
        body = problem(client.get(f"/api/things?filter[payload]={raw}"), 400)
        assert body["parameter"] == "filter[payload]"
        assert "base64" in body["detail"]
    body = problem(client.get("/api/things?filter[payload]=++8="), 400)
    assert "%2B" in body["detail"]  # a bare + in a query string is a space
    body = problem(client.get("/api/things?filter[payload][in]=AP8Q,AP8Q!"), 400)
    assert body["parameter"] == "filter[payload][in]"
    problem(client.get("/api/things?filter[payload][contains]=AP8Q"), 400)


# -- item 10: files in multipart forms -----------------------------------------------------------


def _multipart(client: FlaskClient, method: str, url: str, **parts: Any) -> Any:
    return client.open(url, method=method, data=parts, content_type="multipart/form-data")


def test_a_file_part_is_stored_in_a_blob_or_text_column(things: str) -> None:
    client = _client(things)
    content = b"\x00\x01binary\xff" * 100
    resp = _multipart(
        client, "POST", "/api/things", payload=(io.BytesIO(content), "p.bin"), label="three"
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert base64.b64decode(resp.get_json()["payload"]) == content
    note = "naïve café\n".encode()
    resp = _multipart(
        client,
        "PATCH",
        "/api/things/3",
        label=(io.BytesIO(note), "note.txt"),
        anything=(io.BytesIO(b"\x01\x02"), "raw.bin"),
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["label"] == "naïve café\n"
    assert _query(things, "SELECT payload, label, anything FROM things WHERE id = 3") == [
        (content, "naïve café\n", b"\x01\x02")
    ]
    # A file input left empty (no file name, no bytes) is a field not given.
    resp = _multipart(client, "PATCH", "/api/things/3", payload=(io.BytesIO(b""), ""), n="4")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert _query(things, "SELECT payload, n FROM things WHERE id = 3") == [(content, 4)]
    # An empty file that has a name is an empty value.
    resp = _multipart(client, "PATCH", "/api/things/3", payload=(io.BytesIO(b""), "empty.bin"))
    assert resp.get_json()["payload"] == ""


def test_a_file_part_a_column_cannot_take_is_refused(things: str) -> None:
    client = _client(things)
    refused = [
        ("n", b"5", "Only binary and text fields take a file"),
        ("label", b"\xff\xfe", "UTF-8"),
        ("nope", b"x", "Unknown field"),
        ("id", b"9", "Only binary and text fields take a file"),
    ]
    for name, content, why in refused:
        pointer = f"/{name}"
        for method, url in (("POST", "/api/things"), ("PATCH", "/api/things/1")):
            part = {name: (io.BytesIO(content), "file.txt")}
            errors = problem(_multipart(client, method, url, **part), 422)["errors"]
            assert [e["pointer"] for e in errors] == [pointer], errors
            assert why in errors[0]["detail"]
    # Every error at once: a refused file and a bad form value.
    resp = _multipart(client, "POST", "/api/things", n=(io.BytesIO(b"5"), "n.txt"), label="")
    assert problem(resp, 422)["errors"][0]["pointer"] == "/n"
    resp = _multipart(client, "POST", "/api/things", n=(io.BytesIO(b"5"), "n"), payload="AP8Q!")
    assert sorted(e["pointer"] for e in problem(resp, 422)["errors"]) == ["/n", "/payload"]
    # The same field as a value and as a file.
    resp = _multipart(client, "POST", "/api/things", label=["x", (io.BytesIO(b"y"), "y.txt")])
    assert "label" in problem(resp, 400)["detail"]
    # Over the body size limit (1 MiB by default).
    big = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="payload"; filename="big.bin"\r\n\r\n'
        + b"\x00" * (1024 * 1024 + 1)
        + b"\r\n--b--\r\n"
    )
    multipart = "multipart/form-data; boundary=b"
    problem(client.post("/api/things", data=big, content_type=multipart), 413)
    assert _query(things, "SELECT * FROM things") == BEFORE


# -- filters on untyped columns (item 7 follow-up) -----------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> str:
    """An untyped column holding every storage class, numbers both as numbers and as text."""
    return _sqlite(
        tmp_path,
        """
        CREATE TABLE mixed (id INTEGER PRIMARY KEY, anything, label TEXT);
        INSERT INTO mixed VALUES (1, 7, 'a'), (2, '7', 'a'), (3, 7.0, 'a'), (4, 7.5, 'a'),
            (5, 'abc', 'a'), (6, 'b', 'a'), (7, X'07', 'a'), (8, NULL, 'a'), (9, -3, 'a'),
            (10, '10', 'a'), (11, 10, 'a');
        """,
    )


#: Each filter, and the rows it means: a number matches numbers and its own text (eq, in),
#: an ordering compares numbers with a number, texts with a text; bytes match nothing.
UNTYPED_FILTERS = [
    ("filter[anything]=7", [1, 2, 3]),
    ("filter[anything]=7.0", [1, 3]),
    ("filter[anything]=abc", [5]),
    ("filter[anything]=1e1", [11]),
    ("filter[anything][ne]=7", [4, 5, 6, 7, 8, 9, 10, 11]),
    ("filter[anything][in]=7,abc", [1, 2, 3, 5]),
    ("filter[anything][nin]=7,10", [4, 5, 6, 7, 8, 9]),
    ("filter[anything][gt]=7", [4, 11]),
    ("filter[anything][le]=7", [1, 3, 9]),
    ("filter[anything][ge]=10", [11]),
    ("filter[anything][gt]=a", [5, 6]),
    ("filter[anything][lt]=b", [2, 5, 10]),
    ("filter[anything][null]=true", [8]),
]


def test_filters_on_an_untyped_column_match_numbers_as_numbers(mixed: str) -> None:
    client = _client(mixed)
    assert _query(mixed, "SELECT count(*) FROM mixed WHERE anything = '7'") == [(1,)]  # the trap
    for query, want in UNTYPED_FILTERS:
        resp = client.get(f"/api/mixed?{query}&page[size]=100")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert [r["id"] for r in resp.get_json()["data"]] == want, query
        counted = client.get(f"/api/mixed?{query}&count=true&page[size]=1").get_json()
        assert counted["meta"]["total"] == len(want), query


def test_an_untyped_column_sorts_and_pages_in_sqlites_order(mixed: str) -> None:
    """NULL, then numbers, then text, then bytes; keyset pages walk the same order."""
    client = _client(mixed)
    order = [8, 9, 1, 3, 4, 11, 10, 2, 5, 6, 7]
    rows = client.get("/api/mixed?sort=anything,id&page[size]=100").get_json()["data"]
    assert [r["id"] for r in rows] == order
    walked: list[int] = []
    url: str | None = "/api/mixed?sort=anything,id&page[size]=3&page[after]="
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        walked += [r["id"] for r in body["data"]]
        url = body["links"].get("next")
    assert walked == order


def test_the_change_feed_filters_untyped_columns_as_lists_do(mixed: str) -> None:
    client = create_app(
        mixed, engine_options={"poolclass": sa.NullPool}, changes=ChangeFeed(stream_seconds=0)
    ).test_client()
    # An event for each row, with the value as another program stored it; but bytes: the
    # outbox keeps rows as JSON, where bytes are base64 text, so the feed cannot tell them
    # from text (the README says so).
    events = [i for i in range(1, 12) if i != 7]
    for i in events:
        assert client.patch(f"/api/mixed/{i}", json={"label": "b"}).status_code == 200
    assert _query(mixed, "SELECT typeof(anything) FROM mixed WHERE id IN (1, 2)") == [
        ("integer",),
        ("text",),
    ]
    for query, want in UNTYPED_FILTERS:
        resp = client.get(f"/api/mixed/changes?{query}", headers={"Last-Event-ID": "0"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        keys = [
            int(line.split('"key":"')[1].split('"')[0])
            for line in resp.get_data(as_text=True).splitlines()
            if line.startswith("data: ")
        ]
        assert keys == [i for i in want if i in events], query


#: Stored values of every storage class but bytes (which the feed sees as text), near each
#: other so that equal and ordered pairs come up; query texts that read as numbers or not.
_STORED = st.one_of(
    st.none(),
    st.integers(-12, 12),
    st.sampled_from([7.0, 7.5, -0.5, 1e1, 0.0]),
    st.text(alphabet="07.-eab", max_size=3),
)
_RAW = st.text(alphabet="017.-eab", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    stored=st.lists(_STORED, min_size=1, max_size=6),
    op=st.sampled_from(["eq", "ne", "in", "nin", "lt", "le", "gt", "ge"]),
    raws=st.lists(_RAW, min_size=1, max_size=3),
)
def test_the_feed_rule_for_untyped_columns_agrees_with_sqlite(
    stored: list[Any], op: str, raws: list[str]
) -> None:
    """The SQL a list runs and the change feed's Python decide each value alike."""
    many = op in ("in", "nin")
    want: Any = tuple(loose_value(r) for r in raws) if many else loose_value(raws[0])
    numeric = not many and want.number is not None
    table = sa.Table("t", sa.MetaData(), sa.Column("i", sa.Integer), sa.Column("x", Untyped()))
    count = len(raws) if many else 1
    cond = loose_condition(table.c.x, op, "f", count, numeric, nullable=True)
    stmt = sa.select(table.c.i).where(cond).order_by(table.c.i)
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (i INTEGER, x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (?, ?)", list(enumerate(stored)))
        found = list(conn.scalars(stmt, loose_params("f", op, want)))
    engine.dispose()
    assert found == [i for i, v in enumerate(stored) if loose_matches(op, want, v)]


# -- item 3 follow-up: decimals stored as floats, grouped, filtered and sorted --------------------


@pytest.fixture
def lines(tmp_path: Path) -> str:
    """Two totals that both show "0.30": 0.1 + 0.2 is stored as 0.30000000000000004."""
    return _sqlite(
        tmp_path,
        """
        CREATE TABLE lines (id INTEGER PRIMARY KEY, Total NUMERIC(10,2), label TEXT);
        INSERT INTO lines VALUES (1, 0.1 + 0.2, 'a'), (2, 0.3, 'b'), (3, 0.7, 'c');
        """,
    )


def test_decimals_stored_as_floats_are_grouped_filtered_and_sorted_as_shown(lines: str) -> None:
    client = _client(lines)
    assert _query(lines, "SELECT count(DISTINCT Total) FROM lines WHERE id < 3") == [(2,)]

    def ids(query: str) -> list[int]:
        resp = client.get(f"/api/lines?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["id"] for r in resp.get_json()["data"]]

    shown = client.get("/api/lines").get_json()["data"]
    assert [r["Total"] for r in shown] == ["0.30", "0.30", "0.70"]
    resp = client.get("/api/lines?group_by=Total&aggregate=count()")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["data"] == [{"Total": "0.30", "count": 2}, {"Total": "0.70", "count": 1}]
    for query, want in [
        ("filter[Total]=0.3", [1, 2]),
        ("filter[Total]=0.30", [1, 2]),
        ("filter[Total][ne]=0.3", [3]),
        ("filter[Total][in]=0.3,0.7", [1, 2, 3]),
        ("filter[Total][gt]=0.3", [3]),
        ("filter[Total][le]=0.3", [1, 2]),
        ("sort=Total", [1, 2, 3]),  # a tie, as shown: then by the key
        ("sort=-Total", [3, 1, 2]),
    ]:
        assert ids(query) == want, query
    walked: list[int] = []
    url: str | None = "/api/lines?sort=Total&page[size]=1&page[after]="
    while url:
        body = client.get(url).get_json()
        walked += [r["id"] for r in body["data"]]
        url = body["links"].get("next")
    assert walked == [1, 2, 3]
