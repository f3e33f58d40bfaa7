"""Resource options: which fields are exposed, writable and returned; page sizes; bad options."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from tablerest import Api
from tests import models
from tests.conftest import AppFactory
from tests.helpers import problem


def test_fields_whitelist_exposes_only_those(make_app: AppFactory) -> None:
    client = make_app(books={"fields": ["id", "title", "year"]}).test_client()
    created = client.post("/api/books", json={"title": "t", "year": 1}).get_json()
    assert set(created) == {"id", "title", "year"}
    body = problem(client.post("/api/books", json={"title": "t", "pages": 5}), 422)
    assert body["errors"] == [{"pointer": "/pages", "detail": "Unknown field"}]


def test_exclude_and_hidden_remove_fields_everywhere(make_app: AppFactory) -> None:
    client = make_app(books={"exclude": ["isbn"], "hidden": ["price", "secret_note"]}).test_client()
    created = client.post("/api/books", json={"title": "t"}).get_json()
    assert not {"isbn", "price", "secret_note"} & set(created)
    listed = client.get("/api/books").get_json()["data"][0]
    assert not {"isbn", "price", "secret_note"} & set(listed)
    for field in ("isbn", "price"):
        body = problem(client.post("/api/books", json={"title": "t", field: "1"}), 422)
        assert body["errors"] == [{"pointer": f"/{field}", "detail": "Unknown field"}]


def test_page_size_defaults_from_the_api_and_per_resource(engine: sa.Engine) -> None:
    app = Flask("sizes")
    api = Api(app, engine, page_size=3, max_page_size=4)
    api.resource(models.Author)
    api.resource(models.Country, page_size=1, max_page_size=2)
    client = app.test_client()
    client.post("/api/authors", json=[{"name": str(i)} for i in range(6)])
    client.post("/api/countries", json=[{"code": c, "name": c} for c in ("AA", "BB", "CC")])
    assert len(client.get("/api/authors").get_json()["data"]) == 3
    assert len(client.get("/api/authors?page[size]=4").get_json()["data"]) == 4
    problem(client.get("/api/authors?page[size]=5"), 400)
    assert len(client.get("/api/countries").get_json()["data"]) == 1
    problem(client.get("/api/countries?limit=3"), 400)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hidden": ["nope"]}, "unknown columns"),
        ({"fields": ["id", "ghost"]}, "unknown columns"),
        ({"read_only": ["title"], "write_only": ["title"]}, "both read-only and write-only"),
        ({"hidden": ["id"]}, "primary key"),
        ({"methods": ["GET", "BREW"]}, "not possible"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 50, "max_page_size": 10}, "page_size"),
    ],
)
def test_bad_options_fail_at_registration(
    engine: sa.Engine, options: dict[str, object], message: str
) -> None:
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match=message):
        api.resource(models.Book, **options)


def test_registration_errors(engine: sa.Engine) -> None:
    api = Api(Flask("dupes"), engine)
    api.resource(models.Author)
    with pytest.raises(ValueError, match="already registered"):
        api.resource(models.Author)
    with pytest.raises(TypeError, match="neither a mapped class nor a Table"):
        api.resource(object)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Flask-SQLAlchemy extension, an Engine or a sessionmaker"):
        Api(Flask("nodb"), "sqlite://")
    with pytest.raises(TypeError, match="needs a database"):
        Api(Flask("none"))
    with pytest.raises(ValueError, match="prefix"):
        Api(prefix="api/")


def test_resources_added_after_init_app_are_mounted(engine: sa.Engine) -> None:
    api = Api(db=engine)
    app = Flask("late")
    api.init_app(app)
    api.resource(models.Author)
    assert app.test_client().post("/api/authors", json={"name": "late"}).status_code == 201


def test_one_api_on_two_apps(engine: sa.Engine, tmp_path: object) -> None:
    api = Api(db=engine)
    api.resource(models.Author)
    first, second = Flask("one"), Flask("two")
    api.init_app(first)
    api.init_app(second)
    assert first.test_client().post("/api/authors", json={"name": "a"}).status_code == 201
    assert len(second.test_client().get("/api/authors").get_json()["data"]) == 1


def test_table_resource_and_sessionmaker(engine: sa.Engine) -> None:
    from sqlalchemy.orm import sessionmaker

    app = Flask("tables")
    api = Api(app, sessionmaker(bind=engine))
    api.resource(models.Base.metadata.tables["authors"], name="writers")
    client = app.test_client()
    created = client.post("/api/writers", json={"name": "core"})
    assert created.status_code == 201
    assert client.get(created.headers["Location"]).get_json()["name"] == "core"
