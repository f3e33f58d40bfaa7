"""The RealWorld spec's routes, under ``/api``.

Every row these routes write goes through the tablerest resources' calls
(``articles.create(data, identity=me)``, ...): the validators, owner permissions, hooks and
change feed that guard ``/api/rest`` run for these routes too, and an article's row and its
tags commit together (``api.transaction()``). Writes are made for the signed-in caller
(``Api.identity``), and ``trusted=True`` only where the application itself acts: signing a
user up, the tags everyone shares. Reads that the spec shapes (profiles with ``following``,
articles with their tags, counts and ``favorited``) are SQL. Tokens come from
``Api.sign_in`` / ``Api.open_session``, and every tablerest error raised here answers in the
spec's error shape (``shapes.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import aliased

from tablerest import (
    Api,
    Conflict,
    FieldError,
    Identity,
    InvalidParameter,
    NotFound,
    Resource,
    TablerestError,
    ValidationFailed,
)

from .models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User, db
from .shapes import current_token, error_response, json_response, timestamp, unwrap

__all__ = ["Conduit", "bp"]

bp = Blueprint("conduit", __name__, url_prefix="/api")
# tablerest's errors raised in these routes answer in the spec's shape.
bp.register_error_handler(TablerestError, error_response)

#: Largest page of articles (``limit``); the spec sets none, an unbounded one is a denial of
#: service waiting to happen.
MAX_LIMIT = 100
MAX_TAGS = 20

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Conduit:
    """What the routes need from the app's tablerest ``Api`` (``app.extensions["conduit"]``)."""

    api: Api
    users: Resource
    articles: Resource
    comments: Resource
    tags: Resource
    article_tags: Resource
    favorites: Resource
    follows: Resource


def _conduit() -> Conduit:
    conduit: Conduit = current_app.extensions["conduit"]
    return conduit


def _caller() -> Identity | None:
    return _conduit().api.identity()


def _me() -> Identity:
    me = _conduit().api.identity(required=True)
    assert me is not None
    return me


def _id(who: Identity | None) -> int | None:
    return int(who.id) if who is not None else None


# -- users -------------------------------------------------------------------------------


@bp.post("/users")
def register() -> Response:
    data = unwrap(request, "user", ("username", "email", "password"))
    # The users resource takes no writes over HTTP: signing up is the application's own act.
    with _unique_user_fields():
        user = _conduit().users.create(data, trusted=True)
    token = _conduit().api.open_session(user["id"])["access_token"]
    return json_response({"user": _user(user, token)}, 201)


@bp.post("/users/login")
def login() -> Response:
    data = unwrap(request, "user", ("email", "password"))
    errors = [
        FieldError(f"/user/{k}", "Field required: a string")
        for k in ("email", "password")
        if not isinstance(data.get(k), str) or not data[k]
    ]
    if errors:
        raise ValidationFailed(errors)
    email = data["email"].strip().lower()
    tokens = _conduit().api.sign_in(email, data["password"])  # 401 when wrong
    (user,) = _conduit().users.list({"filter[email]": email}, trusted=True).rows
    return json_response({"user": _user(user, tokens["access_token"])})


# The caller's own row, by the key in their token, is read and written as trusted: the users
# resource shows an email to admins only (and so would refuse it as an unknown field), while
# the spec shows every user their own and lets them change it.


@bp.get("/user")
def current_user() -> Response:
    user = _conduit().users.read(_me().id, trusted=True)
    return json_response({"user": _user(user, current_token())})


@bp.put("/user")
def update_user() -> Response:
    me = _me()
    data = unwrap(request, "user", ("email", "password", "username", "bio", "image"))
    if not data:
        raise ValidationFailed([FieldError("/user", "Send at least one field to change")])
    with _unique_user_fields():
        # For them (hooks see who): a password change keeps this session, ends the others.
        user = _conduit().users.update(me.id, data, trusted=True, identity=me)
    return json_response({"user": _user(user, current_token())})


@contextmanager
def _unique_user_fields() -> Iterator[None]:
    """A username or email another user has (tablerest's 409) is the spec's 422."""
    try:
        yield
    except Conflict as exc:
        taken = [
            FieldError(f"/user{e.pointer}", "has already been taken")
            for e in exc.errors
            if e.pointer in ("/username", "/email")
        ]
        if not taken:
            raise
        raise ValidationFailed(taken) from None


def _user(user: Row, token: str) -> dict[str, Any]:
    return {
        "email": user["email"],
        "token": token,
        "username": user["username"],
        "bio": user["bio"],
        "image": user["image"],
    }


# -- profiles ----------------------------------------------------------------------------


