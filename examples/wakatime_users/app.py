"""Tutorial 000, "Flask Part 2: Building a RESTful API" (WakaTime blog), done with tablerest.

The tutorial's users have a server-generated UUID key and a password that must never leave the
server. By hand that took a ``BaseModel`` with ``_hidden_fields``, one view per method and
WTForms; here it is one ``api.resource`` call, a validator and a hook that hashes the password
with argon2 before it is stored.

Run it from the repository root (the database goes to ``examples/wakatime_users/instance/``)::

    flask --app examples.wakatime_users.app run
"""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, WriteContext

__all__ = ["MIN_PASSWORD_LENGTH", "User", "create_app", "db"]

HERE = Path(__file__).parent
MIN_PASSWORD_LENGTH = 8


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # Holds an argon2 hash, never the password itself (see the hook in create_app).
    password: Mapped[str | None] = mapped_column(sa.String(255))


def create_app(
    database_url: str = "sqlite:///wakatime_users.db",
    *,
    password_hasher: PasswordHasher | None = None,
) -> Flask:
    """The users API on ``database_url``; a relative SQLite path lands in ``instance/`` here.

    ``password_hasher`` defaults to argon2-cffi's recommended parameters; tests pass cheaper
    ones, as hashing with the defaults takes a tenth of a second by design.
    """
    hasher = password_hasher or PasswordHasher()
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        db.create_all()

    api = Api(app, db)
    # The server makes the ids; the password can be written but is never part of any output.
    users = api.resource(User, read_only=["id"], write_only=["password"])

    @users.validator("password")
    def long_enough(password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters")
        return password

    @users.hook("before_create")
    @users.hook("before_update")
    def hash_password(ctx: WriteContext) -> None:
        password = ctx.data.get("password")
        if password is not None:
            ctx.data["password"] = hasher.hash(password)
        elif ctx.action == "update":
            # A PUT resets every field it leaves out to null, the password too; but no client
            # can read the password back to resend it, so leaving it out must mean "keep it".
            ctx.data.pop("password", None)

    return app


def __getattr__(name: str) -> Flask:
    # `flask --app examples.wakatime_users.app` and WSGI servers look up `app`; building it on
    # that first lookup, not at import, keeps the tests' imports from creating a database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    create_app().run()
