"""Many-to-many relations through a served link table keep the link table's rules (issue 22).

Each related row a relation through ``article_tags`` answers with tells of a row of
``article_tags``: so the relation exists for a caller only if they may list and read every
row of the link table and see both of its linking columns. Otherwise it is unknown to them,
answered exactly as a name that does not exist, on every way in (include, filters, relation
routes, JSON:API linkage, the OpenAPI document). A link table served without GET, or with a
linking column ``hidden``, hides it from everyone. A link table that is not served has no
rules to keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api, authenticated, nobody, owner, public
from tablerest.mount.lean import install
from tests.databases import BACKENDS
from tests.features.test_many_to_many import (
    LINKS,
    MEMBERS,
    POST_LABELS,
    TAGS,
    build_schema,
    db,
    ids,
    serve_models,
)
from tests.helpers import caller_by_header, problem

ANN = {"X-User": "1"}
JSONAPI = "application/vnd.api+json"

#: Each link table's relations, both ways: (resource, a row's key, relation, a field of the
#: target, a value of it).
RELATIONS = {
    "article_tags": [
        ("articles", 1, "tags", "name", "py"),
        ("tags", 2, "articles_via_article_tags", "title", "Alpha"),
    ],
    "memberships": [("users", 1, "teams", "name", "red"), ("teams", 1, "users", "name", "ann")],
}


def ways_in(link: str) -> list[tuple[str, str, int, int]]:
    """(url with the relation's name as {}, the name, status when the name is unknown, and
    when it is served)."""
    out = []
    for res, key, name, field, value in RELATIONS[link]:
        for url, status, served in [
            (f"/api/{res}/{key}?include={{}}", 400, 200),
            (f"/api/{res}?include={{}}", 400, 200),
            (f"/api/{res}?filter[{{}}.{field}]={value}", 400, 200),
            (f"/api/{res}?filter[or][0][{{}}.{field}]={value}&filter[or][1][id]=4", 400, 200),
            (f"/api/{res}?filter[not][{{}}.id]=1", 400, 200),
            # Refused through any to-many relation, but not in the same words as a name that
            # does not exist.
            (f"/api/{res}?sort={{}}.id", 400, 400),
            (f"/api/{res}?group_by={{}}.id&aggregate=count()", 400, 400),
            # JSON:API sparse fieldsets name relationships too.
            (f"/api/{res}?format=jsonapi&fields[{res}]=id,{{}}", 400, 200),
            (f"/api/{res}/{key}/{{}}", 404, 200),
            (f"/api/{res}/{key}/{{}}?count=true", 404, 200),
            (f"/api/{res}/{key}/{{}}?format=csv", 404, 200),
            (f"/api/{res}/{key}/relationships/{{}}", 404, 200),
        ]:
            out.append((url, name, status, served))
    return out


@pytest.fixture(params=BACKENDS[:1])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    build_schema(db_url)
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


def _client(
    engine: sa.Engine, path: str, links: dict[str, dict[str, Any] | None], **tags: Any
) -> FlaskClient:
    """Articles, tags, users and teams public (tags with ``tags``' options); each link table
    served with its options in ``links`` (None: not served), public if left out."""
    meta = sa.MetaData()
    meta.reflect(engine)
    app = Flask("m2m-access")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header)
    for name in ("articles", "tags", "users", "teams"):
        api.resource(meta.tables[name], permissions=public, **(tags if name == "tags" else {}))
    for name in RELATIONS:
        options = links.get(name, {"permissions": public})
        if options is not None:
            api.resource(meta.tables[name], **options)
    if path == "lean":
        install(app)
    return app.test_client()


def _unknown(client: FlaskClient, link: str, headers: dict[str, str]) -> None:
    """Each way in with the relation's name is answered as with a name that does not exist."""
    for url, name, status, _ in ways_in(link):
        hidden = client.get(url.format(name), headers=headers)
        absent = client.get(url.format("nowhere"), headers=headers)
        assert hidden.status_code == status, (url, hidden.get_data(as_text=True))
        assert absent.status_code == status
        assert hidden.mimetype == absent.mimetype
        assert hidden.get_data(as_text=True) == absent.get_data(as_text=True).replace(
            "nowhere", name
        )


def _served(client: FlaskClient, link: str, headers: dict[str, str]) -> None:
    """The relation answers, as the rows say."""
    for url, name, _, served in ways_in(link):
        got = client.get(url.format(name), headers=headers)
        assert got.status_code == served, (url, got.get_data(as_text=True))
        if served == 400:
            assert "to-many" in got.get_json()["detail"]
    if link == "article_tags":
        row = client.get("/api/articles/1?include=tags", headers=headers).get_json()
        assert [t["id"] for t in row["tags"]] == sorted(t for a, t in LINKS if a == 1)
    else:
        row = client.get("/api/teams/1?include=users", headers=headers).get_json()
        assert [u["id"] for u in row["users"]] == sorted(u for _, u, t in MEMBERS if t == 1)


def _documented(client: FlaskClient, link: str, headers: dict[str, str]) -> bool:
    """Whether the caller's OpenAPI document and their JSON:API rows name the relations
    (both, or neither)."""
    doc = client.get("/api/openapi.json", headers=headers).get_json()
    found = set()
    for res, key, name, _, _ in RELATIONS[link]:
        found.add(f"/api/{res}/{{id}}/{name}" in doc["paths"])
        found.add(name in doc["components"]["schemas"][res.title()]["properties"])
        (groups,) = [
            p for p in doc["paths"][f"/api/{res}"]["get"]["parameters"] if p["name"] == "filter"
        ]
        found.add(
            bool(re.search(groups["schema"]["propertyNames"]["pattern"], f"filter[{name}.id]"))
        )
        row = client.get(f"/api/{res}/{key}", headers={**headers, "Accept": JSONAPI})
        found.add(name in row.get_json()["data"].get("relationships", {}))
    assert len(found) == 1, found
    return found.pop()


def test_link_tables_everyone_may_read_serve_the_relations(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, {})
    for link in RELATIONS:
        for headers in ({}, ANN):
            _served(client, link, headers)
            assert _documented(client, link, headers)


def test_an_unserved_link_table_has_no_rules_to_keep(engine: sa.Engine, path: str) -> None:
    client = _client(engine, path, dict.fromkeys(RELATIONS))
    for link in RELATIONS:
        _served(client, link, {})
        assert _documented(client, link, {})


@pytest.mark.parametrize(
    ("link", "options"),
    [
        ("article_tags", {"permissions": {"list": authenticated}}),
        ("article_tags", {"permissions": {"read": authenticated}}),
        ("memberships", {"permissions": public, "hidden_unless": {"team_id": authenticated}}),
        ("memberships", {"permissions": public, "hidden_unless": {"user_id": authenticated}}),
    ],
    ids=["list", "read", "hidden-unless-far-key", "hidden-unless-near-key"],
)
def test_the_relation_exists_only_for_callers_the_link_table_lets_read_it(
    engine: sa.Engine, path: str, link: str, options: dict[str, Any]
) -> None:
    client = _client(engine, path, {link: options})
    _unknown(client, link, {})
    assert not _documented(client, link, {})
    _served(client, link, ANN)
    assert _documented(client, link, ANN)
    # The rows at the far end are public: only the way through the link is closed.
    assert client.get(f"/api/{RELATIONS[link][0][2]}/1").status_code == 200


@pytest.mark.parametrize(
    ("link", "options"),
    [
        ("article_tags", {"permissions": public, "methods": ["POST", "DELETE"]}),
        ("article_tags", {"permissions": {"list": owner("article_id")}}),
        ("article_tags", {"permissions": {"read": owner("article_id")}}),
        # Ann may list her own memberships, not the others': users.teams and teams.users
        # would tell her who else is in her teams.
        ("memberships", {"permissions": owner("user_id")}),
        ("memberships", {"permissions": public, "hidden": ["team_id"]}),
        ("memberships", {"permissions": public, "hidden": ["user_id"]}),
        ("memberships", {"permissions": public, "hidden_unless": {"user_id": nobody}}),
    ],
    ids=[
        "no-get",
        "list-own-rows",
        "read-own-rows",
        "django-own-rows",
        "hidden-far-key",
        "hidden-near-key",
        "hidden-unless-nobody",
    ],
)
def test_a_link_table_no_one_may_read_whole_hides_the_relation_from_everyone(
    engine: sa.Engine, path: str, link: str, options: dict[str, Any]
) -> None:
    client = _client(engine, path, {link: options})
    for headers in ({}, ANN):
        _unknown(client, link, headers)
        assert not _documented(client, link, headers)
    other = "memberships" if link == "article_tags" else "article_tags"
    _served(client, other, ANN)  # the other link's relations are untouched


def test_the_far_side_keeps_its_own_rules(engine: sa.Engine, path: str) -> None:
    """Through a readable link, tags still answer only as the tags resource lets them."""
    client = _client(engine, path, {}, hidden=["name"])
    got = client.get("/api/articles/1?include=tags").get_json()
    assert got["tags"] == [{"id": t, "articles": 0} for a, t in LINKS if a == 1]
    assert all(name not in str(got) for name in TAGS.values())
    bad = client.get("/api/articles?filter[tags.name]=py")
    assert bad.status_code == 400


def test_row_grants_at_the_far_end_scope_every_way_through_the_link(
    engine: sa.Engine, path: str
) -> None:
    """Users each read only their own row: through teams.users they find themselves, never
    another member, by include, relation route, linkage, count or filter."""
    meta = sa.MetaData()
    meta.reflect(engine)
    app = Flask("m2m-rows")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=caller_by_header)
    api.resource(meta.tables["teams"], permissions=public)
    api.resource(meta.tables["users"], permissions=owner("id"))
    api.resource(meta.tables["memberships"], permissions=public)
    if path == "lean":
        install(app)
    client = app.test_client()
    for team in (1, 2):
        mine = [1] if (team, 1) in {(t, u) for _, u, t in MEMBERS} else []
        row = client.get(f"/api/teams/{team}?include=users", headers=ANN).get_json()
        assert [u["id"] for u in row["users"]] == mine
        listed = client.get(f"/api/teams/{team}/users?count=true", headers=ANN).get_json()
        assert ids(listed) == mine
        assert listed["meta"]["total"] == len(mine)
        doc = client.get(
            f"/api/teams/{team}/relationships/users", headers={**ANN, "Accept": JSONAPI}
        )
        assert [int(r["id"]) for r in doc.get_json()["data"]] == mine
    # Bob is in team 1: Ann cannot find that out by filtering on his name.
    assert ids(client.get("/api/teams?filter[users.name]=bob", headers=ANN).get_json()) == []
    assert ids(client.get("/api/teams?filter[users.name]=ann", headers=ANN).get_json()) == sorted(
        t for _, u, t in MEMBERS if u == 1
    )
    # Anonymous callers own no row: an include of users asks them to sign in.
    assert (
        problem(client.get("/api/teams/1?include=users"), 401)["detail"] == "Sign in to read users"
    )


def test_a_models_secondary_relationship_keeps_its_served_link_tables_rules(
    db_url: str, path: str
) -> None:
    app = serve_models(
        db_url, path, {"permissions": {"list": authenticated}}, identify=caller_by_header
    )
    client = app.test_client()
    try:
        for url, status in [
            ("/api/posts/1?include={}", 400),
            ("/api/posts?filter[{}.name]=news", 400),
            ("/api/posts/1/{}", 404),
            ("/api/labels/1/{}", 404),
        ]:
            name = "posts" if url.startswith("/api/labels") else "labels"
            hidden = client.get(url.format(name))
            absent = client.get(url.format("nowhere"))
            assert hidden.status_code == status == absent.status_code, hidden.get_json()
            assert hidden.get_data(as_text=True) == absent.get_data(as_text=True).replace(
                "nowhere", name
            )
            assert client.get(url.format(name), headers=ANN).status_code == 200
        row = client.get("/api/posts/1?include=labels", headers=ANN).get_json()
        assert [lb["id"] for lb in row["labels"]] == sorted(lb for p, lb in POST_LABELS if p == 1)
    finally:
        with app.app_context():
            db.engine.dispose()
