"""Envelopes (``envelope=``): plain JSON rows in a named member, in answers and in write
bodies, with error pointers into the enveloped body and ETags of what the client got; on
SQLite, PostgreSQL and MariaDB, through Flask and the lean path. JSON:API keeps its own
documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, Envelope
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.helpers import problem


class Base(DeclarativeBase):
    pass


class Writer(Base):
    __tablename__ = "writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.String(50))


class Story(Base):
    __tablename__ = "stories"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    page_count: Mapped[int] = mapped_column(default=1)
    writer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("writers.id"))
    writer: Mapped[Writer | None] = relationship()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Writer), [{"user_name": "jake"}, {"user_name": "ann"}])
        conn.execute(
            sa.insert(Story),
            [
                {"title": "One", "slug": "one", "page_count": 10, "writer_id": 1},
                {"title": "Two", "slug": "two", "page_count": 20, "writer_id": 1},
                {"title": "Three", "slug": "three", "page_count": 30, "writer_id": 2},
            ],
        )
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: sa.Engine, path: str) -> FlaskClient:
    app = Flask("envelopes")
    app.config["TESTING"] = True
    api = Api(app, engine, aliases=to_camel)
    api.resource(Writer, envelope="profile")
    api.resource(Story, envelope=Envelope("story", count="storiesCount"))
    if path == "lean":
        install(app)
    return app.test_client()


def test_rows_and_pages_answer_in_their_envelopes(client: FlaskClient) -> None:
    one = client.get("/api/stories/1").get_json()
    assert one == {
        "story": {
            "id": 1,
            "title": "One",
            "slug": "one",
            "pageCount": 10,
            "writerId": 1,
        }
    }
    page = client.get("/api/stories?filter[pageCount][ge]=20&sort=id").get_json()
    assert [s["id"] for s in page["stories"]] == [2, 3]
    assert page["storiesCount"] == 2  # counted without count=true
    assert set(page) == {"stories", "storiesCount", "links", "meta"}
    related = client.get("/api/stories/1/writer").get_json()
    assert related == {"profile": {"id": 1, "userName": "jake"}}
    # A relation's list is a page of the target, in the target's envelope.
    assert set(client.get("/api/writers/1/stories").get_json()) >= {"stories", "storiesCount"}


def test_writes_take_enveloped_bodies(client: FlaskClient, engine: sa.Engine) -> None:
    made = client.post("/api/stories", json={"story": {"title": "Four", "slug": "four"}})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["story"]["slug"] == "four"
    assert made.headers["Location"].endswith(f"/api/stories/{made.get_json()['story']['id']}")
    many = client.post(
        "/api/stories",
        json={"stories": [{"title": "a", "slug": "a"}, {"title": "b", "slug": "b"}]},
    )
    assert many.status_code == 201, many.get_data(as_text=True)
    assert [s["slug"] for s in many.get_json()["stories"]] == ["a", "b"]
    changed = client.patch("/api/stories/1", json={"story": {"pageCount": 11}})
    assert changed.get_json() == {
        "story": {"id": 1, "title": "One", "slug": "one", "pageCount": 11, "writerId": 1}
    }
    replaced = client.put("/api/stories/2", json={"story": {"title": "2", "slug": "two"}})
    assert replaced.get_json()["story"]["pageCount"] == 1  # reset to its default
    bulk = client.patch("/api/stories", json={"stories": [{"id": 3, "pageCount": 33}]})
    assert bulk.get_json() == {"stories": [{**_row(client, 3)}]}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Story.id, Story.page_count).order_by(Story.id)).all()
    assert [tuple(r) for r in rows][:3] == [(1, 11), (2, 1), (3, 33)]


def _row(client: FlaskClient, key: int) -> dict[str, Any]:
    row: dict[str, Any] = client.get(f"/api/stories/{key}").get_json()["story"]
    return row


def test_errors_point_into_the_envelope(client: FlaskClient, engine: sa.Engine) -> None:
    bare = problem(client.post("/api/stories", json={"title": "x", "slug": "x"}), 422)
    assert {e["pointer"] for e in bare["errors"]} == {"/title", "/slug"}
    typed = problem(client.post("/api/stories", json={"story": {"title": 5, "slug": "x"}}), 422)
    assert [e["pointer"] for e in typed["errors"]] == ["/story/title"]
    missing = problem(client.post("/api/stories", json={"story": {"title": "x"}}), 422)
    assert [e["pointer"] for e in missing["errors"]] == ["/story/slug"]
    in_array = problem(
        client.post("/api/stories", json={"stories": [{"title": "a", "slug": "q"}, {"title": 1}]}),
        422,
    )
    assert {e["pointer"] for e in in_array["errors"]} == {"/stories/1/title", "/stories/1/slug"}
    taken = problem(client.post("/api/stories", json={"story": {"title": "x", "slug": "one"}}), 409)
    assert [e["pointer"] for e in taken["errors"]] == ["/story/slug"]
    not_an_object = problem(client.post("/api/stories", json={"story": [1]}), 422)
    assert not_an_object["errors"] == [{"pointer": "/story", "detail": "Must be an object"}]
    both = problem(client.post("/api/stories", json={"story": {}, "stories": []}), 422)
    assert both["errors"][0]["pointer"] == ""
    problem(client.patch("/api/stories/1", json={"stories": [{"title": "x"}]}), 400)
    bad_patch = problem(client.patch("/api/stories/1", json={"story": {"pageCount": "x"}}), 422)
    assert [e["pointer"] for e in bad_patch["errors"]] == ["/story/pageCount"]
    problem(client.post("/api/stories", data=b"{not json", content_type="application/json"), 400)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Story)) == 3  # none written


def test_if_match_takes_the_etag_of_the_enveloped_row(client: FlaskClient) -> None:
    tag = client.get("/api/stories/1").headers["ETag"]
    ok = client.patch("/api/stories/1", json={"story": {"title": "1"}}, headers={"If-Match": tag})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.headers["ETag"] == client.get("/api/stories/1").headers["ETag"]
    stale = client.patch(
        "/api/stories/1", json={"story": {"title": "x"}}, headers={"If-Match": tag}
    )
    problem(stale, 412)


def test_jsonapi_keeps_its_documents(client: FlaskClient) -> None:
    jsonapi = "application/vnd.api+json"
    doc = client.get("/api/stories/1", headers={"Accept": jsonapi}).get_json()
    assert doc["data"]["attributes"]["pageCount"] == 10
    made = client.post(
        "/api/stories",
        json={"data": {"type": "stories", "attributes": {"title": "J", "slug": "j"}}},
        headers={"Accept": jsonapi, "Content-Type": jsonapi},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["data"]["attributes"]["slug"] == "j"


def test_envelopes_that_cannot_work_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="must differ"):
        Envelope("story", list="story")
    with pytest.raises(ValueError, match="links"):
        Envelope("story", count="links")
    with pytest.raises(ValueError, match="non-empty"):
        Envelope("")


def test_openapi_describes_the_envelopes_and_its_examples_fit(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()

    def valid(schema: dict[str, Any], value: Any) -> bool:
        # The document's own "#/components/..." references resolve against this root.
        root = {"allOf": [schema], "components": spec["components"]}
        return bool(Draft202012Validator(root).is_valid(value))

    item = spec["paths"]["/api/stories/{id}"]
    answer = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["required"] == ["story"]
    assert valid(answer, client.get("/api/stories/1").get_json())
    assert not valid(answer, client.get("/api/stories/1").get_json()["story"])
    listed = spec["paths"]["/api/stories"]["get"]["responses"]["200"]["content"]
    page = {"$ref": listed["application/json"]["schema"]["$ref"]}
    assert valid(page, client.get("/api/stories").get_json())
    assert not valid(page, {"data": [], "links": {}, "meta": {"page": {}}})
    body = item["patch"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["story"]
    assert set(body["example"]) == {"story"}
    created = spec["paths"]["/api/stories"]["post"]["requestBody"]["content"]["application/json"]
    assert set(created["example"]) == {"story"}
    assert valid(created["schema"], created["example"])
    made = client.post("/api/stories", json=created["example"])
    assert made.status_code == 201, made.get_data(as_text=True)
    changed = client.patch("/api/stories/1", json=body["example"])
    assert changed.status_code == 200, changed.get_data(as_text=True)
