"""Tutorial 004, "Using RESTful API in Flask" (Flask-Restful, form posts), done with tablerest.

The tutorial's ``UserApi`` takes the name from the URL and the age from a form field::

    curl -i -d "age=14" -X POST http://127.0.0.1:8000/api/users/john

tablerest creates on the collection and reads every field from the body, so the same user is::

    curl -i -d "name=john&age=14" -X POST http://127.0.0.1:5000/api/users

and afterwards ``sqlite3 examples/form_users/instance/form_users.db "select * from user"``
prints ``1|john|14``, as in the tutorial. Users are read back by id (``/api/users/1``): the
table keeps the tutorial's integer key, and tablerest has no filtering by name yet.

Run it from the repository root (the database goes to ``examples/form_users/instance/``)::

    flask --app examples.form_users.app run
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api

__all__ = ["User", "create_app", "db"]

HERE = Path(__file__).parent


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    # Flask-SQLAlchemy names the table "user", which the tutorial's sqlite3 query reads.
    id: Mapped[int] = mapped_column(primary_key=True)
    # Required: the tutorial's constructor is User(name, age=None).
    name: Mapped[str] = mapped_column(sa.String(80))
    age: Mapped[int | None]


def create_app(database_url: str = "sqlite:///form_users.db") -> Flask:
    """The users API on ``database_url``; a relative SQLite path lands in ``instance/`` here."""
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        db.create_all()

    api = Api(app, db)
    users = api.resource(User, name="users")

    @users.validator("age")
    def plausible_age(age: int) -> int:
        if not 0 <= age <= 150:
            raise ValueError("must be between 0 and 150")
        return age

    return app


def __getattr__(name: str) -> Flask:
    # `flask --app examples.form_users.app` and WSGI servers look up `app`; building it on that
    # first lookup, not at import, keeps the tests' imports from creating a database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    create_app().run()
