"""The Conduit example's fixtures: a fresh database per test, on each backend a module asks
for (``backend``), and the app on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.conduit.app import create_app
from examples.conduit.models import db
from tests.databases import BACKENDS, fresh_database

SECRET = "conduit-tests-" + "k" * 32


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(backend: str, tmp_path: Path) -> Iterator[Flask]:
    with fresh_database(backend, tmp_path) as url:
        app = create_app(url, secret_key=SECRET)
        app.config["TESTING"] = True
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
