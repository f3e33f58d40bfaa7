"""The execute stage: statements run on the database, and database errors -> domain errors.

- :mod:`.store`: connections, one transaction per write, read replicas, and the response
  for a failed statement.
- :mod:`.prepared`: statements compiled once per dialect and run on the DBAPI cursor.
- :mod:`.dberrors`: the one table from database errors to what they mean to a client;
  :mod:`.checks`: which field a failed CHECK constraint is about.
- :mod:`.owntables`: the tables tablerest keeps in the served database for itself (the
  change feed's outbox, login sessions), created on first use.

Nothing is imported here.
"""
