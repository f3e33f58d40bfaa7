"""Permissions: actions allowed per caller, and row grants that scope every way rows are read.

The fixture is a private notebook: posts are their owner's (or an admin's), comments are
public to read and their author's to change. ann (id 1) is an admin; bob (2) owns posts 2
and 3; cy (3) owns nothing. bob commented on ann's post 1, cy on bob's post 2.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Request
from flask.testing import FlaskClient

from tablerest import Api, Context, Identity, RateLimits, authenticated, owner, role
from tests.databases import BACKENDS
from tests.helpers import problem
from tests.security.conftest import AppFactory, Comment, Post, login

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _posts(engine: sa.Engine) -> list[tuple[int, int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(Post.__table__).order_by(Post.id))]


def _ids(resp: Any) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [row["id"] for row in resp.get_json()["data"]]


# -- lists, items, counts ----------------------------------------------------------------------


def test_anonymous_list_of_private_posts_is_401(client: FlaskClient) -> None:
    resp = client.get("/api/posts")
    problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_lists_show_only_the_callers_rows_and_everything_to_an_admin(client: FlaskClient) -> None:
    assert _ids(client.get("/api/posts", headers=login(client, "bob"))) == [2, 3]
    assert _ids(client.get("/api/posts", headers=login(client, "cy"))) == []
    assert _ids(client.get("/api/posts", headers=login(client, "ann"))) == [1, 2, 3]


def test_counts_and_filters_see_only_the_callers_rows(client: FlaskClient) -> None:
    bob = login(client, "bob")
    body = client.get("/api/posts?count=true", headers=bob).get_json()
    assert body["meta"]["total"] == 2
    other = client.get("/api/posts?count=true&owner_id=1", headers=bob).get_json()
    assert other["meta"]["total"] == 0
    assert other["data"] == []


def test_reading_someone_elses_row_is_404_not_403(client: FlaskClient) -> None:
    """No object-level leak: a row the caller may not see does not exist for them."""
    bob = login(client, "bob")
    missing = problem(client.get("/api/posts/1", headers=bob), 404)
    absent = problem(client.get("/api/posts/999", headers=bob), 404)
    assert missing["title"] == absent["title"]
    assert client.get("/api/posts/2", headers=bob).get_json()["title"] == "bob's diary"
    assert client.get("/api/posts/1", headers=login(client, "ann")).status_code == 200


def test_role_only_action_is_403_for_a_signed_in_caller(client: FlaskClient) -> None:
    problem(client.get("/api/users", headers=login(client, "bob")), 403)
    assert _ids(client.get("/api/users", headers=login(client, "ann"))) == [1, 2, 3]
    problem(client.get("/api/users"), 401)


def test_owner_rule_on_the_key_itself_lets_users_read_only_themselves(
    client: FlaskClient,
) -> None:
    bob = login(client, "bob")
    assert client.get("/api/users/2", headers=bob).status_code == 200
    problem(client.get("/api/users/3", headers=bob), 404)


def test_export_is_scoped_like_the_list(client: FlaskClient) -> None:
    resp = client.get("/api/posts?format=csv", headers=login(client, "bob"))
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["id"] for r in rows] == ["2", "3"]


# -- relations, includes, filters and sorts through relations ---------------------------------


def test_relation_route_of_a_row_the_caller_cannot_see_is_404(client: FlaskClient) -> None:
    cy = login(client, "cy")
    problem(client.get("/api/users/2/posts", headers=cy), 404)
    problem(client.get("/api/posts/2/comments", headers=cy), 404)
    bob = login(client, "bob")
    assert _ids(client.get("/api/posts/2/comments", headers=bob)) == [2]


def test_to_one_relation_route_to_a_hidden_row_is_null(client: FlaskClient) -> None:
    # Comments are public; the post of comment 1 is ann's.
    resp = client.get("/api/comments/1/post", headers=login(client, "cy"))
    assert resp.status_code == 200
    assert resp.get_json() is None
    mine = client.get("/api/comments/2/post", headers=login(client, "bob"))
    assert mine.get_json()["id"] == 2


def test_includes_leave_out_rows_the_caller_cannot_see(client: FlaskClient) -> None:
    cy = login(client, "cy")
    body = client.get("/api/comments?include=post", headers=cy).get_json()
    assert [c["post"] for c in body["data"]] == [None, None]
    bob = client.get("/api/comments?include=post", headers=login(client, "bob")).get_json()
    assert [c["post"] and c["post"]["id"] for c in bob["data"]] == [None, 2]
    # To-many includes too: bob sees his own posts only, even from his own user row.
    me = client.get("/api/users/2?include=posts", headers=login(client, "bob")).get_json()
    assert [p["id"] for p in me["posts"]] == [2, 3]


def test_filters_through_a_relation_cannot_probe_hidden_rows(client: FlaskClient) -> None:
    """``filter[post.title]`` would tell cy whether bob has a post with that title."""
    cy = login(client, "cy")
    assert _ids(client.get("/api/comments?post.title=bob's diary", headers=cy)) == []
    bob = login(client, "bob")
    assert _ids(client.get("/api/comments?post.title=bob's diary", headers=bob)) == [2]
    # Sorting on them reads them as missing (NULL, first): the order gives nothing away.
    by_title = client.get("/api/comments?sort=-post.title,id", headers=cy)
    assert _ids(by_title) == [1, 2]


def test_or_and_not_groups_cannot_widen_the_row_scope(client: FlaskClient) -> None:
    """The row scope ANDs with the whole filter: no branch of an OR, no NOT reaches past it
    (ann's post 1 stays out of bob's lists, counts, groups and exports)."""
    bob = login(client, "bob")
    anyone = "filter[or][0][id]=1&filter[or][1][title]=bob's diary&filter[or][2][owner_id]=1"
    assert _ids(client.get(f"/api/posts?{anyone}", headers=bob)) == [2]
    assert _ids(client.get("/api/posts?filter[not][owner_id]=2", headers=bob)) == []
    assert _ids(client.get("/api/posts?filter[not][id]=3", headers=bob)) == [2]
    body = client.get(f"/api/posts?count=true&{anyone}", headers=bob).get_json()
    assert body["meta"]["total"] == 1
    grouped = client.get(f"/api/posts?aggregate=count()&{anyone}", headers=bob).get_json()
    assert grouped["data"] == [{"count": 1}]
    csv_text = client.get(f"/api/posts?format=csv&{anyone}", headers=bob).get_data(as_text=True)
    assert "ann's plans" not in csv_text
    # Through a relation, a group cannot probe rows the caller cannot see either.
    cy = login(client, "cy")
    probe = "filter[or][0][post.title]=bob's diary&filter[or][1][id]=999"
    assert _ids(client.get(f"/api/comments?{probe}", headers=cy)) == []
    assert _ids(client.get(f"/api/comments?{probe}", headers=bob)) == [2]
    assert _ids(client.get("/api/comments?filter[not][post.title]=x", headers=cy)) == [1, 2]


def test_reaching_a_resource_the_caller_may_not_read_at_all_is_401(
    client: FlaskClient,
) -> None:
    problem(client.get("/api/comments?include=post"), 401)
    problem(client.get("/api/comments?post.title=x"), 401)
    problem(client.get("/api/comments?sort=post.title"), 401)
    problem(client.get("/api/comments?filter[or][0][post.title]=x&filter[or][1][id]=1"), 401)
    problem(client.get("/api/comments?filter[not][or][0][post.id]=1"), 401)
    assert _ids(client.get("/api/comments")) == [1, 2]


def test_jsonapi_compound_documents_are_scoped(client: FlaskClient) -> None:
    resp = client.get(
        "/api/comments?include=post",
        headers={**login(client, "bob"), "Accept": "application/vnd.api+json"},
    )
    doc = resp.get_json()
    assert [r["id"] for r in doc["included"]] == ["2"]
    assert doc["data"][0]["relationships"]["post"]["data"] is None


# -- writes --------------------------------------------------------------------------------------


def test_create_fills_in_the_owner(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/posts", json={"title": "cy's first"}, headers=login(client, "cy"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["owner_id"] == 3
    assert _posts(engine)[-1] == (4, 3, "cy's first")


def test_create_for_someone_else_is_403_and_stores_nothing(
    client: FlaskClient, engine: sa.Engine
) -> None:
    before = _posts(engine)
    body = problem(
        client.post("/api/posts", json={"title": "x", "owner_id": 2}, headers=login(client, "cy")),
        403,
    )
    assert body["errors"] == [{"pointer": "/owner_id", "detail": "Must be your own id"}]
    many = problem(
        client.post(
            "/api/posts",
            json=[{"title": "a"}, {"title": "b", "owner_id": 1}],
            headers=login(client, "cy"),
        ),
        403,
    )
    assert many["errors"][0]["pointer"] == "/1/owner_id"
    assert _posts(engine) == before
    # An admin may create for anyone.
    ann = login(client, "ann")
    made = client.post("/api/posts", json={"title": "for cy", "owner_id": 3}, headers=ann)
    assert made.status_code == 201


def test_anonymous_create_is_401(client: FlaskClient, engine: sa.Engine) -> None:
    before = _posts(engine)
    problem(client.post("/api/posts", json={"title": "x", "owner_id": 1}), 401)
    assert _posts(engine) == before


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_changing_a_row_the_caller_cannot_see_is_404(
    client: FlaskClient, engine: sa.Engine, method: str
) -> None:
    before = _posts(engine)
    resp = client.open(
        "/api/posts/2",
        method=method,
        json=None if method == "DELETE" else {"title": "mine now", "owner_id": 2},
        headers=login(client, "cy"),
    )
    problem(resp, 404)
    assert _posts(engine) == before


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_changing_a_visible_row_without_permission_is_403(
    client: FlaskClient, engine: sa.Engine, method: str
) -> None:
    """Comments are public to read, so cy sees bob's comment: a 403, not a 404."""
    with engine.connect() as conn:
        before = conn.execute(sa.select(Comment.__table__).order_by(Comment.id)).all()
    resp = client.open(
        "/api/comments/1",
        method=method,
        json=None if method == "DELETE" else {"text": "edited"},
        headers=login(client, "cy"),
    )
    problem(resp, 403)
    with engine.connect() as conn:
        assert conn.execute(sa.select(Comment.__table__).order_by(Comment.id)).all() == before


