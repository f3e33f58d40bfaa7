"""Field and relation aliases (``aliases=``): the names clients use, everywhere a name appears
(rows, bodies, filters, sorts, sparse fields, includes, relation routes, errors, JSON:API,
OpenAPI, exports, aggregates, upserts, the change feed), while the application's own code
(options, validators, hooks, permissions) keeps the model's names; on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api, ChangeFeed, WriteContext, owner, public
from tests.databases import BACKENDS
from tests.features.test_changes import events
from tests.helpers import caller_by_header, problem


class Base(DeclarativeBase):
    pass


class Writer(Base):
    __tablename__ = "writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(100))
    home_town: Mapped[str | None] = mapped_column(sa.String(100))
    novels: Mapped[list[Novel]] = relationship(back_populates="main_writer")


class Novel(Base):
    __tablename__ = "novels"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    page_count: Mapped[int] = mapped_column(default=100)
    isbn_code: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    owner_id: Mapped[int | None] = mapped_column()
    last_note: Mapped[str | None] = mapped_column(sa.String(100))
    writer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("writers.id"))
    main_writer: Mapped[Writer | None] = relationship(back_populates="novels")


pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(
            sa.insert(Writer),
            [
                {"full_name": "Ursula Le Guin", "home_town": "Berkeley"},
                {"full_name": "Ann Leckie", "home_town": None},
            ],
        )
        conn.execute(
            sa.insert(Novel),
            [
                {"title": "Earthsea", "page_count": 183, "isbn_code": "1", "writer_id": 1},
                {"title": "Lathe", "page_count": 184, "isbn_code": "2", "writer_id": 1},
                {"title": "Ancillary", "page_count": 386, "isbn_code": "3", "writer_id": 2},
            ],
        )
    yield eng
    eng.dispose()


def _app(engine: sa.Engine, **api: Any) -> Flask:
    app = Flask("aliases")
    app.config["TESTING"] = True
    rest = Api(app, engine, aliases=to_camel, identify=caller_by_header, **api)
    rest.resource(Writer)
    novels = rest.resource(
        Novel,
        read_only=["last_note"],  # the model's names in every option
        searchable=["title"],
        permissions={
            "create": public,
            "update": owner("owner_id") | public,
            "list": public,
            "read": public,
            "delete": owner("owner_id"),
        },
    )

    @novels.validator("page_count")
    def positive(value: int) -> int:
        if value < 1:
            raise ValueError("must be positive")
        return value

    @novels.hook("before_update")
    def note(ctx: WriteContext) -> None:
        ctx.data["last_note"] = "changed"  # hooks may use the model's names

    return app


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    return _app(engine).test_client()


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows: list[dict[str, Any]] = resp.get_json()["data"]
    return rows


def test_rows_and_query_parameters_use_the_aliases(client: FlaskClient) -> None:
    one = client.get("/api/novels/1").get_json()
    assert one == {
        "id": 1,
        "title": "Earthsea",
        "pageCount": 183,
        "isbnCode": "1",
        "ownerId": None,
        "lastNote": None,
        "writerId": 1,
    }
    rows = _rows(client.get("/api/novels?filter[pageCount][gt]=183&sort=-pageCount"))
    assert [r["id"] for r in rows] == [3, 2]
    assert _rows(client.get("/api/novels?fields=pageCount&sort=id"))[0] == {"pageCount": 183}
    doc = client.get("/api/novels/1?include=mainWriter").get_json()
    assert doc["mainWriter"]["fullName"] == "Ursula Le Guin"
    through = _rows(client.get("/api/novels?filter[mainWriter.homeTown]=Berkeley&sort=id"))
    assert [r["id"] for r in through] == [1, 2]
    either = "filter[or][0][pageCount][gt]=183&filter[or][1][not][mainWriter.homeTown]=Berkeley"
    assert [r["id"] for r in _rows(client.get(f"/api/novels?{either}&sort=id"))] == [2, 3]
    related = _rows(client.get("/api/writers/1/novels?sort=-pageCount"))
    assert [r["pageCount"] for r in related] == [184, 183]
    groups = client.get("/api/novels?group_by=writerId&aggregate=sum(pageCount)&sort=writerId")
    assert groups.status_code == 200, groups.get_data(as_text=True)
    assert [(g["writerId"], g["sum_pageCount"]) for g in groups.get_json()["data"]] == [
        (1, 367),
        (2, 386),
    ]
    keyset = client.get("/api/novels?sort=pageCount&page[size]=2&page[after]=").get_json()
    rest = _rows(client.get(keyset["links"]["next"]))
    assert [r["pageCount"] for r in rest] == [386]


def test_the_models_names_are_unknown_to_clients(client: FlaskClient) -> None:
    for query in ("filter[page_count]=1", "filter[or][0][page_count]=1", "sort=page_count",
                  "fields=page_count",
                  "include=main_writer", "group_by=writer_id&aggregate=count()"):  # fmt: skip
        body = problem(client.get(f"/api/novels?{query}"), 400)
        assert (
            "page_count" in body["detail"]
            or "main_writer" in body["detail"]
            or ("writer_id" in body["detail"])
        ), body
    made = client.post("/api/novels", json={"title": "x", "page_count": 3})
    assert problem(made, 422)["errors"] == [{"pointer": "/page_count", "detail": "Unknown field"}]
    assert client.get("/api/writers/1/main_writer").status_code == 404


def test_writes_take_and_give_aliases(client: FlaskClient, engine: sa.Engine) -> None:
    made = client.post("/api/novels", json={"title": "Tombs", "pageCount": 180, "isbnCode": "9"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["pageCount"] == 180
    bad = client.post("/api/novels", json={"title": "x", "pageCount": 0})
    assert problem(bad, 422)["errors"] == [{"pointer": "/pageCount", "detail": "must be positive"}]
    wrong = client.post("/api/novels", json={"title": "x", "pageCount": "many"})
    assert problem(wrong, 422)["errors"][0]["pointer"] == "/pageCount"
    locked = client.post("/api/novels", json={"title": "x", "lastNote": "no"})
    assert problem(locked, 422)["errors"][0]["pointer"] == "/lastNote"
    taken = client.post("/api/novels", json={"title": "x", "isbnCode": "1"})
    assert any(e["pointer"] == "/isbnCode" for e in problem(taken, 409)["errors"])
    changed = client.patch("/api/novels/1", json={"pageCount": 200})
    assert changed.get_json()["pageCount"] == 200
    assert changed.get_json()["lastNote"] == "changed"  # the hook's, by the model's name
    upserted = client.post("/api/novels?on_conflict=isbnCode", json={"title": "E", "isbnCode": "1"})
    assert upserted.status_code == 200, upserted.get_data(as_text=True)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(Novel.page_count, Novel.last_note, Novel.title).where(Novel.id == 1)
        ).one()
    assert tuple(stored) == (200, "changed", "E")


def test_owner_rules_name_the_models_field(client: FlaskClient, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Novel).where(Novel.id == 2).values(owner_id=7))
    problem(client.delete("/api/novels/2", headers={"X-User": "8"}), 403)
    assert client.delete("/api/novels/2", headers={"X-User": "7"}).status_code == 204


def test_jsonapi_and_openapi_use_the_aliases(client: FlaskClient) -> None:
    doc = client.get(
        "/api/novels/1?include=mainWriter", headers={"Accept": "application/vnd.api+json"}
    ).get_json()
    assert set(doc["data"]["attributes"]) >= {"pageCount", "isbnCode"}
    assert doc["data"]["relationships"]["mainWriter"]["data"] == {"type": "writers", "id": "1"}
    assert doc["included"][0]["attributes"]["fullName"] == "Ursula Le Guin"
    spec = client.get("/api/openapi.json").get_json()
    text = str(spec)
    assert "page_count" not in text
    assert "main_writer" not in text
    assert "pageCount" in text


def test_exports_and_change_events_use_the_aliases(engine: sa.Engine) -> None:
    client = _app(engine, changes=ChangeFeed(stream_seconds=0)).test_client()
    csv_text = client.get("/api/novels?format=csv&sort=id").get_data(as_text=True)
    assert csv_text.splitlines()[0].split(",")[:3] == ["id", "title", "pageCount"]
    client.patch("/api/novels/1", json={"pageCount": 5})
    got = events(client, "/api/novels/changes")
    assert got[-1]["data"]["row"]["pageCount"] == 5


def test_bad_aliases_are_refused_at_registration(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match="unknown fields"):
        api.resource(Novel, aliases={"nope": "x"})
    with pytest.raises(ValueError, match="not usable names"):
        api.resource(Novel, aliases={"title": "a,b"})
    with pytest.raises(ValueError, match="would both be"):
        api.resource(Novel, aliases={"title": "pageCount", "page_count": "pageCount"})
