"""Column types that are not plain scalars, in the query language: which filter operators each
takes, how a query string writes their values, what they mean in SQL, and how bodies write them.

The comparison operators (``eq``, ``lt``, ``in``...) mean what users expect on numbers, text and
dates, but not on values with parts. On a PostgreSQL ``text[]`` ``filter[tags]=a`` compared the
whole array with ``a`` and matched nothing; on a ``jsonb`` ``gt`` followed jsonb's type order.
Each column type therefore belongs to a *family*, and each family has its operators; any other
operator is a 400 naming the parameter, never a silent empty answer:

======== ===================================== ==============================================
family   operators                             values in a query string
======== ===================================== ==============================================
array    ``eq ne`` (whole array), ``cs`` (has  ``{a,b}`` (PostgreSQL's literal: ``"a b"`` to
         all of), ``cd`` (only items from),    quote, ``NULL`` for a null item); ``cs cd ov``
         ``ov`` (has any of), ``null``         take ``a,b`` too
range    ``eq ne``, ``cs`` (holds a value or   ``[1,10)``, ``(,2024-01-31]``, ``empty``; ``cs``
         a range), ``cd`` (within), ``ov``     also one value (``cs=5``)
         (overlaps), ``null``
jsonb    ``eq ne``, ``cs`` (``@>``), ``cd``    JSON text: ``{"a":1}``, ``"text"``, ``3``
         (``<@``), ``null``
json,    ``null`` only: ``json`` has no equality in PostgreSQL, a text search vector no
tsvector, order a filter could use, and the types SQLAlchemy does not know (``point``,
unknown   ``xml``...) no operators it can bind.
======== ===================================== ==============================================

Only scalars can be sorted (``sort``): the others have no order users can rely on, and a
keyset cursor could not carry their values. ``cs``/``cd``/``ov`` are PostgREST's names
(``contains`` is the text operator here already).
"""

from __future__ import annotations

import decimal
import functools
import ipaddress
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
import pydantic_core
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..errors import InvalidParameter

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Range

__all__ = [
    "STRUCTURED_OPS",
    "Family",
    "UnknownType",
    "arity",
    "base_type",
    "check_operator",
    "comparable",
    "condition",
    "family",
    "groupable",
    "matcher",
    "operators",
    "parse_value",
    "scalar_parser",
    "sortable",
    "write_type",
]

Family = Literal[
    "scalar", "array", "set", "range", "multirange", "jsonb", "json", "tsvector", "opaque"
]

#: The operators that only structured values take.
STRUCTURED_OPS = ("cs", "cd", "ov")
_OPS: dict[Family, tuple[str, ...]] = {
    "array": ("eq", "ne", "cs", "cd", "ov", "null"),
    "set": ("eq", "ne", "cs", "cd", "ov", "null"),
    "range": ("eq", "ne", "cs", "cd", "ov", "null"),
    "multirange": ("cs", "cd", "ov", "null"),
    "jsonb": ("eq", "ne", "cs", "cd", "null"),
    "json": ("null",),
    "tsvector": ("null",),
    "opaque": ("null",),
}
_NAMES: dict[Family, str] = {
    "array": "an array",
    "set": "a set of labels",
    "range": "a range",
    "multirange": "a multirange",
    "jsonb": "jsonb",
    "json": "JSON (no equality: only null)",
    "tsvector": "a text search vector",
    "opaque": "of a type tablerest cannot compare",
}
_SQL = {"cs": "@>", "cd": "<@", "ov": "&&"}
_TEXT_OPS = ("like", "ilike", "contains", "startswith", "endswith")

# SQLAlchemy's PostgreSQL and MariaDB/MySQL types are imported only where a column can be of
# one: once something has imported their dialect (an engine of that database, or a model that
# declares such a column), since no value of a type exists before its class. Imported up front
# they put both dialects, with those of their drivers (asyncpg, psycopg, aiomysql...), in every
# app whatever its database: 3 MiB of each serve worker.
_PG = "sqlalchemy.dialects.postgresql"
_MYSQL = "sqlalchemy.dialects.mysql"


