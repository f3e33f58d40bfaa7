"""``lookup=``: rows named in URLs by a unique column other than the primary key
(``/api/articles/{slug}``), or a unique set of them, on SQLite, PostgreSQL and MariaDB: item
routes, relation routes, ``Location``, JSON:API ids, ETags, batch keys, bulk updates, upserts,
application calls and permissions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Request
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, ChangeFeed, Identity, owner, public
from tests.databases import BACKENDS
from tests.features.test_openapi_examples import _examples, _validator
from tests.helpers import problem

JSONAPI = "application/vnd.api+json"


class Base(DeclarativeBase):
    pass


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    owner_id: Mapped[int | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(sa.String(100), unique=True)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id"))
    body: Mapped[str] = mapped_column(sa.String(100))


class Pin(Base):
    """A foreign key onto the lookup column: JSON:API linkage by the article's id (slug)."""

    __tablename__ = "pins"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_slug: Mapped[str] = mapped_column(sa.ForeignKey("articles.slug"))


class Part(Base):
    """A composite lookup: a code is unique within its maker."""

    __tablename__ = "parts"
    __table_args__ = (sa.UniqueConstraint("maker", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    maker: Mapped[str] = mapped_column(sa.String(50))
    code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(50))


pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _who(request: Request) -> Identity | None:
    who = request.headers.get("X-Who")
    return Identity(who) if who else None


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(
            sa.insert(Article),
            [
                {"slug": "hello", "title": "Hello", "owner_id": 1},
                {"slug": "café", "title": "Café", "owner_id": 1},
                {"slug": "a,b", "title": "Comma", "owner_id": 2},
            ],
        )
        conn.execute(sa.insert(Comment), [{"article_id": 1, "body": "first"}])
        conn.execute(sa.insert(Part), [{"maker": "acme", "code": "x1", "name": "Bolt"}])
    yield eng
    eng.dispose()


def _app(engine: sa.Engine, **articles: Any) -> tuple[Flask, Api]:
    app = Flask("lookup")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=_who)
    api.resource(Article, lookup="slug", **articles)
    api.resource(Comment)
    api.resource(Pin)
    api.resource(Part, lookup=("maker", "code"))
    return app, api


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine)[0].test_client()


