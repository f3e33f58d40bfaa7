"""The live change feed: every write path records exactly one event per row, in its own
transaction (rolled-back writes record none), and ``GET /api/books/changes`` sends them with
list filters and the caller's permissions applied, on SQLite, PostgreSQL and MariaDB.

The app here ends each stream once it has sent what is stored (``stream_seconds=0``), so the
Flask test client reads a bounded body; tests/e2e/test_changes.py follows live streams.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Request
from flask.testing import FlaskClient

from tablerest import ChangeFeed, Identity, owner, role
from tablerest.changes.outbox import changes_table
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

BOUNDED = ChangeFeed(stream_seconds=0)


def events(client: FlaskClient, url: str = "/api/books/changes", after: int = 0,
           headers: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The events a stream sends after id ``after`` (SSE parsed: id, event, data)."""
    resp = client.get(url, headers={"Last-Event-ID": str(after), **(headers or {})})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/event-stream"
    return parse(resp.get_data(as_text=True))


def parse(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            fields["data"] = orjson.loads(fields["data"])
            out.append(fields)
    return out


def ops(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["event"], e["data"]["key"]) for e in found]


def stored(engine: sa.Engine) -> list[tuple[int, str, str]]:
    """The outbox as SQL sees it."""
    with engine.connect() as conn:
        t = changes_table
        return [
            (r.id, r.resource, r.op)
            for r in conn.execute(sa.select(t.c.id, t.c.resource, t.c.op).order_by(t.c.id))
        ]


