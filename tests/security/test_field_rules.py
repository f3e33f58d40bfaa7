"""Field rules: fields hidden from, or read-only for, callers without a role.

Users' ``email`` is visible to admins only and ``roles`` writable by admins only: nobody can
grant themselves a role (mass assignment), and nobody can read or probe others' addresses.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from tablerest import Api, authenticated, owner, public, role
from tests.helpers import problem
from tests.security.conftest import PERMISSIONS, AppFactory, User, login


def _users_app(make_app: AppFactory) -> Flask:
    """Users anyone signed in may list, with emails for admins only."""
    return make_app(
        permissions={"users": {**PERMISSIONS["users"], "list": authenticated, "read": public}},
        users_options={
            "hidden_unless": {"email": role("admin")},
            "read_only_unless": {"roles": role("admin")},
        },
    )


def _roles(engine: sa.Engine, uid: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(User.roles).where(User.id == uid)).scalar_one())


def test_hidden_field_is_left_out_for_callers_without_the_role(make_app: AppFactory) -> None:
    client = _users_app(make_app).test_client()
    bob = client.get("/api/users/2", headers=login(client, "bob")).get_json()
    assert "email" not in bob
    assert bob["username"] == "bob"
    ann = client.get("/api/users/2", headers=login(client, "ann")).get_json()
    assert ann["email"] == "bob@example.org"
    me = client.get("/api/auth/me", headers=login(client, "bob")).get_json()
    assert "email" not in me
    # Through an include too.
    post = client.get("/api/posts/2?include=owner", headers=login(client, "bob")).get_json()
    assert post["owner"]["username"] == "bob"
    assert "email" not in post["owner"]


@pytest.mark.parametrize(
    "query", ["email=bob@example.org", "sort=email", "fields=email,id", "filter[email][like]=b%25"]
)
def test_hidden_field_cannot_be_probed(make_app: AppFactory, query: str) -> None:
    client = _users_app(make_app).test_client()
    ann = login(client, "ann")
    assert client.get(f"/api/users?{query}", headers=ann).status_code == 200
    bob = login(client, "bob")
    assert [u.get("email") for u in client.get("/api/users", headers=bob).get_json()["data"]] == [
        None,
        None,
        None,
    ]
    body = problem(client.get(f"/api/users?{query}", headers=bob), 400)
    assert "Unknown field" in body["detail"]


def test_hidden_field_through_a_relation_is_unknown(make_app: AppFactory) -> None:
    client = _users_app(make_app).test_client()
    bob = login(client, "bob")
    for query in ("author.email=x", "sort=author.email"):
        body = problem(client.get(f"/api/comments?{query}", headers=bob), 400)
        assert body["detail"] == "Unknown field 'author.email'"
    ann = login(client, "ann")
    assert client.get("/api/comments?author.email=bob@example.org", headers=ann).status_code == 200


@pytest.mark.parametrize("route", ["/api/posts/2/comments", "/api/posts/2/relationships/comments"])
def test_hidden_field_cannot_be_probed_on_relation_routes(make_app: AppFactory, route: str) -> None:
    client = _users_app(make_app).test_client()
    query = "filter[author.email]=cy@example.org"

    refused = client.get(f"{route}?{query}", headers=login(client, "bob"))
    assert refused.status_code == 400  # a problem, or a JSON:API error on relationship routes
    assert "Unknown field 'author.email'" in refused.get_data(as_text=True)
    assert client.get(f"{route}?{query}", headers=login(client, "ann")).status_code == 200


def test_read_only_unless_stops_self_assigned_roles(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    client = _users_app(make_app).test_client()
    bob = login(client, "bob")
    body = problem(client.patch("/api/users/2", json={"roles": "admin"}, headers=bob), 422)
    assert body["errors"] == [{"pointer": "/roles", "detail": "Field is read-only"}]
    hidden = problem(client.patch("/api/users/2", json={"email": "x@y.z"}, headers=bob), 422)
    assert hidden["errors"] == [{"pointer": "/email", "detail": "Unknown field"}]
    assert _roles(engine, 2) == ""
    # A PUT that leaves them out keeps them: it does not reset what bob may not write.
    put = client.put("/api/users/2", json={"username": "bob"}, headers=bob)
    assert put.status_code == 200, put.get_data(as_text=True)
    assert "email" not in put.get_json()
    with engine.connect() as conn:
        email = conn.execute(sa.select(User.email).where(User.id == 2)).scalar_one()
    assert email == "bob@example.org"
    # Signing up with a role is refused as well.
    signup = client.post(
        "/api/users",
        json={"username": "eve", "email": "e@x.org", "password": "pw", "roles": "admin"},
    )
    problem(signup, 422)
    # An admin may.
    ann = login(client, "ann")
    assert client.patch("/api/users/2", json={"roles": "editor"}, headers=ann).status_code == 200
    assert _roles(engine, 2) == "editor"


def test_field_rules_are_checked_at_registration(engine: sa.Engine) -> None:
    api = Api(Flask("x"), engine)
    with pytest.raises(ValueError, match="not owner"):
        api.resource(User, hidden_unless={"email": owner("id")})
    with pytest.raises(ValueError, match="not a readable field"):
        api.resource(User, name="u2", hidden_unless={"nope": role("admin")})
    with pytest.raises(ValueError, match="not a writable field"):
        api.resource(User, name="u3", read_only_unless={"id": role("admin")})


@pytest.mark.parametrize("query", ["group_by=email", "distinct=email", "aggregate=max(email)"])
def test_hidden_field_cannot_be_grouped_or_aggregated(make_app: AppFactory, query: str) -> None:
    client = _users_app(make_app).test_client()

    refused = client.get(f"/api/users?{query}", headers=login(client, "bob"))

    assert refused.status_code == 400
    assert "Unknown field 'email'" in refused.get_json()["detail"]
    assert client.get(f"/api/users?{query}", headers=login(client, "ann")).status_code == 200
