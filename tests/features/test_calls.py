"""Application code calls a resource's operations (``books.create(data, identity=...)``): the
same validation, permissions, field rules, hooks, transactions and change feed as the
generated routes, with Python data in and rows out."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Request, jsonify, request

from tablerest import (
    Api,
    ChangeFeed,
    Forbidden,
    Identity,
    InvalidParameter,
    NotFound,
    Unauthorized,
    ValidationFailed,
    owner,
    public,
)
from tests import models
from tests.databases import BACKENDS
from tests.helpers import count, problem, rows

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

ME, OTHER = "1", "2"


def _identify(req: Request) -> Identity | None:
    who = req.headers.get("X-Who")
    return Identity(who) if who else None


def _app(engine: sa.Engine, **api: Any) -> tuple[Flask, Api]:
    app = Flask("calls")
    app.config["TESTING"] = True
    tr = Api(app, engine, identify=_identify, **api)
    tr.resource(models.Author)
    tr.resource(
        models.Book,
        hidden=["secret_note"],
        read_only=["created_at"],
        permissions={
            "list": public,
            "read": public,
            "create": owner("author_id"),
            "update": owner("author_id"),
            "delete": owner("author_id"),
        },
    )
    return app, tr


def _seed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Author.__table__), [{"name": "Me"}, {"name": "Other"}])
        conn.execute(
            sa.insert(models.Book.__table__),
            [
                {"title": "Mine", "author_id": 1, "isbn": "111", "secret_note": "s1"},
                {"title": "Theirs", "author_id": 2, "isbn": "222", "secret_note": "s2"},
            ],
        )


def test_a_custom_route_creates_through_the_operations(engine: sa.Engine) -> None:
    app, api = _app(engine)
    books = api.resources["books"]
    seen: list[dict[str, Any]] = []
    books.hook("before_create")(lambda ctx: seen.append(dict(ctx.data)))
    _seed(engine)

    @app.post("/copies/<int:key>")
    def copy(key: int) -> Any:
        me = api.identity(required=True)
        book = books.read(key, identity=me)
        made = books.create({"title": book["title"] + " (copy)"}, identity=me)
        return jsonify(made), 201

    client = app.test_client()
    resp = client.post("/copies/1", headers={"X-Who": ME})
    assert resp.status_code == 201
    made = resp.get_json()
    assert made["title"] == "Mine (copy)"
    assert made["author_id"] == 1  # the owner rule filled it in, as on POST /api/books
    assert "secret_note" not in made  # hidden fields stay hidden
    assert seen == [{"title": "Mine (copy)", "author_id": 1}]  # the hook ran
    stored = rows(engine, "books")[-1]
    assert (stored["title"], stored["author_id"]) == ("Mine (copy)", 1)

    # Someone else's id is refused as on POST; without a caller the route says who to be.
    problem(client.post("/copies/1", headers={"X-Who": "nobody-owns"}), 403)
    problem(client.post("/copies/1"), 401)
    assert count(engine, "books") == 3


def test_calls_need_an_identity_or_trust(engine: sa.Engine) -> None:
    app, api = _app(engine)
    books = api.resources["books"]
    _seed(engine)
    with app.app_context():
        with pytest.raises(TypeError, match="identity="):
            books.create({"title": "Who?"})
        with pytest.raises(Unauthorized):
            books.create({"title": "Anonymous"}, identity=None)
        with pytest.raises(Forbidden):
            books.create({"title": "As them", "author_id": 2}, identity=Identity(ME))
        # The application itself (a script, an import) is trusted: no permission applies.
        made = books.create({"title": "Seeded", "author_id": 2}, trusted=True)
        assert made["author_id"] == 2
        # Trusted and for someone: still no permission applies (their id is not the owner).
        made = books.create({"title": "For me", "author_id": 2}, trusted=True, identity=None)
        assert made["author_id"] == 2
    assert [r["title"] for r in rows(engine, "books")] == ["Mine", "Theirs", "Seeded", "For me"]
    with pytest.raises(RuntimeError):
        books.read(1, trusted=True)  # outside an app: no database to call


def test_reads_see_what_the_caller_sees(engine: sa.Engine) -> None:
    app, api = _app(engine)
    books = api.resources["books"]
    _seed(engine)
    me = Identity(ME)
    with app.app_context():
        row = books.read(1, {"include": "author"}, identity=me)
        assert row["author"]["name"] == "Me"
        assert "secret_note" not in row
        page = books.list({"filter[author_id]": "2", "count": "exact"}, identity=me)
        assert [r["title"] for r in page.rows] == ["Theirs"]
        assert page.total == {"total": 1}
        assert not page.more
        page = books.list("sort=-title&page[size]=1&page[after]=", identity=me)
        assert [r["title"] for r in page.rows] == ["Theirs"]
        assert page.more
        assert page.cursors
        # A hidden field is an unknown name to a caller, as in a query string.
        with pytest.raises(InvalidParameter) as failed:
            books.list({"filter[secret_note]": "s2"}, identity=me)
        assert failed.value.status == 400
        # OR / NOT groups as in a query string, hidden fields in them unknown too.
        page = books.list(
            {"filter[or][0][author_id]": "2", "filter[or][1][title]": "x"}, identity=me
        )
        assert [r["title"] for r in page.rows] == ["Theirs"]
        page = books.list("filter[not][author_id]=2&sort=title", identity=me)
        assert "Theirs" not in [r["title"] for r in page.rows]
        with pytest.raises(InvalidParameter) as failed:
            books.list({"filter[not][secret_note]": "s2"}, identity=me)
        assert failed.value.parameter == "filter[not][secret_note]"
        with pytest.raises(NotFound):
            books.read(99, identity=me)


def test_changes_apply_the_row_rules(engine: sa.Engine) -> None:
    app, api = _app(engine)
    books = api.resources["books"]
    _seed(engine)
    me = Identity(ME)
    with app.app_context():
        assert books.update(1, {"title": "Mine, again"}, identity=me)["title"] == "Mine, again"
        with pytest.raises(Forbidden):  # seen (reads are public), not theirs to change
            books.update(2, {"title": "Taken"}, identity=me)
        with pytest.raises(ValidationFailed) as bad:
            books.update(1, {"created_at": "2020-01-01T00:00:00"}, identity=me)
        assert bad.value.errors[0].pointer == "/created_at"
        upserted = books.upsert({"title": "By isbn", "isbn": "111"}, on="isbn", identity=me)
        assert (upserted["id"], upserted["title"]) == (1, "By isbn")
        replaced = books.replace(1, {"title": "Replaced", "author_id": 1}, identity=me)
        assert replaced["isbn"] is None  # PUT: fields left out go back to their defaults
        changed = books.update_many([{"id": 1, "pages": 7}], identity=me)
        assert changed[0]["pages"] == 7
        with pytest.raises(Forbidden):
            books.delete(2, identity=me)
        books.delete(1, identity=me)
    titles = {r["id"]: (r["title"], r["pages"]) for r in rows(engine, "books")}
    assert titles == {2: ("Theirs", 100)}
    assert [r["isbn"] for r in rows(engine, "books")] == ["222"]


def test_nested_creates_and_arrays(engine: sa.Engine) -> None:
    app, api = _app(engine)
    authors = api.resources["authors"]
    with app.app_context():
        made = authors.create({"name": "Ada", "books": [{"title": "Notes"}]}, trusted=True)
        assert made["books"][0]["title"] == "Notes"
        many = authors.create([{"name": "Bo"}, {"name": "Cy"}], trusted=True)
        assert [a["name"] for a in many] == ["Bo", "Cy"]
        with pytest.raises(ValidationFailed) as bad:
            authors.create([{"name": "Di"}, {"name": 5}], trusted=True)
        assert [e.pointer for e in bad.value.errors] == ["/1/name"]
    assert [r["name"] for r in rows(engine, "authors")] == ["Ada", "Bo", "Cy"]
    assert rows(engine, "books")[0]["author_id"] == made["id"]


def test_a_transaction_holds_several_calls(engine: sa.Engine) -> None:
    app, api = _app(engine)
    authors, books = api.resources["authors"], api.resources["books"]

    def three_writes() -> None:
        with api.transaction():
            ada = authors.create({"name": "Ada"}, trusted=True)
            books.create({"title": "Kept?", "author_id": ada["id"]}, trusted=True)
            books.create({"title": 5}, trusted=True)  # fails: the block rolls back whole

    with app.app_context():
        with pytest.raises(ValidationFailed):
            three_writes()
        assert count(engine, "authors") == 0
        assert count(engine, "books") == 0
        with api.transaction():
            ada = authors.create({"name": "Ada"}, trusted=True)
            books.create({"title": "Kept", "author_id": ada["id"]}, trusted=True)
    assert [r["title"] for r in rows(engine, "books")] == ["Kept"]


def test_errors_in_a_custom_route_answer_as_problems(engine: sa.Engine) -> None:
    app, api = _app(engine)
    books = api.resources["books"]

    @app.post("/quick")
    def quick() -> Any:
        return jsonify(books.create(request.get_json(), trusted=True)), 201

    client = app.test_client()
    body = problem(client.post("/quick", json={"title": 5}), 422)
    assert body["errors"][0]["pointer"] == "/title"
    assert count(engine, "books") == 0


def test_calls_record_changes_in_the_feed(engine: sa.Engine) -> None:
    app, api = _app(engine, changes=ChangeFeed(stream_seconds=0))
    authors = api.resources["authors"]
    with app.app_context():
        made = authors.create({"name": "Fed"}, trusted=True)
        authors.update(made["id"], {"name": "Fed again"}, trusted=True)
    with engine.connect() as conn:
        events = conn.execute(sa.text("SELECT op FROM tablerest_changes ORDER BY id")).all()
    assert sorted(e[0] for e in events) == ["create", "update"]


def test_hooks_see_who_each_write_is_for(engine: sa.Engine) -> None:
    """``ctx.identity``: the request's caller on every route (item, bulk, batch), a call's
    ``identity=`` (also with ``trusted=True``), None for a trusted call made for no one."""
    app, api = _app(engine)
    books = api.resources["books"]
    seen: list[tuple[str, str | None]] = []
    for event in ("before_create", "after_create", "before_update", "before_delete"):
        books.hook(event)(
            lambda ctx, event=event: seen.append(
                (event, ctx.identity.id if ctx.identity is not None else None)
            )
        )
    _seed(engine)
    client = app.test_client()
    me = {"X-Who": ME}

    assert client.post("/api/books", json={"title": "A"}, headers=me).status_code == 201
    assert client.patch("/api/books/1", json={"title": "B"}, headers=me).status_code == 200
    assert client.patch("/api/books", json=[{"id": 1, "title": "C"}], headers=me).status_code == 200
    batch = {"operations": [{"op": "delete", "resource": "books", "key": 3}]}
    assert client.post("/api/batch", json=batch, headers=me).status_code == 200
    with app.app_context():
        books.update(1, {"title": "D"}, identity=Identity(ME))
        books.update(2, {"title": "E"}, trusted=True, identity=Identity(OTHER))
        books.update(2, {"title": "F"}, trusted=True)

    assert seen == [
        ("before_create", ME),
        ("after_create", ME),
        ("before_update", ME),
        ("before_update", ME),
        ("before_delete", ME),
        ("before_update", ME),
        ("before_update", OTHER),
        ("before_update", None),
    ]
