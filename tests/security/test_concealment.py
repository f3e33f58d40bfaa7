"""Concealed relations and field names (issue 17 items 7 and 16), include fan-out (item 18).

``notes.vault_id`` is ``hidden_unless`` admin: for everyone else the column, and so the
``vault`` relation it backs (and the reverse ``vaults.notes``), do not exist. Every way in is
tried, plain JSON and JSON:API, and each concealed name must be answered exactly as a name
that does not exist (same status, same body but for the name), so that no answer confirms it.
Admins still get everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Request
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, ChangeFeed, Identity, Limits, public, role
from tests.databases import fresh_database
from tests.helpers import problem

JSONAPI = "application/vnd.api+json"
ADMIN = {"X-User": "admin"}
USER = {"X-User": "user"}
USER_JSONAPI = {**USER, "Accept": JSONAPI}
ADMIN_JSONAPI = {**ADMIN, "Accept": JSONAPI}


class Base(DeclarativeBase):
    pass


class Vault(Base):
    __tablename__ = "vaults"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    vault_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vaults.id"))


class Person(Base):
    """A resource no request about notes touches, with a field hidden from non-admins."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    ssn: Mapped[str] = mapped_column(sa.String(20), unique=True)


class Writer(Base):
    """Writers and books: public, with enough rows for includes to fan out (item 18)."""

    __tablename__ = "writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    writer_id: Mapped[int] = mapped_column(sa.ForeignKey("writers.id"))


#: 40 writers with 30 books each: 1,200 books, more than ``Limits.max_included`` (1,000).
WRITERS, BOOKS_EACH = 40, 30


def _identify(request: Request) -> Identity | None:
    who = request.headers.get("X-User")
    if who == "admin":
        return Identity("1", frozenset({"admin"}))
    return Identity("2") if who == "user" else None


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_database("sqlite", tmp_path) as url:
        eng = sa.create_engine(url, poolclass=sa.NullPool)
        Base.metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(sa.insert(Vault.__table__), [{"name": "gold"}, {"name": "silver"}])
            conn.execute(
                sa.insert(Note.__table__),
                [
                    {"title": "in gold", "vault_id": 1},
                    {"title": "in silver", "vault_id": 2},
                    {"title": "loose", "vault_id": None},
                ],
            )
            conn.execute(sa.insert(Person.__table__), [{"name": "ann", "ssn": "123-45-6789"}])
            conn.execute(
                sa.insert(Writer.__table__), [{"name": f"w{i}"} for i in range(1, WRITERS + 1)]
            )
            conn.execute(
                sa.insert(Book.__table__),
                [
                    {"title": f"b{w}.{j}", "writer_id": w}
                    for w in range(1, WRITERS + 1)
                    for j in range(BOOKS_EACH)
                ],
            )
        yield eng
        eng.dispose()


def _app(engine: sa.Engine, **api: Any) -> Flask:
    app = Flask("concealment")
    app.config["TESTING"] = True
    tr = Api(app, engine, identify=_identify, **api)
    tr.resource(Vault, permissions=public)
    tr.resource(Note, permissions=public, hidden_unless={"vault_id": role("admin")})
    tr.resource(Person, permissions=public, hidden_unless={"ssn": role("admin")})
    tr.resource(Writer)
    tr.resource(Book)
    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


def _same_as_missing(
    client: FlaskClient,
    url: str,
    concealed: str,
    missing: str,
    headers: dict[str, str],
    status: int,
) -> dict[str, Any]:
    """``url`` naming ``concealed`` is answered exactly as it is naming ``missing``, a name
    that does not exist: same status, same media type, same body but for the name."""
    hidden = client.get(url.format(concealed), headers=headers)
    absent = client.get(url.format(missing), headers=headers)
    assert hidden.status_code == status, hidden.get_data(as_text=True)
    assert absent.status_code == status
    assert hidden.mimetype == absent.mimetype
    assert hidden.get_data(as_text=True) == absent.get_data(as_text=True).replace(
        missing, concealed
    )
    body: dict[str, Any] = hidden.get_json()
    return body