def test_owner_changes_own_row_and_admin_deletes_any(
    client: FlaskClient, engine: sa.Engine
) -> None:
    bob = login(client, "bob")
    resp = client.patch("/api/comments/1", json={"text": "edited"}, headers=bob)
    assert resp.status_code == 200
    assert resp.get_json()["text"] == "edited"
    problem(client.patch("/api/comments/2", json={"text": "x"}, headers=bob), 403)
    problem(client.delete("/api/comments/2", headers=bob), 403)
    assert client.delete("/api/comments/2", headers=login(client, "ann")).status_code == 204
    with engine.connect() as conn:
        texts = conn.execute(sa.select(Comment.text).order_by(Comment.id)).scalars().all()
    assert texts == ["edited"]


def test_handing_a_row_over_to_someone_else_is_403(client: FlaskClient, engine: sa.Engine) -> None:
    before = _posts(engine)
    bob = login(client, "bob")
    problem(client.patch("/api/posts/2", json={"owner_id": 3}, headers=bob), 403)
    problem(client.put("/api/posts/2", json={"title": "t", "owner_id": 3}, headers=bob), 403)
    assert _posts(engine) == before
    ok = client.patch("/api/posts/2", json={"title": "renamed"}, headers=bob)
    assert ok.status_code == 200
    assert _posts(engine)[1] == (2, 2, "renamed")