@functools.cache
def _ranges() -> tuple[
    dict[type[Any], Callable[[], sa.types.TypeEngine[Any]]], dict[type[Any], type[Any]]
]:
    """A range type -> the type of its values (multiranges: of their ranges' values); a
    multirange type -> its ranges' type."""
    import sqlalchemy.dialects.postgresql as pg

    elements: dict[type[Any], Callable[[], sa.types.TypeEngine[Any]]] = {
        pg.INT4RANGE: sa.Integer,
        pg.INT8RANGE: sa.BigInteger,
        pg.NUMRANGE: sa.Numeric,
        pg.DATERANGE: sa.Date,
        pg.TSRANGE: sa.DateTime,
        pg.TSTZRANGE: lambda: sa.DateTime(timezone=True),
        pg.INT4MULTIRANGE: sa.Integer,
        pg.INT8MULTIRANGE: sa.BigInteger,
        pg.NUMMULTIRANGE: sa.Numeric,
        pg.DATEMULTIRANGE: sa.Date,
        pg.TSMULTIRANGE: sa.DateTime,
        pg.TSTZMULTIRANGE: lambda: sa.DateTime(timezone=True),
    }
    single: dict[type[Any], type[Any]] = {
        pg.INT4MULTIRANGE: pg.INT4RANGE,
        pg.INT8MULTIRANGE: pg.INT8RANGE,
        pg.NUMMULTIRANGE: pg.NUMRANGE,
        pg.DATEMULTIRANGE: pg.DATERANGE,
        pg.TSMULTIRANGE: pg.TSRANGE,
        pg.TSTZMULTIRANGE: pg.TSTZRANGE,
    }
    return elements, single


class UnknownType(sa.types.NullType):
    """A column type of a PostgreSQL or MariaDB database that SQLAlchemy does not know
    (``point``, ``xml``...): values are read as the driver gives them, and only ``null``
    filters them. (SQLite's columns without a declared type are NullType too, but there any
    value compares as stored, so they stay scalars.)"""

    cache_ok = True


