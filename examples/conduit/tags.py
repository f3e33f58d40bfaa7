"""Tags: the one hand-written part, replaced by a many-to-many declaration (issue 22 item 3).

An article's ``tagList`` is a column of its own (a JSON list, sorted, each tag once), and its
link rows (``article_tags`` to ``tags``) follow it in the write's transaction, for the
``?tag=`` filter and ``GET /api/tags``, which lists the tags in use as the spec shows them:
``{"tags": ["dragons", "training"]}``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from tablerest import Api, FieldError, Resource, ValidationFailed, WriteContext

from .models import ArticleTag, Tag, db

__all__ = ["bp", "declare"]

MAX_TAGS = 20

bp = Blueprint("tags", __name__, url_prefix="/api")


@bp.get("/tags")
def tags() -> Response:
    used = sa.select(Tag.name).join(ArticleTag).distinct().order_by(Tag.name)
    return jsonify(tags=list(db.session.scalars(used)))


def declare(api: Api, articles: Resource) -> None:
    """Tags and links readable (filters go through them); ``tagList`` checked and linked."""
    api.resource(Tag, name="tag_rows", methods=["GET"])
    api.resource(ArticleTag, methods=["GET"])

    @articles.hook("before_create")
    @articles.hook("before_update")
    def tag_list(ctx: WriteContext) -> None:
        if "tagList" in ctx.data:
            ctx.data["tagList"] = _checked(ctx.data["tagList"])

    @articles.hook("after_create")
    @articles.hook("after_update")
    def link(ctx: WriteContext) -> None:
        if "tagList" in ctx.data:
            _link(ctx.session, ctx.row, ctx.data["tagList"])


def _checked(value: Any) -> list[str]:
    """``tagList``: at most ``MAX_TAGS`` non-blank strings, sorted, each once."""
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise ValidationFailed([FieldError("/tagList", f"Input should be a list of {MAX_TAGS}")])
    errors = [
        FieldError(f"/tagList/{i}", "Input should be a non-blank string of 100 or less")
        for i, tag in enumerate(value)
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 100
    ]
    if errors:
        raise ValidationFailed(errors)
    return sorted({tag.strip() for tag in value})


def _link(session: Any, row: Any, names: list[str]) -> None:
    """Link the article to the tags ``names`` (made on first use) and to no other."""
    session.execute(sa.delete(ArticleTag).where(ArticleTag.article_id == row["id"]))
    for name in names:
        tag = session.scalar(sa.select(Tag.id).where(Tag.name == name))
        if tag is None:
            try:  # another request may make it at the same moment
                with session.begin_nested():
                    tag = session.scalar(sa.insert(Tag).values(name=name).returning(Tag.id))
            except sa.exc.IntegrityError:
                tag = session.scalar(sa.select(Tag.id).where(Tag.name == name))
        session.execute(sa.insert(ArticleTag).values(article_id=row["id"], tag_id=tag))
