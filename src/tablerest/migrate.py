"""Migrations with Alembic, behind ``tablerest db``.

``tablerest db init`` writes a migrations directory (Alembic's ``env.py`` and revision template,
no ``alembic.ini``: the settings travel as options); ``revision``, ``upgrade``, ``downgrade``,
``current`` and ``history`` are Alembic's own commands on it. What Alembic needs from the
project is found here: the models' ``MetaData`` (from ``--models module[:attr]``) and the
database URL (from ``--database``, a URL or a SQLite file).
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = ["config", "init", "load_metadata", "run_migrations"]

TEMPLATE = Path(__file__).parent / "migration_template"
#: Where ``--models module`` looks when no attribute is named: a MetaData, a declarative base,
#: or Flask-SQLAlchemy's ``db``.
METADATA_NAMES = ("metadata", "Base", "db", "Model")


def init(directory: Path) -> None:
    """A new migrations directory: ``env.py``, ``script.py.mako`` and ``versions/``."""
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} exists and is not empty")
    (directory / "versions").mkdir(parents=True)
    shutil.copyfile(TEMPLATE / "env.py.tmpl", directory / "env.py")
    shutil.copyfile(TEMPLATE / "script.py.mako", directory / "script.py.mako")


def config(directory: Path, database: str, models: str | None) -> Any:
    """An Alembic ``Config`` for ``directory``, carrying the database and the models."""
    from alembic.config import Config

    if not (directory / "env.py").is_file():
        raise ValueError(f"no migrations in {directory}: run `tablerest db init` first")
    cfg = Config()
    cfg.set_main_option("script_location", str(directory))
    # ConfigParser reads % as interpolation: a password may hold one.
    cfg.set_main_option("sqlalchemy.url", database.replace("%", "%%"))
    cfg.attributes["tablerest.models"] = models
    return cfg


def load_metadata(spec: str) -> sa.MetaData:
    """The ``MetaData`` that ``module`` or ``module:attr`` names (see ``METADATA_NAMES``)."""
    module_name, _, attr = spec.partition(":")
    # The project's own modules, run from its directory.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    module = importlib.import_module(module_name)
    names = [attr] if attr else list(METADATA_NAMES)
    for name in names:
        found = getattr(module, name, None)
        metadata = found if isinstance(found, sa.MetaData) else getattr(found, "metadata", None)
        if isinstance(metadata, sa.MetaData):
            return metadata
    wanted = attr or " or ".join(METADATA_NAMES)
    raise ValueError(f"{module_name} has no {wanted} holding a SQLAlchemy MetaData")


def run_migrations(context: Any) -> None:
    """What ``env.py`` does: run the migrations online (offline with ``--sql``)."""
    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url")
    models = cfg.attributes.get("tablerest.models")
    metadata = load_metadata(models) if models else None
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "include_name": _not_ours,
        "compare_type": True,
        # SQLite cannot ALTER most things: Alembic copies the table instead ("batch" mode).
        "render_as_batch": sa.make_url(url).get_backend_name() == "sqlite",
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def _not_ours(name: str | None, type_: str, _parents: Any) -> bool:
    """Autogenerate leaves tablerest's own tables alone (sign-in sessions, the change feed's
    outbox): they are in no model, and a migration must not drop them."""
    from .execute.owntables import OWN_TABLES

    return not (type_ == "table" and name in OWN_TABLES)
