"""Streaming export: every matching row of a list as CSV or NDJSON, on every backend."""

from __future__ import annotations

import csv
import io
import tracemalloc
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

AUTHORS = [{"name": "Ursula Le Guin", "country": "US"}, {"name": "Janet Frame", "country": None}]
BOOKS = [
    {"title": "A Wizard of Earthsea", "year": 1968, "genre": "fantasy", "author_id": 1},
    {"title": "The Dispossessed", "year": 1974, "genre": None, "author_id": 1},
    {"title": 'Owls "Do" Cry, a novel', "year": 1957, "genre": "poetry", "author_id": 2},
    {"title": "Line\nbreak", "year": None, "price": "12.50", "author_id": None},
]


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    c = make_app().test_client()
    assert c.post("/api/authors", json=AUTHORS).status_code == 201
    assert c.post("/api/books", json=BOOKS).status_code == 201
    return c


def json_rows(client: FlaskClient, url: str) -> list[dict[str, Any]]:
    sep = "&" if "?" in url else "?"
    resp = client.get(f"{url}{sep}page[size]=100")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["data"]  # type: ignore[no-any-return]


def csv_table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def as_csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "sort=-year",
        "filter[year][ge]=1960&sort=title",
        "fields=title,year",
        "author.country=US",
    ],
)
def test_exports_hold_the_rows_of_the_json_list(client: FlaskClient, query: str) -> None:
    expected = json_rows(client, f"/api/books?{query}")
    assert expected  # every query here matches something

    resp = client.get(f"/api/books?{query}", headers={"Accept": "application/x-ndjson"})
    assert resp.status_code == 200
    assert resp.content_type == "application/x-ndjson"
    assert resp.headers["Vary"] == "Accept"
    lines = resp.data.split(b"\n")
    assert lines[-1] == b""  # every line ends with a newline, the last one too
    assert [orjson.loads(line) for line in lines[:-1]] == expected

    resp = client.get(f"/api/books?{query}&format=csv")
    assert resp.status_code == 200
    assert resp.content_type == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="books.csv"'
    assert b"\r\n" in resp.data
    header, *rows = csv_table(resp.get_data(as_text=True))
    assert header == list(expected[0])
    assert rows == [[as_csv_cell(v) for v in row.values()] for row in expected]


def test_relation_routes_export_too(client: FlaskClient) -> None:
    expected = json_rows(client, "/api/authors/1/books?sort=-year")
    resp = client.get("/api/authors/1/books?sort=-year&format=ndjson")
    assert resp.status_code == 200
    assert [orjson.loads(x) for x in resp.data.splitlines()] == expected
    assert len(expected) == 2


def test_values_are_written_as_in_json(make_app: AppFactory) -> None:
    c = make_app().test_client()
    kitchen = {
        "tiny": 3,
        "big": 2**40,
        "ratio": 0.25,
        "amount": "1.250",
        "flag": False,
        "label": "a,b",
        "day": "2024-02-29",
        "moment": "2024-02-29T13:14:15",
        "clock": "13:14:15",
        "mood": "sad",
        "genre": "poetry",
        "doc": {"k": [1, "two"]},
        "token": "12345678-1234-5678-1234-567812345678",
        "blob": "aGVsbG8=",
    }
    assert c.post("/api/kitchen", json=[kitchen, {}]).status_code == 201
    expected = json_rows(c, "/api/kitchen")
    header, *rows = csv_table(c.get("/api/kitchen?format=csv").get_data(as_text=True))
    assert rows == [[as_csv_cell(v) for v in row.values()] for row in expected]
    full = dict(zip(header, rows[0], strict=True))
    assert full["flag"] == "false"
    assert full["amount"] == "1.250"  # decimals as written, as in JSON
    assert orjson.loads(full["doc"]) == {"k": [1, "two"]}
    assert rows[1][1:] == [""] * (len(header) - 1)  # NULL is the empty field
    lines = c.get("/api/kitchen", headers={"Accept": "application/x-ndjson"}).data.splitlines()
    assert [orjson.loads(x) for x in lines] == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("*/*", "application/json"),
        ("text/csv", "text/csv; charset=utf-8"),
        ("text/*", "text/csv; charset=utf-8"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, application/x-ndjson", "application/x-ndjson"),
        ("text/html, */*;q=0.1", "application/json"),
    ],
)
def test_accept_picks_the_representation(client: FlaskClient, accept: str, expected: str) -> None:
    resp = client.get("/api/books", headers={"Accept": accept})
    assert resp.status_code == 200
    assert resp.content_type == expected
    assert resp.headers["Vary"] == "Accept"


