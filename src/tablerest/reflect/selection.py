"""Choosing what a database-first API serves: which tables, and under which resource names.

``tablerest serve`` (and ``tablerest openapi``) take ``--tables`` / ``--exclude`` (table names
or shell-style globs), ``--rename TABLE=NAME``, ``--no-batch``, ``--no-docs`` and ``--format``;
a policy file's ``[api]`` section says the same. :class:`Selection` holds them,
:func:`resource_names` turns the chosen tables' names into resource names that never take a
path the API itself serves (``batch``, ``docs``, ``openapi.json``, ``auth``...): such a table
is served with a ``_`` after its name (``/api/batch_``) unless renamed, so that any database
can be served.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from ..names import slug

__all__ = [
    "AUTH_PATH",
    "BATCH_PATH",
    "RESERVED_NAMES",
    "Selection",
    "reserved_names",
    "resource_names",
]

_GLOB = re.compile(r"[*?\[]")
#: Where ``Api(auth=...)`` serves its token routes, under the prefix.
AUTH_PATH = "auth"
#: Where the API serves atomic batches (``Api(batch=True)``).
BATCH_PATH = "batch"
#: Paths under the prefix that the API itself serves with ``docs=True``.
RESERVED_NAMES = frozenset({"openapi.json", "docs", "changes.html"})


def reserved_names(*, docs: bool = True, batch: bool = True, auth: bool = False) -> frozenset[str]:
    """The first path segments under the prefix that the API itself serves, which no resource
    may take: the OpenAPI document, docs page and change-feed page (``docs``), ``batch``, and
    ``auth`` (the token routes). ``changes.html`` is the live changes page, served with any
    change feed: it stays reserved without the docs too."""
    names = {*RESERVED_NAMES} if docs else {"changes.html"}
    if batch:
        names.add(BATCH_PATH)
    if auth:
        names.add(AUTH_PATH)
    return frozenset(names)


def _patterns(values: Iterable[str]) -> tuple[str, ...]:
    """Names and globs given repeatedly and/or comma-separated, as one tuple."""
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


@dataclass(frozen=True)
class Selection:
    """Which tables go online, under which names, beside which of the API's own endpoints.

    ``tables``: names or globs (``fnmatch``, case-sensitive) of the tables and views to serve
    (none: all); ``exclude``: those never to serve, even if ``tables`` matches them;
    ``rename``: table name -> resource name; ``batch`` / ``docs``: whether the API serves
    ``POST /batch`` and its OpenAPI document and docs page (None: as by default, yes);
    ``format``: the representation of a client that asks for none (``json`` or ``jsonapi``;
    None: as by default, ``json``).
    """

    tables: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    batch: bool | None = None
    docs: bool | None = None
    format: str | None = None

    def __post_init__(self) -> None:
        if self.format not in (None, "json", "jsonapi"):
            raise ValueError(f"format is 'json' or 'jsonapi', not {self.format!r}")

    @classmethod
    def of(
        cls,
        tables: Iterable[str] = (),
        exclude: Iterable[str] = (),
        rename: Mapping[str, str] | None = None,
        batch: bool | None = None,
        docs: bool | None = None,
        format: str | None = None,
    ) -> Selection:
        """A selection from lists that may hold comma-separated items (``"a,b*"``)."""
        return cls(_patterns(tables), _patterns(exclude), dict(rename or {}), batch, docs, format)

    def over(self, base: Selection) -> Selection:
        """This selection given over ``base`` (command-line flags over a policy file): its
        ``tables`` replace the base's when given; exclusions add up; renames merge, this
        one's winning; ``batch`` / ``docs`` / ``format`` win when said."""
        return Selection(
            self.tables or base.tables,
            (*base.exclude, *(p for p in self.exclude if p not in base.exclude)),
            {**base.rename, **self.rename},
            base.batch if self.batch is None else self.batch,
            base.docs if self.docs is None else self.docs,
            base.format if self.format is None else self.format,
        )

    def keeps(self, name: str) -> bool:
        """Whether the table or view ``name`` is served."""
        return (not self.tables or _matches(name, self.tables)) and not _matches(name, self.exclude)

    def check(self, names: Collection[str]) -> None:
        """``ValueError`` when a plain name (no glob) in ``tables``, ``exclude`` or
        ``rename`` is none of ``names`` (every table and view): a misspelt name would
        otherwise serve, or hide, silently. A glob may match nothing."""
        for option, given in (("tables", self.tables), ("exclude", self.exclude)):
            missing = [p for p in given if not _GLOB.search(p) and p not in names]
            if missing:
                raise ValueError(f"{option} names no table or view: {', '.join(missing)}")
        missing = [t for t in self.rename if t not in names]
        if missing:
            raise ValueError(f"rename names no table or view: {', '.join(missing)}")


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def resource_names(
    tables: Iterable[str], rename: Mapping[str, str], reserved: Collection[str]
) -> dict[str, str]:
    """Table name -> resource name for ``tables``, unique (case-insensitively: some
    databases and file systems fold case) and none of ``reserved`` (the paths the API itself
    serves under its prefix).

    A renamed table takes its new name, which must be URL-safe (:func:`slug` leaves it as it
    is), free and not reserved (``ValueError`` otherwise). Any other table's name is
    :func:`slug` of its name, with ``_`` added when that is reserved (``batch`` ->
    ``batch_``) and ``_2``, ``_3``... when it is taken.
    """
    tables = list(tables)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for table, name in rename.items():
        if table not in tables:
            continue  # an excluded table
        why = (
            "is not URL-safe (letters, digits, _ . ~ -)"
            if slug(name) != name
            else "is a path the API itself serves"
            if name in reserved
            else "is taken by another rename"
            if name.lower() in taken
            else None
        )
        if why is not None:
            raise ValueError(f"rename {table}={name}: {name!r} {why}")
        out[table] = name
        taken.add(name.lower())
    for table in sorted(t for t in tables if t not in out):
        base = slug(table)
        if base in reserved:
            base += "_"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        out[table] = name
        taken.add(name.lower())
    return out
