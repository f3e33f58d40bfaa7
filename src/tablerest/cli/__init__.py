"""The ``tablerest`` command (``tablerest = tablerest.cli:main``): the group, and its commands
by concern.

- :mod:`.serve`: ``serve`` and ``openapi``, a database's API served or described;
- :mod:`.options`: the options that shape that API, shared by both;
- :mod:`.init`: ``init``, a new project;
- :mod:`.importing`: ``import``, a file into a table through the API's validation;
- :mod:`.db`: ``db ...``, migrations with Alembic.
"""

from __future__ import annotations

import click

from .db import db_group
from .importing import import_command
from .init import init_command
from .serve import openapi_command, serve_command

__all__ = ["main"]


@click.group()
@click.version_option(package_name="tablerest")
def main() -> None:
    """tablerest: a REST JSON API over a relational database."""


main.add_command(serve_command)
main.add_command(openapi_command)
main.add_command(init_command)
main.add_command(import_command)
main.add_command(db_group)
