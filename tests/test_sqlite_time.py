"""sqlite_time without HTTP: layouts write values that read back unchanged, and the normalised
text computed in Python (bound values) equals the one SQLite computes from stored text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tablerest.columns.sqlite_time import Key, Layout, TextDateTime, instant_key, key
from tablerest.decode.values import value_parser
from tablerest.render.json import dumps

ZONES = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=5.5))]
)
VALUES = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    ZONES,
)
LAYOUTS = st.builds(
    Layout,
    kind=st.just("datetime"),
    date_only=st.booleans(),
    sep=st.sampled_from(" T"),
    seconds=st.booleans(),
    digits=st.sampled_from([0, 3, 6]),
    offset=st.sampled_from(["", "Z", "+"]),
)


@pytest.fixture(scope="module")
def conn() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as c:
        yield c
    engine.dispose()


def _same(a: dt.datetime, b: dt.datetime) -> bool:
    """Equal instants with the same kind (with or without an offset)."""
    return (a.tzinfo is None) == (b.tzinfo is None) and a == b


@settings(max_examples=300, deadline=None)
@given(value=VALUES, layout=LAYOUTS)
def test_a_written_value_reads_back_as_itself(value: dt.datetime, layout: Layout) -> None:
    text = layout.render(value)
    back = dt.datetime.fromisoformat(text)
    assert _same(back, value), text
    if value.tzinfo is not None and layout.offset != "Z":
        assert back.utcoffset() == value.utcoffset(), text  # the offset is kept


def test_render_keeps_the_layout_and_adds_only_needed_digits() -> None:
    whole = Layout("datetime", sep="T", digits=0)
    assert whole.render(dt.datetime(2021, 1, 1)) == "2021-01-01T00:00:00"
    assert whole.render(dt.datetime(2021, 1, 1, 0, 0, 0, 500000)) == "2021-01-01T00:00:00.5"
    millis = Layout("datetime", digits=3, offset="Z")
    est = dt.timezone(dt.timedelta(hours=-5))
    assert millis.render(dt.datetime(2021, 1, 1, 4, tzinfo=est)) == "2021-01-01 09:00:00.000Z"
    assert Layout("datetime", date_only=True).render(dt.datetime(2021, 1, 1)) == "2021-01-01"
    assert Layout("time", seconds=False).render(dt.time(10, 0)) == "10:00"
    assert Layout("time", seconds=False).render(dt.time(10, 0, 1)) == "10:00:01"


@settings(max_examples=300, deadline=None)
@given(value=VALUES, layout=LAYOUTS)
def test_sqlite_normalises_stored_text_as_python_normalises_bound_values(
    conn: sa.Connection, value: dt.datetime, layout: Layout
) -> None:
    text = layout.render(value)
    in_sql = conn.execute(sa.select(key(sa.literal(text, sa.String()), "datetime"))).scalar()
    assert in_sql == Key("datetime").process_bind_param(value, conn.dialect), text


@settings(max_examples=200, deadline=None)
@given(
    value=st.times(),
    layout=st.builds(
        Layout, kind=st.just("time"), seconds=st.booleans(), digits=st.sampled_from([0, 3, 6])
    ),
)
def test_times_normalise_alike_in_sqlite_and_python(
    conn: sa.Connection, value: dt.time, layout: Layout
) -> None:
    text = layout.render(value)
    assert dt.time.fromisoformat(text) == value, text
    in_sql = conn.execute(sa.select(key(sa.literal(text, sa.String()), "time"))).scalar()
    assert in_sql == Key("time").process_bind_param(value, conn.dialect), text


@settings(max_examples=300, deadline=None)
@given(value=VALUES, layout=LAYOUTS)
def test_the_feeds_key_of_a_row_read_is_sqlites_key_of_the_stored_text(
    conn: sa.Connection, value: dt.datetime, layout: Layout
) -> None:
    """The change feed keys a value read, shown as JSON and parsed back as a list compares
    the stored text in SQL."""
    text = layout.render(value)
    col_type = TextDateTime(layout, mixed=True, offsets="some")
    read = col_type.result_processor(conn.dialect, None)(text)
    shown = value_parser(col_type)(orjson.loads(dumps({"v": read}))["v"])
    in_sql = conn.execute(sa.select(key(sa.literal(text, sa.String()), "datetime"))).scalar()
    instant = instant_key(col_type)
    assert instant is not None
    assert instant(shown) == in_sql, text
    assert instant("not a date-time") is None  # as datetime() of unreadable text
    assert instant_key(TextDateTime(layout)) is None  # uniform: compared as read