@pytest.fixture(params=["core", "orm"])
def client(request: pytest.FixtureRequest, make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    with engine.begin() as conn:
        conn.execute(models.Author.__table__.insert(), [{"id": 1, "name": "Le Guin"}])
    orm = request.param == "orm"
    return make_app(api={"changes": BOUNDED}, books={"orm": orm}).test_client()


def test_every_write_path_records_one_event_per_row(client: FlaskClient, engine: sa.Engine) -> None:
    one = client.post("/api/books", json={"title": "Dune", "isbn": "1", "year": 1965})
    many = client.post("/api/books", json=[{"title": "Emma", "isbn": "2"}, {"title": "Ubik"}])
    patched = client.patch("/api/books/1", json={"pages": 412})
    put = client.put("/api/books/2", json={"title": "Emma!", "isbn": "2"})
    bulk = client.patch("/api/books", json=[{"id": 3, "year": 1969}, {"id": 1, "year": 1966}])
    upsert = client.post(
        "/api/books?on_conflict=isbn",
        json=[{"title": "Dune!", "isbn": "1"}, {"title": "X", "isbn": "4"}],
    )
    linked = client.patch(
        "/api/books/3/relationships/author",
        data=orjson.dumps({"data": {"type": "authors", "id": "1"}}),
        content_type="application/vnd.api+json",
    )
    deleted = client.delete("/api/books/2")
    statuses = [r.status_code for r in (one, many, patched, put, bulk, upsert, linked, deleted)]
    assert statuses == [201, 201, 200, 200, 200, 200, 204, 204]

    found = events(client)

    new = str(upsert.get_json()[1]["id"])  # PostgreSQL's ON CONFLICT uses up a sequence value
    assert ops(found) == [
        ("create", "1"), ("create", "2"), ("create", "3"), ("update", "1"), ("update", "2"),
        ("update", "3"), ("update", "1"), ("update", "1"), ("create", new), ("update", "3"),
        ("delete", "2"),
    ]  # fmt: skip
    assert [int(e["id"]) for e in found] == list(range(1, 12))
    assert found[0]["data"]["row"] == one.get_json()
    assert found[4]["data"]["row"] == put.get_json()
    assert found[9]["data"]["row"]["author_id"] == 1
    assert found[10]["data"] == {"op": "delete", "key": "2", "row": put.get_json()}
    # Hidden fields never reach the outbox.
    assert all("secret_note" not in e["data"]["row"] for e in found)
    assert [op for _id, _res, op in stored(engine)][-1] == "delete"


def test_failed_writes_record_nothing(client: FlaskClient, engine: sa.Engine) -> None:
    client.post("/api/books", json={"title": "Dune", "isbn": "1"})

    clash = client.post(
        "/api/books", json=[{"title": "A", "isbn": "9"}, {"title": "B", "isbn": "1"}]
    )
    missing = client.patch("/api/books/99", json={"pages": 1})
    gone = client.delete("/api/books/99")
    bad_bulk = client.patch("/api/books", json=[{"id": 1, "pages": 2}, {"id": 99, "pages": 3}])
    bad_fk = client.patch("/api/books/1", json={"author_id": 42})

    assert [r.status_code for r in (clash, missing, gone, bad_bulk, bad_fk)] == [
        409,
        404,
        404,
        404,
        409,
    ]
    assert stored(engine) == [(1, "books", "create")]
    # The next write takes the next id: no gap where the failed ones were.
    client.delete("/api/books/1")
    assert stored(engine) == [(1, "books", "create"), (2, "books", "delete")]


def test_resuming_sends_only_later_events(client: FlaskClient) -> None:
    for title in ("a", "b", "c"):
        client.post("/api/books", json={"title": title})

    assert ops(events(client, after=2)) == [("create", "3")]
    assert events(client, after=3) == []
    # Without Last-Event-ID a stream starts at the newest event.
    resp = client.get("/api/books/changes")
    assert resp.get_data(as_text=True) == "retry: 2000\n\n"


def test_an_id_the_outbox_does_not_hold_gets_a_reset_event(client: FlaskClient) -> None:
    client.post("/api/books", json={"title": "a"})

    resp = client.get("/api/books/changes", headers={"Last-Event-ID": "77"})

    (reset,) = parse(resp.get_data(as_text=True))
    assert reset["event"] == "reset"
    assert reset["data"]["latest"] == 1


def test_filters_work_as_in_lists(client: FlaskClient) -> None:
    client.post(
        "/api/books",
        json=[
            {"title": "Dune", "year": 1965, "genre": "fantasy", "price": "9.50"},
            {"title": "Emma", "year": 1815, "genre": "poetry"},
            {"title": "Dune Messiah", "year": 1969, "genre": "fantasy", "price": "12.00"},
        ],
    )

    def keys(query: str) -> list[str]:
        return [e["data"]["key"] for e in events(client, f"/api/books/changes?{query}")]

    assert keys("genre=fantasy") == ["1", "3"]
    assert keys("filter[year][ge]=1900&filter[title][startswith]=Dune") == ["1", "3"]
    assert keys("filter[price][gt]=10") == ["3"]
    assert keys("filter[price][null]=true") == ["2"]
    assert keys("filter[genre][ne]=fantasy") == ["2"]
    assert keys("filter[title][like]=%25Mess%25") == ["3"]
    assert keys("filter[title][ilike]=dune") == ["1"]
    assert keys("filter[year][in]=1815,1969") == ["2", "3"]
    # A repeated equality is any of its values, as in a list.
    assert keys("title=Emma&title=Dune") == ["1", "2"]
    assert keys("filter[year]=1969&filter[year]=1815") == ["2", "3"]


def test_or_and_not_groups_select_the_events_a_list_selects(client: FlaskClient) -> None:
    client.post(
        "/api/books",
        json=[
            {"title": "Dune", "year": 1965, "genre": "fantasy", "price": "9.50"},
            {"title": "Emma", "year": 1815, "genre": "poetry"},
            {"title": "Dune Messiah", "year": 1969, "genre": "fantasy", "price": "12.00"},
        ],
    )

    def keys(query: str) -> list[str]:
        found = [e["data"]["key"] for e in events(client, f"/api/books/changes?{query}")]
        listed = client.get(f"/api/books?{query}").get_json()["data"]
        assert found == [str(b["id"]) for b in listed], query  # the list decides the same
        return found

    assert keys("filter[or][0][year][lt]=1900&filter[or][1][price][gt]=10") == ["2", "3"]
    # NOT is the complement: Emma, whose price is NULL, is not "over 10", so she is selected.
    assert keys("filter[not][price][gt]=10") == ["1", "2"]
    assert keys("filter[not][genre]=fantasy&filter[not][year][gt]=1966") == ["1", "2"]
    assert keys("filter[or][0][not][genre]=fantasy&filter[or][1][title]=Dune") == ["1", "2"]
    assert keys("genre=fantasy&filter[not][or][0][price][lt]=10") == ["3"]


@pytest.mark.parametrize(
    "query",
    ["sort=title", "page[size]=5", "include=author", "filter[author.name]=x", "filter[nope]=1",
     "filter[year][gt]=soon", "secret_note=x", "count=true", "fields=title", "page[offset]=1",
     "page[limit]=1", "filter[year][ge]=1&filter[year][ge]=2",
     "filter[or][0][author.name]=x", "filter[not][secret_note]=x", "filter[or][x][year]=1"],
)  # fmt: skip
def test_what_a_feed_cannot_take_is_a_400(client: FlaskClient, query: str) -> None:
    problem(client.get(f"/api/books/changes?{query}"), 400)


def test_a_bad_last_event_id_is_a_400_and_json_only_a_406(client: FlaskClient) -> None:
    body = problem(client.get("/api/books/changes", headers={"Last-Event-ID": "x"}), 400)
    assert "Last-Event-ID" in body["detail"]
    problem(client.get("/api/books/changes", headers={"Accept": "application/json"}), 406)


def test_only_resources_with_the_feed_record(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app(books={"changes": True}).test_client()
    client.post("/api/authors", json={"name": "Austen"})
    client.post("/api/books", json={"title": "Emma", "author_id": 1})

    assert stored(engine) == [(1, "books", "create")]
    assert client.get("/api/authors/changes").status_code == 404


def test_history_beyond_keep_rows_is_pruned(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app(api={"changes": ChangeFeed(stream_seconds=0, keep_rows=5)}).test_client()
    client.post("/api/books", json=[{"title": f"t{i}"} for i in range(120)])

    assert [i for i, _res, _op in stored(engine)] == list(range(116, 121))
    assert (
        parse(
            client.get("/api/books/changes", headers={"Last-Event-ID": "3"}).get_data(as_text=True)
        )[0]["event"]
        == "reset"
    )
    assert ops(events(client, after=118)) == [("create", "119"), ("create", "120")]


def _who(request: Request) -> Identity | None:
    user = request.headers.get("X-User")
    if user is None:
        return None
    return Identity(user, frozenset(request.headers.get("X-Roles", "").split(",")) - {""})


@pytest.fixture
def guarded(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    with engine.begin() as conn:
        conn.execute(
            models.Author.__table__.insert(), [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]
        )
    mine = owner("author_id") | role("admin")
    app = make_app(
        api={"changes": BOUNDED, "identify": _who},
        books={
            "permissions": {"list": mine, "read": mine, "create": mine, "update": mine},
            "hidden_unless": {"price": role("admin")},
        },
    )
    return app.test_client()


def test_a_client_sees_only_events_of_rows_it_may_read(guarded: FlaskClient) -> None:
    admin = {"X-User": "9", "X-Roles": "admin"}
    one, two = {"X-User": "1"}, {"X-User": "2"}
    writes = [
        guarded.post("/api/books", json={"title": "a"}, headers=one),
        guarded.post("/api/books", json={"title": "b"}, headers=two),
        guarded.patch("/api/books/1", json={"title": "a!"}, headers=one),
        guarded.patch("/api/books/1", json={"price": "1.00"}, headers=admin),
        guarded.delete("/api/books/2", headers=admin),
    ]
    assert [w.status_code for w in writes] == [201, 201, 200, 200, 204]

    # The admin's update changed only the price, which one cannot see: no event for one.
    assert ops(events(guarded, headers=one)) == [("create", "1"), ("update", "1")]
    assert ops(events(guarded, headers=two)) == [("create", "2"), ("delete", "2")]
    everything = events(guarded, headers=admin)
    assert len(everything) == 5
    assert everything[3]["data"]["row"]["price"] == "1.00"
    # A field hidden from the caller is left out of rows, and cannot be filtered on.
    assert all("price" not in e["data"]["row"] for e in events(guarded, headers=one))
    problem(guarded.get("/api/books/changes?filter[price][gt]=0", headers=one), 400)
    problem(guarded.get("/api/books/changes"), 401)


def test_the_feed_is_documented_and_off_by_default(make_app: AppFactory) -> None:
    from tablerest.changes.outbox import NO_CHANGES
    from tests.features.test_openapi import spec

    plain = make_app()
    state = plain.extensions["tablerest"]["/api"]
    found = state.registry.operations.items()
    plain_ops = [ops for n, ops in found if n in ("authors", "kitchens")]
    assert plain_ops
    assert all(ops.changes is NO_CHANGES and ops.shared.core for ops in plain_ops)
    assert plain.test_client().get("/api/books/changes").status_code == 404

    doc = spec(make_app(api={"changes": True}))  # validates the document
    op = doc["paths"]["/api/books/changes"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} >= {"Last-Event-ID", "filter[title]"}


def test_streams_beyond_max_streams_get_a_429(make_app: AppFactory) -> None:
    client = make_app(api={"changes": ChangeFeed(max_streams=1, stream_seconds=5)}).test_client()
    first = client.get("/api/books/changes", buffered=False)
    try:
        assert next(iter(first.response)) == b"retry: 2000\n\n"
        full = client.get("/api/books/changes", environ_base={"REMOTE_ADDR": "10.0.0.2"})
        body = problem(full, 429)
        assert "Too many" in body["detail"]
        assert full.headers["Retry-After"] == "5"
    finally:
        first.close()
    again = client.get("/api/books/changes", buffered=False)
    assert again.status_code == 200
    again.close()


def test_other_methods_on_the_feed_are_a_405(client: FlaskClient) -> None:
    resp = client.put("/api/books/changes", json={"title": "x"})
    problem(resp, 405)
    assert "GET" in resp.headers["Allow"]
    assert client.head("/api/books/changes").status_code == 200


def test_batches_and_nested_writes_record_each_row_once_or_nothing(
    client: FlaskClient, engine: sa.Engine
) -> None:
    if engine.dialect.name == "postgresql":  # the fixture's author took id 1 by hand
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('authors_id_seq', 1)")
    batch = client.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "create", "resource": "books", "ref": "b", "data": {"title": "Dune"}},
                {"op": "update", "resource": "books", "key": {"$ref": "b"}, "data": {"pages": 9}},
                {"op": "create", "resource": "authors", "data": {"name": "Austen"}},
            ]
        },
    )
    nested = client.post("/api/authors", json={"name": "Herbert", "books": [{"title": "Ix"}]})
    failed = client.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "create", "resource": "books", "data": {"title": "Kept?"}},
                {"op": "delete", "resource": "books", "key": 99},
            ]
        },
    )

    assert [batch.status_code, nested.status_code, failed.status_code] == [200, 201, 404]
    book = str(batch.get_json()["results"][0]["data"]["id"])
    ix = str(nested.get_json()["books"][0]["id"])
    assert ops(events(client)) == [("create", book), ("update", book), ("create", ix)]
    # Every resource has the feed here: the authors are recorded too, in write order.
    assert stored(engine) == [
        (1, "books", "create"),
        (2, "books", "update"),
        (3, "authors", "create"),
        (4, "authors", "create"),
        (5, "books", "create"),
    ]


def test_an_outbox_made_by_an_earlier_version_gets_the_new_column(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    earlier = sa.MetaData()
    sa.Table(
        changes_table.name,
        earlier,
        *(
            sa.Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False,
                      nullable=c.nullable)
            for c in changes_table.columns
            if c.name != "changed_json"
        ),
    )  # fmt: skip
    earlier.create_all(engine)
    client = make_app(api={"changes": BOUNDED}).test_client()

    client.post("/api/books", json={"title": "Dune"})
    client.patch("/api/books/1", json={"pages": 3})

    assert ops(events(client)) == [("create", "1"), ("update", "1")]
    columns = {c["name"] for c in sa.inspect(engine).get_columns(changes_table.name)}
    assert "changed_json" in columns
