"""Permissions apply to every row a nested write or a batch writes, with the caller's identity;
a refusal anywhere changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import role
from tests.helpers import problem
from tests.security.conftest import AppFactory, Comment, Post, login

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def _stored(engine: sa.Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        posts = conn.execute(sa.select(Post.__table__).order_by(Post.id)).all()
        comments = conn.execute(sa.select(Comment.__table__).order_by(Comment.id)).all()
    return [tuple(r) for r in posts], [tuple(r) for r in comments]


def test_a_nested_create_claims_every_row_for_the_caller(
    client: FlaskClient, engine: sa.Engine
) -> None:
    resp = client.post(
        "/api/posts",
        json={"title": "bob's new post", "comments": [{"text": "first"}, {"text": "second"}]},
        headers=login(client, "bob"),
    )

    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["owner_id"] == 2
    assert [(c["author_id"], c["post_id"]) for c in body["comments"]] == [
        (2, body["id"]),
        (2, body["id"]),
    ]
    posts, comments = _stored(engine)
    assert posts[-1] == (body["id"], 2, "bob's new post")
    assert [c[1:] for c in comments[-2:]] == [(body["id"], 2, "first"), (body["id"], 2, "second")]


def test_a_nested_row_written_for_someone_else_refuses_the_whole_document(
    client: FlaskClient, engine: sa.Engine
) -> None:
    before = _stored(engine)

    resp = client.post(
        "/api/posts",
        json={"title": "t", "comments": [{"text": "mine"}, {"text": "cy's?", "author_id": 3}]},
        headers=login(client, "bob"),
    )

    body = problem(resp, 403)
    assert body["errors"] == [{"pointer": "/comments/1/author_id", "detail": "Must be your own id"}]
    assert _stored(engine) == before


def test_a_nested_row_the_caller_may_not_create_refuses_the_whole_document(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app(permissions={"comments": {"list": role("admin"), "create": role("admin")}})
    client = app.test_client()
    before = _stored(engine)

    resp = client.post(
        "/api/posts",
        json={"title": "t", "comments": [{"text": "no"}]},
        headers=login(client, "bob"),
    )

    body = problem(resp, 403)
    assert [e["pointer"] for e in body["errors"]] == ["/comments/0"]
    assert _stored(engine) == before


def test_a_nested_owner_row_handing_the_post_to_someone_else_is_403(
    client: FlaskClient, engine: sa.Engine
) -> None:
    """The post's owner is the new user, not bob: it would not be his, so none of it is kept."""
    before = _stored(engine)

    resp = client.post(
        "/api/posts",
        json={
            "title": "t",
            "owner": {"username": "dan", "email": "d@x.org", "password": "pw-pw-pw"},
        },
        headers=login(client, "bob"),
    )

    problem(resp, 403)
    assert _stored(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 3


def test_an_anonymous_nested_write_or_batch_is_401(client: FlaskClient, engine: sa.Engine) -> None:
    before = _stored(engine)

    nested = client.post("/api/posts", json={"title": "t", "comments": [{"text": "x"}]})
    batch = client.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "create", "resource": "comments", "data": {"post_id": 1, "text": "x"}}
            ]
        },
    )

    assert problem(nested, 401)
    assert problem(batch, 401)
    assert _stored(engine) == before


def test_a_batch_runs_with_the_callers_grants_on_every_operation(
    client: FlaskClient, engine: sa.Engine
) -> None:
    bob = login(client, "bob")
    before = _stored(engine)

    ok = client.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "create", "resource": "posts", "ref": "p", "data": {"title": "batch"}},
                {
                    "op": "create",
                    "resource": "comments",
                    "data": {"post_id": {"$ref": "p"}, "text": "c"},
                },
                {"op": "update", "resource": "posts", "key": 2, "data": {"title": "bob's diary!"}},
            ]
        },
        headers=bob,
    )
    assert ok.status_code == 200, ok.get_json()
    new_post = ok.get_json()["results"][0]["data"]
    assert new_post["owner_id"] == 2
    assert ok.get_json()["results"][1]["data"]["author_id"] == 2
    after_ok = _stored(engine)
    assert len(after_ok[0]) == len(before[0]) + 1

    # ann's post is not bob's to see: 404 at the operation's key, and nothing of it is kept.
    refused = client.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "create", "resource": "posts", "data": {"title": "kept?"}},
                {"op": "update", "resource": "posts", "key": 1, "data": {"title": "mine now"}},
            ]
        },
        headers=bob,
    )
    body = problem(refused, 404)
    assert body["errors"] == [{"pointer": "/operations/1/key", "detail": "No posts row with key 1"}]
    # cy's comment is public to read but not bob's to change: 403.
    forbidden = client.post(
        "/api/batch",
        json={
            "operations": [
                {
                    "op": "update",
                    "resource": "posts",
                    "key": new_post["id"],
                    "data": {"title": "x"},
                },
                {
                    "op": "update",
                    "resource": "comments",
                    "key": 2,
                    "data": {"text": "bob was here"},
                },
            ]
        },
        headers=bob,
    )
    assert [e["pointer"] for e in problem(forbidden, 403)["errors"]] == ["/operations/1"]
    assert _stored(engine) == after_ok


def test_hidden_fields_of_rows_a_batch_wrote_cannot_be_referred_to(
    client: FlaskClient, engine: sa.Engine
) -> None:
    """A reference reads the row as the caller was answered: hidden fields are not in it."""
    resp = client.post(
        "/api/batch",
        json={
            "operations": [
                {
                    "op": "create",
                    "resource": "users",
                    "ref": "u",
                    "data": {"username": "eve", "email": "e@x.org", "password": "pw-pw-pw"},
                },
                {
                    "op": "create",
                    "resource": "users",
                    "data": {
                        "username": "eve2",
                        "email": "e2@x.org",
                        "password": {"$ref": "u", "field": "password"},
                    },
                },
            ]
        },
    )

    body = problem(resp, 422)
    assert body["errors"] == [
        {
            "pointer": "/operations/1/data/password/field",
            "detail": "The users row has no field 'password'",
        }
    ]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 3
