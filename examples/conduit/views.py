"""The RealWorld spec's routes, under ``/api``.

Input is checked by the tablerest resources' validators (``Resource.validate``): the rules
that guard ``/api/rest`` guard these routes too. The caller comes from ``Api.identity``
(``Authorization: Token <jwt>``), tokens from ``Api.sign_in`` / ``Api.open_session``, and
every tablerest error raised here answers in the spec's error shape (``shapes.py``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import aliased

from tablerest import (
    Api,
    FieldError,
    Forbidden,
    InvalidParameter,
    NotFound,
    Resource,
    TablerestError,
    ValidationFailed,
)

from .models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User, db, now
from .shapes import current_token, error_response, json_response, timestamp, unwrap

__all__ = ["Conduit", "bp", "slugify", "unique_slug"]

bp = Blueprint("conduit", __name__, url_prefix="/api")
# tablerest's errors raised in these routes answer in the spec's shape.
bp.register_error_handler(TablerestError, error_response)

#: Largest page of articles (``limit``); the spec sets none, an unbounded one is a denial of
#: service waiting to happen.
MAX_LIMIT = 100
MAX_TAGS = 20


@dataclass(frozen=True)
class Conduit:
    """What the routes need from the app's tablerest ``Api`` (``app.extensions["conduit"]``)."""

    api: Api
    users: Resource
    articles: Resource
    comments: Resource


def _conduit() -> Conduit:
    conduit: Conduit = current_app.extensions["conduit"]
    return conduit


def _caller(*, required: bool) -> int | None:
    identity = _conduit().api.identity(required=required)
    return int(identity.id) if identity is not None else None


def _me() -> int:
    me = _caller(required=True)
    assert me is not None
    return me


# -- users -------------------------------------------------------------------------------


@bp.post("/users")
def register() -> Response:
    data = unwrap(request, "user", ("username", "email", "password"))
    values = _conduit().users.validate(data)
    _check_unique(values, None)
    user = User(**values)
    db.session.add(user)
    _commit_unique()
    token = _conduit().api.open_session(user.id)["access_token"]
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
    user = db.session.scalars(sa.select(User).where(User.email == email)).one()
    return json_response({"user": _user(user, tokens["access_token"])})


@bp.get("/user")
def current_user() -> Response:
    user = _own_row(_me())
    return json_response({"user": _user(user, current_token())})


@bp.put("/user")
def update_user() -> Response:
    user = _own_row(_me())
    data = unwrap(request, "user", ("email", "password", "username", "bio", "image"))
    if not data:
        raise ValidationFailed([FieldError("/user", "Send at least one field to change")])
    values = _conduit().users.validate(data, partial=True)
    _check_unique(values, user.id)
    for name, value in values.items():
        setattr(user, name, value)
    _commit_unique()
    return json_response({"user": _user(user, current_token())})


def _own_row(me: int) -> User:
    user = db.session.get(User, me)
    if user is None:  # the token outlived its user
        raise NotFound("Your user no longer exists")
    return user


def _check_unique(values: dict[str, Any], own_id: int | None) -> None:
    errors = []
    for name in ("username", "email"):
        if name in values:
            taken = sa.select(User.id).where(getattr(User, name) == values[name])
            if own_id is not None:
                taken = taken.where(User.id != own_id)
            if db.session.scalar(taken) is not None:
                errors.append(FieldError(f"/user/{name}", "has already been taken"))
    if errors:
        raise ValidationFailed(errors)


def _commit_unique() -> None:
    """Commit; a unique key taken since the check above (two registrations at once) is a 422."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise ValidationFailed(
            [FieldError("/user", "username or email has already been taken")]
        ) from None


def _user(user: User, token: str) -> dict[str, Any]:
    return {
        "email": user.email,
        "token": token,
        "username": user.username,
        "bio": user.bio,
        "image": user.image,
    }


# -- profiles ----------------------------------------------------------------------------


@bp.get("/profiles/<username>")
def profile(username: str) -> Response:
    me = _caller(required=False)
    user = _user_named(username)
    return json_response({"profile": _profile(user, me is not None and _follows(me, user.id))})


@bp.post("/profiles/<username>/follow")
def follow(username: str) -> Response:
    me = _me()
    user = _user_named(username)
    if user.id == me:
        raise ValidationFailed([FieldError("/username", "You cannot follow yourself")])
    if not _follows(me, user.id):
        db.session.add(Follow(follower_id=me, followed_id=user.id))
        _commit_idempotent()
    return json_response({"profile": _profile(user, True)})


@bp.delete("/profiles/<username>/follow")
def unfollow(username: str) -> Response:
    me = _me()
    user = _user_named(username)
    db.session.execute(
        sa.delete(Follow).where(Follow.follower_id == me, Follow.followed_id == user.id)
    )
    db.session.commit()
    return json_response({"profile": _profile(user, False)})


def _user_named(username: str) -> User:
    user = db.session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"No user named {username!r}")
    return user


def _follows(me: int, other: int) -> bool:
    stmt = sa.select(Follow.follower_id).where(
        Follow.follower_id == me, Follow.followed_id == other
    )
    return db.session.scalar(stmt) is not None


def _profile(user: User, following: bool) -> dict[str, Any]:
    return {"username": user.username, "bio": user.bio, "image": user.image, "following": following}


def _commit_idempotent() -> None:
    """Commit a follow or favorite; the same one made by a concurrent request is no error."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()