@bp.get("/profiles/<username>")
def profile(username: str) -> Response:
    me = _caller()
    user = _user_named(username, me)
    following = me is not None and _follows(int(me.id), user["id"])
    return json_response({"profile": _profile(user, following)})


@bp.post("/profiles/<username>/follow")
def follow(username: str) -> Response:
    me = _me()
    user = _user_named(username, me)
    if user["id"] == int(me.id):
        raise ValidationFailed([FieldError("/username", "You cannot follow yourself")])
    # follower_id is filled in with the caller's id by the resource's owner rule.
    _create_once(
        _conduit().follows,
        {"followed_id": user["id"]},
        me,
        lambda: _follows(int(me.id), user["id"]),
    )
    return json_response({"profile": _profile(user, True)})


@bp.delete("/profiles/<username>/follow")
def unfollow(username: str) -> Response:
    me = _me()
    user = _user_named(username, me)
    _delete_if_there(_conduit().follows, (me.id, user["id"]), me)
    return json_response({"profile": _profile(user, False)})


def _user_named(username: str, who: Identity | None) -> Row:
    found = _conduit().users.list({"filter[username]": username}, identity=who).rows
    if not found:
        raise NotFound(f"No user named {username!r}")
    user: Row = found[0]
    return user


def _follows(me: int, other: int) -> bool:
    stmt = sa.select(Follow.follower_id).where(
        Follow.follower_id == me, Follow.followed_id == other
    )
    return db.session.scalar(stmt) is not None


def _profile(user: Row, following: bool) -> dict[str, Any]:
    return {
        "username": user["username"],
        "bio": user["bio"],
        "image": user["image"],
        "following": following,
    }


def _create_once(res: Resource, row: Row, who: Identity, exists: Callable[[], bool]) -> None:
    """Create a follow or favorite; one that is there already (made before, or by a
    concurrent request: tablerest's 409) is no error."""
    try:
        res.create(row, identity=who)
    except Conflict:
        if not exists():
            raise


def _delete_if_there(res: Resource, key: tuple[Any, ...], who: Identity) -> None:
    """Delete a follow or favorite; one that is not there is no error."""
    with suppress(NotFound):
        res.delete(key, identity=who)


# -- articles ----------------------------------------------------------------------------

ARTICLE_FIELDS = ("title", "description", "body", "tagList")


@bp.get("/articles")
def list_articles() -> Response:
    me = _caller()
    args = _args(("tag", "author", "favorited", "limit", "offset"))
    stmt = sa.select(Article.id).join(User, Article.author_id == User.id)
    if "tag" in args:
        tagged = sa.select(ArticleTag.article_id).join(Tag).where(Tag.name == args["tag"])
        stmt = stmt.where(Article.id.in_(tagged))
    if "author" in args:
        stmt = stmt.where(User.username == args["author"])
    if "favorited" in args:
        fan = aliased(User)
        liked = (
            sa.select(Favorite.article_id)
            .join(fan, Favorite.user_id == fan.id)
            .where(fan.username == args["favorited"])
        )
        stmt = stmt.where(Article.id.in_(liked))
    return _page(stmt, args, _id(me))


@bp.get("/articles/feed")
def feed() -> Response:
    me = int(_me().id)
    args = _args(("limit", "offset"))
    followed = sa.select(Follow.followed_id).where(Follow.follower_id == me)
    stmt = sa.select(Article.id).where(Article.author_id.in_(followed))
    return _page(stmt, args, me)


@bp.post("/articles")
def create_article() -> Response:
    me = _me()
    data = unwrap(request, "article", ARTICLE_FIELDS)
    tags = _tag_list(data.pop("tagList", []))
    # The resource's hooks make the slug and the timestamps; its owner rule fills in
    # author_id with the caller's id.
    with _conduit().api.transaction():
        article = _conduit().articles.create(data, identity=me)
        _set_tags(article["id"], tags)
    return json_response({"article": _articles([article], _id(me))[0]}, 201)


@bp.get("/articles/<slug>")
def get_article(slug: str) -> Response:
    me = _caller()
    return json_response({"article": _articles([_article(slug, me)], _id(me))[0]})


@bp.put("/articles/<slug>")
def update_article(slug: str) -> Response:
    me = _me()
    key = _article(slug, me)["id"]
    data = unwrap(request, "article", ARTICLE_FIELDS)
    tags = _tag_list(data.pop("tagList")) if "tagList" in data else None
    with _conduit().api.transaction():
        # The owner rule answers 403 to anyone but the author; a hook touches updated_at
        # (also when only the tags change) and makes a new slug for a new title.
        article = _conduit().articles.update(key, data, identity=me)
        if tags is not None:
            _set_tags(key, tags)
    return json_response({"article": _articles([article], _id(me))[0]})


