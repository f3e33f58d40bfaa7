"""SQLite date/time columns stored as text in whatever format their writers chose.

SQLite has no date/time storage class: a ``DATETIME`` or ``TIME`` column holds the text each
writer produced (``2021-01-01 00:00:00``, ``2021-01-01T00:00:00.123``,
``2024-01-02T09:00:00Z``, ``2024-03-10T10:00:00-05:00``, ``2021-01-01``...), compared as
text. SQLAlchemy writes and binds its own format (``2021-01-01 00:00:00.000000``), so on a
database written by another program ``eq`` misses rows, ranges and sorts are wrong, and writes
add a format to the column. This module is responsible for making such columns mean their
values, by one mechanism chosen per column when a database is reflected (:func:`adopt_formats`):

- the column's stored formats are read once (each value's *shape*: its digits replaced by
  ``9``; see :func:`_shapes`);
- **uniform** column (one format, no offsets): values are bound in that same format, so text
  comparison is chronological and indexes stay usable. A value finer than the format gets the
  extra digits (``.5`` after ``00:00:00``), which still compares right as text;
- **mixed** column (several formats, or offsets ``Z`` / ``+HH:MM``): comparisons, sorts,
  groups, ``min``/``max`` and cursors go through a normalising SQL expression (:func:`key`:
  the instant in UTC as ``YYYY-MM-DD HH:MM:SS[.f]``, built from SQLite's ``datetime()``, with
  the fraction kept to the microsecond); values are bound as the same text, computed in Python
  (:class:`Key`). Values without an offset count as UTC there, as in SQLite's date functions;
- writes use the column's (most common) format, so a uniform column stays uniform; a value's
  offset is kept (a column of ``Z`` values gets UTC ``Z`` values);
- a column holding offsets accepts values with offsets: only those when every value has one
  (as a ``timezone=True`` column), both kinds when some do; values read keep their offset.

A ``DATE`` column whose values are all ``YYYY-MM-DD`` is SQLAlchemy's format already; one where
some values carry a time too (``2021-01-01 00:00:00``) is read and compared by the date each
value starts with (:class:`TextDate`). Empty columns keep SQLAlchemy's behaviour. A column
holding a value this module cannot read (which SQLAlchemy's parsing would fail on) is served
as stored: as numbers when all its values are numbers (Julian days, Unix times), else untyped.
Code-first models are untouched: only reflection calls this. The planner calls
:func:`comparable` and :func:`compared_type` where it compares or orders a column; schema and
request parsing call :func:`python_type` for what a column accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ColumnElement

from .untyped import Untyped

__all__ = [
    "Key",
    "Layout",
    "TextDate",
    "TextDateTime",
    "TextTime",
    "adopt_formats",
    "comparable",
    "compared_type",
    "instant_key",
    "json_schema",
    "key",
    "python_type",
]

Offsets = Literal["none", "some", "all"]
Kind = Literal["datetime", "date", "time"]

#: Shapes (digits as ``9``) of the formats understood: the ones SQLite's date functions read.
_DATETIME_SHAPE = re.compile(
    r"9999-99-99(?:(?P<sep>[ T])99:99(?P<sec>:99(?:\.(?P<frac>9{1,6}))?)?(?P<off>Z|[+-]99:99)?)?"
)
_TIME_SHAPE = re.compile(r"99:99(?P<sec>:99(?:\.(?P<frac>9{1,6}))?)?")
#: More distinct shapes than the understood formats have (65): a bound on the scans.
_MAX_SHAPES = 80


@dataclass(frozen=True, slots=True)
class Layout:
    """One text format of a date/time column: how to write a value in it."""

    kind: Kind
    #: Date only (``2021-01-01``): no time part at all.
    date_only: bool = False
    sep: str = " "
    seconds: bool = True
    digits: int = 0
    #: ``""`` no offset, ``"Z"`` UTC written as ``Z``, ``"+"`` the value's own ``+HH:MM``.
    offset: str = ""

    @classmethod
    def from_shape(cls, shape: str, kind: Kind) -> Layout | None:
        """The layout of a value's shape (digits as ``9``), None if not understood."""
        if kind == "time":
            m = _TIME_SHAPE.fullmatch(shape)
            if m is None:
                return None
            return cls("time", seconds=bool(m["sec"]), digits=len(m["frac"] or ""))
        m = _DATETIME_SHAPE.fullmatch(shape)
        if m is None:
            return None
        if m["sep"] is None:
            return cls(kind, date_only=True)
        off = m["off"] or ""
        return cls(
            kind,
            sep=m["sep"],
            seconds=bool(m["sec"]),
            digits=len(m["frac"] or ""),
            offset="+" if off[:1] in ("+", "-") else off,
        )

    def render(self, value: Any) -> str:
        """``value`` as text in this layout, with more digits only when it needs them."""
        if self.kind == "time":
            if not isinstance(value, dt.time):
                raise TypeError("a time column takes datetime.time values")
            return self._clock(value.hour, value.minute, value.second, value.microsecond)
        if self.kind == "date" and isinstance(value, dt.date):
            # A date in a layout with a time: midnight, with a zero offset if it has one.
            moment = dt.datetime(value.year, value.month, value.day)
            if self.offset:
                moment = moment.replace(tzinfo=dt.UTC)
        elif isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime(value.year, value.month, value.day)
        else:
            raise TypeError("a datetime column takes datetime.datetime or date values")
        suffix = ""
        if moment.tzinfo is not None and moment.utcoffset() is not None:
            if self.offset == "Z":
                moment, suffix = moment.astimezone(dt.UTC), "Z"
            else:
                suffix = _offset_text(moment)
        day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        midnight = not (moment.hour or moment.minute or moment.second or moment.microsecond)
        if self.date_only and midnight and not suffix:
            return day
        clock = self._clock(moment.hour, moment.minute, moment.second, moment.microsecond)
        return f"{day}{'T' if self.sep == 'T' else ' '}{clock}{suffix}"

    def _clock(self, hour: int, minute: int, second: int, micro: int) -> str:
        text = f"{hour:02d}:{minute:02d}"
        fraction = f"{micro:06d}".rstrip("0")
        if not (self.seconds or self.date_only) and not second and not fraction:
            return text
        text += f":{second:02d}"
        digits = max(self.digits, len(fraction))
        return f"{text}.{micro:06d}"[: len(text) + 1 + digits] if digits else text


