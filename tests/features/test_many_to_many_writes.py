"""Many-to-many linkage writes (JSON:API ``POST`` / ``PATCH`` / ``DELETE`` of
``/posts/1/relationships/m2m_tags``): the link rows they leave, read back with SQL; the update
permission on the row, the read permission on the linked rows and a served link table's own
rules; all or nothing. On SQLite, PostgreSQL and MariaDB, Flask and lean paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, Limits, owner, public
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.helpers import caller_by_header

JSONAPI = {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}

meta = sa.MetaData()
people = sa.Table(
    "m2m_people", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text)
)
posts = sa.Table(
    "m2m_posts",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(50)),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("m2m_people.id")),
)
tags = sa.Table(
    "m2m_tags",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("m2m_people.id")),
)
post_tags = sa.Table(
    "m2m_post_tags",
    meta,
    sa.Column("post_id", sa.Integer, sa.ForeignKey("m2m_posts.id"), primary_key=True),
    sa.Column("tag_id", sa.Integer, sa.ForeignKey("m2m_tags.id"), primary_key=True),
)
labels = sa.Table(
    "m2m_labels",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
)
post_labels = sa.Table(
    "m2m_post_labels",
    meta,
    sa.Column("post_id", sa.Integer, sa.ForeignKey("m2m_posts.id"), primary_key=True),
    sa.Column("label_id", sa.Integer, sa.ForeignKey("m2m_labels.id"), primary_key=True),
)
likes = sa.Table(
    "m2m_likes",
    meta,
    sa.Column("person_id", sa.Integer, sa.ForeignKey("m2m_people.id"), primary_key=True),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("m2m_posts.id"), primary_key=True),
)


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "m2m_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    shelves: Mapped[list[Shelf]] = relationship(secondary="m2m_book_shelves")


class Shelf(Base):
    __tablename__ = "m2m_shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


book_shelves = sa.Table(
    "m2m_book_shelves",
    Base.metadata,
    sa.Column("book_id", sa.ForeignKey("m2m_books.id"), primary_key=True),
    sa.Column("shelf_id", sa.ForeignKey("m2m_shelves.id"), primary_key=True),
)


pytestmark = pytest.mark.lean_on_sqlite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    meta.create_all(eng)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(people), [{"name": "ann"}, {"name": "bob"}])
        conn.execute(sa.insert(posts), [{"title": "One", "author_id": 1}])
        owned = [("a", 1), ("b", 1), ("c", 2)]
        conn.execute(sa.insert(tags), [{"name": n, "owner_id": o} for n, o in owned])
        conn.execute(sa.insert(post_tags), [{"post_id": 1, "tag_id": 1}])
        conn.execute(sa.insert(labels), [{"name": "old"}])
        conn.execute(sa.insert(Book), [{"title": "Dune"}])
        conn.execute(sa.insert(Shelf), [{"name": "s1"}, {"name": "s2"}])
    yield eng
    eng.dispose()


def _client(
    engine: sa.Engine,
    path: str,
    guarded: bool = False,
    get_or_create: bool = False,
    limits: Limits | None = None,
) -> FlaskClient:
    app = Flask("m2m_writes")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header, limits=limits)
    api.resource(people, name="people")
    mine = owner("author_id")
    kept = {"list": public, "read": public, "create": mine, "update": mine, "delete": mine}
    api.resource(
        posts,
        name="posts",
        permissions=kept if guarded else None,
        get_or_create=["m2m_labels"] if get_or_create else [],
    )
    api.resource(labels, name="labels", lookup="name")
    # Tags are read by their owner only: others cannot link them, nor see them linked.
    own_tags = owner("owner_id")
    tag_rules = dict.fromkeys(("list", "read", "create", "update", "delete"), own_tags)
    api.resource(tags, name="tags", permissions=tag_rules if guarded else None)
    liker = owner("person_id")
    api.resource(
        likes,
        name="likes",
        permissions={"list": public, "read": public, "create": liker, "delete": liker},
    )
    api.resource(Book, name="books")
    api.resource(Shelf, name="shelves")
    if path == "lean":
        install(app)
    return app.test_client()


def problem(resp: Any, status: int) -> dict[str, Any]:
    """A JSON:API error document with ``status``; its first error."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/vnd.api+json"
    error: dict[str, Any] = resp.get_json()["errors"][0]
    assert error["status"] == str(status)
    return error


