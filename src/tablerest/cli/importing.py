"""``tablerest import``: a CSV, JSON or NDJSON file into a table, through the API's validation
(see :mod:`tablerest.importer`), with a progress bar and a report of the rejected rows."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson
import sqlalchemy as sa

from ..errors import TablerestError
from ..reflect.selection import reserved_names
from ..server import database_url
from .options import group, option

if TYPE_CHECKING:
    from ..importer import Report

__all__ = ["import_command"]


#: Where the rows go, and how the file is read.
_import_options = group(
    click.option("--into", "into", required=True, metavar="TABLE",
                 help="The table: its name, or its resource name as serve shows it."),
    option("--database", required=True, metavar="URL_OR_FILE",
           help="The database (a SQLAlchemy URL or a SQLite file)."),
    click.option("--format", "fmt", type=click.Choice(["csv", "json", "ndjson"]), default=None,
                 help="The file's format (default: from its extension)."),
    click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
                 help="Rows per transaction."),
    option("--schema", default=None, help="Database schema (default: the default one)."),
    click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the rejected rows, with where and why, to this NDJSON file."),
)  # fmt: skip


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_import_options
def import_command(
    file: Path,
    into: str,
    database: str,
    fmt: str | None,
    batch_size: int,
    schema: str | None,
    rejects: Path | None,
) -> None:
    """Import FILE (CSV, JSON array or NDJSON) into a table, through the API's validation.

    Rows that fail are reported (line and reason) and the rest imported; the exit status is 1
    when any row was rejected.
    """
    from ..importer import FORMATS

    kind = fmt or FORMATS.get(file.suffix.lower())
    if kind is None:
        raise click.UsageError(f"cannot tell the format of {file.name}: pass --format")
    try:
        engine = sa.create_engine(database_url(database))
    except (FileNotFoundError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise click.ClickException(f"cannot read {database}: {exc}") from exc
    try:
        report = _import(engine, file, into, kind, schema, batch_size)
    finally:
        engine.dispose()
    click.echo(f"imported {report.imported} rows into {into}; rejected {len(report.rejected)}")
    for r in report.rejected[:20]:
        click.echo(f"  {r.where}: {r.reason}")
    if len(report.rejected) > 20:
        click.echo(f"  ... and {len(report.rejected) - 20} more" +
                   ("" if rejects else " (--rejects FILE lists them all)"))  # fmt: skip
    if rejects is not None:
        with rejects.open("wb") as out:
            for r in report.rejected:
                out.write(orjson.dumps({"where": r.where, "reason": r.reason, "row": r.row}))
                out.write(b"\n")
    if report.rejected:
        raise SystemExit(1)


def _import(
    engine: sa.Engine, file: Path, into: str, kind: str, schema: str | None, batch_size: int
) -> Report:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..execute.store import Database
    from ..importer import import_file
    from ..limits import Limits
    from ..operations.context import Config
    from ..operations.registry import Registry
    from ..reflect.tables import reflect_resources

    try:
        # Named as serve names them by default: a table called batch is the resource batch_.
        resources = reflect_resources(engine, schema=schema, reserved=reserved_names())
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database: {exc}") from exc
    # --into takes the table's own name, or the resource's name as serve shows it.
    by_table = {r.table.name: r for r in resources}
    resource = by_table.get(into) or {r.name: r for r in resources}.get(into)
    if resource is None:
        raise click.ClickException(f"no table {into!r}; there are: {', '.join(sorted(by_table))}")
    if "POST" not in resource.methods:
        raise click.ClickException(f"{into} is read-only (a view, or a table without a key)")
    # Every table's operations, as serve registers them; the import creates rows as the
    # trusted caller, to whom no permission applies. The key signs keyset cursors, which an
    # import never hands out.
    registry = Registry(Database(engine), Config(Limits(), secrets.token_bytes(32)))
    for each in resources:
        registry.add(each)
    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed} rows"),
               TimeElapsedColumn())  # fmt: skip
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"importing {file.name} into {into}", total=None)
            return import_file(
                registry.operations[resource.name], registry.caller(None), file,
                kind,  # type: ignore[arg-type]
                batch_size=batch_size, progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    except TablerestError as exc:  # the database went away mid-import
        raise click.ClickException(exc.detail) from exc
