"""The fixture schema of the feature tests: plain SQLAlchemy 2 declarative models.

Portable to SQLite, PostgreSQL and MariaDB (every string has a length).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates


class Base(DeclarativeBase):
    pass


class Genre(enum.Enum):
    fantasy = "fantasy"
    mystery = "mystery"
    poetry = "poetry"


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str | None] = mapped_column(sa.String(2))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    year: Mapped[int | None]
    pages: Mapped[int] = mapped_column(default=100)
    isbn: Mapped[str | None] = mapped_column(sa.String(17), unique=True)
    price: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(8, 2))
    genre: Mapped[Genre | None] = mapped_column(sa.Enum(Genre))
    secret_note: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authors.id"))


class Kitchen(Base):
    """Every column type tablerest maps."""

    __tablename__ = "kitchen"
    id: Mapped[int] = mapped_column(primary_key=True)
    tiny: Mapped[int | None] = mapped_column(sa.SmallInteger)
    normal: Mapped[int | None] = mapped_column(sa.Integer)
    big: Mapped[int | None] = mapped_column(sa.BigInteger)
    ratio: Mapped[float | None] = mapped_column(sa.Float)
    amount: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(6, 3))
    flag: Mapped[bool | None] = mapped_column(sa.Boolean)
    label: Mapped[str | None] = mapped_column(sa.String(5))
    body: Mapped[str | None] = mapped_column(sa.Text)
    day: Mapped[dt.date | None] = mapped_column(sa.Date)
    moment: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    clock: Mapped[dt.time | None] = mapped_column(sa.Time)
    mood: Mapped[str | None] = mapped_column(sa.Enum("happy", "sad", name="mood"))
    genre: Mapped[Genre | None] = mapped_column(sa.Enum(Genre, name="kitchen_genre"))
    doc: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    token: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    blob: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class Gadget(Base):
    """A UUID primary key with a Python-side default."""

    __tablename__ = "gadgets"
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(50))


class Country(Base):
    """A natural (string) primary key the client chooses."""

    __tablename__ = "countries"
    code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class Enrollment(Base):
    """A composite primary key."""

    __tablename__ = "enrollments"
    student_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    course: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    grade: Mapped[int | None]


class Account(Base):
    """A password that is write-only and a flag that is read-only."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    password: Mapped[str] = mapped_column(sa.String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)


class Person(Base):
    """A model with an ORM validator, so writes go through the session."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(200))

    @validates("name")
    def _strip(self, key: str, value: str) -> str:
        return value.strip()