@bp.delete("/articles/<slug>")
def delete_article(slug: str) -> Response:
    me = _me()
    # The owner rule answers 403 to anyone but the author; its comments, tags and favorites
    # go with it (ON DELETE CASCADE).
    _conduit().articles.delete(_article(slug, me)["id"], identity=me)
    return Response(status=204)


@bp.post("/articles/<slug>/favorite")
def favorite(slug: str) -> Response:
    me = _me()
    article = _article(slug, me)
    _create_once(
        _conduit().favorites,
        {"article_id": article["id"]},
        me,
        lambda: _favors(int(me.id), article["id"]),
    )
    return json_response({"article": _articles([article], _id(me))[0]})


@bp.delete("/articles/<slug>/favorite")
def unfavorite(slug: str) -> Response:
    me = _me()
    article = _article(slug, me)
    _delete_if_there(_conduit().favorites, (me.id, article["id"]), me)
    return json_response({"article": _articles([article], _id(me))[0]})


@bp.get("/tags")
def tags() -> Response:
    used = sa.select(Tag.name).join(ArticleTag, ArticleTag.tag_id == Tag.id).distinct()
    return json_response({"tags": sorted(db.session.scalars(used))})


def _article(slug: str, who: Identity | None) -> Row:
    found = _conduit().articles.list({"filter[slug]": slug}, identity=who).rows
    if not found:
        raise NotFound(f"No article {slug!r}")
    article: Row = found[0]
    return article


def _favors(me: int, article_id: int) -> bool:
    stmt = sa.select(Favorite.user_id).where(
        Favorite.user_id == me, Favorite.article_id == article_id
    )
    return db.session.scalar(stmt) is not None


def _args(allowed: Sequence[str]) -> dict[str, Any]:
    """The query string: only ``allowed`` names, once each; ``limit``/``offset`` as numbers."""
    args: dict[str, Any] = {}
    for name, values in request.args.lists():
        if name not in allowed:
            raise InvalidParameter(name, f"Unknown query parameter {name!r}")
        if len(values) > 1:
            raise InvalidParameter(name, f"{name!r} is given more than once")
        if "\x00" in values[0]:  # PostgreSQL refuses it in text: a 400, not a crash
            raise InvalidParameter(name, f"{name!r} holds a NUL character")
        args[name] = values[0]
    for name, low, high in (("limit", 1, MAX_LIMIT), ("offset", 0, None)):
        if name in args:
            text = args[name]
            if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
                bound = f"from {low} to {high}" if high else f"{low} or more"
                raise InvalidParameter(name, f"{name} must be a whole number {bound}")
            args[name] = int(text)
    return args


def _page(ids: sa.Select[Any], args: dict[str, Any], me: int | None) -> Response:
    """One page of the articles whose ids ``ids`` selects, newest first, and their count."""
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery()))
    table = Article.__table__
    page = (
        sa.select(table)
        .where(table.c.id.in_(ids))
        .order_by(table.c.created_at.desc(), table.c.id.desc())
    )
    page = page.limit(args.get("limit", 20)).offset(args.get("offset", 0))
    articles = db.session.execute(page).mappings().all()
    return json_response({"articles": _articles(articles, me, body=False), "articlesCount": count})


def _articles(articles: Sequence[Row], me: int | None, body: bool = True) -> list[Any]:
    """The spec's article objects: five statements for any number of articles."""
    ids = [a["id"] for a in articles]
    if not ids:
        return []
    tags: dict[int, list[str]] = {i: [] for i in ids}
    for article_id, name in db.session.execute(_tags_of(ids).order_by(Tag.name)):
        tags[article_id].append(name)
    counted = (
        sa.select(Favorite.article_id, sa.func.count())
        .where(Favorite.article_id.in_(ids))
        .group_by(Favorite.article_id)
    )
    counts = dict(db.session.execute(counted).all())
    authors = {a["author_id"] for a in articles}
    users = _users(authors)
    liked: set[int] = set()
    followed: set[int] = set()
    if me is not None:
        liked = set(
            db.session.scalars(
                sa.select(Favorite.article_id).where(
                    Favorite.user_id == me, Favorite.article_id.in_(ids)
                )
            )
        )
        followed = _followed(me, authors)
    out = []
    for a in articles:
        item = {
            "slug": a["slug"],
            "title": a["title"],
            "description": a["description"],
            "body": a["body"],
            "tagList": tags[a["id"]],
            "createdAt": timestamp(a["created_at"]),
            "updatedAt": timestamp(a["updated_at"]),
            "favorited": a["id"] in liked,
            "favoritesCount": counts.get(a["id"], 0),
            "author": _profile(users[a["author_id"]], a["author_id"] in followed),
        }
        if not body:
            del item["body"]
        out.append(item)
    return out


