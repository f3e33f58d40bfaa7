"""``where=``: a resource that is a view of its table (Conduit's feed: the articles of the
authors the caller follows), read-only, on every read path, with ``caller.id`` bound per
request; on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api, authenticated, caller
from tests.databases import BACKENDS
from tests.features.test_caller_fields import (
    FAVORITED,
    FOLLOWING,
    Base,
    Follow,
    Like,
    Person,
    Post,
)
from tests.helpers import caller_by_header, problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

FEED = Post.author_id.in_(sa.select(Follow.followed_id).where(Follow.follower_id == caller.id))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Person), [{"name": n} for n in ("ann", "bob", "cat")])
        posts = [{"title": t, "author_id": a} for t, a in (("A", 2), ("B", 3), ("C", 2))]
        conn.execute(sa.insert(Post), posts)
        conn.execute(sa.insert(Follow), [{"follower_id": 1, "followed_id": 2}])
        conn.execute(sa.insert(Like), [{"person_id": 1, "post_id": 3}])
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: sa.Engine) -> FlaskClient:
    app = Flask("views")
    api = Api(app, engine, identify=caller_by_header)
    api.resource(Person, computed={"following": FOLLOWING})
    api.resource(Post, computed={"favorited": FAVORITED})
    api.resource(
        Post,
        name="feed",
        where=FEED,
        computed={"favorited": FAVORITED},
        permissions=authenticated,
    )
    return app.test_client()


def _ids(resp: object) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)  # type: ignore[attr-defined]
    return [r["id"] for r in resp.get_json()["data"]]  # type: ignore[attr-defined]


def test_the_feed_is_the_posts_of_those_the_caller_follows(client: FlaskClient) -> None:
    ann = {"X-User": "1"}
    assert _ids(client.get("/api/feed?sort=id", headers=ann)) == [1, 3]
    assert _ids(client.get("/api/feed?sort=id", headers={"X-User": "2"})) == []
    assert client.get("/api/feed?count=true", headers=ann).get_json()["meta"]["total"] == 2
    assert _ids(client.get("/api/feed?filter[favorited]=true", headers=ann)) == [3]
    assert client.get("/api/feed/3", headers=ann).get_json()["favorited"] is True
    problem(client.get("/api/feed/2", headers=ann), 404)  # not in ann's feed
    groups = client.get("/api/feed?group_by=author_id&aggregate=count()", headers=ann)
    assert groups.get_json()["data"] == [{"author_id": 2, "count": 2}]
    csv_rows = client.get("/api/feed?format=csv", headers=ann).get_data(as_text=True)
    assert len(csv_rows.strip().splitlines()) == 3  # header and two rows
    problem(client.get("/api/feed"), 401)
    # The posts resource itself is every post; relations lead to it, not to the view.
    assert _ids(client.get("/api/posts?sort=id", headers=ann)) == [1, 2, 3]
    assert _ids(client.get("/api/people/3/posts", headers=ann)) == [2]


def test_a_view_takes_no_writes(client: FlaskClient, engine: sa.Engine) -> None:
    ann = {"X-User": "1"}
    problem(client.post("/api/feed", json={"title": "x", "author_id": 3}, headers=ann), 405)
    problem(client.delete("/api/feed/1", headers=ann), 405)
    api = Api(Flask("bad"), engine)
    with pytest.raises(ValueError, match="not possible here"):
        api.resource(Post, name="f1", where=FEED, methods=["GET", "POST"])
    with pytest.raises(ValueError, match="not only posts"):
        api.resource(Post, name="f2", where=Follow.follower_id == 1)
    with pytest.raises(ValueError, match="not a SQL condition"):
        api.resource(Post, name="f3", where="author_id = 1")
    with pytest.raises(ValueError, match="change feed"):
        api.resource(Post, name="f4", where=FEED, changes=True)