def test_jsonapi_relationship_update_needs_the_update_permission(
    client: FlaskClient, engine: sa.Engine
) -> None:
    before = _posts(engine)
    doc = {"data": {"type": "users", "id": "3"}}
    headers = {"Content-Type": "application/vnd.api+json"}
    resp = client.patch(
        "/api/posts/2/relationships/owner",
        json=doc,
        headers={**headers, **login(client, "bob")},
    )
    assert resp.status_code == 403  # the row would be cy's, no longer bob's
    assert resp.mimetype == "application/vnd.api+json"
    assert "would not be yours" in resp.get_json()["errors"][0]["detail"]
    assert _posts(engine) == before


# -- other building blocks -----------------------------------------------------------------------


def test_callable_permissions_and_combinations(make_app: AppFactory) -> None:
    def weekdays_only(ctx: Context) -> bool:
        return ctx.identity is not None and ctx.identity.id != "3"

    app = make_app(permissions={"comments": {"list": authenticated & weekdays_only}})
    client = app.test_client()
    assert _ids(client.get("/api/comments", headers=login(client, "bob"))) == [1, 2]
    problem(client.get("/api/comments", headers=login(client, "cy")), 403)
    problem(client.get("/api/comments"), 401)


def test_permissions_with_the_applications_own_identity(engine: sa.Engine) -> None:
    """No tablerest tokens: the app says who is asking (a session, an API gateway...)."""

    def from_header(request: Request) -> Identity | None:
        user = request.headers.get("X-User")
        return Identity(user, frozenset({"admin"} if user == "1" else ())) if user else None

    app = Flask("own-identity")
    api = Api(app, engine, identify=from_header)
    api.resource(Post, permissions=owner("owner_id") | role("admin"))
    client = app.test_client()
    assert _ids(client.get("/api/posts", headers={"X-User": "2"})) == [2, 3]
    assert _ids(client.get("/api/posts", headers={"X-User": "1"})) == [1, 2, 3]
    problem(client.get("/api/posts"), 401)
    # A text id cannot own a row keyed by integers: no grant at all.
    problem(client.get("/api/posts", headers={"X-User": "bob"}), 403)


