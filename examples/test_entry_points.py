"""The ways README.md says to start each example actually find a working app.

Importing an example must not build its app (that would create a database file in the
repository); ``flask --app`` and WSGI servers must still find one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from flask.cli import ScriptInfo

EXAMPLES = ["wakatime_users", "restful_users", "students", "books", "form_users"]


@pytest.fixture(params=EXAMPLES)
def example(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    module = importlib.import_module(f"examples.{request.param}.app")
    yield module
    # Drop an `app` a test made, so no later test sees one built at import time.
    vars(module).pop("app", None)


def dispose(module: ModuleType, app: Flask) -> None:
    with app.app_context():
        module.db.engine.dispose()


def test_importing_builds_no_app(example: ModuleType) -> None:
    assert "app" not in vars(example)


def test_flask_cli_loads_the_factory(example: ModuleType, tmp_path: Path) -> None:
    # flask --app "examples.<name>.app:create_app('sqlite:////tmp/x.db')" run
    db_file = tmp_path / "cli.db"
    target = f"{example.__name__}:create_app('sqlite:///{db_file}')"

    app = ScriptInfo(app_import_path=target).load_app()

    assert app.import_name == example.__name__
    assert db_file.exists()
    prefix = getattr(example, "PREFIX", "/api")
    assert app.test_client().get(prefix).status_code == 200
    dispose(example, app)


def test_app_attribute_is_built_on_first_lookup(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `flask --app examples.<name>.app run` and gunicorn do; the factory is pointed at a
    # temporary database so the test leaves nothing in the repository.
    real = example.create_app
    monkeypatch.setattr(example, "create_app", lambda: real(f"sqlite:///{tmp_path / 'lazy.db'}"))

    app = example.app

    assert isinstance(app, Flask)
    assert example.app is app
    assert (tmp_path / "lazy.db").exists()
    dispose(example, app)


def test_other_missing_attributes_still_raise(example: ModuleType) -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = example.no_such_thing


def test_the_default_database_lands_in_the_examples_instance_folder(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HERE is the example's folder; moving it to tmp_path shows where the default goes.
    monkeypatch.setattr(example, "HERE", tmp_path)
    name = example.__name__.split(".")[1]

    app = example.create_app()

    assert (tmp_path / "instance" / f"{name}.db").exists()
    dispose(example, app)
