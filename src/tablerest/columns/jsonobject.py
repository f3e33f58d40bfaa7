"""``json_object(...)``: a JSON object built in SQL from named values, on every backend.

A computed field (``api.resource(..., computed=...)``) is one value per row; a related row
shown inside another (an article's author as a profile) is one JSON object per row::

    author = (
        sa.select(json_object(username=User.username, bio=User.bio, following=FOLLOWING))
        .where(User.id == Article.author_id)
        .scalar_subquery()
    )
    api.resource(Article, computed={"author": author})

It compiles to ``json_object`` (SQLite), ``json_build_object`` (PostgreSQL) or
``JSON_OBJECT`` (MariaDB, MySQL). Each backend writes some values its own way inside JSON (a
boolean is ``0``/``1`` on SQLite, and ``"0"``/``"1"`` text on MariaDB after an ``EXISTS``; a
timestamp has a space or a ``T``), so the type
of the object (:class:`JsonObject`) reads each member back as its SQL type's Python value: the
row then holds what a column of that type would, and is written as JSON like one.

A many-to-many relation shown as a list of one field of the other side (``value_lists=``) is
one JSON array per row: :func:`json_list` aggregates the values in SQL, and its type
(:class:`JsonList`) reads each item back typed and puts them in order.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["JsonList", "JsonObject", "json_list", "json_object"]

_Reader = Callable[[Any], Any]


class JsonObject(sa.types.TypeDecorator[dict[str, Any]]):
    """The type of a :func:`json_object`: JSON whose members have SQL types of their own."""

    impl = sa.JSON
    cache_ok = True

    def __init__(self, members: Mapping[str, sa.types.TypeEngine[Any]]) -> None:
        super().__init__()
        #: Member name -> its SQL type, in the order given.
        self.members = tuple(members.items())
        self._readers = {name: _reader(t) for name, t in self.members}

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, str | bytes):  # a driver that hands back the JSON text
            value = json.loads(value)
        return {
            name: (read(value.get(name)) if read is not None else value.get(name))
            for name, read in self._readers.items()
        }


def _reader(col_type: sa.types.TypeEngine[Any]) -> _Reader | None:
    """How a member of this type is read back from JSON (None: as JSON gives it)."""
    if isinstance(col_type, sa.Boolean):
        return _boolean
    if isinstance(col_type, sa.Integer):
        return _parsed(int)
    if isinstance(col_type, sa.Float):
        return _parsed(float)
    if isinstance(col_type, sa.DateTime):
        return _parsed(dt.datetime.fromisoformat)
    if isinstance(col_type, sa.Date):
        return _parsed(lambda s: dt.date.fromisoformat(s[:10]))
    if isinstance(col_type, sa.Numeric) and not isinstance(col_type, sa.Float):
        return _number(col_type) if col_type.asdecimal else None
    return None


def _number(col_type: sa.Numeric[Any]) -> _Reader:
    # JSON numbers drop trailing zeros (12.50 -> 12.5): the column's scale puts them back.
    step = decimal.Decimal(1).scaleb(-col_type.scale) if col_type.scale is not None else None

    def read(value: Any) -> decimal.Decimal | None:
        if value is None:
            return None
        found = decimal.Decimal(str(value))
        return found.quantize(step) if step is not None else found

    return read


def _boolean(value: Any) -> bool | None:
    # MariaDB writes some truth values (an EXISTS among others) as the text "0" or "1".
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t")
    return bool(value)


def _parsed(parse: Callable[[str], Any]) -> _Reader:
    def read(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return read


class _JsonObject(FunctionElement[dict[str, Any]]):
    inherit_cache = True
    name = "json_object"


def json_object(
    members: Mapping[str, Any] | None = None, /, **more: Any
) -> ColumnElement[dict[str, Any]]:
    """A JSON object of these named SQL values (``json_object(username=User.username)``, or a
    mapping for names that are not identifiers). Each value needs a SQL type."""
    named = {**(members or {}), **more}
    if not named:
        raise ValueError("json_object needs at least one member")
    types: dict[str, sa.types.TypeEngine[Any]] = {}
    args: list[Any] = []
    for name, value in named.items():
        clause = getattr(value, "__clause_element__", None)
        expr = clause() if clause is not None else value
        if not isinstance(expr, ColumnElement) or isinstance(expr.type, sa.types.NullType):
            raise ValueError(f"json_object: {name!r} is not a SQL expression with a type")
        types[name] = expr.type
        args += [sa.literal(name, sa.String), expr]
    element = _JsonObject(*args)
    element.type = JsonObject(types)
    return element


class JsonList(sa.types.TypeDecorator[list[Any]]):
    """The type of a :func:`json_list`: a JSON array of values of one SQL type, read back as
    that type's Python values, in ascending order (the same order on every backend, whatever
    the database's collation), ``[]`` for none."""

    impl = sa.JSON
    cache_ok = True

    def __init__(self, item: sa.types.TypeEngine[Any]) -> None:
        super().__init__()
        #: The SQL type of each item.
        self.item = item
        self._read = _reader(item)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> list[Any]:
        if value is None:  # an aggregate over no rows (PostgreSQL, MariaDB)
            return []
        if isinstance(value, str | bytes):
            value = json.loads(value)
        read = self._read
        items = [read(v) if read is not None else v for v in value if v is not None]
        return sorted(items)


class _JsonList(FunctionElement[list[Any]]):
    inherit_cache = True
    name = "json_list"


def json_list(value: ColumnElement[Any]) -> ColumnElement[list[Any]]:
    """An aggregate: the JSON array of ``value`` over the rows of its select (one SQL type)."""
    element = _JsonList(value)
    element.type = JsonList(value.type)
    return element


def _spelled(element: type[FunctionElement[Any]], names: Mapping[str, str]) -> None:
    """Compile ``element`` as the function each dialect calls it (``""``: any other)."""
    for dialect, name in names.items():

        def spell(
            e: FunctionElement[Any], compiler: SQLCompiler, _name: str = name, **kw: Any
        ) -> str:
            return f"{_name}({compiler.process(e.clauses, **kw)})"

        compiles(element, *([dialect] if dialect else []))(spell)


_JSON = {"postgresql": "json_build_object", "mysql": "JSON_OBJECT", "mariadb": "JSON_OBJECT"}
_spelled(_JsonObject, {"": "json_object", **_JSON})
_ARRAY = {"postgresql": "json_agg", "mysql": "JSON_ARRAYAGG", "mariadb": "JSON_ARRAYAGG"}
_spelled(_JsonList, {"": "json_group_array", **_ARRAY})
