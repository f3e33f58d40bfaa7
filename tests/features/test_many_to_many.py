"""Many-to-many relations, read (issue 22): a database made with plain SQL, served as it is
(``create_app``: no model), whose link tables give the tables they link a to-many relation to
each other; and models declaring ``relationship(secondary=...)`` through Flask-SQLAlchemy.

Every answer is checked against what the rows inserted here say (Python over ``LINKS`` and
the others), not against what the implementation would build; on SQLite, PostgreSQL and
MariaDB, through Flask and the lean path, plain JSON and JSON:API.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tablerest import Api
from tablerest.mount.lean import install
from tablerest.server import create_app
from tests.databases import BACKENDS
from tests.helpers import problem

#: Connections closed when a test is done with them (PostgreSQL warns of those left open).
POOL = {"poolclass": sa.NullPool}
JSONAPI = {"Accept": "application/vnd.api+json"}

ARTICLES = {1: "Alpha", 2: "Beta", 3: "Gamma", 4: "Delta"}
TAGS = {1: "py", 2: "sql", 3: "web", 4: "unused"}
#: article_tags: (article_id, tag_id); article 4 and tag 4 are linked to nothing.
LINKS = [(1, 1), (1, 2), (2, 2), (3, 1), (3, 2), (3, 3)]
USERS = {1: "ann", 2: "bob", 3: "cy", 4: "dee"}
#: follows: (follower_id, followed_id).
FOLLOWS = [(1, 2), (1, 3), (2, 3), (3, 1), (4, 1)]
TEAMS = {1: "red", 2: "blue", 3: "green"}
#: memberships: (id, user_id, team_id), Django's way: a surrogate key, the pair unique.
MEMBERS = [(10, 1, 1), (11, 2, 1), (12, 1, 2), (13, 3, 2)]
#: reviews: (id, user_id, article_id): two foreign keys, but rows of their own (no unique
#: pair), so not a link between users and articles.
REVIEWS = [(1, 1, 1, "good"), (2, 2, 1, "meh"), (3, 1, 1, "again")]
#: featured: a second link between articles and tags, its primary key in the other order.
FEATURED = [(1, 3), (3, 3), (2, 1)]
#: editions have a two-column key, so edition_translators links by three columns.
EDITIONS = {(1, "en"): "One", (1, "fr"): "Un", (2, "en"): "Two"}
TRANSLATORS = {1: "tx", 2: "ty", 3: "tz"}
EDITION_TRANSLATORS = [(1, "fr", 1), (1, "fr", 2), (2, "en", 2)]
PROJECTS = {1: "apollo", 2: "gemini"}
#: project_users, Rails' way: no primary key, a unique index on the pair.
PROJECT_USERS = [(1, 2), (2, 2), (3, 1)]

SCHEMA = [
    "CREATE TABLE articles (id INTEGER PRIMARY KEY, title VARCHAR(50) NOT NULL)",
    # ``articles`` is a column, so the relation to articles through article_tags cannot have
    # that name: it is ``articles_via_article_tags``.
    "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE, "
    "articles INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE article_tags (article_id INTEGER NOT NULL REFERENCES articles(id), "
    "tag_id INTEGER NOT NULL REFERENCES tags(id), created_at {ts}, "
    "PRIMARY KEY (article_id, tag_id))",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    "CREATE TABLE follows (follower_id INTEGER NOT NULL REFERENCES users(id), "
    "followed_id INTEGER NOT NULL REFERENCES users(id), PRIMARY KEY (follower_id, followed_id))",
    "CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    "CREATE TABLE memberships (id INTEGER PRIMARY KEY, "
    "user_id INTEGER NOT NULL REFERENCES users(id), "
    "team_id INTEGER NOT NULL REFERENCES teams(id), UNIQUE (user_id, team_id))",
    "CREATE TABLE reviews (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), "
    "article_id INTEGER NOT NULL REFERENCES articles(id), body VARCHAR(50) NOT NULL)",
    "CREATE TABLE featured (article_id INTEGER NOT NULL REFERENCES articles(id), "
    "tag_id INTEGER NOT NULL REFERENCES tags(id), PRIMARY KEY (tag_id, article_id))",
    "CREATE TABLE editions (book_id INTEGER NOT NULL, lang VARCHAR(5) NOT NULL, "
    "title VARCHAR(50) NOT NULL, PRIMARY KEY (book_id, lang))",
    "CREATE TABLE translators (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    "CREATE TABLE edition_translators (book_id INTEGER NOT NULL, lang VARCHAR(5) NOT NULL, "
    "translator_id INTEGER NOT NULL REFERENCES translators(id), "
    "PRIMARY KEY (book_id, lang, translator_id), "
    "FOREIGN KEY (book_id, lang) REFERENCES editions(book_id, lang))",
    "CREATE TABLE projects (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    "CREATE TABLE project_users (user_id INTEGER NOT NULL REFERENCES users(id), "
    "project_id INTEGER NOT NULL REFERENCES projects(id))",
    "CREATE UNIQUE INDEX project_users_pair ON project_users (user_id, project_id)",
]


def build_schema(url: str) -> None:
    """The tables above and their rows, with plain SQL (as another program would make them)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    ts = "DATETIME" if engine.name == "mysql" else "TIMESTAMP"
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.exec_driver_sql(statement.replace("{ts}", ts))
        conn.execute(
            sa.text("INSERT INTO articles VALUES (:i, :t)"),
            [{"i": i, "t": t} for i, t in ARTICLES.items()],
        )
        conn.execute(
            sa.text("INSERT INTO tags (id, name) VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in TAGS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO article_tags VALUES (:a, :t, :at)"),
            [
                {"a": a, "t": t, "at": f"2024-01-0{n + 1} 10:00:00"}
                for n, (a, t) in enumerate(LINKS)
            ],
        )
        conn.execute(
            sa.text("INSERT INTO users VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in USERS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO follows VALUES (:a, :b)"), [{"a": a, "b": b} for a, b in FOLLOWS]
        )
        conn.execute(
            sa.text("INSERT INTO teams VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in TEAMS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO memberships VALUES (:i, :u, :t)"),
            [{"i": i, "u": u, "t": t} for i, u, t in MEMBERS],
        )
        conn.execute(
            sa.text("INSERT INTO reviews VALUES (:i, :u, :a, :b)"),
            [{"i": i, "u": u, "a": a, "b": b} for i, u, a, b in REVIEWS],
        )
        conn.execute(
            sa.text("INSERT INTO featured (article_id, tag_id) VALUES (:a, :t)"),
            [{"a": a, "t": t} for a, t in FEATURED],
        )
        conn.execute(
            sa.text("INSERT INTO editions VALUES (:b, :l, :t)"),
            [{"b": b, "l": lang, "t": t} for (b, lang), t in EDITIONS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO translators VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in TRANSLATORS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO edition_translators VALUES (:b, :l, :t)"),
            [{"b": b, "l": lang, "t": t} for b, lang, t in EDITION_TRANSLATORS],
        )
        conn.execute(
            sa.text("INSERT INTO projects VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in PROJECTS.items()],
        )
        conn.execute(
            sa.text("INSERT INTO project_users VALUES (:u, :p)"),
            [{"u": u, "p": p} for u, p in PROJECT_USERS],
        )
    engine.dispose()


# -- what the rows say ------------------------------------------------------------------------


def tag_rows(ids: set[int]) -> list[dict[str, Any]]:
    return [{"id": i, "name": TAGS[i], "articles": 0} for i in sorted(ids)]


def tags_of(article: int) -> set[int]:
    return {t for a, t in LINKS if a == article}


def articles_of(tag: int) -> set[int]:
    return {a for a, t in LINKS if t == tag}


def article_rows(ids: set[int]) -> list[dict[str, Any]]:
    return [{"id": i, "title": ARTICLES[i]} for i in sorted(ids)]


def user_rows(ids: set[int]) -> list[dict[str, Any]]:
    return [{"id": i, "name": USERS[i]} for i in sorted(ids)]


def ids(body: dict[str, Any]) -> list[int]:
    return [row["id"] for row in body["data"]]


# -- database-first -----------------------------------------------------------------------------


pytestmark = pytest.mark.lean_on_sqlite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(db_url: str) -> str:
    build_schema(db_url)
    return db_url


@pytest.fixture
def client(url: str, path: str) -> FlaskClient:
    return create_app(url, lean=path == "lean", engine_options=POOL).test_client()


def test_include_embeds_the_rows_a_link_table_relates(client: FlaskClient) -> None:
    got = client.get("/api/articles?include=tags")
    assert got.status_code == 200, got.get_json()
    assert [(row["id"], row["tags"]) for row in got.get_json()["data"]] == [
        (a, tag_rows(tags_of(a))) for a in sorted(ARTICLES)
    ]
    one = client.get("/api/articles/3?include=tags&fields=title").get_json()
    assert one == {"title": ARTICLES[3], "tags": tag_rows(tags_of(3))}
    # The other way, under its fallback name (``tags.articles`` is a column), and deeper.
    back = client.get("/api/tags/2?include=articles_via_article_tags.tags").get_json()
    assert back["articles"] == 0  # the column is still there, as it is
    assert [
        (row["id"], [t["id"] for t in row["tags"]]) for row in back["articles_via_article_tags"]
    ] == [(a, sorted(tags_of(a))) for a in sorted(articles_of(2))]
    assert (
        client.get("/api/tags/4?include=articles_via_article_tags").get_json()[
            "articles_via_article_tags"
        ]
        == []
    )


def test_includes_nest_through_links(client: FlaskClient) -> None:
    def team_ids(user: int) -> list[int]:
        return sorted(t for _, u, t in MEMBERS if u == user)

    def member_ids(team: int) -> list[int]:
        return sorted(u for _, u, t in MEMBERS if t == team)

    got = client.get("/api/users?include=teams.users").get_json()["data"]
    assert [
        (u["id"], [(t["id"], [m["id"] for m in t["users"]]) for t in u["teams"]]) for u in got
    ] == [(u, [(t, member_ids(t)) for t in team_ids(u)]) for u in sorted(USERS)]
    # A link after a to-one relation, a to-many one after a link.
    reviews = client.get("/api/reviews?include=article.tags").get_json()["data"]
    assert [[t["id"] for t in r["article"]["tags"]] for r in reviews] == [
        sorted(tags_of(a)) for _, _, a, _ in sorted(REVIEWS)
    ]
    tags = client.get("/api/tags?include=articles_via_article_tags.reviews").get_json()["data"]
    assert [
        [(a["id"], [r["id"] for r in a["reviews"]]) for a in t["articles_via_article_tags"]]
        for t in tags
    ] == [
        [(a, sorted(i for i, _, x, _ in REVIEWS if x == a)) for a in sorted(articles_of(t))]
        for t in sorted(TAGS)
    ]
    # JSON:API: each user and team once in included, however many paths reach it.
    doc = client.get("/api/users/1?include=teams.users", headers=JSONAPI).get_json()
    included = sorted((r["type"], int(r["id"])) for r in doc["included"])
    teams = team_ids(1)
    members = {m for t in teams for m in member_ids(t)} - {1}
    assert included == sorted([("teams", t) for t in teams] + [("users", m) for m in members])


def test_jsonapi_include_and_linkage(client: FlaskClient) -> None:
    got = client.get("/api/articles?include=tags", headers=JSONAPI)
    assert got.status_code == 200, got.get_json()
    doc = got.get_json()
    for item in doc["data"]:
        linkage = item["relationships"]["tags"]["data"]
        expected = [{"type": "tags", "id": str(t)} for t in sorted(tags_of(int(item["id"])))]
        assert sorted(linkage, key=lambda x: int(x["id"])) == expected
    # Each tag once in ``included``, however many articles it is linked to.
    linked = {t for _, t in LINKS}
    assert sorted(int(r["id"]) for r in doc["included"]) == sorted(linked)
    for res in doc["included"]:
        assert res["type"] == "tags"
        assert res["attributes"] == {"name": TAGS[int(res["id"])], "articles": 0}
        assert res["relationships"]["articles_via_article_tags"]["links"]["related"].endswith(
            f"/api/tags/{res['id']}/articles_via_article_tags"
        )

    rel = client.get("/api/articles/1/relationships/tags", headers=JSONAPI)
    assert rel.status_code == 200, rel.get_json()
    assert rel.get_json()["data"] == [{"type": "tags", "id": str(t)} for t in sorted(tags_of(1))]
    assert rel.get_json()["links"]["related"].endswith("/api/articles/1/tags")
    empty = client.get("/api/articles/4/relationships/tags", headers=JSONAPI).get_json()
    assert empty["data"] == []
    paged = client.get("/api/articles/3/relationships/tags?page[size]=2", headers=JSONAPI)
    assert [int(r["id"]) for r in paged.get_json()["data"]] == sorted(tags_of(3))[:2]
    assert paged.get_json()["links"]["next"]


def test_relation_route_pages_counts_and_exports(client: FlaskClient) -> None:
    every = client.get("/api/articles/3/tags?count=true")
    assert every.status_code == 200, every.get_json()
    assert every.get_json()["data"] == tag_rows(tags_of(3))
    assert every.get_json()["meta"]["total"] == len(tags_of(3))
    first = client.get("/api/articles/3/tags?page[size]=2&count=true").get_json()
    assert ids(first) == sorted(tags_of(3))[:2]
    assert first["meta"]["total"] == len(tags_of(3))
    second = client.get(first["links"]["next"]).get_json()
    assert ids(second) == sorted(tags_of(3))[2:]
    # The related rows are filtered and sorted as any list.
    some = client.get("/api/articles/3/tags?filter[name][ne]=sql&sort=-name").get_json()
    assert [t["name"] for t in some["data"]] == sorted(
        (TAGS[t] for t in tags_of(3) if TAGS[t] != "sql"), reverse=True
    )
    assert client.get("/api/articles/4/tags?count=true").get_json()["meta"]["total"] == 0
    capped = client.get("/api/articles/3/tags?count=capped").get_json()["meta"]
    assert (capped["total"], capped["total_capped"]) == (len(tags_of(3)), False)
    # The planner's guess on PostgreSQL and MariaDB (its statement must run there), a capped
    # count on SQLite.
    guessed = client.get("/api/articles/3/tags?count=estimated")
    assert guessed.status_code == 200, guessed.get_json()
    assert isinstance(guessed.get_json()["meta"]["total"], int)
    problem(client.get("/api/articles/99/tags"), 404)

    exported = client.get("/api/articles/3/tags?format=csv")
    assert exported.status_code == 200
    table = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(int(r["id"]), r["name"]) for r in table] == [(t, TAGS[t]) for t in sorted(tags_of(3))]
    lines = client.get("/api/tags/2/articles_via_article_tags?format=ndjson")
    assert lines.status_code == 200
    rows = [json.loads(line) for line in lines.get_data(as_text=True).splitlines() if line]
    assert rows == article_rows(articles_of(2))


def test_filters_through_the_link_select_each_row_once(client: FlaskClient) -> None:
    def selected(query: str) -> list[int]:
        got = client.get(f"/api/articles?{query}&count=true")
        assert got.status_code == 200, got.get_json()
        assert got.get_json()["meta"]["total"] == len(got.get_json()["data"])
        return ids(got.get_json())

    def having(*names: str) -> set[int]:
        return {a for a in ARTICLES if any(TAGS[t] in names for t in tags_of(a))}

    assert selected("filter[tags.name]=sql") == sorted(having("sql"))
    # Article 1 has both: still one row.
    assert selected("filter[tags.name][in]=py,sql") == sorted(having("py", "sql"))
    # No tag named sql, articles without tags included.
    assert selected("filter[not][tags.name]=sql") == sorted(set(ARTICLES) - having("sql"))
    either = selected("filter[or][0][tags.name]=web&filter[or][1][title]=Delta")
    assert either == sorted(having("web") | {4})
    # Two conditions on the relation: each has a tag of its own matching (not one tag both).
    both = selected("filter[tags.name]=py&filter[tags.id]=2")
    assert both == sorted(having("py") & having("sql"))
    assert selected("filter[tags.name]=unused") == []
    tags = client.get("/api/tags?filter[articles_via_article_tags.title]=Alpha").get_json()
    assert ids(tags) == sorted(tags_of(1))


def test_filters_along_several_steps_through_links(client: FlaskClient) -> None:
    """A link after a to-one relation, a link after a link, a to-many after a link."""
    got = client.get("/api/reviews?filter[article.tags.name]=sql").get_json()
    assert ids(got) == sorted(i for i, _, a, _ in REVIEWS if 2 in tags_of(a))
    # Users in a team with bob (bob included).
    with_bob = {u for _, u, t in MEMBERS if (2, t) in {(x, y) for _, x, y in MEMBERS}}
    got = client.get("/api/users?filter[teams.users.name]=bob").get_json()
    assert ids(got) == sorted(with_bob)
    # Articles sharing a tag with Beta; tags of articles that have a review by ann.
    shared = {a for a in ARTICLES if tags_of(a) & tags_of(2)}
    got = client.get("/api/articles?filter[tags.articles_via_article_tags.title]=Beta")
    assert ids(got.get_json()) == sorted(shared)
    reviewed = {a for _, u, a, _ in REVIEWS if u == 1}
    got = client.get("/api/tags?filter[articles_via_article_tags.reviews.user_id]=1")
    assert ids(got.get_json()) == sorted({t for a, t in LINKS if a in reviewed})
    got = client.get("/api/tags?filter[not][articles_via_article_tags.reviews.user_id]=1")
    assert ids(got.get_json()) == sorted(set(TAGS) - {t for a, t in LINKS if a in reviewed})


def test_a_table_linked_to_itself_names_both_sides_after_the_columns(client: FlaskClient) -> None:
    """``follows(follower_id, followed_id)``: ``users.followed`` are those a user follows,
    ``users.follower`` those who follow them."""
    for user in USERS:
        followed = {b for a, b in FOLLOWS if a == user}
        followers = {a for a, b in FOLLOWS if b == user}
        got = client.get(f"/api/users/{user}?include=followed,follower").get_json()
        assert got["followed"] == user_rows(followed)
        assert got["follower"] == user_rows(followers)
        assert client.get(f"/api/users/{user}/follower").get_json()["data"] == user_rows(followers)
    by_ann = client.get("/api/users?filter[follower.name]=ann").get_json()
    assert ids(by_ann) == sorted(b for a, b in FOLLOWS if a == 1)
    doc = client.get("/api/users/1/relationships/followed", headers=JSONAPI).get_json()
    assert doc["data"] == [{"type": "users", "id": str(b)} for a, b in sorted(FOLLOWS) if a == 1]


def test_a_django_style_link_with_its_own_key(client: FlaskClient) -> None:
    for user in USERS:
        teams = {t for _, u, t in MEMBERS if u == user}
        expected = [{"id": t, "name": TEAMS[t]} for t in sorted(teams)]
        assert client.get(f"/api/users/{user}/teams").get_json()["data"] == expected
    for team in TEAMS:
        members = {u for _, u, t in MEMBERS if t == team}
        got = client.get(f"/api/teams/{team}?include=users").get_json()
        assert got["users"] == user_rows(members)
    # The link table is still a resource of its own, under its own key.
    assert client.get("/api/memberships/12").get_json() == {"id": 12, "user_id": 1, "team_id": 2}


def test_a_rails_style_link_without_a_key_but_a_unique_index(client: FlaskClient) -> None:
    for user in USERS:
        got = client.get(f"/api/users/{user}/projects").get_json()
        assert ids(got) == sorted(p for u, p in PROJECT_USERS if u == user)
    listed = client.get("/api/projects?include=users").get_json()["data"]
    assert [(r["id"], [u["id"] for u in r["users"]]) for r in listed] == [
        (p, sorted(u for u, x in PROJECT_USERS if x == p)) for p in sorted(PROJECTS)
    ]
    by_user = client.get("/api/projects?filter[users.name]=ann").get_json()
    assert ids(by_user) == sorted(p for u, p in PROJECT_USERS if u == 1)


def test_a_link_with_more_columns_is_still_served_as_a_table(client: FlaskClient) -> None:
    got = client.get("/api/article_tags?filter[article_id]=1&sort=tag_id").get_json()
    assert [(r["article_id"], r["tag_id"]) for r in got["data"]] == sorted(
        (a, t) for a, t in LINKS if a == 1
    )
    assert got["data"][0]["created_at"].startswith("2024-01-01")
    # Its foreign keys' relations keep their names beside the many-to-many one.
    row = client.get("/api/articles/1?include=article_tags,tags").get_json()
    assert [r["tag_id"] for r in row["article_tags"]] == sorted(tags_of(1))


def test_a_table_with_two_foreign_keys_and_rows_of_its_own_is_no_link(client: FlaskClient) -> None:
    """``reviews`` has a key of its own and no unique pair: articles and users are not
    related through it, each only has its reviews."""
    bad = problem(client.get("/api/articles/1?include=users"), 400)
    assert bad["parameter"] == "include"
    assert "users" in bad["detail"]
    problem(client.get("/api/articles/1/users"), 404)
    problem(client.get("/api/users/1/articles"), 404)
    problem(client.get("/api/articles?filter[users.name]=ann"), 400)
    got = client.get("/api/articles/1?include=reviews").get_json()
    assert [r["id"] for r in got["reviews"]] == [i for i, _, a, _ in REVIEWS if a == 1]
    doc = client.get("/api/users/1", headers=JSONAPI).get_json()
    assert set(doc["data"]["relationships"]) == {
        "followed_of",  # follows rows by foreign key, as before link tables were known
        "follower_of",
        "memberships",
        "reviews",
        "followed",
        "follower",
        "teams",
        "project_users",
        "projects",
    }


def test_two_links_between_the_same_tables_each_get_a_relation(client: FlaskClient) -> None:
    """``article_tags`` comes first by name: its relation is ``tags``; ``featured``'s is
    ``tags_via_featured`` (and the other way, ``articles_via_featured``)."""
    row = client.get("/api/articles/1?include=tags,tags_via_featured").get_json()
    assert row["tags"] == tag_rows(tags_of(1))
    assert row["tags_via_featured"] == tag_rows({t for a, t in FEATURED if a == 1})
    for tag in TAGS:
        got = client.get(f"/api/tags/{tag}/articles_via_featured").get_json()
        assert got["data"] == article_rows({a for a, t in FEATURED if t == tag})
    both = client.get("/api/articles?filter[tags.name]=py&filter[tags_via_featured.name]=web")
    expected = {a for a in ARTICLES if 1 in tags_of(a) and (a, 3) in FEATURED}
    assert ids(both.get_json()) == sorted(expected)


def test_a_link_to_a_table_with_a_two_column_key(client: FlaskClient) -> None:
    for (book, lang), _title in EDITIONS.items():
        got = client.get(f"/api/editions/{book},{lang}/translators").get_json()
        expected = sorted(t for b, x, t in EDITION_TRANSLATORS if (b, x) == (book, lang))
        assert ids(got) == expected
    listed = client.get("/api/editions?include=translators").get_json()["data"]
    assert [((r["book_id"], r["lang"]), [t["id"] for t in r["translators"]]) for r in listed] == [
        (key, sorted(t for b, x, t in EDITION_TRANSLATORS if (b, x) == key))
        for key in sorted(EDITIONS)
    ]
    for translator in TRANSLATORS:
        row = client.get(f"/api/translators/{translator}?include=editions").get_json()
        keys = sorted((b, x) for b, x, t in EDITION_TRANSLATORS if t == translator)
        assert [(e["book_id"], e["lang"]) for e in row["editions"]] == keys
    by_lang = client.get("/api/translators?filter[editions.lang]=en").get_json()
    assert ids(by_lang) == sorted({t for _, x, t in EDITION_TRANSLATORS if x == "en"})
    by_name = client.get("/api/editions?filter[not][translators.name]=ty").get_json()
    assert [(r["book_id"], r["lang"]) for r in by_name["data"]] == sorted(
        k for k in EDITIONS if (*k, 2) not in EDITION_TRANSLATORS
    )
    doc = client.get("/api/editions/1,fr/relationships/translators", headers=JSONAPI)
    assert doc.get_json()["data"] == [
        {"type": "translators", "id": "1"},
        {"type": "translators", "id": "2"},
    ]


def test_keyset_pages_and_the_to_many_rules(client: FlaskClient) -> None:
    seen: list[int] = []
    link: str | None = "/api/articles/3/tags?page[size]=1&page[after]=&sort=-name"
    while link:
        got = client.get(link)
        assert got.status_code == 200, got.get_json()
        seen += ids(got.get_json())
        link = got.get_json()["links"]["next"]
    assert seen == sorted(tags_of(3), key=lambda t: TAGS[t], reverse=True)
    # As through any to-many relation: no sort key, no group.
    bad = problem(client.get("/api/articles?sort=tags.name"), 400)
    assert bad["parameter"] == "sort"
    bad = problem(client.get("/api/articles?group_by=tags.name&aggregate=count()"), 400)
    assert bad["parameter"] == "group_by"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("group_by=id&aggregate=count()", "group_by"),
        ("aggregate=count()", "aggregate"),
        ("distinct=id", "distinct"),
        ("aggregate=count()&having[count()][gt]=1", "aggregate"),
    ],
)
def test_a_relation_route_refuses_groups(client: FlaskClient, query: str, parameter: str) -> None:
    """A relation route lists rows: groups asked of it were answered with rows, as though
    the parameters were not there."""
    for url in ("/api/articles/3/tags", "/api/tags/2/articles_via_article_tags"):
        bad = problem(client.get(f"{url}?{query}"), 400)
        assert bad["parameter"] == parameter
        assert "relation route" in bad["detail"]
    linkage = client.get(f"/api/articles/3/relationships/tags?{query}", headers=JSONAPI)
    assert linkage.status_code == 400
    assert linkage.get_json()["errors"][0]["source"]["parameter"] == parameter
    # A to-many relation by a foreign key alike.
    body = problem(client.get(f"/api/articles/1/reviews?{query}"), 400)
    assert body["parameter"] == parameter
    # The collection still groups.
    grouped = client.get(f"/api/tags?{query}")
    assert grouped.status_code == 200, grouped.get_json()


