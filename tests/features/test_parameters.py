"""``parameters=``: query parameters a spec names (``?author=jake``) that stand for filters,
on lists and relation lists, in OpenAPI; declarations that cannot work refused; on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api
from tests.databases import BACKENDS
from tests.features.test_caller_fields import Base, Person, Post
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Person), [{"name": n} for n in ("ann", "bob")])
        posts = [{"title": "One", "author_id": 1}, {"title": "Two", "author_id": 2},
                 {"title": "Three", "author_id": 2}]  # fmt: skip
        conn.execute(sa.insert(Post), posts)
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    app = Flask("parameters")
    api = Api(app, engine)
    api.resource(Person)
    # "author" is also a relation of posts, "title" a field: the parameters win over the
    # shorthand (filter[title] still filters on the field).
    api.resource(Post, parameters={"author": "author.name", "from": "id[ge]", "title": "id"})
    return app.test_client()


def _ids(resp: object) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)  # type: ignore[attr-defined]
    return [r["id"] for r in resp.get_json()["data"]]  # type: ignore[attr-defined]


def test_a_named_parameter_is_its_filter(client: FlaskClient) -> None:
    assert _ids(client.get("/api/posts?author=bob&sort=id")) == [2, 3]
    assert _ids(client.get("/api/posts?author=bob&author=ann&sort=id")) == [1, 2, 3]
    assert _ids(client.get("/api/posts?from=2&author=bob&sort=id")) == [2, 3]
    assert _ids(client.get("/api/posts?from=3")) == [3]
    assert _ids(client.get("/api/people/2/posts?author=bob&sort=-id")) == [3, 2]
    assert _ids(client.get("/api/posts?title=1")) == [1]
    assert _ids(client.get("/api/posts?filter[title]=Two")) == [2]
    bad = problem(client.get("/api/posts?from=soon"), 400)
    assert bad["parameter"] == "from"
    spec = client.get("/api/openapi.json").get_json()
    names = {p["name"] for p in spec["paths"]["/api/posts"]["get"]["parameters"]}
    assert {"author", "from"} <= names


def test_declarations_that_cannot_work_are_refused(engine: sa.Engine) -> None:
    api = Api(Flask("bad"), engine)
    for parameters, message in (
        ({"sort": "author.name"}, "taken"),
        ({"author": "nobody.name"}, "names no field"),
        ({"x": "a,b"}, "not 'field.path'"),
        ({"a b": "title"}, "taken"),
    ):
        with pytest.raises(ValueError, match=message):
            api.resource(Post, name=f"p{len(message)}", parameters=parameters)
