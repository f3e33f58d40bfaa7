"""What each column type means: its filter operators and its storage quirks.

Every stage that reads or writes values asks these modules rather than the column's type alone:

- :mod:`.typeops` which filter operators each type family takes, and what they mean in SQL;
- :mod:`.untyped` columns without a declared type (SQLite): what a write may store and what a
  filter on one means;
- :mod:`.sqlite_time` SQLite date/time columns stored as text in their writers' formats;
- :mod:`.decimals` decimal columns the database keeps as floats (SQLite);
- :mod:`.binary` binary values as base64 text and file parts;
- :mod:`.rowkeys` how a URL's key names one stored row, whatever the key's storage.

The package imports nothing from the pipeline stages; only :mod:`.typeops` reads
:mod:`tablerest.errors` (a 400 naming the parameter).
"""