def test_rows_named_by_a_lookup_and_camel_case_names(url: str, path: str) -> None:
    lean = path == "lean"
    named = create_app(url, lean=lean, engine_options=POOL, lookups={"tags": ["name"]})
    client = named.test_client()
    got = client.get("/api/tags/sql/articles_via_article_tags").get_json()
    assert got["data"] == article_rows(articles_of(2))
    doc = client.get("/api/articles/1/relationships/tags", headers=JSONAPI).get_json()
    assert doc["data"] == [{"type": "tags", "id": TAGS[t]} for t in sorted(tags_of(1))]
    camel = create_app(url, lean=lean, engine_options=POOL, camel_case=True).test_client()
    row = camel.get("/api/tags/2?include=articlesViaArticleTags").get_json()
    assert row["articlesViaArticleTags"] == article_rows(articles_of(2))
    listed = camel.get("/api/tags?filter[articlesViaArticleTags.title]=Beta").get_json()
    assert ids(listed) == sorted(tags_of(2))


def test_unknown_many_to_many_names_are_400_and_404(client: FlaskClient) -> None:
    bad = problem(client.get("/api/articles?include=tag"), 400)
    assert bad["parameter"] == "include"
    # The name the fallback replaced is not a relation.
    problem(client.get("/api/tags/1?include=articles"), 400)
    problem(client.get("/api/tags/1/articles"), 404)
    bad = problem(client.get("/api/articles?filter[tags.nope]=1"), 400)
    assert "nope" in bad["detail"]
    missing = client.get("/api/articles/1/relationships/tag", headers=JSONAPI)
    assert missing.status_code == 404
    assert missing.get_json()["errors"][0]["status"] == "404"