def _offset_text(value: dt.datetime) -> str:
    offset = value.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _parse_date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value[:10])


def _parse_datetime(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _parse_time(value: Any) -> dt.time | None:
    return None if value is None else dt.time.fromisoformat(value)


class _Stored:
    """What the SQLite types below share: values are written in ``layout`` and read back by
    ``parse``; ``mixed``: compared through :func:`key`."""

    layout: Layout
    mixed: bool
    #: Stored text -> the column's Python value (None stays None).
    parse: ClassVar[Callable[[Any], Any]]

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        render = self.layout.render
        return lambda value: None if value is None else render(value)

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        return type(self).parse  # the plain function, not bound to the type


class TextDateTime(_Stored, sqlite.DATETIME):
    """A SQLite date-time column as found: written in ``layout``; ``mixed`` when it must be
    compared through :func:`key`; ``offsets`` says whether its values carry offsets."""

    parse = _parse_datetime

    def __init__(
        self,
        layout: Layout | None = None,
        mixed: bool = False,
        offsets: Offsets = "none",
        **_: Any,  # SQLAlchemy's storage_format / regexp, which the layout replaces
    ) -> None:
        super().__init__(timezone=offsets == "all")  # type: ignore[no-untyped-call]
        self.layout = layout or Layout("datetime", digits=6)
        self.mixed = mixed
        self.offsets = offsets


class TextTime(_Stored, sqlite.TIME):
    """A SQLite time column as found (see :class:`TextDateTime`); never with offsets."""

    parse = _parse_time

    def __init__(self, layout: Layout | None = None, mixed: bool = False, **_: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.layout = layout or Layout("time", digits=6)
        self.mixed = mixed


class TextDate(_Stored, sqlite.DATE):
    """A SQLite date column whose values are not all ``YYYY-MM-DD`` (some have a time too):
    a value is the date it starts with (see :class:`TextDateTime`)."""

    parse = _parse_date

    def __init__(self, layout: Layout | None = None, mixed: bool = True, **_: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.layout = layout or Layout("date", date_only=True)
        self.mixed = mixed

    def adapt(self, cls: Any, **kw: Any) -> Any:
        # pysqlite maps Date to a DATE subclass of its own, which would drop this type.
        if issubclass(cls, sqlite.DATE):
            return TextDate(self.layout, self.mixed)
        return super().adapt(cls, **kw)  # type: ignore[no-untyped-call]


class Key(sa.types.TypeDecorator[Any]):
    """The type of :func:`key`: binds a value as its normalised text, reads that text back
    (as UTC when the column holds offsets)."""

    impl = sa.String
    cache_ok = True

    def __init__(self, kind: Kind = "datetime", utc: bool = False):
        super().__init__()
        self.kind = kind
        self.utc = utc

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if self.kind == "time":
            return _key_text(value.strftime("%H:%M:%S"), value.microsecond)
        if self.kind == "date":
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        head = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value:%H:%M:%S}"
        return _key_text(head, value.microsecond)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if self.kind == "time":
            return dt.time.fromisoformat(value)
        if self.kind == "date":
            return dt.date.fromisoformat(value)
        moment = dt.datetime.fromisoformat(value)
        return moment.replace(tzinfo=dt.UTC) if self.utc else moment


def _key_text(head: str, micro: int) -> str:
    fraction = f"{micro:06d}".rstrip("0")
    return f"{head}.{fraction}" if fraction else head


def key(expr: ColumnElement[Any], kind: Kind) -> ColumnElement[str]:
    """SQL for the normalised text of a stored value: ``YYYY-MM-DD HH:MM:SS`` in UTC (or
    ``HH:MM:SS``) from SQLite's ``datetime()`` (``time()``), then the fraction without its
    trailing zeros. The fraction is cut off before ``datetime()`` sees it because SQLite
    rounds to milliseconds, which would carry ``59.9999`` into the next minute and merge
    values that differ by microseconds. NULL for text SQLite cannot read."""
    f = sa.func
    text = sa.type_coerce(expr, sa.String())
    if kind == "date":  # the date as written, whatever follows it
        return sa.type_coerce(f.substr(text, 1, 10), sa.String())
    if kind == "time":
        head: ColumnElement[Any] = f.time(f.substr(text, 1, 8))
        digits: ColumnElement[Any] = f.rtrim(f.substr(text, 10), "0")
    else:
        off = sa.case(
            (f.substr(text, -1) == "Z", "Z"),
            (
                sa.and_(f.length(text) > 10, f.substr(text, -6, 1).in_(["+", "-"])),
                f.substr(text, -6),
            ),
            else_="",
        )
        body = f.substr(text, 1, f.length(text) - f.length(off))
        head = f.datetime(f.substr(body, 1, 19).concat(off))
        digits = f.rtrim(f.substr(body, 21), "0")
    fraction = sa.case((digits == "", ""), else_=sa.literal(".").concat(digits))
    return sa.type_coerce(head.concat(fraction), sa.String())


def _mixed(col_type: Any) -> bool:
    return isinstance(col_type, TextDateTime | TextDate | TextTime) and col_type.mixed


def compared_type(col_type: Any) -> Any:
    """The type to bind a value compared with a column of ``col_type`` (see
    :func:`comparable`): :class:`Key` for a mixed column, else the column's own type."""
    if not _mixed(col_type):
        return col_type
    if isinstance(col_type, TextTime):
        return Key("time")
    if isinstance(col_type, TextDate):
        return Key("date")
    return Key("datetime", utc=col_type.offsets != "none")


def comparable(expr: ColumnElement[Any], col_type: Any) -> ColumnElement[Any]:
    """What to compare, order, group or take the min/max of for ``expr``, a column of
    ``col_type``: :func:`key` of it for a mixed column, else ``expr`` itself."""
    if not _mixed(col_type):
        return expr
    kind: Kind = (
        "time"
        if isinstance(col_type, TextTime)
        else "date"
        if isinstance(col_type, TextDate)
        else "datetime"
    )
    return sa.type_coerce(key(expr, kind), compared_type(col_type))


def instant_key(col_type: Any) -> Callable[[Any], str | None] | None:
    """For a mixed column, the text :func:`key` makes in SQL, computed in Python from a value
    read (or a filter value): what the change feed compares, so that it decides a filter on
    the instants a list compares (UTC; no offset counts as UTC), not on datetimes with and
    without offsets, which Python cannot order. None for other columns (compared as read);
    a value of another type (text the column's parser could not read) keys as None, as SQL's
    ``datetime()`` makes NULL of text it cannot read."""
    if not _mixed(col_type):
        return None
    bind, dialect = compared_type(col_type).process_bind_param, sqlite.dialect()
    kinds = dt.time if isinstance(col_type, TextTime) else dt.date  # dt.datetime is a date

    def instant(value: Any) -> str | None:
        return bind(value, dialect) if isinstance(value, kinds) else None

    return instant


#: A date-time as RFC 3339 writes it, with its offset optional: what a column where only some
#: values carry one shows and takes (ECMA-262, JSON Schema's regex dialect).
OPTIONAL_OFFSET_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)


def json_schema(col_type: Any) -> dict[str, Any] | None:
    """The JSON Schema of a column's values when no format names them: a date-time with or
    without an offset for a column where only some stored values carry one (RFC 3339's
    ``date-time`` needs an offset, the registry's ``date-time-local`` has none)."""
    if isinstance(col_type, TextDateTime) and col_type.offsets == "some":
        return {
            "type": "string",
            "pattern": OPTIONAL_OFFSET_PATTERN,
            "description": "A date-time with or without a UTC offset (the column holds both)",
        }
    return None


def python_type(col_type: Any) -> Any:
    """The Python type a column accepts when it is not the usual one: any datetime (with an
    offset or without) for a column where only some stored values carry offsets."""
    if isinstance(col_type, TextDateTime) and col_type.offsets == "some":
        return dt.datetime
    return None


# -- reflection --------------------------------------------------------------------------------


def _shape_expr(col: ColumnElement[Any]) -> ColumnElement[str]:
    shape: ColumnElement[Any] = sa.cast(col, sa.Text())
    for digit in "012345678":
        shape = sa.func.replace(shape, digit, "9", type_=sa.Text())
    return shape


def _glob(shape: str) -> str:
    """A GLOB pattern matching the values of an understood shape (it has no metacharacters)."""
    return shape.replace("9", "[0-9]")


def _shapes(conn: sa.Connection, column: sa.Column[Any], kind: Kind) -> list[str] | None:
    """The shapes of the column's values, most common first; None if one is not understood.

    Each scan looks for a value that matches none of the shapes found so far (GLOB, several
    times cheaper than computing every value's shape) and stops at the first: a column in one
    format costs one full scan, one in k formats at most k + 1, plus one to count them."""
    text = sa.cast(column, sa.Text())
    found: list[str] = []
    while len(found) <= _MAX_SHAPES:
        known = [text.op("GLOB", is_comparison=True)(_glob(s)) for s in found]
        stmt = sa.select(_shape_expr(column)).where(column.is_not(None)).limit(1)
        if known:
            stmt = stmt.where(sa.not_(sa.or_(*known)))
        shape = conn.execute(stmt).scalar()
        if shape is None:
            break
        if Layout.from_shape(shape, kind) is None:
            return None
        found.append(shape)
    if len(found) > 1:
        counts = conn.execute(
            sa.select(
                *(
                    sa.func.sum(text.op("GLOB", is_comparison=True)(_glob(s)), type_=sa.Integer())
                    for s in found
                )
            )
        ).one()
        ranked = sorted(zip(counts, found, strict=True), key=lambda cs: (-cs[0], cs[1]))
        found = [s for _, s in ranked]
    return found


def _column_type(conn: sa.Connection, column: sa.Column[Any]) -> sa.types.TypeEngine[Any] | None:
    """The type that serves ``column`` as stored, or None to keep SQLAlchemy's."""
    kind: Kind
    if isinstance(column.type, sa.DateTime):
        kind = "datetime"
    elif isinstance(column.type, sa.Date):
        kind = "date"
    elif isinstance(column.type, sa.Time):
        kind = "time"
    else:
        return None
    shapes = _shapes(conn, column, kind)
    if shapes is None:
        return _as_stored(conn, column)
    if not shapes:
        return None
    found = [lay for lay in (Layout.from_shape(s, kind) for s in shapes) if lay is not None]
    with_offsets = sum(1 for lay in found if lay.offset)
    mixed = len(found) > 1 or with_offsets > 0
    if kind == "time":
        return TextTime(found[0], mixed)
    if kind == "date":
        # Dates only: SQLAlchemy's own format. Any time part: compare the dates written.
        return None if all(lay.date_only for lay in found) else TextDate(found[0])
    offsets: Offsets = (
        "none" if not with_offsets else "all" if with_offsets == len(found) else "some"
    )
    return TextDateTime(found[0], mixed, offsets)


def _as_stored(conn: sa.Connection, column: sa.Column[Any]) -> sa.types.TypeEngine[Any]:
    """The type of a date/time column holding a value no understood format reads (a number,
    ``01/02/2021``...), which SQLAlchemy's date parsing would fail on: numbers only (Julian
    days, Unix times: which one, only the writer knows) are served as numbers, anything else
    as the values stored (:class:`~tablerest.columns.untyped.Untyped`)."""
    kind = sa.func.typeof(column)
    other = conn.execute(
        sa.select(sa.literal(1))
        .where(column.is_not(None), kind.not_in(["integer", "real"]))
        .limit(1)
    ).scalar()
    return Untyped() if other is not None else sa.Float()


def adopt_formats(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """Give each date-time and time column of ``tables`` (reflected from SQLite) the type
    that reads, writes and compares it in the formats its values are stored in."""
    for table in tables:
        for column in table.columns:
            found = _column_type(conn, column)
            if found is not None:
                column.type = found
