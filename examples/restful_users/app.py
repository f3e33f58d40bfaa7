"""Tutorial 001, the Flask-Restful + marshmallow users API (techarena51.com), done with tablerest.

The tutorial needs a ``CRUD`` mixin, a marshmallow-jsonapi schema and two Flask-Restful classes
for ``/api/v1/users.json`` and ``/api/v1/users/<id>.json``. Here the model is the same, the
marshmallow rules (email must be an email, name must not be blank) are two validators, and
tablerest answers at ``/api/v1/users`` and ``/api/v1/users/<id>``.

Differences from the tutorial: bodies are plain JSON objects (``{"email": ...}``), not the
JSON:API envelope ``{"data": {"attributes": {...}}}``; errors are 422/409 problem responses, not
403/401; and ``is_active`` defaults to ``sa.false()``, because the tutorial's
``server_default="false"`` stores the *text* ``'false'`` on SQLite, which reads back as true.

Run it from the repository root (the database goes to ``examples/restful_users/instance/``)::

    flask --app examples.restful_users.app run
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api

__all__ = ["PREFIX", "Users", "create_app", "db"]

HERE = Path(__file__).parent
PREFIX = "/api/v1"

# Deliberately loose: one "@", no spaces, a dot in the domain. Whether the mailbox exists is
# only known by mailing it; this catches typos such as a missing "@" or a pasted name.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Users(db.Model):
    # Flask-SQLAlchemy names the table "users" after the class, as in the tutorial.
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(250), unique=True)
    name: Mapped[str] = mapped_column(sa.String(250))
    creation_time: Mapped[dt.datetime] = mapped_column(
        sa.TIMESTAMP, server_default=sa.func.current_timestamp()
    )
    is_active: Mapped[bool] = mapped_column(server_default=sa.false())


def create_app(database_url: str = "sqlite:///restful_users.db") -> Flask:
    """The users API on ``database_url``; a relative SQLite path lands in ``instance/`` here."""
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        db.create_all()

    api = Api(app, db, prefix=PREFIX)
    # marshmallow's `dump_only=True` on id is implied (tablerest never lets clients write an
    # autoincrement key); the database stamps creation_time, so clients may only read it.
    users = api.resource(Users, read_only=["creation_time"])

    @users.validator("email")
    def is_email(value: str) -> str:
        value = value.strip()
        if not EMAIL.fullmatch(value):
            raise ValueError("Not a valid email address")
        # Stored lower-cased so that the unique constraint also catches Ann@X.org vs ann@x.org.
        return value.lower()

    @users.validator("name")
    def not_blank(value: str) -> str:
        if not value.strip():
            raise ValueError("Field cannot be blank")
        return value

    return app


def __getattr__(name: str) -> Flask:
    # `flask --app examples.restful_users.app` and WSGI servers look up `app`; building it on
    # that first lookup, not at import, keeps the tests' imports from creating a database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    create_app().run()
