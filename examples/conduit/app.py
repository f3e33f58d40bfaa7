"""Conduit, the RealWorld backend (``../shared/realworld/openapi.yml``), declared with tablerest.

Every route of the spec is one of tablerest's generated routes, shaped by declarations: item
URLs by slug and username (``lookup=``), camelCase names (``aliases=``), the spec's wrapped
bodies (``envelope=``), an article's author as a profile (``json_object``), fields computed
for the caller (``favorited``, ``following``), favorite and follow (``api.toggle``), comments
under their article (``api.nest``), the feed (``where=``), the spec's query parameters
(``parameters=``), its error document (``error_renderer=``) and the token routes at its paths
(``Auth(token_field=, paths=)``), an article's tags as a list of names (``value_lists=``,
made on first use with ``get_or_create=``). Validators and hooks are in ``rules.py``; the one
hand-written route, ``GET /api/tags``, in ``tags.py``.

Run it (the tables are created on first start)::

    cd examples/conduit && flask --app app run

on ``CONDUIT_DATABASE_URL`` (default: ``conduit.db``, a SQLite file beside this module).
Tokens are signed with ``CONDUIT_SECRET_KEY``; without it, a key is made once and kept in
``instance/secret_key``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from pydantic.alias_generators import to_camel

from tablerest import Api, Auth, Envelope, authenticated, caller, json_object, nobody, owner, public

from . import rules, tags
from .models import Article, Comment, Favorite, Follow, Tag, User, db

__all__ = ["create_app"]

HERE = Path(__file__).parent

FOLLOWING = sa.exists().where(Follow.followed_id == User.id, Follow.follower_id == caller.id)
FAVORITED = sa.exists().where(Favorite.article_id == Article.id, Favorite.user_id == caller.id)
FAVORITES = sa.select(sa.func.count()).where(Favorite.article_id == Article.id)
#: The feed: the articles of the authors the caller follows.
FEED = Article.author_id.in_(sa.select(Follow.followed_id).where(Follow.follower_id == caller.id))
#: An article in a list has no body.
LISTED = "slug title description tag_list created_at updated_at favorited favorites_count author"


def profile_of(user_id: Any) -> Any:
    """The spec's profile of the user ``user_id`` names, inside an article or a comment."""
    profile = json_object(
        username=User.username, bio=User.bio, image=User.image, following=FOLLOWING
    )
    return sa.select(profile).where(User.id == user_id).scalar_subquery()


def create_app(database_url: str | None = None, *, secret_key: str | None = None) -> Flask:
    """Conduit on ``database_url`` (default ``CONDUIT_DATABASE_URL``, else ``conduit.db``)."""
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    url = database_url or os.environ.get("CONDUIT_DATABASE_URL") or f"sqlite:///{HERE}/conduit.db"
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SECRET_KEY"] = secret_key or os.environ.get("CONDUIT_SECRET_KEY") or _kept_key()
    db.init_app(app)
    with app.app_context():
        db.create_all()
    # Sign-up, sign-in and the caller's own row at the spec's paths, the token in the user.
    # Tokens last a day: the spec has no refresh.
    paths = {"token": "/users/login", "me": "/user"}
    auth = Auth(login="email", scheme="Token", token_field="token", paths=paths, access_ttl=86400)
    api = Api(
        app,
        db,
        auth=auth,
        aliases=to_camel,
        error_renderer=rules.spec_errors,
        unique_violation="validation",  # a taken username or email is a 422
        datetime_format="utc-ms",
        cors={"send_wildcard": True, "max_age": 600},
        title="Conduit",
    )
    _declare(api)
    app.extensions["conduit"] = api  # the tests reach its resources (api.resources)
    app.register_blueprint(tags.bp)
    return app


def _declare(api: Api) -> None:
    # Anyone reads (actions left out are public); authors write their own.
    by_author = dict.fromkeys(("create", "update", "delete"), owner("author_id"))
    # First: relations to users (an article's writer, a follow's) lead to profiles.
    profiles = api.resource(
        User,
        name="profiles",
        lookup="username",
        fields=["id", "username", "bio", "image", "following"],
        computed={"following": FOLLOWING},
        envelope="profile",
        methods=["GET"],
    )
    users = api.resource(
        User,
        envelope="user",
        methods=["GET", "POST", "PUT"],
        put="update",  # the spec's PUT changes the fields sent
        permissions={"list": nobody, "read": owner("id"), "create": public, "update": owner("id")},
    )
    article: dict[str, Any] = {
        "computed": {
            "favorited": FAVORITED,
            "favorites_count": FAVORITES.correlate_except(Favorite).scalar_subquery(),
            "author": profile_of(Article.author_id),
        },
        "envelope": Envelope("article", "articles", count="articlesCount", paging=False),
        "list_fields": LISTED.split(),
        "value_lists": {"tag_list": "tags.name"},
        "sort": "-created_at",
        "lookup": "slug",
    }
    articles = api.resource(
        Article,
        read_only=["slug", "created_at", "updated_at"],
        put="update",
        permissions=by_author,
        parameters={
            "author": "writer.username",
            "favorited": "favorites.user.username",
            "tag": "tags.name",
        },
        get_or_create=["tags"],
        **article,
    )
    feed = {"name": "feed", "path": "articles/feed", "where": FEED, "permissions": authenticated}
    api.resource(Article, **feed, **article)
    comments = api.resource(
        Comment,
        hidden_unless={"author_id": nobody},
        read_only=["created_at", "updated_at"],
        computed={"author": profile_of(Comment.author_id)},
        envelope=Envelope("comment", paging=False),
        permissions=by_author,
        methods=["GET", "POST", "DELETE"],
        create_status=200,  # the spec's
    )
    api.nest(comments, under=articles, by="article")
    mine = owner("user_id")
    favorites = api.resource(
        Favorite, methods=["GET"], permissions={"create": mine, "delete": mine}
    )
    api.toggle("favorite", on=articles, through=favorites, mine="user_id", theirs="article_id")
    mine = owner("follower_id")
    follows = api.resource(Follow, methods=["GET"], permissions={"create": mine, "delete": mine})
    api.toggle("follow", on=profiles, through=follows, mine="follower_id", theirs="followed_id")
    api.resource(Tag, name="tag_rows", methods=["GET"])  # the rows tagList names
    rules.declare(users, articles, comments, follows)


def _kept_key() -> str:
    """A signing key made on first start and kept in ``instance/`` for the next ones."""
    path = HERE / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def __getattr__(name: str) -> Flask:
    # `flask --app app` looks up `app`: built on that first lookup, not at import, so the
    # tests' imports create no database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
