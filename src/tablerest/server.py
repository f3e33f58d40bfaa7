"""Serving a database: the app factory behind ``tablerest serve``, and gunicorn to run it.

``create_app`` is usable on its own, for instance by an external WSGI server::

    gunicorn 'tablerest.server:create_app("sqlite:///library.db")'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from .api import Api
from .reflect import reflect_resources

__all__ = ["create_app", "database_url", "run"]


def database_url(target: str) -> str:
    """A SQLAlchemy URL for a URL or a path to an existing SQLite file."""
    if "://" in target:
        return target
    path = Path(target)
    if not path.is_file():
        raise FileNotFoundError(f"no database file at {target!r} (give a file or a URL)")
    return f"sqlite:///{path.resolve()}"


def create_app(
    target: str,
    *,
    read_only: bool = False,
    prefix: str = "/api",
    hidden: Mapping[str, Iterable[str]] | None = None,
    searchable: Mapping[str, Iterable[str]] | None = None,
    schema: str | None = None,
    engine_options: Mapping[str, Any] | None = None,
    secret_key: str | None = None,
) -> Flask:
    """A Flask app serving every table of the database at ``target`` (URL or SQLite path).

    ``engine_options`` go to ``sqlalchemy.create_engine`` (pool settings, ``connect_args``).
    There is no ``pool_pre_ping``: it would cost every request a round trip to the database.
    A connection found dead is discarded with the rest of the pool instead (the request gets a
    503 with ``Retry-After``), so service resumes once the database is back.
    """
    engine = sa.create_engine(database_url(target), **(engine_options or {}))
    app = Flask("tablerest")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The key signs page cursors only: given to Flask as SECRET_KEY it would also switch on
    # cookie sessions, which cost every request a serializer and which this app never uses.
    api = Api(app, engine, prefix=prefix, secret_key=secret_key)
    for resource in reflect_resources(
        engine, schema=schema, read_only=read_only, hidden=hidden, searchable=searchable
    ):
        api.add(resource)
    return app


def run(
    app_factory: Any,
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 4,
    access_log: bool = True,
) -> None:
    """Serve with gunicorn: ``workers`` processes of ``threads`` threads, each building its app."""
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", "-" if access_log else None)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("proc_name", "tablerest")

        def load(self) -> Any:
            return app_factory()

    os.environ.setdefault("SERVER_SOFTWARE", "tablerest")
    _Server().run()