# -- articles ----------------------------------------------------------------------------

ARTICLE_FIELDS = ("title", "description", "body", "tagList")


@bp.get("/articles")
def list_articles() -> Response:
    me = _caller(required=False)
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
    return _page(stmt, args, me)


@bp.get("/articles/feed")
def feed() -> Response:
    me = _me()
    args = _args(("limit", "offset"))
    followed = sa.select(Follow.followed_id).where(Follow.follower_id == me)
    stmt = sa.select(Article.id).where(Article.author_id.in_(followed))
    return _page(stmt, args, me)


@bp.post("/articles")
def create_article() -> Response:
    me = _me()
    data = unwrap(request, "article", ARTICLE_FIELDS)
    tags = _tag_list(data.pop("tagList", []))
    values = _conduit().articles.validate(data)
    t = now()
    slug = unique_slug(values["title"], None)
    article = Article(**values, author_id=me, slug=slug, created_at=t, updated_at=t)
    db.session.add(article)
    db.session.flush()
    _set_tags(article.id, tags)
    db.session.commit()
    return json_response({"article": _articles([article], me)[0]}, 201)


@bp.get("/articles/<slug>")
def get_article(slug: str) -> Response:
    me = _caller(required=False)
    return json_response({"article": _articles([_article(slug)], me)[0]})


@bp.put("/articles/<slug>")
def update_article(slug: str) -> Response:
    me = _me()
    article = _authored(_article(slug), me)
    data = unwrap(request, "article", ARTICLE_FIELDS)
    tags = _tag_list(data.pop("tagList")) if "tagList" in data else None
    values = _conduit().articles.validate(data, partial=True)
    if "title" in values:
        values["slug"] = unique_slug(values["title"], article.id)
    for name, value in values.items():
        setattr(article, name, value)
    if tags is not None:
        db.session.execute(sa.delete(ArticleTag).where(ArticleTag.article_id == article.id))
        _set_tags(article.id, tags)
        article.updated_at = now()
    db.session.commit()
    return json_response({"article": _articles([article], me)[0]})


@bp.delete("/articles/<slug>")
def delete_article(slug: str) -> Response:
    me = _me()
    article = _authored(_article(slug), me)
    # Its comments, tags and favorites go with it (ON DELETE CASCADE).
    db.session.execute(sa.delete(Article).where(Article.id == article.id))
    db.session.commit()
    return Response(status=204)


@bp.post("/articles/<slug>/favorite")
def favorite(slug: str) -> Response:
    me = _me()
    article = _article(slug)
    liked = sa.select(Favorite.user_id).where(
        Favorite.user_id == me, Favorite.article_id == article.id
    )
    if db.session.scalar(liked) is None:
        db.session.add(Favorite(user_id=me, article_id=article.id))
        _commit_idempotent()
    return json_response({"article": _articles([article], me)[0]})


@bp.delete("/articles/<slug>/favorite")
def unfavorite(slug: str) -> Response:
    me = _me()
    article = _article(slug)
    db.session.execute(
        sa.delete(Favorite).where(Favorite.user_id == me, Favorite.article_id == article.id)
    )
    db.session.commit()
    return json_response({"article": _articles([article], me)[0]})


@bp.get("/tags")
def tags() -> Response:
    used = sa.select(Tag.name).join(ArticleTag, ArticleTag.tag_id == Tag.id).distinct()
    return json_response({"tags": sorted(db.session.scalars(used))})


def _article(slug: str) -> Article:
    article = db.session.scalars(sa.select(Article).where(Article.slug == slug)).first()
    if article is None:
        raise NotFound(f"No article {slug!r}")
    return article


def _authored(article: Article, me: int) -> Article:
    if article.author_id != me:
        raise Forbidden("Only its author may change or delete an article")
    return article


