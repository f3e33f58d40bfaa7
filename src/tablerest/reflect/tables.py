"""An existing database -> resources, by reflection.

Every table with a primary key becomes a full CRUD resource; views and tables without a primary
key become read-only (list only: with no key there is no item URL, unless one is given). Table
and column names are used as they are (spaces, upper case, reserved words): SQLAlchemy quotes
them, and resource names are made URL-safe (``Order Items`` -> ``Order_Items``).

Columns whose names say they hold a secret (:func:`looks_secret`: ``password``,
``password_hash``, ``api_key``, ``access_token``, ``client_secret``...) can be left out of
every resource (``hide_secrets``): a database made for another application rarely hides its
password hashes by itself.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..columns.decimals import shortest_decimals
from ..columns.sqlite_time import adopt_formats
from ..columns.untyped import mark_untyped
from ..declaring import ALL_METHODS
from ..execute.owntables import OWN_TABLES
from ..fields import needs_value_on_insert
from ..names import Aliases
from ..resource import Resource
from .partitions import share_partition_keys
from .reflecttypes import correct_types
from .selection import Selection, resource_names
from .unreadable import unreadable_views

__all__ = ["looks_secret", "reflect_resources", "secret_columns"]

#: Words that make a column secret wherever they stand in its name (``password``,
#: ``hashed_password``, ``password_changed_at``: a false positive costs a ``--show``, a
#: miss leaks hashes).
_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "secrets", "apikey"})
#: Words that make it secret as the last word of its name (``password_hash``, ``token``,
#: ``reset_token``, ``salt``), but not elsewhere (``token_count``, ``hash_algorithm``).
_SECRET_ENDINGS = frozenset({"hash", "token", "salt"})
#: Two-word secrets: ``api_key``, ``private_key``, ``access_key``, ``secret_key``.
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def looks_secret(name: str) -> bool:
    """Whether a column's name says it holds a secret. The name is cut into words (at
    ``_``, ``-``, spaces, digits and camelCase: ``passwordHash`` is ``password hash``); it is
    secret when a word is ``password``, ``passwd``, ``passphrase``, ``secret(s)`` or
    ``apikey``, when the last word is ``hash``, ``token`` or ``salt``, or when two words in a
    row are ``api key``, ``private key`` or ``access key``. Words, not substrings:
    ``secretary`` and ``tokenizer`` are not secrets."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words:
        return False
    if _SECRET_WORDS.intersection(words) or words[-1] in _SECRET_ENDINGS:
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def secret_columns(table: sa.Table) -> list[str]:
    """The columns of ``table`` whose names say they hold secrets (:func:`looks_secret`),
    except primary-key columns: a row's key is its URL, it cannot be hidden."""
    return [c.name for c in table.columns if looks_secret(c.name) and not c.primary_key]