# -- item 7: the relation a concealed foreign key backs ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/notes/1/{}",
        "/api/notes/1/{}?fields=name",
        "/api/notes/1/relationships/{}",
        "/api/vaults/1/{}",  # the reverse direction: vaults.notes links by notes.vault_id
        "/api/vaults/1/{}?filter[title]=in%20gold",
        "/api/vaults/1/relationships/{}",
    ],
)
def test_concealed_relation_routes_are_404(client: FlaskClient, url: str) -> None:
    name = "vault" if url.startswith("/api/notes") else "notes"
    for headers in (USER, USER_JSONAPI, {}):
        body = _same_as_missing(client, url, name, "nowhere", headers, 404)
        assert "gold" not in str(body)


def test_concealed_relationship_route_is_404_for_writes_and_options_too(
    client: FlaskClient, engine: sa.Engine
) -> None:
    headers = {**USER, "Content-Type": JSONAPI}
    body = {"data": {"type": "vaults", "id": "2"}}
    url = "/api/notes/1/relationships/{}"
    for name in ("vault", "nowhere"):
        resp = client.patch(url.format(name), json=body, headers=headers)
        assert resp.status_code == 404, resp.get_data(as_text=True)
        resp = client.options(url.format(name), headers=USER)
        assert resp.status_code == 404
    with engine.connect() as conn:  # nothing changed
        assert conn.execute(sa.select(Note.vault_id).where(Note.id == 1)).scalar_one() == 1


@pytest.mark.parametrize(
    ("url", "concealed", "missing", "parameter"),
    [
        ("/api/notes?include={}", "vault", "nowhere", "include"),
        ("/api/notes/1?include={}", "vault", "nowhere", "include"),
        ("/api/vaults?include={}", "notes", "nowhere", "include"),
        ("/api/vaults/1?include={}", "notes", "nowhere", "include"),
        ("/api/notes?filter[{}.id]=1", "vault", "nowhere", "filter[{}.id]"),
        # A value its type cannot take is not read before the name is known to exist.
        ("/api/notes?filter[{}.id]=abc", "vault", "nowhere", "filter[{}.id]"),
        ("/api/notes?filter[or][0][{}.id]=abc", "vault", "nowhere", "filter[or][0][{}.id]"),
        ("/api/notes?filter[not][{}.name]=x", "vault", "nowhere", "filter[not][{}.name]"),
        ("/api/notes?{}.name=gold", "vault", "nowhere", "{}.name"),
        ("/api/notes?filter[{}.name][null]=false", "vault", "nowhere", "filter[{}.name][null]"),
        ("/api/notes?sort={}.name", "vault", "nowhere", "sort"),
        ("/api/notes?sort=-{}.id", "vault", "nowhere", "sort"),
        ("/api/notes?group_by={}.id&aggregate=count()", "vault", "nowhere", "group_by"),
        ("/api/notes?distinct={}.name", "vault", "nowhere", "distinct"),
        ("/api/vaults?filter[{}.title]=in%20gold", "notes", "nowhere", "filter[{}.title]"),
        ("/api/vaults?filter[{}.id][ge]=x", "notes", "nowhere", "filter[{}.id][ge]"),
        # Through another relation first.
        ("/api/vaults?include=notes&fields=id", "notes", "nowhere", "include"),
        # Relation routes parse the target's query with the same view.
        ("/api/vaults/1/{}?x=1", "notes", "nowhere", None),
    ],
)
def test_paths_through_a_concealed_relation_are_unknown(
    client: FlaskClient, url: str, concealed: str, missing: str, parameter: str | None
) -> None:
    if "{}" not in url:  # the whole query is about the concealed relation
        for headers in (USER, USER_JSONAPI):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 400, resp.get_data(as_text=True)
            assert concealed in resp.get_data(as_text=True)
        assert client.get(url, headers=ADMIN).status_code == 200
        return
    if parameter is None:
        _same_as_missing(client, url, concealed, missing, USER, 404)
        return
    for headers in (USER, {}):
        body = _same_as_missing(client, url, concealed, missing, headers, 400)
        assert body["parameter"] == parameter.format(concealed)
    # JSON:API answers with an error document, alike for both names.
    _same_as_missing(client, url, concealed, missing, USER_JSONAPI, 400)