def test_the_applications_identify_runs_once_per_request(engine: sa.Engine) -> None:
    calls: list[str] = []

    def from_header(request: Request) -> Identity | None:
        calls.append(request.path)
        return Identity("2") if request.headers.get("X-User") else None

    app = Flask("own-identity-once")
    api = Api(app, engine, identify=from_header, rate_limits=RateLimits())
    api.resource(Post, permissions=owner("owner_id"))
    client = app.test_client()

    assert _ids(client.get("/api/posts", headers={"X-User": "2"})) == [2, 3]
    assert calls == ["/api/posts"]  # the limiter and the permissions asked alike


def test_unknown_actions_and_owner_fields_are_refused_at_registration(engine: sa.Engine) -> None:
    api = Api(Flask("x"), engine)
    with pytest.raises(ValueError, match="unknown actions"):
        api.resource(Post, permissions={"edit": role("admin")})
    with pytest.raises(ValueError, match="names no field"):
        api.resource(Comment, permissions=owner("writer_id"))


def test_aggregates_count_only_the_callers_rows(client: FlaskClient) -> None:
    bob, ann = login(client, "bob"), login(client, "ann")

    mine = client.get("/api/posts?aggregate=count()", headers=bob).get_json()["data"]
    everyone = client.get("/api/posts?aggregate=count()", headers=ann).get_json()["data"]
    by_owner = client.get("/api/comments?group_by=post.title&aggregate=count()", headers=bob)

    assert mine == [{"count": 2}]
    assert everyone == [{"count": 3}]
    # Grouping through a relation sees only the posts bob may read (his own).
    assert by_owner.get_json()["data"] == [
        {"post.title": None, "count": 1},
        {"post.title": "bob's diary", "count": 1},
    ]


def test_a_bulk_update_checks_every_row_against_the_owner_rule(client: FlaskClient) -> None:
    bob = login(client, "bob")

    mine = client.patch(
        "/api/posts", json=[{"id": 2, "title": "x"}, {"id": 3, "title": "y"}], headers=bob
    )
    anns = client.patch(
        "/api/posts", json=[{"id": 2, "title": "z"}, {"id": 1, "title": "mine"}], headers=bob
    )
    cys = client.patch("/api/comments", json=[{"id": 2, "text": "bob was here"}], headers=bob)
    handed_over = client.patch("/api/posts", json=[{"id": 2, "owner_id": 3}], headers=bob)

    assert [p["title"] for p in mine.get_json()] == ["x", "y"]
    # ann's post is not bob's to see: a 404 at the item; cy's comment he may see, not change.
    assert problem(anns, 404)["errors"] == [{"pointer": "/1", "detail": "No posts row with key 1"}]
    assert [e["pointer"] for e in problem(cys, 403)["errors"]] == ["/0"]
    assert problem(handed_over, 403)["errors"][0]["pointer"] == "/0"
    assert client.get("/api/posts/2", headers=bob).get_json()["title"] == "x"
    assert client.get("/api/comments/2").get_json()["text"] == "dear diary"


def test_an_upsert_creates_or_changes_only_what_the_caller_may(client: FlaskClient) -> None:
    bob = login(client, "bob")
    dan = {"username": "dan", "email": "dan@example.org", "password": "dan-pw-dan-pw"}

    own = client.post(
        "/api/users?on_conflict=username",
        json={"username": "bob", "email": "bob@new.example.org", "password": "bob-pw-2"},
        headers=bob,
    )
    new = client.post("/api/users?on_conflict=username", json=dan, headers=bob)
    cys = client.post(
        "/api/users?on_conflict=username",
        json=[
            {**dan, "username": "eve", "email": "eve@example.org"},
            {"username": "cy", "email": "c@x.org", "password": "pw-pw-pw"},
        ],
        headers=bob,
    )

    assert own.status_code == 200, own.get_json()
    assert own.get_json()["email"] == "bob@new.example.org"
    assert new.status_code == 201
    # cy's row exists but is not bob's: a 409 at the key, without naming cy's row.
    body = problem(cys, 409)
    assert body["errors"] == [
        {"pointer": "/1/username", "detail": "A row you may not change has this value"}
    ]
    assert "key" not in body["detail"]
    assert client.get("/api/auth/me", headers=login(client, "cy")).get_json()["email"] == (
        "cy@example.org"
    )
    assert problem(client.post("/api/auth/token", json={"username": "eve", "password": "x"}), 401)
