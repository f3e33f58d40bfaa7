"""The plan stage: intents -> SQLAlchemy statements. Pure: planning needs the declarations
and the intent, never a connection.

- :mod:`.reads`: read intents -> SELECT statements (lists, items, relation routes, includes,
  groups), each described by the shape of the rows it returns.
- :mod:`.writes`: write intents -> INSERT, UPDATE, DELETE and upsert statements, and the
  read-back after a write.
- :mod:`.portable`: SQL constructs that mean the same on SQLite, PostgreSQL and MariaDB.
- :mod:`.cursor`: keyset cursors, the tamper-evident tokens of ``page[after]``.

Nothing is imported here.
"""
