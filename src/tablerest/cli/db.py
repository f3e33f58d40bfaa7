"""``tablerest db``: migrations with Alembic (init, revision, upgrade, downgrade, current,
history), the database and models named by options (see :mod:`tablerest.migrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click
import sqlalchemy as sa

from .options import group, option

__all__ = ["db_group"]


@click.group("db")
def db_group() -> None:
    """Migrations (Alembic): init, revision, upgrade, downgrade, current, history."""


_directory = option("--dir", "directory", var="MIGRATIONS", default="migrations",
                    show_default=True, type=click.Path(file_okay=False, path_type=Path),
                    help="The migrations directory.")  # fmt: skip
#: Where the migrations, the database and the models are: on every `db` command.
_db_options = group(
    _directory,
    option("--database", default=None, metavar="URL_OR_FILE",
           help="The database (a SQLAlchemy URL or a SQLite file)."),
    option("--models", default=None, metavar="MODULE[:ATTR]",
           help="Where the models are: a module with metadata, Base or db."),
)  # fmt: skip


def _alembic(
    directory: Path, database: str | None, models: str | None, *, needs_models: bool = False
) -> Any:
    from .. import migrate

    if not database:
        raise click.UsageError("say which database: --database URL_OR_FILE or TABLEREST_DATABASE")
    if needs_models and not models:
        raise click.UsageError("say where the models are: --models MODULE or TABLEREST_MODELS")
    # A SQLite file that does not exist yet is fine: the first upgrade creates it.
    url = database if "://" in database else f"sqlite:///{Path(database).resolve()}"
    _check_sqlite_directory(url)
    try:
        if models:
            migrate.load_metadata(models)  # a wrong name fails here, clearly
        return migrate.config(directory, url, models)
    except (ValueError, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc


def _check_sqlite_directory(url: str) -> None:
    """A SQLite file's directory must exist: SQLite creates the file, not its directories,
    and says only "unable to open database file". The directory is not made here: a path
    with a typo would quietly put the database somewhere nobody looks."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return  # Alembic reports a malformed URL itself
    name = parsed.database
    if not parsed.drivername.startswith("sqlite") or not name or name == ":memory:":
        return
    if name.startswith("file:"):
        return  # a URI filename: SQLite reads it
    folder = Path(name).parent
    if not folder.is_dir():
        raise click.ClickException(
            f"cannot open the SQLite database {name}: the directory {folder} does not exist "
            "(create it first: the first upgrade creates the file, not its directories)"
        )


@db_group.command("init")
@_directory
def db_init(directory: Path) -> None:
    """Create the migrations directory."""
    from .. import migrate

    try:
        migrate.init(directory)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {directory}/ (env.py, script.py.mako, versions/)")


@db_group.command()
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database.")
@_db_options
def revision(message: str, autogenerate: bool, **where: Any) -> None:
    """Write a new revision (with --autogenerate: the differences found)."""
    from alembic import command

    cfg = _alembic(**where, needs_models=autogenerate)
    command.revision(cfg, message=message, autogenerate=autogenerate)


#: What upgrade and downgrade take beside the revision.
_move_options = group(
    click.option("--sql", is_flag=True, help="Print the SQL instead of running it."), _db_options
)


@db_group.command()
@click.argument("revision_id", default="head", metavar="[REVISION]")
@_move_options
def upgrade(revision_id: str, sql: bool, **where: Any) -> None:
    """Upgrade the database to REVISION (default: the latest)."""
    _move("upgrade", revision_id, sql, where)


@db_group.command()
@click.argument("revision_id", default="-1", metavar="[REVISION]")
@_move_options
def downgrade(revision_id: str, sql: bool, **where: Any) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    _move("downgrade", revision_id, sql, where)


def _move(
    way: Literal["upgrade", "downgrade"], revision_id: str, sql: bool, where: dict[str, Any]
) -> None:
    """Alembic's ``upgrade`` or ``downgrade`` to ``revision_id`` (or its SQL, printed)."""
    from alembic import command

    cfg = _alembic(**where)
    step = command.upgrade if way == "upgrade" else command.downgrade
    step(cfg, revision_id, sql=sql)
    if not sql:
        command.current(cfg)  # where the database is now


@db_group.command()
@_db_options
def current(**where: Any) -> None:
    """Show the database's revision."""
    from alembic import command

    command.current(_alembic(**where))


@db_group.command()
@_db_options
def history(**where: Any) -> None:
    """List the revisions."""
    from alembic import command

    command.history(_alembic(**where))
