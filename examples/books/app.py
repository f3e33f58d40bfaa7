"""Tutorial 003, "Building a RESTful API with Flask" (a books database), done with tablerest.

The tutorial writes two dispatching views for ``/booksApi`` and ``/booksApi/<id>`` and five
helper functions (list, get, create, update, delete). Here the whole API is one
``api.resource`` call, at ``/api/books``.

One difference matters to a client: the tutorial reads a new book from the *query string*
(``POST /booksApi?title=...``, as Postman's key-value editor builds it). tablerest reads a book
from the body, JSON or form-encoded, and answers a POST with unknown query parameters with a 400
naming the first one, so nothing is silently created empty.

Run it from the repository root (the database goes to ``examples/books/instance/``)::

    flask --app examples.books.app run
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api

__all__ = ["Book", "create_app", "db"]

HERE = Path(__file__).parent


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Book(db.Model):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(250))
    author: Mapped[str] = mapped_column(sa.String(250))
    genre: Mapped[str | None] = mapped_column(sa.String(250))


def create_app(database_url: str = "sqlite:///books.db") -> Flask:
    """The books API on ``database_url``; a relative SQLite path lands in ``instance/`` here."""
    app = Flask(__name__, instance_path=str(HERE / "instance"))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        db.create_all()

    api = Api(app, db)
    # The tutorial's table is "book"; the URL names the collection.
    api.resource(Book, name="books")
    return app


def __getattr__(name: str) -> Flask:
    # `flask --app examples.books.app` and WSGI servers look up `app`; building it on that
    # first lookup, not at import, keeps the tests' imports from creating a database file.
    if name == "app":
        app = globals()["app"] = create_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    create_app().run()