def test_format_parameter_wins_over_accept(client: FlaskClient) -> None:
    resp = client.get("/api/books?format=json", headers={"Accept": "text/csv"})
    assert resp.content_type == "application/json"
    assert "format=json" in resp.get_json()["links"]["self"]
    resp = client.get("/api/books?format=ndjson", headers={"Accept": "application/json"})
    assert resp.content_type == "application/x-ndjson"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("format=xml", "format"),
        ("format=csv&format=json", "format"),
        ("format=csv&page[size]=2", "page[size]"),
        ("format=csv&page[number]=2", "page[number]"),
        ("format=ndjson&limit=2", "limit"),
        ("format=ndjson&offset=2", "offset"),
        ("format=csv&count=true", "count"),
        ("format=csv&include=author", "include"),
        ("format=csv&fields=secret_note", "fields"),  # hidden fields stay hidden
        ("format=csv&filter[secret_note]=x", "filter[secret_note]"),
        ("format=csv&sort=secret_note", "sort"),
        ("format=csv&year=old", "year"),
    ],
)
def test_export_mistakes_are_400(client: FlaskClient, query: str, parameter: str) -> None:
    body = problem(client.get(f"/api/books?{query}"), 400)
    assert body["parameter"] == parameter


def test_nothing_acceptable_is_406(client: FlaskClient) -> None:
    body = problem(client.get("/api/books", headers={"Accept": "text/html"}), 406)
    assert "text/csv" in body["detail"]


def test_hidden_fields_are_never_exported(client: FlaskClient) -> None:
    header = client.get("/api/books?format=csv").get_data(as_text=True).splitlines()[0]
    assert "secret_note" not in header
    assert b"secret_note" not in client.get("/api/books?format=ndjson").data


def test_a_resource_can_turn_export_off(make_app: AppFactory) -> None:
    c = make_app(books={"export": False}).test_client()
    body = problem(c.get("/api/books?format=csv"), 400)
    assert "no export" in body["detail"]
    problem(c.get("/api/books", headers={"Accept": "text/csv"}), 406)
    problem(c.get("/api/authors/1/books", headers={"Accept": "text/csv"}), 406)
    assert c.get("/api/books", headers={"Accept": "text/csv, */*;q=0.1"}).status_code == 200
    assert c.get("/api/authors?format=csv").status_code == 200


def test_an_empty_export_has_its_header_only(client: FlaskClient) -> None:
    assert client.get("/api/books?year=1800&format=csv").data == (
        b"id,title,year,pages,isbn,price,genre,created_at,author_id\r\n"
    )
    assert client.get("/api/books?year=1800&format=ndjson").data == b""


def test_items_are_json_only(client: FlaskClient) -> None:
    body = problem(client.get("/api/books/1?format=csv"), 400)
    assert body["parameter"] == "format"
    assert "applies to lists" in body["detail"]
    problem(client.get("/api/books/1", headers={"Accept": "text/csv"}), 406)


ROWS = 200_000


