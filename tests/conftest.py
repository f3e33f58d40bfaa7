"""Shared fixtures: a fresh database per test, the fixture schema, a Flask app with tablerest.

``backend`` is ``sqlite`` unless a test module parametrizes it (indirectly) over
``tests.databases.BACKENDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tablerest import Api
from tests import models
from tests.databases import fresh_database

AppFactory = Callable[..., Flask]


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    models.Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def default_resources(api: Api, overrides: dict[str, dict[str, Any]]) -> None:
    """The fixture schema's resources, with per-resource option overrides."""
    options: dict[type[Any], dict[str, Any]] = {
        models.Author: {},
        models.Book: {"hidden": ["secret_note"], "read_only": ["created_at"]},
        models.Kitchen: {},
        models.Gadget: {},
        models.Country: {},
        models.Enrollment: {},
        models.Account: {"write_only": ["password"], "read_only": ["is_admin"]},
        models.Person: {},
    }
    for model, opts in options.items():
        name = model.__tablename__
        if overrides.get(name) is None and name in overrides:
            continue  # explicitly left out
        api.resource(model, **{**opts, **overrides.get(name, {})})


@pytest.fixture
def make_app(engine: sa.Engine) -> AppFactory:
    """Build an app over the fixture schema: ``make_app(books={"page_size": 5}, api={...})``."""

    def build(api: dict[str, Any] | None = None, **overrides: dict[str, Any]) -> Flask:
        app = Flask("tests")
        app.config["TESTING"] = True
        tr = Api(app, engine, **(api or {}))
        default_resources(tr, overrides)
        app.extensions["tablerest_api"] = tr
        return app

    return build


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(params=["flask", "lean"])
def path(request: pytest.FixtureRequest) -> str:
    """How a test app's requests reach the operations: Flask's routing, or tablerest's lean
    path (``tablerest.mount.lean.install(app)``); a test taking it runs on both."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``lean_on_sqlite`` run the lean request path on SQLite alone, the Flask
    path on every backend: the two paths differ in how a request reaches the operations,
    never in the SQL those run, so each backend is checked once and each path once."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        lean_elsewhere = params.get("path") == "lean" and params.get("backend") != "sqlite"
        if lean_elsewhere and item.get_closest_marker("lean_on_sqlite") is not None:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
