"""What the spec's fields must hold and what the server fills in (validators and hooks), and
its error document."""

from __future__ import annotations

import re
import secrets
from typing import Any

import sqlalchemy as sa

from tablerest import FieldError, Resource, TablerestError, ValidationFailed, WriteContext

from .models import Article, now

__all__ = ["declare", "spec_errors"]

USERNAME = re.compile(r"[\w.-]{1,64}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: tablerest's words for a taken unique value, and the spec's.
TAKEN = {"A row with this value already exists": "has already been taken"}


def spec_errors(error: TablerestError) -> dict[str, Any]:
    """``{"errors": {"body": ["title: can't be blank"]}}``: each field error as ``<field>:
    <message>``, the field inside the wrapping object (``/article/tagList/1``: ``tagList/1``)."""
    fields = [
        (e.pointer.lstrip("/").split("/"), TAKEN.get(e.detail, e.detail)) for e in error.errors
    ]
    messages = [f"{'/'.join(steps[1:] or steps)}: {detail}" for steps, detail in fields]
    return {"errors": {"body": messages or [error.detail]}}


def declare(users: Resource, articles: Resource, comments: Resource, follows: Resource) -> None:
    """The validators and hooks of the resources."""

    @users.validator("username")
    def username(value: str) -> str:
        if not USERNAME.fullmatch(value):
            raise ValueError("1 to 64 letters, digits, '.', '-' or '_'")
        return value

    @users.validator("email")
    def email(value: str) -> str:
        if not EMAIL.fullmatch(value.strip()):
            raise ValueError("is not an email address")
        return value.strip().lower()

    @users.hook("before_update")
    def not_empty(ctx: WriteContext) -> None:
        if not ctx.data:
            raise ValidationFailed([FieldError("", "Send at least one field to change")])

    for res, field in ((articles, "title"), (articles, "body"), (comments, "body")):
        res.validator(field)(_not_blank)

    @articles.validator("tag_list")
    def tag_list(value: list[str]) -> list[str]:
        names = [tag.strip() for tag in value]
        if len(names) > 20 or not all(0 < len(tag) <= 100 for tag in names):
            raise ValueError("at most 20 tags, each of 1 to 100 characters")
        return names

    @articles.hook("before_create")
    @articles.hook("before_update")
    @comments.hook("before_create")
    def stamp(ctx: WriteContext) -> None:
        # One reading of the clock: a new row's createdAt and updatedAt are equal; and a new
        # tagList alone (no column of the row) changes updatedAt too.
        ctx.data["updated_at"] = t = now()
        if ctx.action == "create":
            ctx.data["created_at"] = t
        if ctx.resource is articles and "title" in ctx.data:
            ctx.data["slug"] = _unique_slug(ctx.session, ctx.data["title"], ctx.key)

    @follows.hook("before_create")
    def not_oneself(ctx: WriteContext) -> None:
        if ctx.data["followerId"] == ctx.data["followedId"]:
            raise ValidationFailed([FieldError("/username", "You cannot follow yourself")])


def _unique_slug(session: sa.orm.Session, title: str, own: tuple[Any, ...] | None) -> str:
    """The title's slug, with a random suffix when another article has it already."""
    base = slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-_")[:200] or "article"
    while session.scalar(sa.select(Article.id).where(Article.slug == slug)) is not None:
        if own is not None and own[0] == slug:
            break  # its own
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("can't be blank")
    return value
