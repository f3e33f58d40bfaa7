"""Alembic's environment for this project, written by `tablerest db init`.

The models (their metadata) and the database come from tablerest: `tablerest db` passes
`--models` and `--database` (or TABLEREST_MODELS / TABLEREST_DATABASE) through to here.
SQLite gets batch mode, so that column changes work there too.
"""

from alembic import context

from tablerest.migrate import run_migrations

run_migrations(context)
