"""Cost that does not grow with work: statements and rows per request stay constant.

Counted where the database sees them, below SQLAlchemy (SQLite's trace callback for statements,
a row factory for every row that reaches Python), so the direct DBAPI path is what is measured:
an engine event listener would switch tablerest to ``Connection.execute`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import Limits
from tests import models
from tests.conftest import AppFactory

AUTHORS = 50
BOOKS = 5_000


@dataclass
class Meter:
    statements: list[str] = field(default_factory=list)
    rows: int = 0

    def reset(self) -> None:
        self.statements.clear()
        self.rows = 0

    def row(self, cursor: Any, values: tuple[Any, ...]) -> tuple[Any, ...]:
        self.rows += 1
        return values

    def statement(self, sql: str) -> None:
        if not sql.lstrip().upper().startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK")):
            self.statements.append(sql)


@pytest.fixture
def meter(engine: sa.Engine) -> Iterator[Meter]:
    found = Meter()

    def on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.set_trace_callback(found.statement)
        dbapi_conn.row_factory = found.row

    sa.event.listen(engine, "connect", on_connect)
    yield found
    sa.event.remove(engine, "connect", on_connect)


@pytest.fixture
def client(make_app: AppFactory, engine: sa.Engine, meter: Meter) -> FlaskClient:
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Author), [{"name": f"a{i}"} for i in range(AUTHORS)])
        conn.execute(
            sa.insert(models.Book),
            [
                {"title": f"b{i}", "year": 1900 + i % 100, "author_id": i % AUTHORS + 1}
                for i in range(BOOKS)
            ],
        )
    # Pages of 100 authors with 50 books each embed 5,000 rows: more than the default
    # Limits.max_included, which tests/security/test_concealment.py covers; here, the cost.
    return make_app(api={"limits": Limits(max_included=10_000)}).test_client()


def measure(client: FlaskClient, meter: Meter, url: str) -> tuple[int, int, dict[str, Any]]:
    meter.reset()
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return len(meter.statements), meter.rows, resp.get_json()


def test_a_page_costs_one_statement_and_its_rows_whatever_its_depth(
    client: FlaskClient, meter: Meter
) -> None:
    first = measure(client, meter, "/api/books?page[size]=10&page[after]=&sort=-year")
    # Walk deep with big pages, then ask for a small page from there.
    url: str | None = "/api/books?page[size]=100&page[after]=&sort=-year"
    for _ in range(40):
        assert url is not None
        url = client.get(url).get_json()["links"]["next"]
    assert url is not None
    cursor = url.split("page%5Bafter%5D=")[1].split("&")[0]
    deep = measure(client, meter, f"/api/books?page[size]=10&sort=-year&page[after]={cursor}")
    assert deep[2]["data"][0]["id"] != first[2]["data"][0]["id"]
    # One statement each, and only the page (plus one, to know whether more follow) is read.
    assert first[:2] == deep[:2] == (1, 11)
    assert "OFFSET" not in meter.statements[0].upper() or "OFFSET 0" in meter.statements[0]


def test_offset_pages_read_only_their_rows(client: FlaskClient, meter: Meter) -> None:
    assert measure(client, meter, "/api/books?page[size]=20")[:2] == (1, 21)
    assert measure(client, meter, "/api/books?page[size]=20&page[number]=200")[:2] == (1, 21)


@pytest.mark.parametrize("size", [1, 10, 100])
def test_includes_cost_one_statement_per_to_many_path(
    client: FlaskClient, meter: Meter, size: int
) -> None:
    # A to-one include is joined into the page's own statement.
    statements, rows, body = measure(client, meter, f"/api/books?page[size]={size}&include=author")
    assert all(b["author"]["id"] == b["author_id"] for b in body["data"])
    assert (statements, rows) == (1, size + 1)

    # A to-many include is one statement more, however many parents and children.
    url = f"/api/authors?page[size]={size}&include=books.author"
    statements, rows, body = measure(client, meter, url)
    assert statements == 2  # the authors; their books with the books' authors joined
    books = sum(len(a["books"]) for a in body["data"])
    assert all(b["author"]["id"] == a["id"] for a in body["data"] for b in a["books"])
    page = len(body["data"]) + (1 if body["links"]["next"] else 0)  # and one to see if more
    assert rows == page + books


def test_one_row_costs_one_statement(client: FlaskClient, meter: Meter) -> None:
    assert measure(client, meter, "/api/books/4321")[:2] == (1, 1)
    assert measure(client, meter, "/api/books/4321?include=author")[:2] == (1, 1)
    assert measure(client, meter, "/api/books/4321/author")[:2] == (2, 2)


def test_writes_cost_one_statement(client: FlaskClient, meter: Meter) -> None:
    # SQLite has RETURNING: the row comes back with the INSERT or UPDATE itself.
    meter.reset()
    resp = client.post("/api/books", json={"title": "new", "author_id": 3})
    assert resp.status_code == 201
    assert resp.get_json()["pages"] == 100  # the model's default
    assert [s.split()[0] for s in meter.statements] == ["INSERT"]
    assert "RETURNING" in meter.statements[0]
    meter.reset()
    resp = client.patch(f"/api/books/{resp.get_json()['id']}", json={"title": "newer"})
    assert resp.status_code == 200
    assert [s.split()[0] for s in meter.statements] == ["UPDATE"]
    meter.reset()
    assert client.delete(f"/api/books/{resp.get_json()['id']}").status_code == 204
    assert [s.split()[0] for s in meter.statements] == ["DELETE"]


def test_joined_includes_nest_and_tell_missing_rows(client: FlaskClient, meter: Meter) -> None:
    orphan = client.post("/api/books", json={"title": "nobody's"}).get_json()["id"]
    statements, rows, body = measure(client, meter, f"/api/books/{orphan}?include=author")
    assert body["author"] is None
    assert (statements, rows) == (1, 1)

    # A to-many include below a joined to-one one: its parent keys come from the joined columns.
    url = "/api/books?page[size]=3&sort=id&include=author.books"
    statements, _, body = measure(client, meter, url)
    assert statements == 2
    for book in body["data"]:
        assert book["author"]["id"] == book["author_id"]
        assert len(book["author"]["books"]) == 50  # the include_limit per parent
        assert {b["author_id"] for b in book["author"]["books"]} == {book["author_id"]}