def _args(allowed: Sequence[str]) -> dict[str, Any]:
    """The query string: only ``allowed`` names, once each; ``limit``/``offset`` as numbers."""
    args: dict[str, Any] = {}
    for name, values in request.args.lists():
        if name not in allowed:
            raise InvalidParameter(name, f"Unknown query parameter {name!r}")
        if len(values) > 1:
            raise InvalidParameter(name, f"{name!r} is given more than once")
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
    page = (
        sa.select(Article)
        .where(Article.id.in_(ids))
        .order_by(Article.created_at.desc(), Article.id.desc())
    )
    page = page.limit(args.get("limit", 20)).offset(args.get("offset", 0))
    articles = list(db.session.scalars(page))
    return json_response({"articles": _articles(articles, me, body=False), "articlesCount": count})


def _articles(articles: Sequence[Article], me: int | None, body: bool = True) -> list[Any]:
    """The spec's article objects: five statements for any number of articles."""
    ids = [a.id for a in articles]
    if not ids:
        return []
    tags: dict[int, list[str]] = {i: [] for i in ids}
    tagged = (
        sa.select(ArticleTag.article_id, Tag.name)
        .join(Tag, ArticleTag.tag_id == Tag.id)
        .where(ArticleTag.article_id.in_(ids))
        .order_by(Tag.name)
    )
    for article_id, name in db.session.execute(tagged):
        tags[article_id].append(name)
    counted = (
        sa.select(Favorite.article_id, sa.func.count())
        .where(Favorite.article_id.in_(ids))
        .group_by(Favorite.article_id)
    )
    counts = dict(db.session.execute(counted).all())
    authors = {a.author_id for a in articles}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(authors)))}
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
            "slug": a.slug,
            "title": a.title,
            "description": a.description,
            "body": a.body,
            "tagList": tags[a.id],
            "createdAt": timestamp(a.created_at),
            "updatedAt": timestamp(a.updated_at),
            "favorited": a.id in liked,
            "favoritesCount": counts.get(a.id, 0),
            "author": _profile(users[a.author_id], a.author_id in followed),
        }
        if not body:
            del item["body"]
        out.append(item)
    return out


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
    if not names:
        return
    known = dict(db.session.execute(sa.select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    for name in names:
        if name not in known:
            # A savepoint: another request may create the same tag at the same moment.
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name)
                    db.session.add(tag)
                known[name] = tag.id
            except sa.exc.IntegrityError:
                known[name] = db.session.scalars(sa.select(Tag.id).where(Tag.name == name)).one()
        db.session.add(ArticleTag(article_id=article_id, tag_id=known[name]))
    db.session.flush()


def slugify(title: str) -> str:
    slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-_")
    return slug[:200] or "article"


def unique_slug(title: str, own_id: int | None) -> str:
    """The title's slug, with a random suffix when another article has it already."""
    base = slug = slugify(title)
    while True:
        taken = sa.select(Article.id).where(Article.slug == slug)
        if own_id is not None:
            taken = taken.where(Article.id != own_id)
        if db.session.scalar(taken) is None:
            return slug
        slug = f"{base}-{secrets.token_hex(3)}"


# -- comments ----------------------------------------------------------------------------


@bp.get("/articles/<slug>/comments")
def list_comments(slug: str) -> Response:
    me = _caller(required=False)
    article = _article(slug)
    stmt = sa.select(Comment).where(Comment.article_id == article.id).order_by(Comment.id)
    return json_response({"comments": _comments(list(db.session.scalars(stmt)), me)})


@bp.post("/articles/<slug>/comments")
def add_comment(slug: str) -> Response:
    me = _me()
    article = _article(slug)
    data = unwrap(request, "comment", ("body",))
    values = _conduit().comments.validate({**data, "article_id": article.id})
    t = now()
    comment = Comment(**values, author_id=me, created_at=t, updated_at=t)
    db.session.add(comment)
    db.session.commit()
    # The spec answers 200 here, not 201.
    return json_response({"comment": _comments([comment], me)[0]})


@bp.delete("/articles/<slug>/comments/<int:comment_id>")
def delete_comment(slug: str, comment_id: int) -> Response:
    me = _me()
    article = _article(slug)
    stmt = sa.select(Comment).where(Comment.id == comment_id, Comment.article_id == article.id)
    comment = db.session.scalars(stmt).first()
    if comment is None:
        raise NotFound(f"No comment {comment_id} on {slug!r}")
    if comment.author_id != me:
        raise Forbidden("Only its author may delete a comment")
    db.session.delete(comment)
    db.session.commit()
    return Response(status=204)


def _comments(comments: Sequence[Comment], me: int | None) -> list[dict[str, Any]]:
    authors = {c.author_id for c in comments}
    if not authors:
        return []
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(authors)))}
    followed = _followed(me, authors) if me is not None else set()
    return [
        {
            "id": c.id,
            "createdAt": timestamp(c.created_at),
            "updatedAt": timestamp(c.updated_at),
            "body": c.body,
            "author": _profile(users[c.author_id], c.author_id in followed),
        }
        for c in comments
    ]