def base_type(col_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """A PostgreSQL domain's underlying type (``year`` -> ``integer``); any other type as is."""
    if _PG not in sys.modules:
        return col_type
    import sqlalchemy.dialects.postgresql as pg

    while isinstance(col_type, pg.DOMAIN):
        col_type = col_type.data_type
    return col_type


def _is_money(t: sa.types.TypeEngine[Any]) -> bool:
    if _PG not in sys.modules:
        return False
    import sqlalchemy.dialects.postgresql as pg

    return isinstance(t, pg.MONEY)


def comparable(col_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """The type to compare a column of this type as, in SQLAlchemy: a domain as its type,
    ``money`` (for which SQLAlchemy has no operators) as an untyped value."""
    t = base_type(col_type)
    return sa.types.NullType() if _is_money(t) else t


# Per column type, found once: filters, sorts and plans ask on every request, and while the
# PostgreSQL and MariaDB dialects are imported lazily (see _PG) each question costs the imports'
# lookups. The answer cannot change: a type's class is loaded before any value of it exists.
@functools.lru_cache(maxsize=1024)
def family(col_type: sa.types.TypeEngine[Any]) -> Family:
    t = base_type(col_type)
    if isinstance(t, sa.ARRAY):
        return "array"
    if _MYSQL in sys.modules:
        import sqlalchemy.dialects.mysql as mysql

        if isinstance(t, mysql.SET):
            return "set"
    if _PG in sys.modules:
        import sqlalchemy.dialects.postgresql as pg

        if isinstance(t, pg.ranges.AbstractMultiRange):
            return "multirange"
        if isinstance(t, pg.ranges.AbstractRange):
            return "range"
        if isinstance(t, pg.JSONB):
            return "jsonb"
        if isinstance(t, pg.TSVECTOR):
            return "tsvector"
    if isinstance(t, sa.JSON) or isinstance(getattr(t, "impl_instance", None), sa.JSON):
        return "json"  # a JSON column, or a type stored as one (a json_object's)
    if isinstance(t, UnknownType):
        return "opaque"
    return "scalar"


def operators(col_type: sa.types.TypeEngine[Any], scalar_ops: Sequence[str]) -> tuple[str, ...]:
    """The filter operators a column of this type takes (``scalar_ops``: those of scalars)."""
    fam = family(col_type)
    if fam != "scalar":
        return _OPS[fam]
    t = base_type(col_type)
    text = isinstance(t, sa.String) and not isinstance(t, sa.Enum)
    return tuple(op for op in scalar_ops if text or op not in _TEXT_OPS)


def sortable(col_type: sa.types.TypeEngine[Any]) -> bool:
    """Whether ``sort``, ``min()`` and ``max()`` take the field: only scalars."""
    return family(col_type) == "scalar"


_NUMERIC = (sa.Integer, sa.Numeric, sa.Float)


def aggregates(col_type: sa.types.TypeEngine[Any]) -> tuple[str, ...]:
    """The aggregate functions that take a field of this type (``count`` takes any)."""
    out = ["count"]
    if isinstance(col_type, _NUMERIC):
        out += ["sum", "avg"]
    if sortable(col_type) and not isinstance(
        col_type, sa.JSON | sa.LargeBinary | sa.Boolean | sa.Enum | sa.Uuid
    ):
        out += ["min", "max"]
    return tuple(out)


def groupable(col_type: sa.types.TypeEngine[Any]) -> bool:
    """Whether ``group_by``/``distinct`` take the field: not without equality (``json``, unknown
    types)."""
    return family(col_type) not in ("json", "opaque")


def check_operator(
    col_type: sa.types.TypeEngine[Any], op: str, dotted: str, parameter: str
) -> None:
    """400 for an operator that has no meaning on the field's type."""
    fam = family(col_type)
    if fam == "scalar":
        if op in STRUCTURED_OPS:
            raise InvalidParameter(
                parameter, f"{op} applies to arrays, ranges and jsonb; {dotted} is none of them"
            )
        return
    allowed = _OPS[fam]
    if op in allowed:
        return
    hint = ""
    if fam in ("array", "set") and op in ("in", "nin", "contains"):
        hint = f" (rows whose {dotted} has any of some values: filter[{dotted}][ov]=a,b)"
    raise InvalidParameter(
        parameter,
        f"{op} does not apply to {dotted}, {_NAMES[fam]}; use {' '.join(allowed)}{hint}",
    )


# -- values in a query string ----------------------------------------------------------------

_ITEM = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^",{}]*?))\s*(?:,|$)', re.DOTALL)
_RANGE = re.compile(
    r'^\s*([\[(])\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*,\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*([\])])\s*$'
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)

Parser = Callable[[str], Any]
_Bounds = Literal["[)", "(]", "[]", "()"]


def _array_items(raw: str, braces: bool) -> list[str | None]:
    """``{a,"b c",NULL}`` (or ``a,b`` where braces are optional) -> its items; NULL is None."""
    text = raw.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    elif braces:
        raise ValueError("an array is written {a,b}")
    if not text.strip():
        return []
    items: list[str | None] = []
    pos = 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError('items are separated by commas; quote one with "" to hold , { } or "')
        quoted, bare = m.group(1), m.group(2)
        if quoted is not None:
            items.append(_UNESCAPE.sub(r"\1", quoted))
        elif bare.upper() == "NULL":
            items.append(None)
        elif bare == "":
            raise ValueError('an item is empty (write it "")')
        else:
            items.append(bare)
        pos = m.end()
        if pos == len(text) and text.endswith(","):
            raise ValueError('an item is empty (write it "")')
    return items


def _bound(raw: str, parse: Parser) -> Any:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return parse(_UNESCAPE.sub(r"\1", raw[1:-1]))
    return None if raw == "" else parse(raw)


def _range(raw: str, parse: Parser) -> Range[Any]:
    import sqlalchemy.dialects.postgresql as pg  # a range column's: loaded

    if raw.strip().lower() == "empty":
        return pg.Range(empty=True)
    m = _RANGE.match(raw)
    if m is None:
        raise ValueError("a range is written [lower,upper) (either bound may be left out) or empty")
    bounds = m.group(1) + m.group(4)
    return pg.Range(_bound(m.group(2), parse), _bound(m.group(3), parse), bounds=bounds)  # type: ignore[arg-type]


def _set_mask(col_type: sa.types.TypeEngine[Any], items: Sequence[str | None]) -> int:
    """A MariaDB/MySQL SET's labels -> the bits that stand for them in the database."""
    labels = list(base_type(col_type).values)  # type: ignore[attr-defined]
    mask = 0
    for item in items:
        if item not in labels:
            raise ValueError(f"{item!r} is not one of {', '.join(labels)}")
        mask |= 1 << labels.index(item)
    return mask


def _element_type(col_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    t = base_type(col_type)
    if isinstance(t, sa.ARRAY):
        return base_type(t.item_type)
    if _PG in sys.modules:
        for cls, make in _ranges()[0].items():
            if isinstance(t, cls):
                return make()
    return sa.String()


def parse_value(
    col_type: sa.types.TypeEngine[Any],
    op: str,
    raw: str,
    dotted: str,
    parameter: str,
    parser: Callable[[sa.types.TypeEngine[Any]], Parser],
    max_items: int,
) -> Any:
    """A structured family's filter value (``parser`` gives the one of a scalar type; an array
    takes at most ``max_items`` items, as an ``in`` list does)."""
    fam = family(col_type)
    try:
        if fam in ("array", "set"):
            items = _array_items(raw, braces=op in ("eq", "ne"))
            if len(items) > max_items:
                raise InvalidParameter(parameter, f"at most {max_items} values in a list")
            if fam == "set":
                return _set_mask(col_type, items)
            parse = parser(_element_type(col_type))
            return [None if item is None else parse(item) for item in items]
        if fam in ("range", "multirange"):
            parse = parser(_element_type(col_type))
            text = raw.strip()
            if op == "cs" and text[:1] not in ("[", "(") and text.lower() != "empty":
                return parse(text)
            return _range(text, parse)
        if fam == "jsonb":
            return pydantic_core.from_json(raw.encode())
    except (ValueError, pydantic.ValidationError) as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, pydantic.ValidationError) else str(exc)
        if fam in ("array", "set") and op in ("eq", "ne") and not raw.strip().startswith("{"):
            why += f"; rows whose {dotted} contains {raw!r}: filter[{dotted}][cs]={raw}"
        if fam == "jsonb":
            why = 'must be JSON (a string is written "text")'
        raise InvalidParameter(
            parameter, f"{raw!r} is not a valid value for {dotted}: {why or 'wrong type'}"
        ) from None
    raise AssertionError(fam)  # check_operator lets only structured families' operators here


def arity(col_type: sa.types.TypeEngine[Any], value: Any) -> Any:
    """What, besides the operator, decides a statement: whether a range operator's value is a
    range or one value (they bind as different types)."""
    if family(col_type) in ("range", "multirange"):
        import sqlalchemy.dialects.postgresql as pg  # a range column's: loaded

        return isinstance(value, pg.Range)
    return None


def condition(
    col: ColumnElement[Any],
    col_type: sa.types.TypeEngine[Any],
    op: str,
    value: Any,
    bind: Callable[[sa.types.TypeEngine[Any]], sa.BindParameter[Any]],
    nullable: bool,
) -> ColumnElement[bool]:
    """The SQL of a structured family's operator (``bind(type)`` gives the value's parameter)."""
    t = base_type(col_type)
    fam = family(t)
    if fam == "set":
        return _set_condition(col, op, bind(sa.BigInteger()), nullable)
    if fam == "multirange":
        single = _ranges()[1]
        t = single[type(t)]() if type(t) in single else t
    if fam in ("range", "multirange") and not _is_range(value):
        param = bind(_element_type(t))
    else:
        param = bind(t)
    if op == "eq":
        return col == param
    if op == "ne":
        return sa.or_(col != param, col.is_(None)) if nullable else col != param
    test: ColumnElement[bool] = col.bool_op(_SQL[op])(param)
    return test


def _set_condition(
    col: ColumnElement[Any], op: str, mask: sa.BindParameter[Any], nullable: bool
) -> ColumnElement[bool]:
    """A SET's value in a number context is its bits: compare those with the labels' bits."""
    bits = col.op("|")(sa.literal_column("0"))
    if op == "eq":
        return bits == mask
    if op == "ne":
        return sa.or_(bits != mask, col.is_(None)) if nullable else bits != mask
    if op == "cs":
        return col.op("&")(mask) == mask
    if op == "cd":
        return col.op("|")(mask) == mask
    return col.op("&")(mask) != sa.literal_column("0")  # ov


# -- the change feed decides filters in Python -------------------------------------------------


def matcher(
    col_type: sa.types.TypeEngine[Any],
    op: str,
    want: Any,
    parser: Callable[[sa.types.TypeEngine[Any]], Parser],
) -> Callable[[Any], bool] | None:
    """A structured family's filter as a test of one stored (JSON) value, as the database would
    decide it; None when the change feed cannot decide it (ranges, jsonb containment)."""
    fam = family(col_type)
    if fam == "array":
        element = _element_type(col_type)
        parse = parser(element) if not isinstance(element, sa.String) else None

        def items(value: Any) -> list[Any] | None:
            if not isinstance(value, list):
                return None
            if parse is None:
                return value
            return [parse(v) if isinstance(v, str) else v for v in value]

        def test(value: Any) -> bool:
            got = items(value)
            if got is None:
                return op == "ne" and value is None
            if op == "eq":
                return got == list(want)
            if op == "ne":
                return got != list(want)
            if op == "cs":
                return all(w in got for w in want)
            if op == "cd":
                return all(g in want for g in got)
            return any(w in got for w in want)  # ov

        return test
    if fam == "jsonb" and op in ("eq", "ne"):

        def same(value: Any) -> bool:
            equal = pydantic_core.to_json(value) == pydantic_core.to_json(want)
            return equal if op == "eq" else value is None or not equal

        return same
    return None


# -- scalar types PostgreSQL has and Python reads as text -----------------------------------

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?:[:.-]?[0-9A-Fa-f]{2}){5}(?:(?:[:.-]?[0-9A-Fa-f]{2}){2})?$")
_MONEY = re.compile(r"^-?\$?[0-9]{1,3}(?:,?[0-9]{3})*(?:\.[0-9]+)?$|^-?\$?\.[0-9]+$")
_BITS = re.compile(r"^[01]*$")
_LEXEME = r"(?:'(?:[^'\\]|''|\\.)*'|(?:[^\s':\\]|\\.)+)(?::[0-9]+[A-Da-d]?(?:,[0-9]+[A-Da-d]?)*)?"
_TSVECTOR = re.compile(rf"^\s*(?:{_LEXEME}(?:\s+{_LEXEME})*)?\s*$")


def _tsvector(raw: str) -> str:
    if not _TSVECTOR.match(raw):
        raise ValueError("must be a text search vector ('fast':2 'dog':3)")
    return raw


def _inet(raw: str) -> str:
    try:
        ipaddress.ip_interface(raw)  # checks it; PostgreSQL reads it as written
    except ValueError:  # ipaddress's words name Python's classes: say what the value must be
        raise ValueError("must be an IP address, with a prefix length or not") from None
    return raw


def _cidr(raw: str) -> str:
    try:
        ipaddress.ip_network(raw)  # no bits set right of the mask, as PostgreSQL requires
    except ValueError:
        raise ValueError(
            "must be a network (192.0.2.0/24), with no bits set right of the mask"
        ) from None
    return raw


def _mac(raw: str) -> str:
    if not _MAC.match(raw):
        raise ValueError("must be a MAC address (08:00:2b:01:02:03)")
    return raw


def _money(raw: str | int | float | decimal.Decimal) -> str:
    """An amount, as PostgreSQL's ``money`` reads it: a number, or text like ``$1,234.50``."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | decimal.Decimal):
        raise ValueError('must be an amount (a number, or text such as "12.50")')
    text = str(raw)
    if not _MONEY.match(text):
        raise ValueError("must be an amount (12.50, $1,234.50)")
    return text


def _bits(length: int | None) -> Parser:
    def parse(raw: str) -> str:
        if not _BITS.match(raw) or (length is not None and len(raw) > length):
            most = f" (at most {length})" if length is not None else ""
            raise ValueError(f"must be a string of bits 0 and 1{most}")
        return raw

    return parse


def scalar_parser(col_type: sa.types.TypeEngine[Any]) -> Parser | None:
    """Filter values of PostgreSQL scalars that Python has no type for, checked before the
    database sees them (it would answer a bad one with an error, not a 400)."""
    t = base_type(col_type)
    if _PG not in sys.modules:
        return None
    import sqlalchemy.dialects.postgresql as pg

    if isinstance(t, pg.INET):
        return _inet
    if isinstance(t, pg.CIDR):
        return _cidr
    if isinstance(t, pg.MACADDR | pg.MACADDR8):
        return _mac
    if isinstance(t, pg.MONEY):
        return _money
    if isinstance(t, pg.BIT):
        return _bits(t.length if t.varying or t.length else None)
    return None


# -- values in bodies ------------------------------------------------------------------------


def _is_range(value: Any) -> bool:
    import sqlalchemy.dialects.postgresql as pg  # a range column's: loaded

    return isinstance(value, pg.Range)


def _as_range(value: Any) -> Range[Any]:
    import sqlalchemy.dialects.postgresql as pg  # a range column's: loaded

    if isinstance(value, pg.Range):
        return value
    if value.get("empty"):
        return pg.Range(empty=True)
    return pg.Range(value.get("lower"), value.get("upper"), bounds=value.get("bounds", "[)"))


def _split_labels(value: Any) -> Any:
    """A SET's value in a body: a list of labels (as it is read), or them comma-separated."""
    if isinstance(value, str):
        return value.split(",") if value else []
    return value


def _labels(items: list[str], labels: tuple[str, ...]) -> set[str]:
    for item in items:
        if item not in labels:
            raise ValueError(f"{item!r} is not one of {', '.join(labels)}")
    return set(items)


def _scalar_write(parse: Parser) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return parse(value)

    return Annotated[str, pydantic.BeforeValidator(check)]


def write_type(
    col_type: sa.types.TypeEngine[Any], python_type: Callable[[sa.types.TypeEngine[Any]], Any]
) -> Any | None:
    """The pydantic type of a body value of this column type, when it is one of those above
    (``python_type`` gives the one of an array's items or a range's bounds); else None."""
    t = base_type(col_type)
    fam = family(t)
    if fam == "array":
        item = python_type(_element_type(t))
        dims = t.dimensions if isinstance(t, sa.ARRAY) else None
        shape: Any = item | None
        for _ in range(max(dims or 1, 1)):
            shape = list[shape]
        return shape
    if fam == "set":
        labels = tuple(t.values)  # type: ignore[attr-defined]
        return Annotated[
            list[str],
            pydantic.BeforeValidator(_split_labels),
            pydantic.AfterValidator(lambda v: _labels(v, labels)),
        ]
    if fam in ("range", "multirange"):
        bound = python_type(_element_type(t))
        typed = pydantic.create_model(
            f"Range_{type(t).__name__}",
            __config__=pydantic.ConfigDict(extra="forbid"),
            lower=(bound | None, None),
            upper=(bound | None, None),
            bounds=(_Bounds, "[)"),
            empty=(bool, False),
        )
        one: Any = Annotated[
            typed,
            pydantic.AfterValidator(lambda m: _as_range(m.model_dump())),
        ]
        if fam == "range":
            return one
        from sqlalchemy.dialects.postgresql.ranges import MultiRange

        return Annotated[list[one], pydantic.AfterValidator(MultiRange)]
    if fam == "tsvector":
        return _scalar_write(_tsvector)
    if _is_money(t):
        return Annotated[str, pydantic.BeforeValidator(_money)]
    parse = scalar_parser(t)
    if parse is not None:
        return _scalar_write(parse)
    return None