def _tags_of(ids: Iterable[int]) -> sa.Select[tuple[int, str]]:
    return (
        sa.select(ArticleTag.article_id, Tag.name)
        .join(Tag, ArticleTag.tag_id == Tag.id)
        .where(ArticleTag.article_id.in_(list(ids)))
    )


def _users(ids: Iterable[int]) -> dict[int, Row]:
    table = User.__table__
    found = db.session.execute(sa.select(table).where(table.c.id.in_(list(ids))))
    return {u["id"]: u for u in found.mappings()}


def _followed(me: int, among: Iterable[int]) -> set[int]:
    stmt = sa.select(Follow.followed_id).where(
        Follow.follower_id == me, Follow.followed_id.in_(list(among))
    )
    return set(db.session.scalars(stmt))


def _tag_list(value: Any) -> list[str]:
    """``tagList``: strings, not blank, at most ``MAX_TAGS``; kept once each."""
    if not isinstance(value, list):
        raise ValidationFailed([FieldError("/article/tagList", "Input should be a list")])
    if len(value) > MAX_TAGS:
        raise ValidationFailed([FieldError("/article/tagList", f"At most {MAX_TAGS} tags")])
    errors = [
        FieldError(f"/article/tagList/{i}", "Input should be a non-blank string of 100 or less")
        for i, tag in enumerate(value)
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 100
    ]
    if errors:
        raise ValidationFailed(errors)
    return list(dict.fromkeys(tag.strip() for tag in value))


def _set_tags(article_id: int, names: list[str]) -> None:
    """Link the article to the tags ``names`` and to no other, in the caller's transaction.

    Trusted: tags are rows everyone shares, made on first use, and an article's links are
    written right after the article itself, under its owner rule, in the same transaction.
    """
    conduit = _conduit()
    stmt = _tags_of([article_id]).add_columns(Tag.id)
    linked = {name: tag for _, name, tag in db.session.execute(stmt)}
    for name, tag in linked.items():
        if name not in names:
            conduit.article_tags.delete((article_id, tag), trusted=True)
    new = [name for name in names if name not in linked]
    if new:
        # One statement, and no clash with a request making the same tag at the same moment.
        made = conduit.tags.upsert([{"name": n} for n in new], on="name", trusted=True)
        links = [{"article_id": article_id, "tag_id": tag["id"]} for tag in made]
        conduit.article_tags.create(links, trusted=True)


# -- comments ----------------------------------------------------------------------------


@bp.get("/articles/<slug>/comments")
def list_comments(slug: str) -> Response:
    me = _caller()
    article = _article(slug, me)
    table = Comment.__table__
    stmt = sa.select(table).where(table.c.article_id == article["id"]).order_by(table.c.id)
    comments = db.session.execute(stmt).mappings().all()
    return json_response({"comments": _comments(comments, _id(me))})


@bp.post("/articles/<slug>/comments")
def add_comment(slug: str) -> Response:
    me = _me()
    article = _article(slug, me)
    data = unwrap(request, "comment", ("body",))
    # author_id is filled in with the caller's id by the resource's owner rule.
    comment = _conduit().comments.create({**data, "article_id": article["id"]}, identity=me)
    # The spec answers 200 here, not 201.
    return json_response({"comment": _comments([comment], _id(me))[0]})


@bp.delete("/articles/<slug>/comments/<int:comment_id>")
def delete_comment(slug: str, comment_id: int) -> Response:
    me = _me()
    article = _article(slug, me)
    missing = NotFound(f"No comment {comment_id} on {slug!r}")
    try:
        comment = _conduit().comments.read(comment_id, identity=me)
    except NotFound:
        raise missing from None
    if comment["article_id"] != article["id"]:
        raise missing
    # The owner rule answers 403 to anyone but the comment's author.
    _conduit().comments.delete(comment_id, identity=me)
    return Response(status=204)


def _comments(comments: Sequence[Row], me: int | None) -> list[dict[str, Any]]:
    authors = {c["author_id"] for c in comments}
    if not authors:
        return []
    users = _users(authors)
    followed = _followed(me, authors) if me is not None else set()
    return [
        {
            "id": c["id"],
            "createdAt": timestamp(c["created_at"]),
            "updatedAt": timestamp(c["updated_at"]),
            "body": c["body"],
            "author": _profile(users[c["author_id"]], c["author_id"] in followed),
        }
        for c in comments
    ]
