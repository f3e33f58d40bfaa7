"""``tablerest init``: a new project, scaffolded (see :mod:`tablerest.scaffold`)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

__all__ = ["init_command"]


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Create a new project in DIRECTORY: app, models, settings, migrations, tests, Makefile."""
    from ..scaffold import create_project

    try:
        written = create_project(directory)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {directory}/ ({len(written)} files)")
    cd = shlex.quote(str(directory))  # the lines are to be pasted into a shell
    click.echo(f"  cd {cd} && make serve     # http://127.0.0.1:8000/api")
    click.echo(f"  cd {cd} && make test")