def test_admin_still_follows_every_relation(client: FlaskClient) -> None:
    assert client.get("/api/notes/1/vault", headers=ADMIN).get_json()["name"] == "gold"
    titles = [
        n["title"] for n in client.get("/api/vaults/1/notes", headers=ADMIN).get_json()["data"]
    ]
    assert titles == ["in gold"]
    rows = client.get("/api/notes?include=vault&sort=vault.name", headers=ADMIN).get_json()["data"]
    assert [(r["title"], r["vault"] and r["vault"]["name"]) for r in rows] == [
        ("loose", None),
        ("in gold", "gold"),
        ("in silver", "silver"),
    ]
    assert [r["vault_id"] for r in rows] == [None, 1, 2]
    found = client.get("/api/notes?filter[vault.name]=silver", headers=ADMIN).get_json()["data"]
    assert [r["id"] for r in found] == [2]
    found = client.get("/api/vaults?filter[notes.title]=in%20gold", headers=ADMIN).get_json()
    assert [r["id"] for r in found["data"]] == [1]
    groups = client.get("/api/notes?group_by=vault.id&aggregate=count()", headers=ADMIN)
    assert sorted(g["vault.id"] or 0 for g in groups.get_json()["data"]) == [0, 1, 2]
    vault = client.get("/api/vaults/2?include=notes", headers=ADMIN).get_json()
    assert [n["title"] for n in vault["notes"]] == ["in silver"]
    doc = client.get("/api/notes/1/relationships/vault", headers=ADMIN_JSONAPI).get_json()
    assert doc["data"] == {"type": "vaults", "id": "1"}
    doc = client.get("/api/vaults/1/relationships/notes", headers=ADMIN_JSONAPI).get_json()
    assert doc["data"] == [{"type": "notes", "id": "1"}]


def test_jsonapi_documents_leave_the_concealed_relationship_out(client: FlaskClient) -> None:
    for url in ("/api/notes/1", "/api/notes?sort=id", "/api/notes?filter[title]=in%20gold"):
        doc = client.get(url, headers=USER_JSONAPI).get_json()
        objects = doc["data"] if isinstance(doc["data"], list) else [doc["data"]]
        assert objects
        for obj in objects:
            assert "vault" not in obj.get("relationships", {}), url
            assert "vault_id" not in obj.get("attributes", {}), url
        admin = client.get(url, headers=ADMIN_JSONAPI).get_json()
        first = admin["data"][0] if isinstance(admin["data"], list) else admin["data"]
        assert first["relationships"]["vault"]["data"] == {"type": "vaults", "id": "1"}
    # The reverse side, and a vault reached through the other relation.
    for url in ("/api/vaults/1", "/api/vaults"):
        doc = client.get(url, headers=USER_JSONAPI).get_json()
        objects = doc["data"] if isinstance(doc["data"], list) else [doc["data"]]
        assert all("notes" not in o.get("relationships", {}) for o in objects), url
        admin = client.get(url, headers=ADMIN_JSONAPI).get_json()
        first = admin["data"][0] if isinstance(admin["data"], list) else admin["data"]
        assert "notes" in first["relationships"]


def test_jsonapi_sparse_fieldset_cannot_name_the_concealed_relationship(
    client: FlaskClient,
) -> None:
    url = "/api/notes/1?fields[notes]={}"
    body = _same_as_missing(client, url, "vault", "nowhere", USER_JSONAPI, 400)
    assert body["errors"][0]["source"] == {"parameter": "fields[notes]"}
    url = "/api/vaults?fields[vaults]=name,{}"
    _same_as_missing(client, url, "notes", "nowhere", USER_JSONAPI, 400)
    doc = client.get("/api/notes/1?fields[notes]=vault", headers=ADMIN_JSONAPI).get_json()
    assert doc["data"]["relationships"]["vault"]["data"] == {"type": "vaults", "id": "1"}


