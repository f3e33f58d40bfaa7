"""``datetime_format=``: timestamps written in UTC with ``Z`` (``utc``, ``utc-ms``) instead of
as read, in rows, lists, write answers and json_object members, on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, json_object
from tests.databases import BACKENDS


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Naive: SQLite and MariaDB keep what was stored, taken as UTC.
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(), default=None)
    day: Mapped[dt.date | None] = mapped_column()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))


AT = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    Base.metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(sa.insert(Event), [{"at": AT, "day": dt.date(2024, 5, 6)}])
        conn.execute(sa.insert(Note), [{"event_id": 1}])
    yield eng
    eng.dispose()


def _client(engine: sa.Engine, **api: str) -> FlaskClient:
    app = Flask("times")
    rest = Api(app, engine, **api)
    rest.resource(Event)
    at = sa.select(json_object(at=Event.at)).where(Event.id == Note.event_id).scalar_subquery()
    rest.resource(Note, computed={"happened": at}, datetime_format="utc")
    return app.test_client()


def _stored(backend: str, fraction: str) -> str:
    """The test's timestamp as the backend keeps it: MariaDB's DATETIME has no fraction."""
    return "2024-05-06T07:08:09" + ("" if backend == "mariadb" else fraction)


def test_utc_with_milliseconds(engine: sa.Engine, backend: str) -> None:
    client = _client(engine, datetime_format="utc-ms")
    row = client.get("/api/events/1").get_json()
    # Always three digits: MariaDB's DATETIME keeps no fraction, .000.
    millis = ".000" if backend == "mariadb" else ".123"
    assert row == {"id": 1, "at": f"2024-05-06T07:08:09{millis}Z", "day": "2024-05-06"}
    listed = client.get("/api/events").get_json()["data"][0]["at"]
    assert listed == row["at"]
    made = client.post("/api/events", json={"at": "2024-01-02T03:04:05.5"})
    assert made.status_code == 201, made.get_data(as_text=True)
    fraction = ".000" if backend == "mariadb" else ".500"
    assert made.get_json()["at"] == f"2024-01-02T03:04:05{fraction}Z"
    # A resource of its own format: microseconds, in a json_object's member too.
    note = client.get("/api/notes/1").get_json()
    assert note["happened"] == {"at": _stored(backend, ".123456") + "Z"}


def test_iso_by_default(engine: sa.Engine, backend: str) -> None:
    row = _client(engine).get("/api/events/1").get_json()
    assert row["at"] == _stored(backend, ".123456")


def test_unknown_formats_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="datetime_format"):
        Api(Flask("bad"), engine).resource(Event, datetime_format="rfc822")
