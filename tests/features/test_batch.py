"""Atomic batches: ``POST /api/batch`` runs writes on several resources in one transaction,
later operations referring to rows earlier ones wrote; one failure changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import Limits, WriteContext
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import count, problem, rows

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def client(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    # Keys come from the database (1, 2 in this order), so that its sequences agree.
    with engine.begin() as conn:
        conn.execute(models.Author.__table__.insert(), [{"name": "Herbert"}])
        conn.execute(
            models.Book.__table__.insert(),
            [{"title": "Dune", "author_id": 1}, {"title": "Emma", "author_id": None}],
        )
    return make_app().test_client()


def _batch(client: FlaskClient, *operations: dict[str, Any]) -> Any:
    return client.post("/api/batch", json={"operations": list(operations)})


def _state(engine: sa.Engine) -> tuple[Any, ...]:
    return (
        [(r["id"], r["name"]) for r in rows(engine, "authors")],
        [(r["id"], r["title"], r["year"], r["author_id"]) for r in rows(engine, "books")],
    )


def test_operations_run_in_order_and_refer_to_rows_written_before(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = _batch(
        client,
        {"op": "create", "resource": "authors", "ref": "ada", "data": {"name": "Ada"}},
        {
            "op": "create",
            "resource": "books",
            "ref": "notes",
            "data": {"title": "Notes", "author_id": {"$ref": "ada"}},
        },
        {"op": "update", "resource": "books", "key": {"$ref": "notes"}, "data": {"year": 1843}},
        {"op": "replace", "resource": "authors", "key": 1, "data": {"name": "F. Herbert"}},
        {"op": "delete", "resource": "books", "key": "2"},
        {
            "op": "create",
            "resource": "books",
            "data": {"title": "Copy", "isbn": {"$ref": "notes", "field": "title"}},
        },
    )

    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == [201, 201, 200, 200, 204, 201]
    ada, notes = results[0]["data"]["id"], results[1]["data"]["id"]
    assert results[0]["location"] == f"http://localhost/api/authors/{ada}"
    assert results[2]["data"]["year"] == 1843
    assert "data" not in results[4]
    assert results[5]["data"]["isbn"] == "Notes"
    authors, books = _state(engine)
    assert authors == [(1, "F. Herbert"), (ada, "Ada")]
    assert books[:2] == [(1, "Dune", None, 1), (notes, "Notes", 1843, ada)]
    assert len(books) == 3


def _op(op: str, resource: str, key: Any = None, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op, "resource": resource}
    if key is not None:
        out["key"] = key
    if op != "delete":
        out["data"] = data
    return out


@pytest.mark.parametrize(
    ("failing", "status", "pointer"),
    [
        (_op("update", "books", 99, year=1), 404, "/operations/2/key"),
        (_op("update", "books", 1, year="x"), 422, "/operations/2/data/year"),
        (_op("create", "books", title="X", author_id=99), 409, "/operations/2/data/author_id"),
        (_op("create", "books", title="X", isbn="978-1"), 409, "/operations/2/data/isbn"),
        (_op("delete", "authors", 1), 409, "/operations/2"),
        (_op("create", "books", title="X", secret_note="s"), 422, "/operations/2/data/secret_note"),
    ],
)
def test_a_failing_operation_rolls_back_the_whole_batch(
    client: FlaskClient, engine: sa.Engine, failing: dict[str, Any], status: int, pointer: str
) -> None:
    before = _state(engine)

    resp = _batch(
        client,
        {"op": "create", "resource": "authors", "data": {"name": "Ada"}},
        {"op": "create", "resource": "books", "data": {"title": "Kept?", "isbn": "978-1"}},
        failing,
        {"op": "update", "resource": "books", "key": 2, "data": {"year": 1815}},
    )

    body = problem(resp, status)
    assert body["detail"].startswith("Operation 2 (")
    assert "nothing was changed" in body["detail"]
    assert pointer in [e["pointer"] for e in body["errors"]]
    assert _state(engine) == before


def test_refused_operations_say_where_before_anything_runs(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = _batch(
        client,
        {"op": "create", "resource": "nope", "data": {}},
        {"op": "create", "resource": "books", "key": 1, "data": {"title": "A"}},
        {"op": "update", "resource": "books", "data": {"title": "A"}},
        {"op": "delete", "resource": "books", "key": 1, "data": {}},
        {"op": "delete", "resource": "books", "key": True},
        {"op": "create", "resource": "books", "ref": "a", "data": {"title": "A"}},
        {"op": "delete", "resource": "books", "key": 2, "ref": "gone"},
        {"op": "create", "resource": "books", "ref": None, "key": None, "data": {"title": "A"}},
    )

    body = problem(resp, 422)
    assert [e["pointer"] for e in body["errors"]] == [
        "/operations/0/resource",
        "/operations/1/key",
        "/operations/2/key",
        "/operations/3/data",
        "/operations/4/key",
        "/operations/6/ref",
        "/operations/7/key",
        "/operations/7/ref",
    ]
    assert _state(engine)[1][1] == (2, "Emma", None, None)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ([], ""),
        ({"operations": []}, "/operations"),
        ({"operations": [{"op": "frob", "resource": "books"}]}, "/operations/0/op"),
        ({"operations": [{**_op("create", "books"), "x": 1}]}, "/operations/0/x"),
        ({"ops": []}, "/ops"),
    ],
)  # fmt: skip
def test_a_malformed_batch_is_422_at_its_pointer(
    client: FlaskClient, body: Any, pointer: str
) -> None:
    errors = problem(client.post("/api/batch", json=body), 422)["errors"]

    assert pointer in [e["pointer"] for e in errors]


def test_references_to_unknown_or_later_refs_are_404_and_to_unknown_fields_422(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = _batch(
        client,
        {
            "op": "create",
            "resource": "authors",
            "data": {"name": "X", "country": {"$ref": "later"}},
        },
        {"op": "create", "resource": "authors", "ref": "later", "data": {"name": "Y"}},
    )
    field = _batch(
        client,
        {"op": "create", "resource": "authors", "ref": "a", "data": {"name": "X"}},
        {
            "op": "create",
            "resource": "books",
            "data": {"title": "T", "isbn": {"$ref": "a", "field": "nope"}},
        },
    )

    assert [e["pointer"] for e in problem(resp, 404)["errors"]] == [
        "/operations/0/data/country/$ref"
    ]
    assert [e["pointer"] for e in problem(field, 422)["errors"]] == [
        "/operations/1/data/isbn/field"
    ]
    assert count(engine, "authors") == 1


def test_a_batch_is_bounded(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app(api={"limits": Limits(max_batch_operations=2)}).test_client()
    op = {"op": "create", "resource": "authors", "data": {"name": "X"}}

    assert _batch(client, op, op).status_code == 200
    body = problem(_batch(client, op, op, op), 422)
    assert body["errors"] == [
        {"pointer": "/operations", "detail": "At most 2 operations in one batch"}
    ]
    assert count(engine, "authors") == 2


def test_methods_a_resource_does_not_allow_are_refused(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    client = make_app(books={"methods": ["GET", "POST"]}).test_client()

    resp = _batch(client, {"op": "delete", "resource": "books", "key": 1})

    assert problem(resp, 422)["errors"] == [
        {"pointer": "/operations/0/op", "detail": "books does not allow delete"}
    ]


def test_hooks_run_and_a_hook_error_rolls_back_everything(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app()
    books = app.extensions["tablerest_api"].resources["books"]

    @books.hook("before_create")
    def _no_sequels(ctx: WriteContext) -> None:
        if ctx.data["title"].endswith("II"):
            from tablerest import Conflict

            raise Conflict("No sequels")

    client = app.test_client()
    resp = _batch(
        client,
        {"op": "create", "resource": "authors", "data": {"name": "Ada"}},
        {"op": "create", "resource": "books", "data": {"title": "Dune II"}},
    )

    body = problem(resp, 409)
    assert body["errors"] == [{"pointer": "/operations/1", "detail": "No sequels"}]
    assert count(engine, "authors") == 0


def test_batch_takes_and_answers_plain_json_only(client: FlaskClient) -> None:
    op = {"operations": [{"op": "create", "resource": "authors", "data": {"name": "X"}}]}

    assert problem(client.post("/api/batch", data="operations=1"), 415)
    assert problem(client.post("/api/batch", json=op, headers={"Accept": "text/csv"}), 406)
    assert problem(client.post("/api/batch?x=1", json=op), 400)["parameter"] == "x"
    assert client.get("/api/batch").status_code == 405


def test_an_api_can_go_without_batches(make_app: AppFactory) -> None:
    client = make_app(api={"batch": False}).test_client()

    assert client.post("/api/batch", json={"operations": []}).status_code == 404


def test_openapi_documents_the_batch(make_app: AppFactory) -> None:
    client = make_app(api={"limits": Limits(max_batch_operations=7)}).test_client()

    op = client.get("/api/openapi.json").get_json()["paths"]["/api/batch"]["post"]

    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["operations"]["maxItems"] == 7
    variants = body["properties"]["operations"]["items"]["oneOf"]
    books = {
        v["properties"]["op"]["const"]: v
        for v in variants
        if v["properties"]["resource"]["const"] == "books"
    }
    assert sorted(books) == ["create", "delete", "replace", "update"]
    assert books["create"]["properties"]["data"]["$ref"].endswith("/BooksCreateNested")
    assert books["update"]["properties"]["data"]["$ref"].endswith("/BooksPatch")
    assert books["delete"]["required"] == ["op", "resource", "key"]
    assert "data" not in books["delete"]["properties"]
    assert {"200", "404", "409", "422"} <= set(op["responses"])


def test_a_ref_given_again_names_the_later_row(client: FlaskClient, engine: sa.Engine) -> None:
    resp = _batch(
        client,
        {"op": "create", "resource": "authors", "ref": "a", "data": {"name": "First"}},
        {"op": "create", "resource": "authors", "ref": "a", "data": {"name": "Second"}},
        {"op": "create", "resource": "books", "data": {"title": "T", "author_id": {"$ref": "a"}}},
    )

    assert resp.status_code == 200, resp.get_json()
    first, second, book = (r["data"] for r in resp.get_json()["results"])
    assert book["author_id"] == second["id"] != first["id"]
