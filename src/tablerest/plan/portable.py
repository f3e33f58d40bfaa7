"""SQL constructs that mean the same on SQLite, PostgreSQL and MariaDB.

The planner builds these without knowing the database; each compiles to what the dialect needs:

- :class:`case_sensitive_like`: ``LIKE`` that respects case everywhere (SQLite's ``LIKE`` ignores
  ASCII case and MariaDB's default collations ignore case; SQLite gets ``GLOB``, MariaDB the
  ``utf8mb4_bin`` collation).
- :func:`ordered`: ``NULL`` sorts as the smallest value everywhere (first ascending, last
  descending), which SQLite and MariaDB do natively and PostgreSQL does with ``NULLS FIRST/LAST``.
- :class:`Explain`: the planner's row estimate for a ``SELECT`` (``count=estimated``).
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["Explain", "case_sensitive_like", "estimated_rows", "like_escape", "ordered", "to_glob"]

ESCAPE = "\\"


def like_escape(text: str) -> str:
    """Text matched literally inside a LIKE pattern (with ``ESCAPE '\\'``)."""
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


class case_sensitive_like(ColumnElement[bool]):
    """``expr LIKE pattern ESCAPE '\\'``, case-sensitive on every backend.

    It takes the pattern twice, as bound parameters: as given (for ``LIKE``) and as
    :func:`to_glob` made it (for SQLite's ``GLOB``); the dialect's compiler renders one of them.
    """

    inherit_cache = True
    _traverse_internals = [
        ("expr", InternalTraversal.dp_clauseelement),
        ("like_pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]
    type = sa.Boolean()

    def __init__(
        self,
        expr: ColumnElement[Any],
        like_pattern: sa.BindParameter[str],
        glob_pattern: sa.BindParameter[str],
    ) -> None:
        self.expr = expr
        self.like_pattern = like_pattern
        self.glob_pattern = glob_pattern

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        # Already a parenthesised predicate. The default wraps a Boolean-typed element in
        # ``(...) = 1`` on backends without a native boolean, and MariaDB's optimizer drops
        # the second of two such terms on one column (``LIKE 'a%' = 1 AND LIKE 'A%' = 1``
        # matched 'abc').
        return self


@compiles(case_sensitive_like)
def _like_default(element: case_sensitive_like, compiler: SQLCompiler, **kw: Any) -> str:
    expr = compiler.process(element.expr, **kw)
    return f"({expr} LIKE {compiler.process(element.like_pattern, **kw)} ESCAPE '\\')"


@compiles(case_sensitive_like, "mysql")
@compiles(case_sensitive_like, "mariadb")
def _like_mysql(element: case_sensitive_like, compiler: SQLCompiler, **kw: Any) -> str:
    expr = compiler.process(element.expr, **kw)
    # A binary collation on the text as utf8mb4: case-sensitive, and _ is one character
    # (LIKE BINARY would compare bytes), whatever the column's own character set.
    return (
        f"(CONVERT({expr} USING utf8mb4) COLLATE utf8mb4_bin LIKE "
        f"{compiler.process(element.like_pattern, **kw)} ESCAPE '\\\\')"
    )


def to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``, ``\\`` escapes) as the equivalent GLOB pattern."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == ESCAPE and i + 1 < len(pattern):
            i += 1
            ch = pattern[i]
            out.append(f"[{ch}]" if ch in "*?[" else ch)
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@compiles(case_sensitive_like, "sqlite")
def _like_sqlite(element: case_sensitive_like, compiler: SQLCompiler, **kw: Any) -> str:
    expr = compiler.process(element.expr, **kw)
    return f"({expr} GLOB {compiler.process(element.glob_pattern, **kw)})"


def ordered(expr: ColumnElement[Any], descending: bool, nullable: bool) -> ColumnElement[Any]:
    """An ORDER BY term with NULL as the smallest value on every backend.

    A term that cannot be NULL is left plain: PostgreSQL cannot read ``NULLS FIRST`` from an
    ordinary index, so the clause would turn an index scan into a sort of the whole table.
    """
    return _Ordered(expr, descending) if nullable else (expr.desc() if descending else expr)


class _Ordered(ColumnElement[Any]):
    inherit_cache = True
    _traverse_internals = [
        ("expr", InternalTraversal.dp_clauseelement),
        ("descending", InternalTraversal.dp_boolean),
    ]

    def __init__(self, expr: ColumnElement[Any], descending: bool) -> None:
        self.expr = expr
        self.descending = descending
        self.type = expr.type


@compiles(_Ordered)
def _ordered_default(element: _Ordered, compiler: SQLCompiler, **kw: Any) -> str:
    expr = compiler.process(element.expr, **kw)
    return f"{expr} DESC" if element.descending else expr


@compiles(_Ordered, "postgresql")
def _ordered_pg(element: _Ordered, compiler: SQLCompiler, **kw: Any) -> str:
    expr = compiler.process(element.expr, **kw)
    return f"{expr} DESC NULLS LAST" if element.descending else f"{expr} NULLS FIRST"


class Explain(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """The database planner's view of a ``SELECT``: ``EXPLAIN (FORMAT JSON)`` on PostgreSQL,
    ``EXPLAIN FORMAT=JSON`` on MariaDB/MySQL (SQLite has no row estimates); read it with
    :func:`estimated_rows`."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain_pg(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


@compiles(Explain, "mysql")
@compiles(Explain, "mariadb")
def _explain_mysql(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN FORMAT=JSON " + compiler.process(element.statement, **kw)


def estimated_rows(dialect: str, plan: Any) -> int:
    """The row estimate in an :class:`Explain` result's first value (a JSON document)."""
    doc = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    if dialect == "postgresql":
        return int(doc[0]["Plan"]["Plan Rows"])
    table = _first_table(doc)
    if table is None:
        return 0
    rows = float(table.get("rows", 0))
    return int(rows * float(table.get("filtered", 100)) / 100)


def _first_table(node: Any) -> dict[str, Any] | None:
    """MariaDB nests the scanned tables (``nested_loop``, subqueries): the outermost one."""
    if isinstance(node, dict):
        table = node.get("table")
        if isinstance(table, dict) and "rows" in table:
            return table
        for value in node.values():
            found = _first_table(value)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _first_table(value)
            if found is not None:
                return found
    return None
