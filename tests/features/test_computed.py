"""Computed fields: SQL expressions, hybrid properties and column properties as read-only
fields that are read, filtered, sorted, paged, included and exported like columns, on SQLite,
PostgreSQL and MariaDB; and every declaration that cannot work, refused at registration."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    mapped_column,
    query_expression,
    relationship,
)

from tablerest import Api, ChangeFeed, role
from tests.databases import BACKENDS
from tests.helpers import problem


class Base(DeclarativeBase):
    pass


class Writer(Base):
    __tablename__ = "writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    first: Mapped[str] = mapped_column(sa.String(50))
    last: Mapped[str] = mapped_column(sa.String(50))
    novels: Mapped[list[Novel]] = relationship(back_populates="writer")

    @hybrid_property
    def full_name(self) -> str:
        return self.first + " " + self.last

    @hybrid_property
    def shout(self) -> str:  # Python only: str.upper has no SQL side
        return self.first.upper()

    @hybrid_property
    def answer(self) -> int:  # a constant, not SQL
        return 42

    @property
    def plain(self) -> str:
        return self.first


class Loan(Base):
    __tablename__ = "loans"
    id: Mapped[int] = mapped_column(primary_key=True)
    novel_id: Mapped[int] = mapped_column(sa.ForeignKey("novels.id"))
    novel: Mapped[Novel] = relationship()


class Novel(Base):
    __tablename__ = "novels"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    pages: Mapped[int] = mapped_column(default=100)
    note: Mapped[str | None] = mapped_column(sa.String(100))
    writer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("writers.id"))
    writer: Mapped[Writer | None] = relationship(back_populates="novels")
    # A column property: a mapped attribute like a column, so a read-only field by itself.
    loan_count: Mapped[int] = column_property(
        sa.select(sa.func.count(Loan.id))
        .where(Loan.novel_id == id)
        .correlate_except(Loan)
        .scalar_subquery()
    )
    # Filled in only by queries that ask for it: not a field.
    score: Mapped[int | None] = query_expression()


NOVEL_FIELDS = {
    "title_length": sa.func.length(Novel.title, type_=sa.Integer),
    "note_length": sa.func.length(Novel.note, type_=sa.Integer),
}

WRITERS = [
    {"id": 1, "first": "Ursula", "last": "Le Guin"},
    {"id": 2, "first": "Janet", "last": "Frame"},
    {"id": 3, "first": "Ann", "last": "Leckie"},
]
# title length, loans: Earthsea 20/3, Lathe 16/1, Owls 8/3, Ancillary 17/0, Tombs 9/2, Emma 4/0
NOVELS = [
    {"id": 1, "title": "A Wizard of Earthsea", "pages": 183, "note": "classic", "writer_id": 1},
    {"id": 2, "title": "The Lathe of Heaven", "pages": 184, "note": None, "writer_id": 1},
    {"id": 3, "title": "Owls Do Cry", "pages": 200, "note": "first", "writer_id": 2},
    {"id": 4, "title": "Ancillary Justice", "pages": 386, "note": None, "writer_id": 3},
    {"id": 5, "title": "The Tombs", "pages": 180, "note": "x", "writer_id": 1},
    {"id": 6, "title": "Emma", "pages": 474, "note": None, "writer_id": None},
]
LOANS = {1: 3, 2: 1, 3: 3, 5: 2}

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        # Keys from the sequences (PostgreSQL's would not move past given ones): 1, 2, 3...
        conn.execute(sa.insert(Writer), [_keyless(w) for w in WRITERS])
        conn.execute(sa.insert(Novel), [_keyless(n) for n in NOVELS])
        loans = [{"novel_id": k} for k, n in LOANS.items() for _ in range(n)]
        conn.execute(sa.insert(Loan), loans)
    yield eng
    eng.dispose()


def _keyless(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}


def _app(engine: sa.Engine, **novels: Any) -> Flask:
    app = Flask("tests")
    app.config["TESTING"] = True
    api = Api(app, engine)
    api.resource(Writer, computed={"full_name": "full_name"}, searchable=["full_name"])
    api.resource(Novel, **{"computed": NOVEL_FIELDS, **novels})
    api.resource(Loan)
    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


def _ids(resp: Any) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [row["id"] for row in resp.get_json()["data"]]


def _db(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, title FROM novels ORDER BY id")]


# -- reading ------------------------------------------------------------------------------------


def test_rows_carry_expressions_and_column_properties(client: FlaskClient) -> None:
    one = client.get("/api/novels/1").get_json()
    rows = client.get("/api/novels?sort=id").get_json()["data"]

    assert one == {
        "id": 1,
        "title": "A Wizard of Earthsea",
        "pages": 183,
        "note": "classic",
        "writer_id": 1,
        "loan_count": 3,
        "title_length": 20,
        "note_length": 7,
    }
    assert [(r["title_length"], r["loan_count"], r["note_length"]) for r in rows] == [
        (20, 3, 7),
        (19, 1, None),
        (11, 3, 5),
        (17, 0, None),
        (9, 2, 1),
        (4, 0, None),
    ]
    assert "score" not in one  # a query_expression() is no field


def test_hybrid_property_is_a_field(client: FlaskClient) -> None:
    rows = client.get("/api/writers?sort=id").get_json()["data"]

    assert [r["full_name"] for r in rows] == ["Ursula Le Guin", "Janet Frame", "Ann Leckie"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("filter[title_length][gt]=11", [1, 2, 4]),
        ("filter[title_length][ge]=11", [1, 2, 3, 4]),
        ("filter[title_length][lt]=9", [6]),
        ("filter[title_length][le]=9", [5, 6]),
        ("filter[title_length]=19", [2]),
        ("title_length=19", [2]),
        ("filter[title_length][ne]=19", [1, 3, 4, 5, 6]),
        ("filter[title_length][in]=4,9,99", [5, 6]),
        ("filter[title_length][nin]=4,9", [1, 2, 3, 4]),
        ("filter[loan_count]=0", [4, 6]),
        ("filter[loan_count][ge]=2&filter[title_length][lt]=15", [3, 5]),
        ("filter[note_length][null]=true", [2, 4, 6]),
        ("filter[note_length][ne]=7", [2, 3, 4, 5, 6]),  # NULL is "not 7" too, as for columns
        ("filter[note_length][nin]=7", [2, 3, 4, 5, 6]),
        ("filter[writer.full_name]=Ursula Le Guin", [1, 2, 5]),
        ("filter[writer.full_name][startswith]=Ann", [4]),
    ],
)
def test_filters_on_computed_fields(client: FlaskClient, query: str, expected: list[int]) -> None:
    assert _ids(client.get(f"/api/novels?sort=id&{query}")) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("filter[full_name][contains]=Le", [1, 3]),
        ("filter[full_name][endswith]=Frame", [2]),
        ("filter[full_name][ilike]=%le%", [1, 3]),
        ("q=le gu", [1]),
        # Through a to-many relation: writers with at least one novel lent three times or more.
        ("filter[novels.loan_count][ge]=3", [1, 2]),
        ("filter[novels.title_length][gt]=16", [1, 3]),
    ],
)
def test_text_and_relation_filters_on_computed_fields(
    client: FlaskClient, query: str, expected: list[int]
) -> None:
    assert _ids(client.get(f"/api/writers?sort=id&{query}")) == expected


def test_filters_through_a_relation_to_a_column_property(client: FlaskClient) -> None:
    # Each loan of a novel lent out three times: the sub-query runs on the joined novel.
    found = client.get("/api/loans?filter[novel.loan_count]=3&sort=id").get_json()["data"]

    assert sorted({r["novel_id"] for r in found}) == [1, 3]
    assert len(found) == 6


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("filter[title_length]=long", "'long' is not a valid value for title_length"),
        ("filter[title_length][like]=1%25", "like works on text fields; title_length is not"),
        ("filter[title_length][in]=1,x", "'1,x' is not a valid value for title_length"),
        ("filter[loan_count][startswith]=1", "startswith works on text fields; loan_count"),
        ("filter[title_length][near]=1", "Unknown operator 'near'"),
    ],
)
def test_bad_filters_on_computed_fields_are_400(
    client: FlaskClient, query: str, detail: str
) -> None:
    body = problem(client.get(f"/api/novels?{query}"), 400)

    assert body["parameter"] == query.split("=")[0]
    assert detail in body["detail"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("title_length", [6, 5, 3, 4, 2, 1]),
        ("-title_length", [1, 2, 4, 3, 5, 6]),
        ("-loan_count,title_length", [3, 1, 5, 2, 6, 4]),
        ("note_length,id", [2, 4, 6, 5, 3, 1]),  # NULL first, as for columns
        ("writer.full_name,-title_length", [6, 4, 3, 1, 2, 5]),
    ],
)
def test_sort_by_computed_fields(client: FlaskClient, sort: str, expected: list[int]) -> None:
    assert _ids(client.get(f"/api/novels?sort={sort}")) == expected
    # Offset pages of the same order.
    first = _ids(client.get(f"/api/novels?sort={sort}&page[size]=4"))
    second = _ids(client.get(f"/api/novels?sort={sort}&page[size]=4&page[number]=2"))
    assert first + second == expected


@pytest.mark.parametrize(
    "sort", ["-loan_count", "title_length", "-note_length", "writer.full_name,loan_count"]
)
def test_keyset_pages_sorted_by_computed_fields(client: FlaskClient, sort: str) -> None:
    everything = _ids(client.get(f"/api/novels?sort={sort}"))

    forward, pages = _walk(client, f"/api/novels?sort={sort}&page[size]=2&page[after]=", "next")
    backward, _ = _walk(client, f"/api/novels?sort={sort}&page[size]=2&page[before]=", "prev")

    assert forward == everything
    assert backward == everything
    assert pages == 3


def _walk(client: FlaskClient, url: str, link: str) -> tuple[list[int], int]:
    seen: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        body: dict[str, Any] = client.get(next_url).get_json()
        page = [r["id"] for r in body["data"]]
        seen = seen + page if link == "next" else page + seen
        next_url = body["links"][link]
        pages += 1
    return seen, pages


def test_keyset_cursor_without_the_sorted_field_in_the_fieldset(client: FlaskClient) -> None:
    seen: list[int] = []
    url: str | None = "/api/novels?sort=-title_length&fields=id&page[size]=4&page[after]="
    while url:
        body = client.get(url).get_json()
        assert all(set(r) == {"id"} for r in body["data"])
        seen += [r["id"] for r in body["data"]]
        url = body["links"]["next"]
    assert seen == [1, 2, 4, 3, 5, 6]


def test_sparse_fieldsets_name_computed_fields(client: FlaskClient) -> None:
    rows = client.get("/api/novels?sort=id&fields=title_length,loan_count").get_json()["data"]
    one = client.get("/api/novels/3?fields[novels]=loan_count").get_json()

    assert rows[0] == {"title_length": 20, "loan_count": 3}
    assert len(rows) == 6
    assert one == {"loan_count": 3}


def test_included_rows_carry_their_computed_fields(client: FlaskClient) -> None:
    # To-one: joined in the same statement (the expression is rewritten onto the join alias).
    novels = client.get("/api/novels?sort=id&include=writer").get_json()["data"]
    # To-many: one more query, the column property correlated to each included row.
    writer = client.get("/api/writers/1?include=novels").get_json()
    sparse = client.get(
        "/api/writers/1?include=novels&fields[novels]=id,loan_count&fields[writers]=full_name"
    ).get_json()

    assert [n["writer"] and n["writer"]["full_name"] for n in novels] == [
        "Ursula Le Guin",
        "Ursula Le Guin",
        "Janet Frame",
        "Ann Leckie",
        "Ursula Le Guin",
        None,
    ]
    assert sorted((n["id"], n["loan_count"], n["title_length"]) for n in writer["novels"]) == [
        (1, 3, 20),
        (2, 1, 19),
        (5, 2, 9),
    ]
    assert sparse["full_name"] == "Ursula Le Guin"
    assert sorted(sparse["novels"], key=lambda n: n["id"]) == [
        {"id": 1, "loan_count": 3},
        {"id": 2, "loan_count": 1},
        {"id": 5, "loan_count": 2},
    ]


def test_relation_routes_filter_and_sort_on_computed_fields(client: FlaskClient) -> None:
    resp = client.get("/api/writers/1/novels?sort=-loan_count&filter[title_length][gt]=9")

    assert _ids(resp) == [1, 2]


def test_exports_carry_computed_fields(client: FlaskClient) -> None:
    text = client.get("/api/novels?sort=-title_length&format=csv").get_data(as_text=True)
    ndjson = client.get("/api/novels?sort=id&filter[loan_count][gt]=2&format=ndjson")

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["id"], r["title_length"], r["loan_count"]) for r in rows][:2] == [
        ("1", "20", "3"),
        ("2", "19", "1"),
    ]
    lines = [orjson.loads(line) for line in ndjson.get_data().splitlines()]
    assert [(r["id"], r["loan_count"]) for r in lines] == [(1, 3), (3, 3)]


def test_jsonapi_attributes_hold_computed_fields(client: FlaskClient) -> None:
    doc = client.get(
        "/api/novels/1?include=writer", headers={"Accept": "application/vnd.api+json"}
    ).get_json()

    assert doc["data"]["attributes"]["title_length"] == 20
    assert doc["data"]["attributes"]["loan_count"] == 3
    (writer,) = doc["included"]
    assert writer["attributes"]["full_name"] == "Ursula Le Guin"


def test_groups_by_and_aggregates_of_computed_fields(client: FlaskClient) -> None:
    groups = client.get(
        "/api/novels?group_by=loan_count&aggregate=count(),sum(title_length)&sort=loan_count"
    ).get_json()["data"]

    assert groups == [
        {"loan_count": 0, "count": 2, "sum_title_length": 21},
        {"loan_count": 1, "count": 1, "sum_title_length": 19},
        {"loan_count": 2, "count": 1, "sum_title_length": 9},
        {"loan_count": 3, "count": 2, "sum_title_length": 31},
    ]


def test_openapi_types_computed_fields_read_only(client: FlaskClient) -> None:
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    row = schemas["Novels"]["properties"]
    attributes = schemas["NovelsResource"]["properties"]["attributes"]["properties"]

    assert row["title_length"]["readOnly"] is True
    assert row["title_length"]["anyOf"][0] == {"type": "integer"}
    assert row["loan_count"]["readOnly"] is True
    assert attributes["loan_count"]["readOnly"] is True
    assert schemas["Writers"]["properties"]["full_name"]["anyOf"][0] == {"type": "string"}
    assert "readOnly" not in row["title"]
    create = "NovelsCreateNested" if "NovelsCreateNested" in schemas else "NovelsCreate"
    for body in (create, "NovelsReplace", "NovelsPatch"):
        assert set(schemas[body]["properties"]) >= {"title", "pages"}
        assert not set(schemas[body]["properties"]) & {"title_length", "loan_count"}


# -- writing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize("name", ["title_length", "loan_count"])
def test_writing_a_computed_field_is_422_read_only(
    client: FlaskClient, engine: sa.Engine, method: str, name: str
) -> None:
    url = "/api/novels" if method == "post" else "/api/novels/2"
    before = _db(engine)

    body = problem(getattr(client, method)(url, json={"title": "Dune", name: 5}), 422)

    assert body["errors"] == [{"pointer": f"/{name}", "detail": "Field is read-only"}]
    assert _db(engine) == before


def test_writes_answer_with_fresh_computed_values(client: FlaskClient, engine: sa.Engine) -> None:
    made = client.post("/api/novels", json={"title": "Dune", "writer_id": 3})
    changed = client.patch("/api/novels/2", json={"title": "Lathe"})
    many = client.post("/api/novels", json=[{"title": "Kindred"}, {"title": "Beloved!"}])

    assert made.status_code == 201
    assert (made.get_json()["title_length"], made.get_json()["loan_count"]) == (4, 0)
    assert (changed.get_json()["title_length"], changed.get_json()["loan_count"]) == (5, 1)
    assert [r["title_length"] for r in many.get_json()] == [7, 8]
    assert _db(engine)[1] == (2, "Lathe")
    # The ETag of a read matches the row the write returned.
    read = client.get("/api/novels/2")
    assert read.get_json() == changed.get_json()
    assert (
        client.patch(
            "/api/novels/2", json={"pages": 1}, headers={"If-Match": read.headers["ETag"]}
        ).get_json()["title_length"]
        == 5
    )


# -- hidden ------------------------------------------------------------------------------------


@pytest.fixture
def hidden(engine: sa.Engine) -> FlaskClient:
    return _app(engine, hidden=["loan_count", "note_length"]).test_client()


def test_hidden_computed_fields_never_show(hidden: FlaskClient) -> None:
    row = hidden.get("/api/novels/1").get_json()
    rows = hidden.get("/api/novels?include=writer").get_json()["data"]
    text = hidden.get("/api/novels?format=csv").get_data(as_text=True)
    doc = hidden.get("/api/openapi.json").get_data(as_text=True)
    via_writer = hidden.get("/api/writers/1?include=novels").get_json()

    assert "loan_count" not in row
    assert "note_length" not in row
    assert row["title_length"] == 20
    assert all("loan_count" not in r for r in rows)
    assert "loan_count" not in text
    assert "note_length" not in text
    assert "loan_count" not in doc
    assert "note_length" not in doc
    assert all("loan_count" not in n for n in via_writer["novels"])


@pytest.mark.parametrize(
    "url",
    [
        "/api/novels?filter[loan_count]=3",
        "/api/novels?loan_count=3",
        "/api/novels?filter[note_length][null]=true",
        "/api/novels?sort=-loan_count",
        "/api/novels?fields=id,loan_count",
        "/api/novels?group_by=loan_count",
        "/api/novels?aggregate=sum(loan_count)",
        "/api/loans?filter[novel.loan_count]=3",
        "/api/loans?sort=novel.note_length",
        "/api/writers?filter[novels.loan_count][gt]=0",
        "/api/writers/1/novels?sort=loan_count",
    ],
)
def test_hidden_computed_fields_are_unknown_in_queries(hidden: FlaskClient, url: str) -> None:
    body = problem(hidden.get(url), 400)

    assert "Unknown field" in body["detail"]


def test_hidden_computed_field_in_a_body_is_unknown(hidden: FlaskClient) -> None:
    body = problem(hidden.post("/api/novels", json={"title": "Dune", "loan_count": 1}), 422)

    # As for a hidden column: unknown, not read-only (which would confirm it exists).
    assert body["errors"] == [{"pointer": "/loan_count", "detail": "Unknown field"}]


def test_exclude_leaves_a_column_property_out(engine: sa.Engine) -> None:
    client = _app(engine, exclude=["loan_count"], computed={}).test_client()

    row = client.get("/api/novels/1").get_json()

    assert set(row) == {"id", "title", "pages", "note", "writer_id"}
    problem(client.get("/api/novels?sort=loan_count"), 400)


# -- a plain Table -----------------------------------------------------------------------------


def test_a_table_resource_takes_expressions(engine: sa.Engine) -> None:
    table = Novel.__table__
    assert isinstance(table, sa.Table)
    app = Flask("tests")
    api = Api(app, engine)
    api.resource(
        table,
        name="titles",
        fields=["id", "title", "shelf"],
        computed={"shelf": sa.func.upper(sa.func.substr(table.c.title, 1, 1), type_=sa.String)},
    )
    client = app.test_client()

    rows = client.get("/api/titles?filter[shelf]=T&sort=-id").get_json()["data"]

    assert rows == [
        {"id": 5, "title": "The Tombs", "shelf": "T"},
        {"id": 2, "title": "The Lathe of Heaven", "shelf": "T"},
    ]


# -- declarations that cannot work -------------------------------------------------------------


def _declare(engine: sa.Engine, model: Any, **options: Any) -> None:
    Api(Flask("tests"), engine).resource(model, **options)


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (Writer, {"computed": {"nick": "nickname"}}, "Writer has no hybrid property 'nickname'"),
        (Writer, {"computed": {"nick": "plain"}}, "Writer has no hybrid property 'plain'"),
        (Writer, {"computed": {"nick": "first"}}, "Writer has no hybrid property 'first'"),
        (Writer, {"computed": {"loud": "shout"}}, "the hybrid property 'shout' has no SQL side"),
        (Writer, {"computed": {"n": "answer"}}, "'answer' gives no SQL expression on the class"),
        (Writer, {"computed": {"n": 42}}, "computed field 'n' is not a SQL expression (int)"),
        (
            Writer,
            {"computed": {"low": sa.func.lower(Writer.first)}},
            "computed field 'low' has no SQL type",
        ),
        (
            Novel,
            {"computed": {"who": Writer.first}},
            "computed field 'who' reads ['writers'], not only novels",
        ),
        (Writer, {"computed": {"first": Writer.last}}, "has the name of a mapped column"),
        (Novel, {"computed": {"loan_count": Novel.pages}}, "has the name of a mapped column"),
        (Writer, {"computed": {"a.b": Writer.last}}, "name 'a.b' must be letters"),
        (Writer, {"computed": {"novels": Writer.last}}, "relations ['novels'] have the names"),
        (
            Writer,
            {"computed": {"full_name": "full_name"}, "write_only": ["full_name"]},
            "computed fields cannot be write-only",
        ),
        (Writer, {"hidden": ["full_name"]}, "hidden names unknown columns ['full_name']"),
        (
            Writer.__table__,
            {"computed": {"full_name": "full_name"}},
            "names a hybrid property ('full_name'), which needs a mapped class",
        ),
    ],
)
def test_bad_declarations_fail_at_registration(
    engine: sa.Engine, model: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        _declare(engine, model, **options)

    assert message in str(caught.value)


def test_a_column_property_without_a_type_must_be_excluded(engine: sa.Engine) -> None:
    class Untyped(DeclarativeBase):
        pass

    class Shelf(Untyped):
        __tablename__ = "shelves"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(20))
        loud = column_property(sa.func.upper(name))

    with pytest.raises(ValueError, match="computed field 'loud' has no SQL type"):
        _declare(engine, Shelf)
    _declare(engine, Shelf, exclude=["loud"])


def test_hidden_unless_conceals_a_computed_field(engine: sa.Engine) -> None:
    # Without a token nobody has the role: the field is concealed from every caller.
    client = _app(engine, hidden_unless={"loan_count": role("admin")}).test_client()

    row = client.get("/api/novels/1").get_json()
    body = problem(client.get("/api/novels?sort=loan_count"), 400)

    assert "loan_count" not in row
    assert row["title_length"] == 20
    assert body["detail"] == "Unknown field 'loan_count'"


def test_the_change_feed_records_computed_fields(engine: sa.Engine) -> None:
    """A resource with computed fields can have the feed: its events carry them (the last
    state of a deleted row too), computed in the write's transaction."""
    app = Flask("tests")
    api = Api(app, engine, changes=ChangeFeed(stream_seconds=0))  # streams end when replayed
    api.resource(Writer, computed={"full_name": "full_name"}, changes=False)
    api.resource(Novel, computed=NOVEL_FIELDS)
    api.resource(Loan, changes=False)
    client = app.test_client()

    assert client.patch("/api/novels/4", json={"pages": 400}).status_code == 200
    assert client.delete("/api/novels/6").status_code == 204

    resp = client.get("/api/novels/changes", headers={"Last-Event-ID": "0"})
    rows = [orjson.loads(line[6:])["row"] for line in resp.get_data(as_text=True).splitlines()
            if line.startswith("data: ")]  # fmt: skip
    read = client.get("/api/novels/4").get_json()
    assert rows[0] == read
    assert [r["id"] for r in rows] == [4, 6]
