"""Which field a failed CHECK constraint is about, so that its 422 can point at it.

The database names the constraint (PostgreSQL's ``constraint_name`` diagnostic, MariaDB's and
SQLite's messages) or, for a PostgreSQL domain, the domain. The constraint is looked up among
the table's CHECK constraints (declared, or reflected from the database); the columns its
expression mentions are the ones it is about. Without a declaration to read, the default
names tell: PostgreSQL calls a column's own CHECK ``<table>_<column>_check``, MariaDB
``<table>.<column>``, and SQLite reports an unnamed CHECK by its expression.

A constraint about one column the client can see and wrote points at that field; otherwise
the detail names the constraint, unless its name or expression mentions a column the client
cannot see (hidden fields never show in errors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import visitors

from ..errors import FieldError, ValidationFailed
from ..resource import Resource
from .dberrors import constraint_name, domain_name

__all__ = ["check_failure"]

_IDENTIFIER = re.compile(r"[\w$.]+")

#: String literals (skipped), then quoted or bare identifiers, in a CHECK's SQL text.
_TOKENS = re.compile(
    r"'(?:[^']|'')*'"
    r'|"((?:[^"]|"")+)"'
    r"|`((?:[^`]|``)+)`"
    r"|\[([^\]]+)\]"
    r"|([A-Za-z_][A-Za-z0-9_$]*)"
)


def check_failure(
    exc: sa_exc.SQLAlchemyError,
    resource: Resource,
    rows: Sequence[Mapping[sa.Column[Any], Any]],
) -> ValidationFailed:
    """The 422 for a write of ``rows`` to ``resource`` that broke a CHECK constraint."""
    table = resource.table
    name = constraint_name(exc)
    domain = domain_name(exc)
    if domain is not None:
        columns = _domain_columns(table, domain, rows)
        what = f"the {domain} type's CHECK constraint"
        text = domain
    else:
        columns, text = _constraint_columns(table, name)
        if name is None:
            what = "a CHECK constraint"
        elif _IDENTIFIER.fullmatch(name):
            what = f"CHECK constraint {name}"
        else:  # SQLite names an unnamed CHECK by its expression
            what = f"CHECK ({name})"
    if _mentions_unseen(resource, f"{name or ''} {text}", columns):
        what = "a CHECK constraint"
    # Only columns the write set are named: a caller may not write a field hidden from them
    # (hidden_unless), so no pointer or list here can tell them of one.
    written = {id(c) for row in rows for c in row}
    fields = [resource.field_by_column(c) for c in columns if id(c) in written]
    named = [f.name for f in fields if f is not None]
    if len(columns) == 1 and named:
        pointer = "/" + named[0].replace("~", "~0").replace("/", "~1")
        # The pointer follows a space, so that a nested write's prefix reaches it too.
        if len(rows) > 1:  # which item broke it, the database does not say
            return ValidationFailed([], detail=f"An item's value of {pointer} breaks {what}")
        return ValidationFailed(
            [FieldError(pointer, f"The value is not allowed by {what}")],
            detail=f"The value of {pointer} is not allowed by {what}",
        )
    on = f" (on {', '.join(named)})" if named and what != "a CHECK constraint" else ""
    return ValidationFailed([], detail=f"The values are not allowed by {what}{on}")


def _domain_columns(
    table: sa.Table, domain: str, rows: Sequence[Mapping[sa.Column[Any], Any]]
) -> list[sa.Column[Any]]:
    """The columns of ``table`` typed with ``domain``; of several, those that were written."""
    typed = [c for c in table.columns if getattr(c.type, "name", None) == domain]
    if len(typed) > 1:
        written = {c for row in rows for c in row}
        typed = [c for c in typed if c in written]
    return typed


def _constraint_columns(table: sa.Table, name: str | None) -> tuple[list[sa.Column[Any]], str]:
    """The columns the constraint called ``name`` is about, and its text (for the leak check)."""
    if name is None:
        return [], ""
    for cons in table.constraints:
        if isinstance(cons, sa.CheckConstraint) and cons.name == name:
            return _mentioned(table, cons.sqltext), str(cons.sqltext)
    for col in table.columns:
        if name in (f"{table.name}_{col.name}_check", f"{table.name}.{col.name}"):
            return [col], name
    # SQLite names an unnamed CHECK by its expression; a named one not declared on the
    # table (the table was declared in code without it) is read the same way.
    return _mentioned(table, name), name


def _mentioned(table: sa.Table, sqltext: Any) -> list[sa.Column[Any]]:
    """The columns of ``table`` an expression mentions, in table order."""
    found: set[str] = set()
    if isinstance(sqltext, sa.TextClause | str):
        by_lower = {c.name.lower(): c.name for c in table.columns}
        for m in _TOKENS.finditer(str(sqltext)):
            quoted = m[1] or m[2] or m[3]
            if quoted is not None:
                found.add(quoted.replace('""', '"').replace("``", "`"))
            elif m[4] is not None and m[4].lower() in by_lower:
                found.add(by_lower[m[4].lower()])
    else:
        for element in visitors.iterate(sqltext):
            if isinstance(element, sa.Column) and element.table is table:
                found.add(element.name)
    return [c for c in table.columns if c.name in found]


def _mentions_unseen(resource: Resource, text: str, columns: Sequence[sa.Column[Any]]) -> bool:
    """Whether ``text`` or ``columns`` would show a column the client cannot see."""
    for col in resource.table.columns:
        if resource.field_by_column(col) is not None:
            continue
        # Letters and digits around a name make another word; "_" and "." do not
        # (PostgreSQL's "t_secret_check", MariaDB's "t.secret").
        word = rf"(?<![^\W_]){re.escape(col.name)}(?![^\W_])"
        if any(col is c for c in columns) or re.search(word, text, re.IGNORECASE):
            return True
    return False