# -- OpenAPI -------------------------------------------------------------------------------------


def test_openapi_describes_the_relations_through_links(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    route = paths["/api/articles/{id}/tags"]["get"]
    assert route["operationId"] == "list_articles_tags"
    names = {p["name"] for p in route["parameters"]}
    assert {"filter[name]", "page[size]", "count", "sort"} <= names  # the tags' own
    assert not {"group_by", "aggregate", "distinct", "having"} & names  # rows, not groups
    collection = {p["name"] for p in paths["/api/tags"]["get"]["parameters"]}
    assert {"group_by", "aggregate", "distinct", "having"} <= collection
    listed = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"$ref": "#/components/schemas/TagsList"}
    linkage = paths["/api/articles/{id}/relationships/tags"]["get"]
    data = linkage["responses"]["200"]["content"]["application/vnd.api+json"]["schema"]
    assert data["properties"]["data"]["type"] == "array"
    assert data["properties"]["data"]["items"]["properties"]["type"] == {"const": "tags"}
    assert "/api/users/{id}/followed" in paths
    assert "/api/users/{id}/follower" in paths
    assert "/api/teams/{id}/users" in paths
    assert "/api/tags/{id}/articles_via_article_tags" in paths
    assert "/api/tags/{id}/articles" not in paths
    assert "/api/articles/{id}/users" not in paths

    params = {p["name"]: p for p in paths["/api/articles"]["get"]["parameters"]}
    include = params["include"]["schema"]["pattern"]
    for taken in ("tags", "tags.articles_via_article_tags", "reviews,tags"):
        assert re.fullmatch(include, taken), taken
    for refused in ("users", "tags.articles", "tag"):
        assert not re.fullmatch(include, refused), refused
    # Filters through the relation: on their own and in groups (one form-exploded object).
    names = re.compile(params["filter"]["schema"]["propertyNames"]["pattern"])
    for taken in (
        "filter[tags.name]",
        "filter[tags.name][in]",
        "filter[or][0][tags.name][like]",
        "filter[not][tags.id]",
        "filter[or][1][not][title]",
    ):
        assert names.search(taken), taken
    for refused in ("filter[users.name]", "filter[tags.nope]", "filter[tags.id][like]"):
        assert not names.search(refused), refused
    self_link = paths["/api/users"]["get"]["parameters"]
    (groups,) = [p for p in self_link if p["name"] == "filter"]
    follows = re.compile(groups["schema"]["propertyNames"]["pattern"])
    assert follows.search("filter[follower.name][startswith]")
    assert follows.search("filter[not][teams.name]")
    plain = schemas["Articles"]["properties"]
    assert plain["tags"] == {"type": "array", "items": {"$ref": "#/components/schemas/Tags"}}
    relationships = schemas["ArticlesResource"]["properties"]["relationships"]["properties"]
    assert relationships["tags"]["properties"]["data"]["type"] == "array"
    assert relationships["tags"]["properties"]["data"]["items"]["properties"]["type"] == {
        "const": "tags"
    }
    assert set(schemas["UsersResource"]["properties"]["relationships"]["properties"]) >= {
        "followed",
        "follower",
        "teams",
        "project_users",
        "projects",
    }


