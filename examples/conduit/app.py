"""Conduit, the RealWorld backend (``../shared/realworld/openapi.yml``), built on tablerest.

Two APIs over one database:

- ``/api/...``: the RealWorld spec, route for route (``views.py``). Its bodies are wrapped
  (``{"article": {...}}``), camelCased and computed (``favoritesCount``, ``following``), so
  these are Flask routes; they take from tablerest what is not about shapes: every row they
  write goes through the resources below (``articles.create(data, identity=me)``), with
  their validators, owner permissions, hooks and change feed; password hashing and tokens
  (``Auth``, ``Api.sign_in``), the caller (``Api.identity``) and the errors.
- ``/api/rest/...``: tablerest's generated API for the same tables, with the same validators,
  hooks and owner permissions (an article or comment can be changed only by its author), the
  query language, OpenAPI and a docs page at ``/api/rest/docs``.

Run it (the tables are created on first start)::

    cd examples/conduit && flask --app app run

on ``CONDUIT_DATABASE_URL`` (default: ``conduit.db``, a SQLite file beside this module).
Tokens are signed with ``CONDUIT_SECRET_KEY``; without it, a key is made once and kept in
``instance/secret_key``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_cors import CORS
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from tablerest import Api, Auth, Permission, Resource, WriteContext, owner, public, role

from .models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User, db, now
from .shapes import http_error_response
from .views import Conduit, bp

__all__ = ["create_app"]

HERE = Path(__file__).parent

#: Tokens last a day: the spec has no refresh (``/api/rest/auth/refresh`` has).
TOKEN_TTL = 24 * 3600

USERNAME = re.compile(r"[\w.-]{1,64}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def create_app(database_url: str | None = None, *, secret_key: str | None = None) -> Flask:
    """Conduit on ``database_url`` (default ``CONDUIT_DATABASE_URL``, else ``conduit.db``)."""
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    url = database_url or os.environ.get("CONDUIT_DATABASE_URL") or f"sqlite:///{HERE}/conduit.db"
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SECRET_KEY"] = secret_key or os.environ.get("CONDUIT_SECRET_KEY") or _kept_key()
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_foreign_keys)
            db.engine.dispose()  # connections made so far lack the pragma
        db.create_all()

    # The spec's routes answer errors in its shape; tablerest's own handler (installed by Api
    # below) keeps problem+json for /api/rest and falls back to this one elsewhere.
    app.register_error_handler(HTTPException, http_error_response)
    api = Api(
        app,
        db,
        prefix="/api/rest",
        auth=Auth("users", login="email", scheme="Token", access_ttl=TOKEN_TTL),
        title="Conduit",
        description="The Conduit tables through tablerest's generated routes.",
    )
    app.extensions["conduit"] = Conduit(api, **_resources(api))
    app.register_blueprint(bp)
    CORS(app, resources={r"/api/.*": {"send_wildcard": True, "max_age": 600}})
    return app


def _resources(api: Api) -> dict[str, Resource]:
    """The generated API's resources, through which the spec's routes write too."""
    users = api.resource(
        User,
        methods=["GET"],
        hidden_unless={"email": role("admin")},
    )
    articles = api.resource(
        Article, read_only=["slug", "created_at", "updated_at"], permissions=_kept_by("author_id")
    )
    comments = api.resource(
        Comment, read_only=["created_at", "updated_at"], permissions=_kept_by("author_id")
    )
    # Tags and an article's links to them are written by the spec's routes alone (trusted,
    # in the transaction of the article's own write): read-only here, and so not nestable
    # in an article written through /api/rest either.
    tags = api.resource(Tag, methods=["GET"])
    article_tags = api.resource(ArticleTag, methods=["GET"])
    favorites = api.resource(
        Favorite, methods=["GET", "POST", "DELETE"], permissions=_kept_by("user_id")
    )
    follows = api.resource(
        Follow, methods=["GET", "POST", "DELETE"], permissions=_kept_by("follower_id")
    )

    @users.validator("username")
    def username(value: str) -> str:
        if not USERNAME.fullmatch(value):
            raise ValueError("1 to 64 letters, digits, '.', '-' or '_'")
        return value

    @users.validator("email")
    def email(value: str) -> str:
        value = value.strip().lower()
        if not EMAIL.fullmatch(value):
            raise ValueError("is not an email address")
        return value

    @users.validator("password")
    def password(value: str) -> str:
        if len(value) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    for res, field in ((articles, "title"), (articles, "body"), (comments, "body")):
        res.validator(field)(_not_blank)

    @articles.hook("before_create")
    @comments.hook("before_create")
    def stamp(ctx: WriteContext) -> None:
        # One reading of the clock: a new row's createdAt and updatedAt are equal.
        ctx.data["created_at"] = ctx.data["updated_at"] = now()

    @articles.hook("before_update")
    def touch(ctx: WriteContext) -> None:
        # Also when no column changes: a new tagList (rows of article_tags) changes it.
        ctx.data["updated_at"] = now()

    @articles.hook("before_create")
    @articles.hook("before_update")
    def slug(ctx: WriteContext) -> None:
        if "title" in ctx.data:
            own = ctx.key[0] if ctx.key else None
            ctx.data["slug"] = _unique_slug(ctx.session, ctx.data["title"], own)

    return {
        "users": users,
        "articles": articles,
        "comments": comments,
        "tags": tags,
        "article_tags": article_tags,
        "favorites": favorites,
        "follows": follows,
    }


def _slugify(title: str) -> str:
    slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-_")
    return slug[:200] or "article"


def _unique_slug(session: Session, title: str, own_id: int | None) -> str:
    """The title's slug, with a random suffix when another article has it already."""
    base = slug = _slugify(title)
    while True:
        taken = sa.select(Article.id).where(Article.slug == slug)
        if own_id is not None:
            taken = taken.where(Article.id != own_id)
        if session.scalar(taken) is None:
            return slug
        slug = f"{base}-{secrets.token_hex(3)}"


def _kept_by(field: str) -> dict[str, Permission]:
    """Rows anyone reads and only the user in ``field`` writes (filled in on create)."""
    mine = owner(field)
    return {"list": public, "read": public, "create": mine, "update": mine, "delete": mine}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("can't be blank")
    return value


def _kept_key() -> str:
    """A signing key made on first start and kept in ``instance/`` for the next ones."""
    path = HERE / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _sqlite_foreign_keys(dbapi_conn: Any, _record: Any) -> None:
    # ON DELETE CASCADE (an article's comments, tags and favorites go with it) needs this.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def __getattr__(name: str) -> Flask:
    # `flask --app app` looks up `app`: built on that first lookup, not at import, so the
    # tests' imports create no database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