def reflect_resources(
    engine: sa.Engine,
    *,
    schema: str | None = None,
    read_only: bool = False,
    hidden: Mapping[str, Iterable[str]] | None = None,
    searchable: Mapping[str, Iterable[str]] | None = None,
    page_size: int = 20,
    max_page_size: int = 100,
    keys: Mapping[str, Sequence[str]] | None = None,
    lookups: Mapping[str, Sequence[str]] | None = None,
    value_lists: Mapping[str, Mapping[str, str]] | None = None,
    get_or_create: Mapping[str, Sequence[str]] | None = None,
    shown: Mapping[str, Iterable[str]] | None = None,
    hide_secrets: bool = False,
    csv_formula_guard: bool = True,
    format: str = "json",
    aliases: Aliases | None = None,
    selection: Selection | None = None,
    reserved: Collection[str] = (),
    skipped: dict[str, str] | None = None,
) -> list[Resource]:
    """Reflect every table and view of ``engine`` (one schema) into resources.

    ``hidden`` maps a table name to columns that must never be exposed (a password hash);
    ``hide_secrets`` hides the columns :func:`secret_columns` finds too, except those that
    ``shown`` (table name -> columns) names; a column both hidden and shown is an error.
    ``searchable`` maps a table name to the text columns that ``q=`` searches; ``keys`` maps a
    view or a table without a primary key to the columns that identify its rows, which gives
    it item routes (``GET /api/view/<key>``; it stays read-only). ``lookups`` maps a table
    name to the unique columns that name its rows in URLs instead of its primary key
    (``--lookup``; see ``lookup=`` on :class:`~tablerest.resource.Resource`). ``value_lists``
    maps a table name to its value lists (``{"articles": {"tag_list": "tags.name"}}``,
    ``--value-list``) and ``get_or_create`` to the many-to-many relations whose writes create
    missing rows (``--get-or-create``), as those options of a resource do.

    ``selection`` chooses the tables served and their names (see
    :class:`~tablerest.reflect.selection.Selection`); tables left out are not reflected (unless
    a served table's foreign key points to one), and relations to them lead nowhere.
    ``reserved``: the paths the API itself serves under its prefix, which resources never
    take (:func:`~tablerest.reflect.selection.resource_names`). ``format``: each resource's
    representation when a client asks for none (``json`` or ``jsonapi``). ``aliases``: the
    names clients use for columns and relations (``serve --camel-case``).

    A view the database cannot read (one over a dropped table, see
    :mod:`~tablerest.reflect.unreadable`) is left out, so that the rest is served: ``skipped``, when
    given, is filled with each such view's name and the database's reason.
    """
    selection = selection or Selection()
    metadata = sa.MetaData()
    # The change feed's outbox tables and the sign-in sessions are tablerest's own.
    own = OWN_TABLES
    seen: set[str] = set()
    views = set(sa.inspect(engine).get_view_names(schema=schema))
    broken = unreadable_views(engine, sorted(v for v in views if selection.keeps(v)), schema)
    if skipped is not None:
        skipped.update(broken)

    def wanted(name: str, _metadata: sa.MetaData) -> bool:
        if name in own:
            return False
        seen.add(name)
        return selection.keeps(name) and name not in broken

    with warnings.catch_warnings():
        # A type SQLAlchemy does not know (PostgreSQL's point, xml...) is served as the text
        # the driver gives, with the null filter only: nothing for a user to act on.
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        metadata.reflect(engine, schema=schema, views=True, only=wanted)
    selection.check(seen)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            for table in metadata.tables.values():
                # Filters read untyped values as the JSON shows them (see untyped).
                mark_untyped(conn, table)
                _inline_uniques(conn, table)
                shortest_decimals(table)  # decimals are floats there: no invented digits
            # Date-times stored as text in other programs' formats (see sqlite_time).
            adopt_formats(conn, list(metadata.tables.values()))
    share_partition_keys(engine, metadata, schema)
    correct_types(engine, metadata, schema)
    # SQLite stores every INTEGER in 64 bits, whatever the declared type says.
    integer_bits = 64 if engine.dialect.name == "sqlite" else None
    hidden = hidden or {}
    searchable = dict(searchable or {})
    # Options may name a table left out: it exists, it is just not served.
    names = seen
    unknown = sorted(set(searchable) - names)
    if unknown:
        raise ValueError(f"searchable names unknown tables: {unknown}")
    show = {t: set(cols) for t, cols in (shown or {}).items()}
    lookups = dict(lookups or {})
    listed = dict(value_lists or {})
    creating = dict(get_or_create or {})
    for option, given in (
        ("hidden", hidden),
        ("shown", show),
        ("lookup", lookups),
        ("value_lists", listed),
        ("get_or_create", creating),
    ):
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(f"{option} names unknown tables: {unknown}")
    keyed = _give_keys(metadata, dict(keys or {}), seen)
    # Tables a foreign key points to are read too: only the chosen ones are served.
    served = [
        t
        for t in metadata.tables.values()
        if t.schema == schema and t.name in seen and selection.keeps(t.name)
    ]
    named = resource_names([t.name for t in served], selection.rename, reserved)
    resources: list[Resource] = []
    for table in sorted(served, key=lambda t: t.name):
        name = named[table.name]
        writable = (
            not read_only
            and table.name not in views
            and table.name not in keyed
            and bool(table.primary_key.columns)
        )
        concealed = _hidden(table, hidden, show, hide_secrets)
        methods: tuple[str, ...] | None = None if writable else ("GET",)
        # (An unknown name is the Resource's error to report, below.)
        needed = [c for c in concealed if c in table.c and needs_value_on_insert(table.c[c])]
        if writable and needed:
            # A row needs a value no request can send: creating one could only fail.
            methods = tuple(m for m in ALL_METHODS if m != "POST")
        options: dict[str, Any] = {
            "name": name,
            "methods": methods,
            "hidden": concealed,
            "searchable": list(searchable.get(table.name, ())),
            "integer_bits": integer_bits,
            "page_size": page_size,
            "max_page_size": max_page_size,
            "csv_formula_guard": csv_formula_guard,
            "format": format,
            "aliases": aliases,
        }
        if table.name in lookups:
            options["lookup"] = lookups[table.name]
        if table.name in listed:
            options["value_lists"] = listed[table.name]
        if table.name in creating:
            options["get_or_create"] = creating[table.name]
        resources.append(Resource(table, **options))
    return resources


