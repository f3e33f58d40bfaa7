"""Flask-SQLAlchemy integration: Api(app, db) and api.init_app(app), the scoped session in hooks."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Conflict, WriteContext
from tests.helpers import problem


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Note(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(200))


class AuditLog(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    what: Mapped[str] = mapped_column(sa.String(200))


def _app(tmp_path: Path) -> Flask:
    app = Flask("fsa")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'fsa.sqlite3'}"
    db.init_app(app)
    with app.app_context():
        db.create_all()
    return app


def test_api_with_app_and_db(tmp_path: Path) -> None:
    app = _app(tmp_path)
    api = Api(app, db)
    api.resource(Note)
    client = app.test_client()
    resp = client.post("/api/notes", json={"text": "hello"})
    assert resp.status_code == 201
    assert client.get(resp.headers["Location"]).get_json() == {"id": 1, "text": "hello"}
    with app.app_context():
        assert db.session.scalars(sa.select(Note.text)).all() == ["hello"]


def test_init_app_later_and_hooks_share_db_session(tmp_path: Path) -> None:
    api = Api()
    notes = api.resource(Note)

    @notes.hook("after_create")
    def audit(ctx: WriteContext) -> None:
        assert ctx.session is db.session()
        db.session.add(AuditLog(what=f"created note {ctx.row and ctx.row['id']}"))
        if ctx.data["text"] == "refuse":
            raise Conflict("refused")

    app = _app(tmp_path)
    api.init_app(app)  # finds the Flask-SQLAlchemy extension on the app
    client = app.test_client()
    assert client.post("/api/notes", json={"text": "kept"}).status_code == 201
    problem(client.post("/api/notes", json={"text": "refuse"}), 409)
    with app.app_context():
        assert db.session.scalars(sa.select(AuditLog.what)).all() == ["created note 1"]
        assert db.session.scalars(sa.select(Note.text)).all() == ["kept"]