def test_written_rows_leave_the_concealed_relationship_out(
    client: FlaskClient, engine: sa.Engine
) -> None:
    doc = {"data": {"type": "notes", "attributes": {"title": "new"}}}
    headers = {**USER_JSONAPI, "Content-Type": JSONAPI}
    resp = client.post("/api/notes", json=doc, headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    created = resp.get_json()["data"]
    assert "vault" not in created.get("relationships", {})
    assert "vault_id" not in created.get("attributes", {})
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one() == 4


def _writes_same_as_missing(
    client: FlaskClient, url: str, body: str, concealed: str, missing: str, headers: dict[str, str]
) -> None:
    """A write body naming ``concealed`` is answered as one naming ``missing`` (a name that
    does not exist), and neither writes anything."""
    answers = [
        client.post(url, data=body.replace("{}", name), headers=headers)
        for name in (concealed, missing)
    ]
    hidden, absent = answers
    assert hidden.status_code == absent.status_code == 422, hidden.get_data(as_text=True)
    assert hidden.get_data(as_text=True) == absent.get_data(as_text=True).replace(
        missing, concealed
    )


def test_write_bodies_naming_a_concealed_relation_answer_as_for_a_missing_one(
    client: FlaskClient, engine: sa.Engine
) -> None:
    plain = {**USER, "Content-Type": "application/json"}
    jsonapi = {**USER_JSONAPI, "Content-Type": JSONAPI}
    # A nested create under the relation, to-one and to-many (the reverse direction).
    _writes_same_as_missing(
        client, "/api/notes", '{"title": "t", "{}": {"name": "v"}}', "vault", "nowhere", plain
    )
    _writes_same_as_missing(
        client, "/api/vaults", '{"name": "v", "{}": [{"title": "t"}]}', "notes", "nowhere", plain
    )
    # JSON:API: a relationship member, and included rows linked through one.
    linkage = '{"data": {"type": "notes", "attributes": {"title": "t"}, '
    _writes_same_as_missing(
        client,
        "/api/notes",
        linkage + '"relationships": {"{}": {"data": {"type": "vaults", "id": "1"}}}}}',
        "vault",
        "nowhere",
        jsonapi,
    )
    _writes_same_as_missing(
        client,
        "/api/notes",
        linkage + '"relationships": {"{}": {"data": {"type": "vaults", "lid": "v"}}}}, '
        '"included": [{"type": "vaults", "lid": "v", "attributes": {"name": "v"}}]}',
        "vault",
        "nowhere",
        jsonapi,
    )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one() == 3
        assert conn.execute(sa.select(sa.func.count()).select_from(Vault)).scalar_one() == 2
    # An admin may nest through it.
    resp = client.post("/api/notes", json={"title": "t", "vault": {"name": "v"}}, headers=ADMIN)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["vault"]["name"] == "v"


def test_concealment_is_worked_out_per_caller_not_cached(client: FlaskClient) -> None:
    """Item queries are parsed once per query string for APIs without permissions; here the
    same URL must answer each caller by their own view, whoever asked first."""
    url = "/api/notes/1?include=vault"
    assert client.get(url, headers=ADMIN).get_json()["vault"]["name"] == "gold"
    problem(client.get(url, headers=USER), 400)
    assert client.get(url, headers=ADMIN).status_code == 200
    problem(client.get("/api/notes/1/vault", headers=USER), 404)
    assert client.get("/api/notes/1/vault", headers=ADMIN).status_code == 200


# -- item 18: included rows per response, in total -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        # 40 writers x 30 books: 1,200 included rows.
        "/api/writers?include=books&page[size]=40",
        # The attack: each level multiplies (anonymous, 30 MB on the demo before the fix).
        "/api/writers?include=books.writer.books&page[size]=100",
        # 34 x 30 = 1,020 books: one statement over the limit by a little.
        "/api/writers?include=books&page[size]=34",
        # 20 x 30 books, and each book's writer joined in: 1,200.
        "/api/writers?include=books.writer&page[size]=20",
        "/api/writers?include=books&page[size]=40&page[after]=",
        # 34 books, their writers (34), and each writer's 30 books once per book: 1,054. A
        # row shared by several parents counts for each (the answer holds it that often).
        "/api/books?include=writer.books&page[size]=34",
    ],
)
def test_include_fan_out_over_the_limit_is_a_400(client: FlaskClient, url: str) -> None:
    body = problem(client.get(url), 400)
    assert body["parameter"] == "include"
    assert "1000" in body["detail"]
    doc = client.get(url, headers={"Accept": JSONAPI})
    assert doc.status_code == 400
    assert doc.get_json()["errors"][0]["source"] == {"parameter": "include"}


