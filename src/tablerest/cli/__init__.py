"""The ``tablerest`` command (``tablerest = tablerest.cli:main``): the group, and its commands
by concern.

- :mod:`.serve`: ``serve`` and ``openapi``, a database's API served or described;
- :mod:`.options`: the options that shape that API, shared by both;
- :mod:`.init`: ``init``, a new project;
- :mod:`.importing`: ``import``, a file into a table through the API's validation;
- :mod:`.db`: ``db ...``, migrations with Alembic.
"""

from __future__ import annotations

import importlib

import click

from .serve import openapi_command, serve_command

__all__ = ["main"]


class _Commands(click.Group):
    """The commands, those but ``serve`` and ``openapi`` imported when run or listed: serve's
    workers are forked from its process, and would each hold them."""

    #: name -> (module, attribute)
    LAZY = {
        "init": (".init", "init_command"),
        "import": (".importing", "import_command"),
        "db": (".db", "db_group"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, name = self.LAZY[cmd_name]
            self.add_command(getattr(importlib.import_module(module, __name__), name))
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
@click.version_option(package_name="tablerest")
def main() -> None:
    """tablerest: a REST JSON API over a relational database."""


main.add_command(serve_command)
main.add_command(openapi_command)