# -- code-first: relationship(secondary=...) ---------------------------------------------------


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

post_labels = sa.Table(
    "post_labels",
    db.metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("label_id", sa.ForeignKey("labels.id"), primary_key=True),
)


class Label(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    active: Mapped[bool] = mapped_column(default=True)
    posts: Mapped[list[Post]] = relationship(secondary=post_labels, back_populates="labels")


class Post(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    labels: Mapped[list[Label]] = relationship(secondary=post_labels, back_populates="posts")
    # A join with more than the link's equalities: reading it as a plain link would list
    # inactive labels too, so it is not exposed at all.
    active_labels: Mapped[list[Label]] = relationship(
        secondary=post_labels,
        primaryjoin=lambda: Post.id == post_labels.c.post_id,
        secondaryjoin=lambda: sa.and_(Label.id == post_labels.c.label_id, Label.active),
        viewonly=True,
    )


POSTS = {1: "first", 2: "second", 3: "third"}
LABELS = {1: ("news", True), 2: ("old", False), 3: ("howto", True)}
POST_LABELS = [(1, 1), (1, 2), (2, 3), (2, 1)]


def serve_models(db_url: str, path: str, link: dict[str, Any] | None = None, **api: Any) -> Flask:
    """Posts and labels (and, with ``link``'s options, their link table) served through
    Flask-SQLAlchemy, over the rows above."""
    app = Flask("m2m")
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=db_url, SQLALCHEMY_ENGINE_OPTIONS=POOL)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.execute(
            sa.insert(Label), [{"id": i, "name": n, "active": a} for i, (n, a) in LABELS.items()]
        )
        db.session.execute(sa.insert(Post), [{"id": i, "title": t} for i, t in POSTS.items()])
        db.session.execute(
            sa.insert(post_labels), [{"post_id": p, "label_id": lb} for p, lb in POST_LABELS]
        )
        db.session.commit()
    tr = Api(app, db, **api)
    tr.resource(Post)
    tr.resource(Label)
    if link is not None:
        tr.resource(post_labels, **link)
    if path == "lean":
        install(app)
    return app


@pytest.fixture
def models_app(db_url: str, path: str) -> Iterator[FlaskClient]:
    app = serve_models(db_url, path)
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_a_models_secondary_relationship_is_served(models_app: FlaskClient) -> None:
    client = models_app
    for post in POSTS:
        labels = sorted(lb for p, lb in POST_LABELS if p == post)
        expected = [{"id": lb, "name": LABELS[lb][0], "active": LABELS[lb][1]} for lb in labels]
        got = client.get(f"/api/posts/{post}?include=labels").get_json()
        assert got["labels"] == expected
        assert client.get(f"/api/posts/{post}/labels").get_json()["data"] == expected
    back = client.get("/api/labels?include=posts").get_json()
    assert [(r["id"], [p["id"] for p in r["posts"]]) for r in back["data"]] == [
        (lb, sorted(p for p, x in POST_LABELS if x == lb)) for lb in sorted(LABELS)
    ]
    chosen = client.get("/api/posts?filter[labels.name]=news").get_json()
    assert ids(chosen) == sorted(p for p, lb in POST_LABELS if LABELS[lb][0] == "news")
    doc = client.get("/api/posts/1?include=labels", headers=JSONAPI).get_json()
    assert doc["data"]["relationships"]["labels"]["data"] == [
        {"type": "labels", "id": str(lb)} for p, lb in sorted(POST_LABELS) if p == 1
    ]
    assert sorted(int(r["id"]) for r in doc["included"]) == [1, 2]


def test_a_secondary_relationship_with_its_own_conditions_is_not_served(
    models_app: FlaskClient,
) -> None:
    client = models_app
    problem(client.get("/api/posts/1/active_labels"), 404)
    bad = problem(client.get("/api/posts/1?include=active_labels"), 400)
    assert bad["parameter"] == "include"
    problem(client.get("/api/posts?filter[active_labels.name]=old"), 400)
    doc = client.get("/api/posts/1", headers=JSONAPI).get_json()
    assert set(doc["data"]["relationships"]) == {"labels"}
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/posts/{id}/active_labels" not in spec["paths"]
    assert "/api/posts/{id}/labels" in spec["paths"]