def test_include_up_to_the_limit_is_answered_whole(client: FlaskClient) -> None:
    # 33 x 30 = 990 included rows: under 1,000, and nothing is cut.
    resp = client.get("/api/writers?include=books&page[size]=33")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows = resp.get_json()["data"]
    assert len(rows) == 33
    assert all(len(r["books"]) == BOOKS_EACH for r in rows)
    assert sum(len(r["books"]) for r in rows) == 990
    # Each to-many include is still cut to include_limit per parent (50): 30 fit.
    one = client.get("/api/writers/1?include=books").get_json()
    assert [b["title"] for b in one["books"]] == [f"b1.{j}" for j in range(BOOKS_EACH)]
    # 30 books, their writer, and its 30 books under each: 960, on a relation route.
    for url in (
        "/api/books/1/writer?include=books.writer.books",
        "/api/writers/1/books?include=writer.books&page[size]=100",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        books = body["books"] if "books" in body else body["data"]
        assert len(books) == BOOKS_EACH
        assert all(len(b["writer"]["books"]) == BOOKS_EACH for b in books)


def test_max_included_counts_every_relation_and_depth(engine: sa.Engine) -> None:
    client = _app(engine, limits=Limits(max_included=60)).test_client()
    # 30 books + their writer joined into each (30): exactly 60.
    doc = client.get("/api/writers/1?include=books.writer").get_json()
    assert len(doc["books"]) == BOOKS_EACH
    assert all(b["writer"]["name"] == "w1" for b in doc["books"])
    jsonapi = client.get("/api/writers/1?include=books.writer", headers={"Accept": JSONAPI})
    assert jsonapi.status_code == 200
    # One more level is over: 30 + 30 + 30 x 30.
    body = problem(client.get("/api/writers/1?include=books.writer.books"), 400)
    assert body["detail"].startswith("include would embed more than 60 rows")
    # Relation routes count the same way.
    problem(client.get("/api/writers/1/books?include=writer.books"), 400)
    assert client.get("/api/writers/1/books?include=writer").status_code == 200
    # 3 writers' books (90) are over, 2 writers' (60) are not.
    problem(client.get("/api/writers?include=books&page[size]=3"), 400)
    assert client.get("/api/writers?include=books&page[size]=2").status_code == 200
    # A list without include is not concerned, whatever its size.
    assert len(client.get("/api/books?page[size]=100").get_json()["data"]) == 100


# -- item 16: concealed field names are never confirmed --------------------------------------


def _fields_of(index: dict[str, Any], name: str) -> list[str]:
    found: list[str] = next(r["fields"] for r in index["resources"] if r["name"] == name)
    return found


def test_index_names_only_the_fields_the_caller_may_see(client: FlaskClient) -> None:
    for headers in ({}, USER):
        index = client.get("/api", headers=headers).get_json()
        assert _fields_of(index, "people") == ["id", "name"]
        assert _fields_of(index, "notes") == ["id", "title"]
    index = client.get("/api", headers=ADMIN).get_json()
    assert _fields_of(index, "people") == ["id", "name", "ssn"]
    assert _fields_of(index, "notes") == ["id", "title", "vault_id"]


def test_openapi_document_is_the_callers_own(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    admin = client.get("/api/openapi.json", headers=ADMIN)
    assert admin.status_code == 200
    validate(admin.get_json())
    full = admin.get_data(as_text=True)
    assert '"ssn"' in full
    assert '"vault_id"' in full
    assert "/api/notes/{id}/vault" in admin.get_json()["paths"]
    params = admin.get_json()["paths"]["/api/notes"]["get"]["parameters"]
    assert "vault" in next(p for p in params if p["name"] == "include")["schema"]["pattern"]
    for headers in ({}, USER):
        resp = client.get("/api/openapi.json", headers=headers)
        assert resp.status_code == 200
        doc = resp.get_json()
        validate(doc)
        text = resp.get_data(as_text=True)
        assert "ssn" not in text  # not a property, parameter, pattern, enum or description
        assert "vault_id" not in text
        paths = doc["paths"]
        assert "/api/people/{id}" in paths  # the rest is all there
        hidden_routes = {
            "/api/notes/{id}/vault",
            "/api/notes/{id}/relationships/vault",
            "/api/vaults/{id}/notes",
            "/api/vaults/{id}/relationships/notes",
        }
        assert not hidden_routes & set(paths)
        schemas = doc["components"]["schemas"]
        assert "vault" not in schemas["Notes"]["properties"]
        assert "notes" not in schemas["Vaults"]["properties"]
        jsonapi = schemas["NotesResource"]["properties"]["relationships"]["properties"]
        assert "vault" not in jsonapi
        # notes have no relation left for them: no include parameter at all.
        assert "include" not in {p["name"] for p in paths["/api/notes"]["get"]["parameters"]}
    # One document per view, kept: the admin's is still the admin's.
    assert client.get("/api/openapi.json", headers=ADMIN).get_data(as_text=True) == full


@pytest.mark.parametrize(
    "url",
    [
        "/api/notes?fields[people]={}",  # a request that does not read people at all
        "/api/notes/1?fields[people]=name,{}",
        "/api/people?fields[people]={}",
        "/api/people?fields={}",
        "/api/vaults/1?fields[people]={}",
        "/api/people?filter[{}][like]=1%25",
        "/api/people?sort=-{}",
        "/api/people?aggregate=max({})",
        "/api/people?group_by={}",
        # Inside OR / NOT groups, as at the top level.
        "/api/people?filter[or][0][{}]=1&filter[or][1][name]=ann",
        "/api/people?filter[not][{}][like]=1%25",
        "/api/people?filter[or][0][not][{}][null]=true",
        "/api/notes?filter[not][or][3][{}]=1",  # notes.vault_id
    ],
)
def test_hidden_field_names_answer_as_missing_ones(client: FlaskClient, url: str) -> None:
    name = "vault_id" if url.startswith("/api/notes?filter") else "ssn"
    for headers in ({}, USER, {**USER, "Accept": JSONAPI}):
        _same_as_missing(client, url, name, "zzz", headers, 400)
    resp = client.get(url.format(name), headers=ADMIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_on_conflict_cannot_name_a_hidden_key(client: FlaskClient, engine: sa.Engine) -> None:
    body = {"name": "bea", "ssn": "999-99-9999"}
    answers = []
    for key in ("ssn", "zzz"):
        resp = client.post(f"/api/people?on_conflict={key}", json=body, headers=USER)
        answers.append(problem(resp, 400))
    assert answers[0] == answers[1]
    assert answers[0]["parameter"] == "on_conflict"
    # Without the key in the body either (the body is not what gives it away).
    resp = client.post("/api/people?on_conflict=ssn", json={"name": "bea"}, headers=USER)
    assert problem(resp, 400) == answers[1]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 1
    # An admin upserts on it: the row with that ssn is changed, not duplicated.
    resp = client.post(
        "/api/people?on_conflict=ssn", json={"name": "ann b", "ssn": "123-45-6789"}, headers=ADMIN
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(Person.name)).scalars().all() == ["ann b"]


@pytest.mark.parametrize(
    ("url", "concealed", "missing"),
    [
        ("/api/notes/changes?filter[{}.id]=abc", "vault", "nowhere"),
        ("/api/notes/changes?filter[{}.name]=gold", "vault", "nowhere"),
        ("/api/vaults/changes?filter[{}.title]=x", "notes", "nowhere"),
        ("/api/people/changes?filter[{}][gt]=1", "ssn", "zzz"),
        ("/api/people/changes?filter[or][0][{}]=1&filter[or][1][id]=1", "ssn", "zzz"),
    ],
)
def test_change_feed_filters_answer_concealed_names_as_missing(
    engine: sa.Engine, url: str, concealed: str, missing: str
) -> None:
    client = _app(engine, changes=ChangeFeed(stream_seconds=0)).test_client()
    body = _same_as_missing(client, url, concealed, missing, USER, 400)
    assert body["detail"].startswith("Unknown field")