def _links(engine: sa.Engine, table: sa.Table) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(table))}


def _ids(*ids: int, kind: str = "tags") -> dict[str, Any]:
    return {"data": [{"type": kind, "id": str(i)} for i in ids]}


def test_post_adds_patch_sets_delete_removes(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    url = "/api/posts/1/relationships/m2m_tags"
    added = client.post(url, json=_ids(2, 3, 2), headers=JSONAPI)
    assert added.status_code == 204, added.get_data(as_text=True)
    assert client.post(url, json=_ids(1, 2), headers=JSONAPI).status_code == 204  # there: no-op
    assert _links(engine, post_tags) == {(1, 1), (1, 2), (1, 3)}
    linkage = client.get(url, headers=JSONAPI).get_json()["data"]
    assert sorted(d["id"] for d in linkage) == ["1", "2", "3"]
    assert client.patch(url, json=_ids(3), headers=JSONAPI).status_code == 204
    assert _links(engine, post_tags) == {(1, 3)}
    assert client.delete(url, json=_ids(3, 1), headers=JSONAPI).status_code == 204
    assert _links(engine, post_tags) == set()
    assert client.patch(url, json=_ids(1, 2), headers=JSONAPI).status_code == 204
    assert client.patch(url, json={"data": []}, headers=JSONAPI).status_code == 204
    assert _links(engine, post_tags) == set()


def test_a_model_secondary_table_is_written_directly(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    url = "/api/books/1/relationships/shelves"
    done = client.post(url, json=_ids(1, 2, kind="shelves"), headers=JSONAPI)
    assert done.status_code == 204, done.get_data(as_text=True)
    assert _links(engine, book_shelves) == {(1, 1), (1, 2)}
    shown = client.get("/api/books/1?include=shelves").get_json()
    assert sorted(s["name"] for s in shown["shelves"]) == ["s1", "s2"]
    assert client.patch(url, json=_ids(2, kind="shelves"), headers=JSONAPI).status_code == 204
    assert _links(engine, book_shelves) == {(1, 2)}


def test_bad_linkage_is_a_422_and_a_missing_row_a_404_with_nothing_changed(
    engine: sa.Engine, path: str
) -> None:
    client = _client(engine, path)
    url = "/api/posts/1/relationships/m2m_tags"
    before = _links(engine, post_tags)
    assert problem(
        client.patch(url, json={"data": {"type": "tags", "id": "2"}}, headers=JSONAPI), 422
    )
    bad_type = client.post(url, json=_ids(2, kind="people"), headers=JSONAPI)
    assert problem(bad_type, 422)["source"]["pointer"] == "/data/0/type"
    bad_id = client.post(url, json={"data": [{"type": "tags", "id": "x"}]}, headers=JSONAPI)
    assert problem(bad_id, 422)["source"]["pointer"] == "/data/0/id"
    # The first tag exists, the second does not: nothing is stored.
    problem(client.patch(url, json=_ids(2, 9), headers=JSONAPI), 404)
    problem(client.post("/api/posts/9/relationships/m2m_tags", json=_ids(2), headers=JSONAPI), 404)
    assert _links(engine, post_tags) == before


def test_changing_links_needs_update_on_the_row(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, guarded=True)
    url = "/api/posts/1/relationships/m2m_tags"
    problem(client.post(url, json=_ids(1), headers=JSONAPI), 401)
    problem(client.post(url, json=_ids(3), headers={**JSONAPI, "X-User": "2"}), 403)
    assert _links(engine, post_tags) == {(1, 1)}
    ok = client.post(url, json=_ids(2), headers={**JSONAPI, "X-User": "1"})
    assert ok.status_code == 204, ok.get_data(as_text=True)
    assert _links(engine, post_tags) == {(1, 1), (1, 2)}


def test_rows_the_caller_cannot_read_cannot_be_linked(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, guarded=True)
    ann = {**JSONAPI, "X-User": "1"}
    # Tag 3 is bob's: to ann it does not exist.
    problem(client.post("/api/posts/1/relationships/m2m_tags", json=_ids(3), headers=ann), 404)
    assert _links(engine, post_tags) == {(1, 1)}


def test_a_served_link_table_keeps_its_own_rules(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    url = "/api/posts/1/relationships/m2m_people"
    # A like is made by its person only (the likes resource's create rule).
    theirs = client.post(url, json=_ids(2, kind="people"), headers={**JSONAPI, "X-User": "1"})
    problem(theirs, 403)
    assert _links(engine, likes) == set()
    mine = client.post(url, json=_ids(1, kind="people"), headers={**JSONAPI, "X-User": "1"})
    assert mine.status_code == 204, mine.get_data(as_text=True)
    assert _links(engine, likes) == {(1, 1)}
    problem(
        client.delete(url, json=_ids(1, kind="people"), headers={**JSONAPI, "X-User": "2"}), 403
    )
    assert _links(engine, likes) == {(1, 1)}


def test_openapi_describes_the_linkage_writes(engine: sa.Engine) -> None:
    spec = _client(engine, "flask").get("/api/openapi.json").get_json()
    item = spec["paths"]["/api/posts/{id}/relationships/m2m_tags"]
    for method in ("post", "patch", "delete"):
        assert set(item[method]["responses"]) >= {"204", "403", "404", "422"}, method
    # A to-many relation that is not through a link table is still changed from its side.
    other = spec["paths"]["/api/posts/{id}/relationships/m2m_likes"]["post"]["responses"]
    assert "204" not in other


def _posts(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(posts.c.title)))


def test_a_create_links_rows_by_key_and_creates_nested_ones(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    body = {"title": "Two", "author_id": 1, "m2m_tags": [{"id": 2}, {"name": "d"}, {"id": "3"}]}
    made = client.post("/api/posts", json=body)
    assert made.status_code == 201, made.get_data(as_text=True)
    answer = made.get_json()
    assert [t["name"] for t in answer["m2m_tags"]] == ["b", "d", "c"]
    with engine.connect() as conn:
        new_tag = conn.scalar(sa.select(tags.c.id).where(tags.c.name == "d"))
    assert _links(engine, post_tags) == {(1, 1), (2, 2), (2, new_tag), (2, 3)}


def test_jsonapi_create_links_by_id_and_creates_by_lid(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    doc = {
        "data": {
            "type": "posts",
            "attributes": {"title": "Two"},
            "relationships": {
                "m2m_tags": {"data": [{"type": "tags", "id": "3"}, {"type": "tags", "lid": "n"}]}
            },
        },
        "included": [{"type": "tags", "lid": "n", "attributes": {"name": "new"}}],
    }
    made = client.post("/api/posts", json=doc, headers=JSONAPI)
    assert made.status_code == 201, made.get_data(as_text=True)
    linkage = made.get_json()["data"]["relationships"]["m2m_tags"]["data"]
    assert len(linkage) == 2
    assert "3" in {d["id"] for d in linkage}
    assert len(_links(engine, post_tags)) == 3
    only_ids = {
        "data": {
            "type": "posts",
            "attributes": {"title": "Three"},
            "relationships": {
                "m2m_tags": {"data": [{"type": "tags", "id": "1"}, {"type": "tags", "id": "99"}]}
            },
        }
    }
    missing = client.post("/api/posts", json=only_ids, headers=JSONAPI)
    assert problem(missing, 422)["source"]["pointer"] == "/data/relationships/m2m_tags/data/1"
    assert "Three" not in _posts(engine)


def test_a_row_named_by_a_missing_key_fails_the_whole_create(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path)
    body = {"title": "Two", "m2m_tags": [{"id": 1}, {"id": 9}]}
    failed = client.post("/api/posts", json=body)
    assert failed.status_code == 422, failed.get_data(as_text=True)
    assert failed.get_json()["errors"][0]["pointer"] == "/m2m_tags/1"
    assert _posts(engine) == {"One"}
    assert _links(engine, post_tags) == {(1, 1)}


def test_get_or_create_makes_the_rows_a_natural_key_names(engine: sa.Engine, path: str) -> None:
    body = {"title": "Two", "m2m_labels": [{"name": "old"}, {"name": "new"}]}
    refused = _client(engine, path).post("/api/posts", json=body)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json()["errors"][0]["pointer"] == "/m2m_labels/1"
    client = _client(engine, path, get_or_create=True)
    made = client.post("/api/posts", json=body)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert [x["name"] for x in made.get_json()["m2m_labels"]] == ["old", "new"]
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(labels.c.name, labels.c.id)).all())
    assert set(names) == {"old", "new"}
    post = made.get_json()["id"]
    assert _links(engine, post_labels) == {(post, names["old"]), (post, names["new"])}


def test_a_create_cannot_link_rows_the_caller_cannot_read(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, guarded=True)
    body = {"title": "Two", "m2m_tags": [{"id": 3}]}  # bob's tag, unseen by ann
    failed = client.post("/api/posts", json=body, headers={"X-User": "1"})
    assert failed.status_code == 422, failed.get_data(as_text=True)
    assert _posts(engine) == {"One"}
    mine = client.post(
        "/api/posts", json={"title": "Two", "m2m_tags": [{"id": 2}]}, headers={"X-User": "1"}
    )
    assert mine.status_code == 201, mine.get_data(as_text=True)
    assert (mine.get_json()["id"], 2) in _links(engine, post_tags)


def test_openapi_describes_rows_to_link_in_a_create(engine: sa.Engine) -> None:
    client = _client(engine, "flask", get_or_create=True)
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    tags_in = schemas["PostsCreateNested"]["properties"]["m2m_tags"]
    by_key, to_create = tags_in["items"]["anyOf"]
    assert (by_key["required"], by_key["additionalProperties"]) == (["id"], False)
    assert to_create == {"$ref": "#/components/schemas/TagsCreateNested"}
    labels_in = schemas["PostsCreateNested"]["properties"]["m2m_labels"]
    assert labels_in["items"]["anyOf"][0]["required"] == ["name"]  # the lookup key
    assert "missing ones are made" in labels_in["description"]
    # JSON:API: a create document links by identifiers; an update's cannot (a 403).
    jsonapi = client.get("/api/openapi.json?format=jsonapi").get_json()["components"]["schemas"]
    data = jsonapi["PostsCreateDocument"]["properties"]["data"]["properties"]
    linkage = data["relationships"]["properties"]["m2m_tags"]["properties"]["data"]
    assert linkage["type"] == "array"
    assert linkage["items"]["properties"]["type"] == {"const": "tags"}
    patched = jsonapi["PostsPatchDocument"]["properties"]["data"]["properties"]
    assert "m2m_tags" not in patched["relationships"]["properties"]


def test_one_write_links_at_most_max_links_rows(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, limits=Limits(max_links=2))
    url = "/api/posts/1/relationships/m2m_tags"
    assert client.patch(url, json=_ids(1, 2), headers=JSONAPI).status_code == 204
    too_many = client.patch(url, json=_ids(1, 2, 3), headers=JSONAPI)
    assert problem(too_many, 422)["source"]["pointer"] == "/data"
    nested = {"title": "Two", "m2m_tags": [{"id": 1}, {"id": 2}, {"id": 3}]}
    refused = client.post("/api/posts", json=nested)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json()["errors"][0]["pointer"] == "/m2m_tags"
    assert _links(engine, post_tags) == {(1, 1), (1, 2)}
    assert _posts(engine) == {"One"}
