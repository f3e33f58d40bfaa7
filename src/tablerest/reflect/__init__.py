"""Database-first: an existing database -> resources, by reflection.

- :mod:`.tables` reflects the chosen tables and views and declares one resource for each
  (:func:`reflect_resources`), leaving secret-looking columns out (:func:`looks_secret`,
  :func:`secret_columns`);
- :mod:`.selection` says which tables are served and under which resource names;
- :mod:`.unreadable` finds views the database keeps but cannot read, so the rest is served;
- :mod:`.reflecttypes` corrects column types reflection reports wrongly or not at all;
- :mod:`.partitions` gives a partitioned table the foreign keys all its partitions share.

What a column type means once reflected (operators, storage quirks) is :mod:`tablerest.columns`.

Nothing is imported here: code-first apps import :mod:`.selection` (the API's own route names)
and must not load reflection with it.
"""
