"""The spec's routes are the resources' generated routes: every row they write reaches its
resource's hooks and rules, an article and its tags commit together; on every backend."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from examples.conduit.models import db
from examples.conduit.test_conduit import Conduit, errors, new_article, register
from tablerest import Conflict, WriteContext

EVENTS = ("after_create", "after_update", "after_delete")


def resources(app: Flask) -> dict[str, Any]:
    api = app.extensions["conduit"]
    names = ("users", "articles", "comments", "favorites", "follows")
    return {name: api.resources[name] for name in names}


def count(app: Flask, table: str) -> int:
    with app.app_context():
        n: int = db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        return n


def test_every_row_a_spec_route_writes_reaches_its_resources_hooks(
    app: Flask, client: FlaskClient
) -> None:
    seen: list[tuple[str, str]] = []
    for name, res in resources(app).items():
        for event in EVENTS:
            res.hook(event)(lambda ctx, name=name, event=event: seen.append((name, event)))

    def step(*expected: tuple[str, str]) -> None:
        assert seen == list(expected)
        seen.clear()

    jake, anne = register(client, "jake"), register(client, "anne")
    step(("users", "after_create"), ("users", "after_create"))
    jake.put("/user", {"user": {"bio": "Dragons"}})
    step(("users", "after_update"))
    slug = new_article(jake, tagList=["a", "b"])["slug"]
    # Tags and their links are written with the article (tagList), in its transaction.
    step(("articles", "after_create"))
    jake.put(f"/articles/{slug}", {"article": {"tagList": ["b", "c"]}})
    step(("articles", "after_update"))
    anne.post("/profiles/jake/follow")
    anne.delete("/profiles/jake/follow")
    step(("follows", "after_create"), ("follows", "after_delete"))
    anne.post(f"/articles/{slug}/favorite")
    anne.delete(f"/articles/{slug}/favorite")
    step(("favorites", "after_create"), ("favorites", "after_delete"))
    comment = anne.post(f"/articles/{slug}/comments", {"comment": {"body": "Nice"}})
    anne.delete(f"/articles/{slug}/comments/{comment.get_json()['comment']['id']}")
    step(("comments", "after_create"), ("comments", "after_delete"))
    jake.delete(f"/articles/{slug}")
    step(("articles", "after_delete"))


def test_a_hook_sees_the_article_a_spec_route_creates(app: Flask, client: FlaskClient) -> None:
    made: list[dict[str, Any]] = []
    resources(app)["articles"].hook("after_create")(lambda ctx: made.append(dict(ctx.row)))
    jake = register(client, "jake")

    article = new_article(jake, "Dragons")

    (row,) = made
    assert row["slug"] == article["slug"] == "dragons"
    assert row["title"] == "Dragons"
    with app.app_context():
        jake_id = db.session.execute(sa.text("SELECT id FROM users")).scalar_one()
    assert row["authorId"] == jake_id


def test_a_refused_article_leaves_no_tags_behind(app: Flask, client: FlaskClient) -> None:
    def refuse(ctx: WriteContext) -> None:
        if ctx.data.get("title") == "Tagged":
            raise Conflict("No tags today")

    # The links and the tags made for the article go with it.
    resources(app)["articles"].hook("after_create")(refuse)
    jake = register(client, "jake")
    body = {"title": "Tagged", "description": "d", "body": "b", "tagList": ["dragons"]}

    resp = jake.post("/articles", {"article": body})

    assert errors(resp, 409) == ["No tags today"]
    for table in ("articles", "tags", "article_tags"):
        assert count(app, table) == 0, table
    assert new_article(jake, "Untagged")["slug"] == "untagged"


def test_the_articles_owner_rule_refuses_another_user_in_the_spec_shape(
    app: Flask, client: FlaskClient
) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    slug = new_article(jake, tagList=["dragons"])["slug"]

    changed = anne.put(f"/articles/{slug}", {"article": {"title": "Mine", "tagList": []}})
    deleted = anne.delete(f"/articles/{slug}")

    assert errors(changed, 403) == ["You may not update this articles row"]
    assert errors(deleted, 403) == ["You may not delete this articles row"]
    with app.app_context():
        title = db.session.execute(sa.text("SELECT title FROM articles")).scalar_one()
    assert title == "How to train your dragon"
    assert count(app, "article_tags") == 1


def test_the_comments_owner_rule_lets_only_its_author_delete_it(
    app: Flask, client: FlaskClient
) -> None:
    jake, anne = register(client, "jake"), register(client, "anne")
    slug = new_article(jake)["slug"]
    made = anne.post(f"/articles/{slug}/comments", {"comment": {"body": "Nice"}})
    url = f"/articles/{slug}/comments/{made.get_json()['comment']['id']}"

    # Jake wrote the article, not the comment.
    assert errors(jake.delete(url), 403) == ["You may not delete this comments row"]
    assert count(app, "comments") == 1
    assert anne.delete(url).status_code == 204
    assert count(app, "comments") == 0


def test_changing_the_password_keeps_the_callers_session_and_ends_the_others(
    client: FlaskClient,
) -> None:
    jake = register(client, "jake")
    login = {"user": {"email": "jake@example.org", "password": "s3cret-pw"}}
    elsewhere = Conduit(
        client, client.post("/api/users/login", json=login).get_json()["user"]["token"]
    )

    assert jake.put("/user", {"user": {"password": "a-new-secret"}}).status_code == 200

    # The users resource's after_update hook (Auth's) renews the session the change was made in.
    assert jake.get("/user").status_code == 200
    errors(elsewhere.get("/user"), 401)


def test_a_new_tag_list_alone_touches_updated_at(client: FlaskClient) -> None:
    jake = register(client, "jake")
    created = new_article(jake, tagList=["dragons"])
    time.sleep(0.01)

    resp = jake.put(f"/articles/{created['slug']}", {"article": {"tagList": ["cats"]}})

    article = resp.get_json()["article"]
    assert article["tagList"] == ["cats"]
    assert article["updatedAt"] > created["updatedAt"]
    assert article["createdAt"] == created["createdAt"]


def test_tag_links_are_written_through_articles_alone(app: Flask, client: FlaskClient) -> None:
    jake = register(client, "jake")
    new_article(jake, "Dragons", tagList=["dragons"])
    nested = {"title": "t", "description": "d", "body": "b", "articleTags": [{"tagId": 1}]}

    linked = jake.post("/article_tags", {"articleId": 1, "tagId": 1})
    unlinked = jake.delete("/article_tags/1,1")
    through_article = jake.post("/articles", {"article": nested})

    statuses = (linked.status_code, unlinked.status_code, through_article.status_code)
    assert statuses == (404, 404, 422)  # article_tags is no resource of its own
    assert errors(through_article, 422) == ["articleTags: Unknown field"]
    assert count(app, "article_tags") == 1
    assert count(app, "articles") == 1


@pytest.mark.parametrize(
    "path",
    [
        "/articles/%00",
        "/articles/%00/comments",
        "/profiles/%00",
        "/articles?tag=%00",
        "/articles?author=%00",
        "/articles?favorited=%00",
    ],
)
def test_a_nul_character_in_a_slug_name_or_query_is_no_server_error(
    client: FlaskClient, path: str
) -> None:
    resp = Conduit(client).get(path)

    if resp.status_code == 200:  # SQLite and MariaDB take it in text: it matches nothing
        assert resp.get_json() == {"articles": [], "articlesCount": 0}
    else:
        assert 400 <= resp.status_code < 500
        errors(resp, resp.status_code)