def _stored(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        found = conn.execute(sa.select(Article.slug, Article.id, Article.title))
        return {slug: (id_, title) for slug, id_, title in found}


def test_item_routes_name_rows_by_their_slug(client: FlaskClient, engine: sa.Engine) -> None:
    got = client.get("/api/articles/hello")
    assert got.status_code == 200
    assert got.get_json() == {
        "id": 1,
        "slug": "hello",
        "title": "Hello",
        "owner_id": 1,
        "note": None,
    }
    # The primary key no longer names rows: /articles/1 looks for the slug "1".
    problem(client.get("/api/articles/1"), 404)

    made = client.post("/api/articles", json={"slug": "new-one", "title": "New"})
    assert made.status_code == 201
    assert made.headers["Location"].endswith("/api/articles/new-one")
    assert client.get(made.headers["Location"]).get_json()["title"] == "New"

    assert client.patch("/api/articles/new-one", json={"title": "Newer"}).status_code == 200
    put = client.put("/api/articles/hello", json={"slug": "hello", "title": "Hi"})
    assert put.status_code == 200, put.get_json()
    assert client.delete("/api/articles/new-one").status_code == 204
    problem(client.delete("/api/articles/new-one"), 404)
    stored = _stored(engine)
    assert stored["hello"] == (1, "Hi")
    assert "new-one" not in stored


def test_unicode_and_comma_slugs_and_unreachable_ones(
    client: FlaskClient, engine: sa.Engine
) -> None:
    assert client.get("/api/articles/caf%C3%A9").get_json()["title"] == "Café"
    # One lookup column: a comma is part of the value (it splits composite keys only).
    assert client.get("/api/articles/a,b").get_json()["title"] == "Comma"
    assert client.get("/api/articles/a%2Cb").get_json()["title"] == "Comma"
    made = client.post("/api/articles", json={"slug": "ünï", "title": "U"})
    assert made.headers["Location"].endswith("/api/articles/%C3%BCn%C3%AF")
    # A slug no URL could name is refused when written, in a create or a rename.
    body = problem(client.post("/api/articles", json={"slug": "a/b", "title": "S"}), 422)
    assert body["errors"][0]["pointer"] == "/slug"
    problem(client.post("/api/articles", json={"slug": "..", "title": "S"}), 422)
    renamed = problem(client.patch("/api/articles/hello", json={"slug": "x/y"}), 422)
    assert renamed["errors"][0]["pointer"] == "/slug"
    assert set(_stored(engine)) == {"hello", "café", "a,b", "ünï"}


def test_a_rename_answers_with_the_new_slug(engine: sa.Engine) -> None:
    app, api = _app(engine)
    articles = api.resources["articles"]

    @articles.hook("before_update")
    def reslug(ctx: Any) -> None:
        if "title" in ctx.data:
            ctx.data["slug"] = ctx.data["title"].lower().replace(" ", "-")

    client = app.test_client()
    changed = client.patch("/api/articles/hello", json={"title": "Good Bye"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["slug"] == "good-bye"
    doc = client.get("/api/articles/good-bye", headers={"Accept": JSONAPI}).get_json()
    assert doc["data"]["id"] == "good-bye"
    assert doc["links"]["self"].endswith("/api/articles/good-bye")
    problem(client.get("/api/articles/hello"), 404)
    # A hook's new slug must be one a URL can name too.
    problem(client.patch("/api/articles/good-bye", json={"title": "And/Or"}), 422)
    # Without hooks (the Core path) a client's rename too.
    plain = _app(engine)[0].test_client()
    renamed = plain.patch("/api/articles/good-bye", json={"slug": "again"})
    assert renamed.status_code == 200
    assert renamed.get_json()["slug"] == "again"
    assert _stored(engine)["again"] == (1, "Good Bye")


def test_the_primary_key_in_a_body_must_be_the_rows(client: FlaskClient, engine: sa.Engine) -> None:
    row = client.get("/api/articles/hello").get_json()
    assert client.put("/api/articles/hello", json={**row, "title": "Same id"}).status_code == 200
    body = problem(client.put("/api/articles/hello", json={**row, "id": 2}), 422)
    assert body["errors"][0]["pointer"] == "/id"
    assert _stored(engine)["hello"] == (1, "Same id")


def test_etags_and_if_match_on_lookup_urls(client: FlaskClient, engine: sa.Engine) -> None:
    got = client.get("/api/articles/hello")
    tag = got.headers["ETag"]
    assert client.get("/api/articles/hello", headers={"If-None-Match": tag}).status_code == 304
    stale = client.patch("/api/articles/hello", json={"title": "x"}, headers={"If-Match": '"no"'})
    problem(stale, 412)
    ok = client.patch("/api/articles/hello", json={"title": "y"}, headers={"If-Match": tag})
    assert ok.status_code == 200
    assert _stored(engine)["hello"] == (1, "y")


def test_relation_routes_and_json_api_ids(client: FlaskClient) -> None:
    comments = client.get("/api/articles/hello/comments").get_json()["data"]
    assert [c["body"] for c in comments] == ["first"]
    problem(client.get("/api/articles/nope/comments"), 404)
    doc = client.get("/api/articles?sort=id", headers={"Accept": JSONAPI}).get_json()
    first = doc["data"][0]
    assert first["id"] == "hello"
    assert first["links"]["self"].endswith("/api/articles/hello")
    assert "slug" not in first["attributes"]
    assert "id" not in first["attributes"]
    # A comment's foreign key holds the article's primary key, not its id (the slug): it stays
    # an attribute, and the relationship has links but no linkage.
    comment = client.get("/api/comments/1", headers={"Accept": JSONAPI}).get_json()["data"]
    assert comment["attributes"]["article_id"] == 1
    assert "data" not in comment["relationships"].get("article", {})
    # A JSON:API create names the row by its id: the slug.
    made = client.post(
        "/api/articles",
        json={"data": {"type": "articles", "id": "by-id", "attributes": {"title": "T"}}},
        headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
    )
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"].endswith("/api/articles/by-id")
    patched = client.patch(
        "/api/articles/by-id",
        json={"data": {"type": "articles", "id": "by-id", "attributes": {"title": "U"}}},
        headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
    )
    assert patched.status_code == 200
    assert patched.get_json()["data"]["attributes"]["title"] == "U"
    renamed = client.patch(
        "/api/articles/by-id",
        json={"data": {"type": "articles", "id": "by-id", "attributes": {"slug": "by-id-2"}}},
        headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
    )
    assert renamed.get_json()["data"]["id"] == "by-id-2"
    assert renamed.get_json()["links"]["self"].endswith("/api/articles/by-id-2")
    other = client.patch(
        "/api/articles/by-id-2",
        json={"data": {"type": "articles", "id": "hello", "attributes": {"title": "V"}}},
        headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
    )
    problem_doc = other.get_json()
    assert other.status_code == 409, problem_doc


def test_json_api_linkage_through_a_foreign_key_onto_the_lookup(
    client: FlaskClient, engine: sa.Engine
) -> None:
    made = client.post(
        "/api/pins",
        json={
            "data": {
                "type": "pins",
                "relationships": {"articles": {"data": {"type": "articles", "id": "café"}}},
            }
        },
        headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
    )
    assert made.status_code == 201, made.get_json()
    pin = made.get_json()["data"]
    assert pin["relationships"]["articles"]["data"] == {"type": "articles", "id": "café"}
    assert "article_slug" not in pin.get("attributes", {})  # the linkage holds it
    related = client.get(f"/api/pins/{pin['id']}/articles").get_json()
    assert related["title"] == "Café"
    with engine.connect() as conn:
        assert conn.execute(sa.select(Pin.article_slug)).scalars().all() == ["café"]


def test_composite_lookups(client: FlaskClient, engine: sa.Engine) -> None:
    assert client.get("/api/parts/acme,x1").get_json()["name"] == "Bolt"
    problem(client.get("/api/parts/acme"), 404)
    made = client.post("/api/parts", json={"maker": "acme", "code": "y2", "name": "Nut"})
    assert made.headers["Location"].endswith("/api/parts/acme,y2")
    body = problem(client.post("/api/parts", json={"maker": "a,b", "code": "z", "name": "N"}), 422)
    assert body["errors"][0]["pointer"] == "/maker"
    assert client.delete("/api/parts/acme,x1").status_code == 204
    with engine.connect() as conn:
        assert conn.execute(sa.select(Part.code)).scalars().all() == ["y2"]


def test_batch_bulk_and_upsert_use_the_lookup(client: FlaskClient, engine: sa.Engine) -> None:
    ops = [
        {"op": "create", "resource": "articles", "data": {"slug": "b1", "title": "B"}, "ref": "b"},
        {"op": "update", "resource": "articles", "key": {"$ref": "b"}, "data": {"title": "B2"}},
        {"op": "update", "resource": "articles", "key": "café", "data": {"title": "C2"}},
        {"op": "delete", "resource": "articles", "key": "a,b"},
    ]
    done = client.post("/api/batch", json={"operations": ops})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["results"][0]["location"].endswith("/api/articles/b1")
    bulk = client.patch("/api/articles", json=[{"slug": "hello", "title": "H2"}])
    assert bulk.status_code == 200, bulk.get_json()
    problem(client.patch("/api/articles", json=[{"id": 1, "title": "H3"}]), 422)
    up = client.post("/api/articles?on_conflict=slug", json={"slug": "hello", "title": "H4"})
    assert up.status_code == 200
    new = client.post("/api/articles?on_conflict=slug", json={"slug": "fresh", "title": "F"})
    assert new.status_code == 201
    assert new.headers["Location"].endswith("/api/articles/fresh")
    stored = _stored(engine)
    assert {k: v[1] for k, v in stored.items()} == {
        "hello": "H4",
        "café": "C2",
        "b1": "B2",
        "fresh": "F",
    }


def test_application_calls_take_the_lookup_value(engine: sa.Engine) -> None:
    app, api = _app(engine)
    articles = api.resources["articles"]
    with app.app_context():
        assert articles.read("café", trusted=True)["id"] == 2
        articles.update("café", {"title": "Tea"}, trusted=True)
    assert _stored(engine)["café"] == (2, "Tea")


def test_a_lookup_reveals_no_row_a_scope_hides(engine: sa.Engine) -> None:
    rule = owner("owner_id")
    app, _ = _app(
        engine, permissions={"list": rule, "read": rule, "update": rule, "create": public}
    )
    client = app.test_client()
    assert client.get("/api/articles/hello", headers={"X-Who": "1"}).status_code == 200
    # Another's row is as missing as a row that does not exist: 404, never 403.
    for path in ("/api/articles/a,b", "/api/articles/a,b/comments", "/api/articles/nope"):
        problem(client.get(path, headers={"X-Who": "1"}), 404)
    problem(client.patch("/api/articles/a,b", json={"title": "x"}, headers={"X-Who": "1"}), 404)
    assert _stored(engine)["a,b"] == (3, "Comma")


def test_openapi_names_the_path_parameter_after_the_lookup(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert "/api/articles/{slug}" in doc["paths"]
    assert "/api/articles/{id}" not in doc["paths"]
    (param,) = [
        p
        for p in doc["paths"]["/api/articles/{slug}"]["get"].get("parameters", [])
        + doc["paths"]["/api/articles/{slug}"].get("parameters", [])
        if p.get("in") == "path"
    ]
    assert param["name"] == "slug"
    assert param["schema"]["type"] == "string"
    assert "/api/articles/{slug}/comments" in doc["paths"]
    assert "/api/parts/{key}" in doc["paths"]
    for fmt in ("json", "jsonapi"):
        document = client.get(f"/api/openapi.json?format={fmt}").get_json()
        validate(document)
        bad = {
            where: problems
            for where, example, schema in _examples(document)
            if (problems := [e.message for e in _validator(document, schema).iter_errors(example)])
        }
        assert bad == {}
    index = {r["name"]: r for r in client.get("/api").get_json()["resources"]}
    assert index["articles"]["primary_key"] == ["id"]
    assert index["articles"]["lookup"] == ["slug"]
    assert "lookup" not in index["comments"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lookup": "title"}, "not unique"),
        ({"lookup": "note"}, "nullable"),
        ({"lookup": "nope"}, "not a readable stored field"),
        ({"lookup": "slug", "hidden": ["slug"]}, "not a readable stored field"),
        ({"lookup": "slug", "write_only": ["slug"]}, "not a readable stored field"),
        ({"lookup": ("slug", "title")}, "not unique"),
        ({"lookup": ()}, "one or more"),
    ],
)
def test_a_lookup_must_be_unique_visible_and_never_null(
    engine: sa.Engine, options: dict[str, Any], message: str
) -> None:
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match=message):
        api.resource(Article, **options)


def test_a_lookup_cannot_be_hidden_from_some_callers(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match="lookup field"):
        api.resource(Article, lookup="slug", hidden_unless={"slug": public})
    articles = Api(Flask("ok"), engine).resource(Article, lookup="slug")
    with pytest.raises(ValueError, match="lookup field"):
        articles.conceal("slug")


def test_orm_writes_find_rows_by_their_slug(engine: sa.Engine) -> None:
    client = _app(engine, orm=True)[0].test_client()
    made = client.post("/api/articles", json={"slug": "orm", "title": "O"})
    assert made.headers["Location"].endswith("/api/articles/orm")
    renamed = client.patch("/api/articles/orm", json={"slug": "orm-2", "title": "P"})
    assert renamed.status_code == 200
    assert renamed.get_json()["slug"] == "orm-2"
    problem(client.delete("/api/articles/hello"), 409)  # its comment refers to it
    assert client.delete("/api/articles/caf%C3%A9").status_code == 204
    problem(client.delete("/api/articles/caf%C3%A9"), 404)
    stored = _stored(engine)
    assert stored["orm-2"][1] == "P"
    assert "orm" not in stored
    assert "café" not in stored
    assert "hello" in stored


def test_change_events_name_rows_by_their_slug(engine: sa.Engine) -> None:
    app = Flask("feed")
    api = Api(app, engine, changes=ChangeFeed(stream_seconds=0))
    api.resource(Article, lookup="slug")
    client = app.test_client()
    client.post("/api/articles", json={"slug": "fed", "title": "F"})
    client.patch("/api/articles/fed", json={"slug": "fed-2"})
    client.delete("/api/articles/fed-2")
    resp = client.get("/api/articles/changes", headers={"Last-Event-ID": "0"})
    keys = [
        json.loads(line[len("data: ") :])["key"]
        for line in resp.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    assert keys == ["fed", "fed-2", "fed-2"]
