"""Decimal columns whose values the database keeps as floats: what is shown, sorted and compared.

SQLite has no decimal type: a ``NUMERIC(10,2)`` column holds REAL (binary floating point)
values, so the sum of ``0.99`` and ``1.98`` is ``2.9699999999999998``. Two parts of tablerest
read such columns:

- **aggregates** (:func:`rounded_aggregate`): ``sum``, ``min`` and ``max`` of a ``Numeric(p,
  s)`` column are rounded to ``s`` places in SQL, and ``avg`` to ``s + 4`` places (the scale
  MariaDB and MySQL give an average by default), so that the value shown, ``sort=`` and
  ``having[...]`` all see the same number. On PostgreSQL and MariaDB, which sum decimals
  exactly, the rounding changes nothing but ``avg``'s long tail.
- **values compared, grouped and sorted** (:func:`as_shown`): a ``Numeric(p, s)`` column's
  value is shown with ``s`` places, so ``0.30000000000000004`` and ``0.3`` both show
  ``"0.30"``; on SQLite filters, ``group_by`` and ``sort`` read the value rounded to ``s``
  places too, so that rows showing the same value are one group, match the same filters and
  tie in a sort. Elsewhere the column is read as it is (and an index on it serves).
- **scale-less decimals** (:func:`shortest_decimals`): SQLAlchemy reads a ``NUMERIC`` column
  without a scale from a float with ten invented places (``9.9900000000``); a reflected
  SQLite column reads instead the shortest decimal that is the stored float (``9.99``).
- **text kept in a decimal column**: SQLite stores what does not read as a number as text,
  even in a ``NUMERIC(10,2)`` column (``'n/a'``); a reflected column shows such a value as
  the text stored (SQLAlchemy's reading would fail on it).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = [
    "AVG_EXTRA_PLACES",
    "ShortestDecimal",
    "as_shown",
    "decimal_scale",
    "rounded_aggregate",
    "shortest_decimals",
]

#: Places an ``avg`` of a ``Numeric(p, s)`` column keeps beyond ``s``: MariaDB's and MySQL's
#: ``div_precision_increment`` default, so that the three databases give the same answer.
AVG_EXTRA_PLACES = 4


def decimal_scale(col_type: sa.types.TypeEngine[Any]) -> int | None:
    """The scale of a fixed-point decimal type (``Numeric(10, 2)``: 2); None for floats and
    decimals without a scale."""
    if isinstance(col_type, sa.Numeric) and not isinstance(col_type, sa.Float):
        return col_type.scale
    return None


def rounded_aggregate(
    fn: str, col_type: sa.types.TypeEngine[Any], expr: sa.ColumnElement[Any]
) -> sa.ColumnElement[Any] | None:
    """``ROUND(expr, places)`` for the aggregate ``fn`` (``sum``, ``avg``, ``min``, ``max``)
    of a column of ``col_type`` when it is a decimal with a scale; None otherwise (no rounding:
    integers and floats are shown as they are)."""
    scale = decimal_scale(col_type)
    if scale is None or fn not in ("sum", "avg", "min", "max"):
        return None
    places = scale + AVG_EXTRA_PLACES if fn == "avg" else scale
    # Typed as the column, so that it reads back (and binds a having value) as the column does;
    # the places are a literal (a number tablerest computed), not a parameter.
    return sa.func.round(expr, sa.literal_column(str(int(places))), type_=col_type)


class _Shown(FunctionElement[Any]):
    """A decimal column's value as shown: ``ROUND(value, scale)`` on SQLite, where decimals
    are floats; the value itself on databases with a decimal type."""

    name = "shown"
    inherit_cache = True

    def __init__(self, expr: ColumnElement[Any], places: int) -> None:
        # The places are a literal (the column's declared scale), not a parameter.
        super().__init__(expr, sa.literal_column(str(int(places))))
        self.type = expr.type


@compiles(_Shown)
def _as_stored(element: _Shown, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(_Shown, "sqlite")
def _as_rounded(element: _Shown, compiler: SQLCompiler, **kw: Any) -> str:
    return f"round({compiler.process(element.clauses, **kw)})"


def as_shown(col_type: sa.types.TypeEngine[Any], expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """``expr`` (a value of ``col_type``) as it is shown, for filters, groups and sorts: see
    the module's docstring."""
    scale = decimal_scale(col_type)
    return expr if scale is None else _Shown(expr, scale)


_ONE = decimal.Decimal(1)
#: Whole numbers up to this many digits are written out (the decimal context's precision).
_PLAIN_DIGITS = 28


def _shortest(value: Any) -> Any:
    """A stored value as the shortest decimal that is exactly that float (``repr`` of a float
    is the shortest text reading back as the same float); text SQLite kept in the column (it
    stores what does not look like a number as text) is read as a decimal if it is one, else
    left as it is."""
    if value is None or isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        found = decimal.Decimal(repr(value))
        if found == found.to_integral_value() and found.adjusted() < _PLAIN_DIGITS:
            found = found.quantize(_ONE)  # 1e+20 as 100000000000000000000, as PostgreSQL has it
        return found
    if isinstance(value, int):
        return decimal.Decimal(value)
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return value


class ShortestDecimal(sa.Numeric[decimal.Decimal]):
    """``Numeric`` without a scale that reads floats as their shortest decimal (``9.99``), not
    with SQLAlchemy's ten places (``9.9900000000``). Databases with a decimal type give
    decimals already: nothing changes there."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if self.asdecimal and not dialect.supports_native_decimal:
            return _shortest
        return super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call,no-any-return]


class StoredDecimal(sa.Numeric[decimal.Decimal]):
    """``Numeric(p, s)`` that reads text SQLite kept in the column as that text."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        read = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        if read is None:
            return None

        def process(value: Any) -> Any:
            return value if isinstance(value, str | bytes) else read(value)

        return process


def shortest_decimals(table: sa.Table) -> None:
    """Give the scale-less decimal columns of a reflected ``table`` the :class:`ShortestDecimal`
    type, and those with a scale :class:`StoredDecimal` (in memory: no DDL)."""
    for column in table.columns:
        t = column.type
        if not isinstance(t, sa.Numeric) or isinstance(t, sa.Float) or not t.asdecimal:
            continue
        if t.scale is None and not isinstance(t, ShortestDecimal):
            column.type = ShortestDecimal(precision=t.precision)
        elif t.scale is not None and not isinstance(t, StoredDecimal):
            column.type = StoredDecimal(precision=t.precision, scale=t.scale)
