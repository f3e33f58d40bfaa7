"""Conduit's tables: users and their follows, articles with tags and favorites, comments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Article", "Comment", "Favorite", "Follow", "Tag", "User", "article_tags", "db", "now"]


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def now() -> datetime:
    # Milliseconds are what the API shows; storing no more keeps a value the same on every
    # database (MariaDB's DATETIME(3), PostgreSQL's microseconds, SQLite's text).
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def cascading(target: str, **options: Any) -> Any:
    """A foreign key column whose row goes with the row it points to (ON DELETE CASCADE)."""
    return mapped_column(sa.ForeignKey(target, ondelete="CASCADE"), **options)


#: MariaDB's plain DATETIME would keep whole seconds only.
Stamp = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


class Email(sa.TypeDecorator[str]):
    """Emails kept, and looked up when signing in, in lower case: ``Jake@X.org`` is jake's."""

    impl = sa.String(254)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return value.strip().lower() if value is not None else None


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(Email, unique=True)
    password: Mapped[str] = mapped_column(sa.String(255))
    bio: Mapped[str] = mapped_column(sa.Text, default="")
    image: Mapped[str] = mapped_column(sa.String(1000), default="")


class Follow(db.Model):
    __tablename__ = "follows"
    follower_id: Mapped[int] = cascading("users.id", primary_key=True)
    followed_id: Mapped[int] = cascading("users.id", primary_key=True)


class Article(db.Model):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(255), unique=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.String(1000))
    body: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int] = cascading("users.id")
    created_at: Mapped[datetime] = mapped_column(Stamp, default=now)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=now, onupdate=now)
    tags: Mapped[list[Tag]] = relationship(secondary="article_tags")
    # The relation to the author gets its own name: "author" is the profile field (app.py).
    writer: Mapped[User] = relationship()

    __table_args__ = (sa.Index("ix_articles_created", "created_at", "id"),)


class Tag(db.Model):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)


article_tags = sa.Table(
    "article_tags",
    db.metadata,
    sa.Column("article_id", sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Favorite(db.Model):
    __tablename__ = "favorites"
    user_id: Mapped[int] = cascading("users.id", primary_key=True)
    article_id: Mapped[int] = cascading("articles.id", primary_key=True)


class Comment(db.Model):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    article_id: Mapped[int] = cascading("articles.id")
    author_id: Mapped[int] = cascading("users.id")
    created_at: Mapped[datetime] = mapped_column(Stamp, default=now)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=now, onupdate=now)
    writer: Mapped[User] = relationship()
