"""OR and NOT filter groups (``filter[or][0][...]``, ``filter[not][...]``) on every backend:
what they select (NOT is the complement, NULL rows included), everywhere filters apply (lists,
relation routes, counts, groups, keyset pages, exports, JSON:API), and every malformed group a
400 naming its parameter."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api, role
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.features.test_query import AUTHORS, BOOKS
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

JSONAPI = "application/vnd.api+json"
# Titles by id, to read the expectations below (see BOOKS in test_query).
WIZARD, LEFT_HAND, DISPOSSESSED, OWLS, FACES, LOWERCASE, ORPHAN = (b["title"] for b in BOOKS)


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    app = make_app(books={"hidden": ["secret_note"]})
    c = app.test_client()
    assert c.post("/api/authors", json=AUTHORS).status_code == 201
    assert c.post("/api/books", json=BOOKS).status_code == 201
    return c


def titles(client: FlaskClient, query: str, url: str = "/api/books") -> list[str]:
    resp = client.get(f"{url}?page[size]=100&{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [b["title"] for b in resp.get_json()["data"]]


def test_or_selects_rows_matching_any_branch(client: FlaskClient) -> None:
    query = "filter[or][0][year][lt]=1960&filter[or][1][genre]=mystery"
    assert titles(client, query) == [OWLS, LOWERCASE, ORPHAN]
    # Indexes need not be contiguous nor in order; one branch is the branch itself.
    assert titles(client, "filter[or][7][genre]=poetry&filter[or][3][year]=2001") == [
        OWLS,
        ORPHAN,
    ]
    assert titles(client, "filter[or][0][genre]=poetry") == [OWLS]


def test_conditions_under_one_branch_are_anded(client: FlaskClient) -> None:
    query = "filter[or][0][genre]=fantasy&filter[or][0][year][ge]=1969&filter[or][1][year][lt]=1960"
    assert titles(client, query) == [LEFT_HAND, OWLS]


def test_top_level_filters_and_with_the_groups(client: FlaskClient) -> None:
    query = "filter[or][0][genre]=fantasy&filter[or][1][year][gt]=1970"
    assert titles(client, query) == [WIZARD, LEFT_HAND, DISPOSSESSED, ORPHAN]
    assert titles(client, f"{query}&filter[author.country]=US") == [
        WIZARD,
        LEFT_HAND,
        DISPOSSESSED,
    ]
    assert titles(client, f"{query}&pages=50") == [ORPHAN]  # the shorthand too


def test_not_is_the_complement_null_rows_included(client: FlaskClient) -> None:
    # The rule, as for ne: a row the condition does not select, NULL year included.
    assert titles(client, "filter[not][year][lt]=1960") == [
        WIZARD,
        LEFT_HAND,
        DISPOSSESSED,
        FACES,
        LOWERCASE,
        ORPHAN,
    ]
    assert titles(client, "filter[not][genre]=fantasy") == titles(
        client, "filter[genre][ne]=fantasy"
    )
    # To leave NULLs out, say so.
    assert LOWERCASE not in titles(client, "filter[not][year][lt]=1960&filter[year][null]=false")


def test_not_negates_the_and_of_its_conditions(client: FlaskClient) -> None:
    query = "filter[not][genre]=fantasy&filter[not][year][lt]=1969"
    assert titles(client, query) == [LEFT_HAND, DISPOSSESSED, OWLS, FACES, LOWERCASE, ORPHAN]


def test_groups_nest(client: FlaskClient) -> None:
    query = "filter[or][0][not][genre]=fantasy&filter[or][1][year]=1968"
    assert titles(client, query) == [WIZARD, DISPOSSESSED, OWLS, FACES, LOWERCASE, ORPHAN]
    query = "filter[not][or][0][genre]=fantasy&filter[not][or][1][genre]=mystery"
    assert titles(client, query) == [DISPOSSESSED, OWLS, FACES]
    # NOT of NOT is the condition again, NULL rows and all.
    assert titles(client, "filter[not][not][year][lt]=1960") == [OWLS]
    deepest = "filter[or][0][not][or][0][genre]=poetry&filter[or][1][year]=2001"
    assert titles(client, deepest) == [WIZARD, LEFT_HAND, DISPOSSESSED, FACES, LOWERCASE, ORPHAN]


def test_group_conditions_take_the_whole_filter_language(client: FlaskClient) -> None:
    query = "filter[or][0][author.country]=NZ&filter[or][1][title][startswith]=Orph"
    assert titles(client, query) == [OWLS, FACES, ORPHAN]
    # Through a relation: NOT of "has an author from the US" (no author, or none from there).
    assert titles(client, "filter[not][author.country]=US") == [OWLS, FACES, LOWERCASE, ORPHAN]
    query = "filter[or][0][title][like]=%25100\\%25%25&filter[or][1][id][in]=1,2"
    assert titles(client, query) == [WIZARD, LEFT_HAND, LOWERCASE]
    # A repeated equality is any of the values, in a group as at the top level.
    assert titles(client, "filter[not][genre]=fantasy&filter[not][genre]=mystery") == [
        DISPOSSESSED,
        OWLS,
        FACES,
    ]


def test_same_shape_other_structure_is_another_statement(client: FlaskClient) -> None:
    """The group structure is part of the statement cache key: these two differ only by it."""
    assert titles(client, "filter[or][0][genre]=fantasy&filter[or][1][year]=1957") == [
        WIZARD,
        LEFT_HAND,
        OWLS,
    ]
    assert titles(client, "filter[or][0][genre]=fantasy&filter[or][0][year]=1957") == []
    assert titles(client, "filter[not][genre]=fantasy&filter[not][year]=1968") != titles(
        client, "filter[not][genre]=fantasy&filter[year][ne]=1968"
    )
    # Same structure, other values: the cached statement with new binds.
    assert titles(client, "filter[or][0][genre]=poetry&filter[or][1][year]=2001") == [
        OWLS,
        ORPHAN,
    ]


def test_relation_routes_counts_groups_and_exports(client: FlaskClient) -> None:
    query = "filter[or][0][year]=1968&filter[or][1][genre]=poetry"
    assert titles(client, query, "/api/authors/1/books") == [WIZARD]
    assert titles(client, query, "/api/authors/2/books") == [OWLS]
    body = client.get(f"/api/books?count=true&page[size]=1&{query}").get_json()
    assert body["meta"]["total"] == 2
    grouped = client.get(f"/api/books?group_by=genre&aggregate=count()&sort=genre&{query}")
    assert grouped.status_code == 200, grouped.get_data(as_text=True)
    assert grouped.get_json()["data"] == [
        {"genre": "fantasy", "count": 1},
        {"genre": "poetry", "count": 1},
    ]
    resp = client.get(f"/api/books?format=csv&{query}")
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["title"] for r in rows] == [WIZARD, OWLS]


def test_keyset_pages_follow_the_groups(client: FlaskClient) -> None:
    query = "filter[not][genre]=fantasy&filter[not][year][lt]=1969&sort=-year"
    seen: list[str] = []
    resp = client.get(f"/api/books?page[size]=2&page[after]=&{query}")
    while True:
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        seen += [b["title"] for b in body["data"]]
        url = body["links"].get("next")
        if not url:
            break
        assert "page%5Bafter%5D" in url or "page[after]" in url
        resp = client.get(url)
    assert seen == titles(client, query)
    assert len(seen) == 6


def test_jsonapi_takes_the_same_groups(client: FlaskClient) -> None:
    query = "filter[or][0][year][lt]=1960&filter[or][1][genre]=mystery"
    resp = client.get(f"/api/books?{query}", headers={"Accept": JSONAPI})
    assert resp.status_code == 200
    assert [r["attributes"]["title"] for r in resp.get_json()["data"]] == [
        OWLS,
        LOWERCASE,
        ORPHAN,
    ]
    bad = client.get("/api/books?filter[or][a][year]=1", headers={"Accept": JSONAPI})
    assert bad.status_code == 400
    assert bad.get_json()["errors"][0]["source"] == {"parameter": "filter[or][a][year]"}


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("filter[or]=x", "filter[or]", "branch index"),
        ("filter[or][a][year]=1", "filter[or][a][year]", "numbered 0 to 19"),
        ("filter[or][20][year]=1", "filter[or][20][year]", "numbered 0 to 19"),
        ("filter[or][-1][year]=1", "filter[or][-1][year]", "numbered 0 to 19"),
        ("filter[or][0]=1", "filter[or][0]", "is no condition"),
        ("filter[not]=fantasy", "filter[not]", "is no condition"),
        ("filter[or][0][]=1", "filter[or][0][]", "is no condition"),
        ("filter[not][year][lt][x]=1", "filter[not][year][lt][x]", "is no condition"),
        ("filter[or][0][nope]=1", "filter[or][0][nope]", "Unknown field 'nope'"),
        ("filter[not][secret_note]=x", "filter[not][secret_note]", "Unknown field 'secret_note'"),
        (
            "filter[or][1][not][author.nope]=1",
            "filter[or][1][not][author.nope]",
            "Unknown field 'author.nope'",
        ),
        ("filter[not][year][zz]=1", "filter[not][year][zz]", "Unknown operator 'zz'"),
        ("filter[or][0][year]=abc", "filter[or][0][year]", "not a valid value"),
        ("filter[not][year][lt]=1&filter[not][year][lt]=2", "filter[not][year][lt]", "more than"),
        (
            "filter[or][0][not][or][0][not][genre]=x",
            "filter[or][0][not][or][0][not][genre]",
            "nest at most 3 deep",
        ),
    ],
)
def test_malformed_groups_are_400_naming_the_parameter(
    client: FlaskClient, query: str, parameter: str, says: str
) -> None:
    body = problem(client.get(f"/api/books?{query}"), 400)
    assert body["parameter"] == parameter, body
    assert says in body["detail"], body


def test_every_condition_in_a_group_counts_toward_the_filter_limit(client: FlaskClient) -> None:
    twenty = "&".join(f"filter[or][{i}][pages][ge]={i}" for i in range(19))
    assert client.get(f"/api/books?{twenty}&filter[not][year]=1").status_code == 200
    body = problem(client.get(f"/api/books?{twenty}&filter[not][year]=1&genre=poetry"), 400)
    assert body["detail"].startswith("At most 20 filters")
    assert body["parameter"] == "filter[not][year]"  # the 21st: top level first, then groups


def _odd_app(engine: sa.Engine, **options: Any) -> Flask:
    """A table with columns named ``or`` and ``not`` (a database-first table may have them)."""
    meta = sa.MetaData()
    odd = sa.Table(
        "odd",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("or", sa.String(10)),
        sa.Column("not", sa.Integer),
        sa.Column("eq", sa.Integer),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(odd),
            [
                {"or": "a", "not": 1, "eq": 5},
                {"or": "b", "not": 2, "eq": 6},
                {"or": "c", "not": None, "eq": 7},
            ],
        )
    app = Flask("odd")
    app.config["TESTING"] = True
    Api(app, engine).resource(odd, **options)
    return app


def test_fields_named_or_and_not(engine: sa.Engine) -> None:
    client = _odd_app(engine).test_client()

    def ids(query: str) -> list[Any]:
        resp = client.get(f"/api/odd?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["id"] for r in resp.get_json()["data"]]

    # With a field "or": [or] followed by anything but a branch index is the field.
    assert ids("filter[or]=b") == [2]
    assert ids("filter[or][ne]=b") == [1, 3]
    assert ids("filter[or][0][or]=a&filter[or][1][not]=2") == [1, 2]  # a group
    # With a field "not": [not] alone or followed by an operator is the field...
    assert ids("filter[not]=2") == [2]
    assert ids("filter[not][gt]=1") == [2]
    # ...anything else a group (even a field named like an operator: [not][eq] is the field).
    assert ids("filter[not][or]=a") == [2, 3]
    assert ids("filter[not][eq][eq]=5") == [2, 3]
    assert ids("filter[not][not][null]=true") == [1, 2]


def test_a_concealed_field_named_not_reads_as_a_group(engine: sa.Engine) -> None:
    """Were the hidden field ``not`` taken as the field, ``filter[not][gt]=1`` would answer
    "Unknown field 'not'" where a table without it answers about ``gt``: it would confirm it."""
    client = _odd_app(engine, hidden_unless={"not": role("admin")}).test_client()
    body = problem(client.get("/api/odd?filter[not][gt]=1"), 400)
    assert body["detail"] == "Unknown field 'gt'"
    assert body["parameter"] == "filter[not][gt]"
    resp = client.get("/api/odd?filter[not][or]=a")  # still a group over the visible fields
    assert [r["id"] for r in resp.get_json()["data"]] == [2, 3]