def test_a_large_export_streams_in_constant_memory(make_app: AppFactory, engine: sa.Engine) -> None:
    books = models.Book.__table__
    with engine.begin() as conn:
        for start in range(0, ROWS, 20_000):
            conn.execute(
                sa.insert(books),
                [{"title": f"book {i}", "pages": i} for i in range(start, start + 20_000)],
            )
    client = make_app().test_client()
    cursors: list[str] = []

    def record(conn: Any, cursor: Any, *args: Any) -> None:
        cursors.append(type(cursor).__name__)

    # Rows come from a server-side cursor where the database has them (SQLite reads lazily).
    sa.event.listen(engine, "before_cursor_execute", record)
    for fmt in ("ndjson", "csv"):
        _resp, lines, last, peak = _streamed(client, f"/api/books?format={fmt}&fields=id,pages")
        assert lines == ROWS + (fmt == "csv")
        expected_last = {"ndjson": b'{"id":200000,"pages":199999}\n', "csv": b"200000,199999\r\n"}
        assert last.endswith(expected_last[fmt])
        # All rows at once would take well over 100 MB; one batch takes a few.
        assert peak < 16 * 2**20, f"{fmt} export peaked at {peak / 2**20:.1f} MiB"
    sa.event.remove(engine, "before_cursor_execute", record)
    server_side = {"sqlite": "Cursor", "postgresql": "ServerCursor", "mysql": "SSCursor"}
    assert cursors[-2:] == [server_side[engine.dialect.name]] * 2


def test_an_export_closed_unread_lets_its_connection_go(client: FlaskClient) -> None:
    # A client that goes away mid-export: the server closes the response. Its statement's
    # connection must end then, not at garbage collection: on SQLite its read would block
    # every write meanwhile (the write below waited for the busy timeout, then got a 503).
    export = client.get("/api/books?format=csv")
    assert export.status_code == 200
    export.close()
    created = client.post("/api/authors", json={"name": "After", "country": "NZ"})
    assert created.status_code == 201, created.get_data(as_text=True)


def _streamed(client: FlaskClient, url: str) -> tuple[Any, int, bytes, int]:
    """An export read chunk by chunk as a client would: the response, its number of lines,
    its last chunk, and the peak of memory Python allocated meanwhile (tracemalloc)."""
    tracemalloc.start()
    try:
        resp = client.get(url, buffered=False)
        assert resp.status_code == 200
        lines, last = 0, b""
        for chunk in resp.response:
            lines += chunk.count(b"\n")
            last = chunk or last
        resp.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return resp, lines, last, peak


GROUPS = 30_000


def test_a_group_export_streams_in_constant_memory(make_app: AppFactory, engine: sa.Engine) -> None:
    # Grouped by a column of distinct values there are as many groups as rows, and any caller
    # may ask for that: groups stream as rows do (they were one body, all in memory).
    with engine.begin() as conn:
        conn.execute(
            sa.insert(models.Book.__table__),
            [{"title": f"book {i}", "pages": i} for i in range(GROUPS)],
        )
    client = make_app().test_client()
    cursors: list[str] = []

    def record(conn: Any, cursor: Any, *args: Any) -> None:
        cursors.append(type(cursor).__name__)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for fmt in ("ndjson", "csv"):
            url = f"/api/books?group_by=pages&aggregate=count()&format={fmt}"
            resp, lines, last, peak = _streamed(client, url)
            assert lines == GROUPS + (fmt == "csv")
            expected_last = {"ndjson": b'{"pages":29999,"count":1}\n', "csv": b"29999,1\r\n"}
            assert last.endswith(expected_last[fmt])
            # Every group at once took 10 MB and more; one batch takes well under one.
            assert peak < 3 * 2**20, f"{fmt} export peaked at {peak / 2**20:.1f} MiB"
            # A download, as an export of rows is.
            assert resp.headers["Content-Disposition"] == f'attachment; filename="books.{fmt}"'
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    server_side = {"sqlite": "Cursor", "postgresql": "ServerCursor", "mysql": "SSCursor"}
    assert cursors[-2:] == [server_side[engine.dialect.name]] * 2