def _inline_uniques(conn: sa.Connection, table: sa.Table) -> None:
    """Declare a SQLite table's unnamed ``UNIQUE`` constraints (``slug TEXT UNIQUE``), which
    reflection leaves out: SQLite keeps them as automatic indexes only. ``lookup=`` and
    ``on_conflict=`` need to know them."""
    quote = conn.dialect.identifier_preparer.quote
    known = {frozenset(c.name for c in u.columns) for u in table.constraints
             if isinstance(u, sa.UniqueConstraint)}  # fmt: skip
    for index in conn.exec_driver_sql(f"PRAGMA index_list({quote(table.name)})").mappings():
        if not index["unique"] or index["origin"] != "u":
            continue
        info = conn.exec_driver_sql(f"PRAGMA index_info({quote(index['name'])})")
        names = [r["name"] for r in info.mappings()]
        if names and all(n in table.c for n in names) and frozenset(names) not in known:
            table.append_constraint(sa.UniqueConstraint(*(table.c[n] for n in names)))
            known.add(frozenset(names))


def _hidden(
    table: sa.Table,
    hidden: Mapping[str, Iterable[str]],
    shown: Mapping[str, set[str]],
    hide_secrets: bool,
) -> list[str]:
    """The columns of ``table`` to leave out: those hidden, and its secrets unless shown."""
    explicit = list(hidden.get(table.name, ()))
    show = shown.get(table.name, set())
    missing = sorted(show - set(table.c.keys()))
    if missing:
        raise ValueError(f"shown names unknown columns of {table.name}: {missing}")
    both = sorted(show.intersection(explicit))
    if both:
        raise ValueError(f"{table.name}: {both} both hidden and shown")
    found = secret_columns(table) if hide_secrets else []
    return explicit + [c for c in found if c not in explicit and c not in show]


def _give_keys(
    metadata: sa.MetaData, keys: dict[str, Sequence[str]], names: Collection[str]
) -> set[str]:
    """Declare the given key columns of views and keyless tables (in memory: no DDL)."""
    by_name = {t.name: t for t in metadata.tables.values()}
    for name, columns in keys.items():
        table = by_name.get(name)
        if table is None and name in names:
            continue  # left out by the selection
        if table is None:
            raise ValueError(f"--key names {name!r}, which is not a table or view")
        if table.primary_key.columns:
            raise ValueError(f"--key: {name!r} has a primary key already")
        missing = [c for c in columns if c not in table.c]
        if missing or not columns:
            raise ValueError(f"--key {name}: no such columns {missing or '(none given)'}")
        table.append_constraint(sa.PrimaryKeyConstraint(*(table.c[c] for c in columns)))
    return set(keys)
