"""SQLite date/time columns written by other programs, in their own text formats.

Each database is written with the ``sqlite3`` module as another application would (no
tablerest, no SQLAlchemy), then served by reflection. Answers are checked against what the
values mean (instants), and after writes the stored text is read back with SQL.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from tablerest import ChangeFeed
from tablerest.columns.sqlite_time import OPTIONAL_OFFSET_PATTERN
from tablerest.server import create_app
from tests.helpers import problem

Serve = Callable[[str], tuple[FlaskClient, Path]]

#: One instant (2021-01-01 00:00 UTC) in four formats, then other values: the app that wrote
#: the table changed its writer (and some rows came from a JavaScript client, with ``Z``).
MIXED = [
    (1, "2021-01-01 00:00:00"),
    (2, "2021-01-01T00:00:00"),
    (3, "2021-01-01"),
    (4, "2021-01-01T00:00:00.000Z"),
    (5, "2021-01-01 00:00:00.123"),
    (6, "2020-12-31T20:00:00-05:00"),  # 2021-01-01 01:00 UTC
    (7, "2024-01-02T09:00:00Z"),
    (8, "2024-03-10T10:00:00-05:00"),  # 15:00 UTC
    (9, "2021-01-01 00:00:00.000001"),
    (10, None),
]


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """Write ``sql`` with the sqlite3 module, then serve the file by reflection."""

    def build(sql: str) -> tuple[FlaskClient, Path]:
        path = tmp_path / "other-program.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.executescript(sql)
        conn.close()
        app = create_app(f"sqlite:///{path}", engine_options={"poolclass": sa.NullPool})
        return app.test_client(), path

    return build


def _rows(values: list[tuple[int, str | None]]) -> str:
    return "".join(
        f"INSERT INTO events VALUES ({i}, {'NULL' if v is None else repr(v)});\n" for i, v in values
    )


def _ids(client: FlaskClient, query: str) -> list[int]:
    resp = client.get(f"/api/events?page[size]=100&{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [row["id"] for row in resp.get_json()["data"]]


def _stored(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as conn:
        found = [r[0] for r in conn.execute(sql)]
    conn.close()
    return found


def _q(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture
def mixed(serve: Serve) -> tuple[FlaskClient, Path]:
    return serve("CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME);\n" + _rows(MIXED))


# -- filters ---------------------------------------------------------------------------------


def test_uniform_column_filters_match_values_written_without_fractions(serve: Serve) -> None:
    client, _ = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME);\n"
        "CREATE INDEX events_at ON events (at);\n"
        + _rows([(i, f"2021-01-0{i} 00:00:00") for i in range(1, 6)])
    )
    assert _ids(client, "filter[at]=2021-01-02T00:00:00") == [2]
    assert _ids(client, "filter[at][ne]=2021-01-02T00:00:00") == [1, 3, 4, 5]
    assert _ids(client, "filter[at][lt]=2021-01-02T00:00:00") == [1]
    assert _ids(client, "filter[at][le]=2021-01-02T00:00:00") == [1, 2]
    assert _ids(client, "filter[at][gt]=2021-01-04T00:00:00") == [5]
    assert _ids(client, "filter[at][ge]=2021-01-02&filter[at][lt]=2021-01-04T00:00:00") == [2, 3]
    assert _ids(client, "filter[at][in]=2021-01-01T00:00:00,2021-01-05T00:00:00") == [1, 5]
    # A value finer than the stored format still falls on the right side of each row.
    assert _ids(client, "filter[at][gt]=2021-01-02T00:00:00.5") == [3, 4, 5]
    assert _ids(client, "filter[at][le]=2021-01-02T00:00:00.5") == [1, 2]


def test_mixed_formats_filter_by_the_instant_each_row_means(
    mixed: tuple[FlaskClient, Path],
) -> None:
    client, _ = mixed
    assert _ids(client, "filter[at]=2021-01-01T00:00:00") == [1, 2, 3, 4]
    assert _ids(client, "filter[at]=" + _q("2021-01-01T00:00:00+00:00")) == [1, 2, 3, 4]
    assert _ids(client, "filter[at]=2021-01-01T00:00:00.123") == [5]
    assert _ids(client, "filter[at]=2021-01-01T00:00:00.000001") == [9]
    assert _ids(client, "filter[at][ne]=2021-01-01T00:00:00") == [5, 6, 7, 8, 9, 10]
    assert _ids(client, "filter[at][gt]=2021-01-01T00:00:00") == [5, 6, 7, 8, 9]
    assert _ids(client, "filter[at][lt]=2021-01-01T00:00:00.123") == [1, 2, 3, 4, 9]
    assert _ids(client, "filter[at][ge]=2021-01-01T01:00:00&filter[at][lt]=2024-03-10") == [6, 7]
    assert _ids(client, "filter[at][in]=2024-01-02T09:00:00,2021-01-01T00:00:00.123") == [5, 7]
    assert _ids(client, "filter[at][nin]=2021-01-01T00:00:00") == [5, 6, 7, 8, 9, 10]


def test_filters_with_offsets_compare_instants(mixed: tuple[FlaskClient, Path]) -> None:
    client, _ = mixed
    # 10:00-05:00 is 15:00 UTC, whichever offset the filter is written in.
    assert _ids(client, "filter[at]=" + _q("2024-03-10T10:00:00-05:00")) == [8]
    assert _ids(client, "filter[at]=2024-03-10T15:00:00Z") == [8]
    assert _ids(client, "filter[at]=" + _q("2024-03-10T16:30:00+01:30")) == [8]
    assert _ids(client, "filter[at][gt]=2024-03-10T14:59:59Z") == [8]
    assert _ids(client, "filter[at][lt]=" + _q("2020-12-31T20:00:00-05:00")) == [1, 2, 3, 4, 5, 9]
    # Values without an offset count as UTC (SQLite's rule).
    assert _ids(client, "filter[at]=2021-01-01T01:00:00") == [6]


def test_column_of_utc_z_values_compares_instants(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP);\n"
        + _rows([(1, "2024-01-02T09:00:00Z"), (2, "2024-01-02T09:00:00.5Z"), (3, None)])
    )
    assert _ids(client, "filter[at]=2024-01-02T09:00:00Z") == [1]
    assert _ids(client, "filter[at][gt]=" + _q("2024-01-02T04:00:00-05:00")) == [2]
    assert _ids(client, "sort=-at") == [2, 1, 3]
    # Every stored value has an offset: a value without one is refused, as on a column with
    # a time zone, naming the parameter or the field.
    body = problem(client.get("/api/events?filter[at]=2024-01-02T09:00:00"), 400)
    assert body["parameter"] == "filter[at]"
    body = problem(client.post("/api/events", json={"at": "2024-01-02T09:00:00"}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/at"]
    assert _stored(path, "SELECT count(*) FROM events") == [3]


# -- sorts, cursors, aggregates -----------------------------------------------------------------


def test_sort_orders_instants_whatever_the_format(mixed: tuple[FlaskClient, Path]) -> None:
    client, _ = mixed
    # NULL smallest; equal instants by primary key.
    assert _ids(client, "sort=at") == [10, 1, 2, 3, 4, 9, 5, 6, 7, 8]
    assert _ids(client, "sort=-at") == [8, 7, 6, 5, 9, 1, 2, 3, 4, 10]


@pytest.mark.parametrize("sort", ["at", "-at"])
def test_keyset_pages_walk_every_row_once_in_order(
    mixed: tuple[FlaskClient, Path], sort: str
) -> None:
    client, _ = mixed
    url: str | None = f"/api/events?page[size]=3&page[after]=&sort={sort}"
    seen: list[int] = []
    for _ in range(len(MIXED)):  # a wrong cursor can loop: stop at one page per row
        if url is None:
            break
        body = client.get(url).get_json()
        seen += [row["id"] for row in body["data"]]
        url = body["links"]["next"]
    assert seen == _ids(client, f"sort={sort}")
    assert len(seen) == len(MIXED)


def test_min_max_and_groups_are_by_instant(mixed: tuple[FlaskClient, Path]) -> None:
    client, _ = mixed
    body = client.get("/api/events?aggregate=min(at),max(at),count(at)").get_json()
    # The column holds offsets: aggregated instants are shown in UTC.
    assert body["data"] == [
        {
            "min_at": "2021-01-01T00:00:00+00:00",
            "max_at": "2024-03-10T15:00:00+00:00",
            "count_at": 9,
        }
    ]
    groups = client.get("/api/events?group_by=at&aggregate=count()&sort=-count()").get_json()
    assert groups["data"][0] == {"at": "2021-01-01T00:00:00+00:00", "count": 4}
    assert len(groups["data"]) == 7  # NULL, the 4 equal instants, then one each
    having = "group_by=at&aggregate=count()&having[count()][ge]=2"
    assert client.get(f"/api/events?{having}").get_json()["data"] == [
        {"at": "2021-01-01T00:00:00+00:00", "count": 4}
    ]
    late = "aggregate=max(at)&having[max(at)][eq]=" + _q("2024-03-10T10:00:00-05:00")
    assert len(client.get(f"/api/events?{late}").get_json()["data"]) == 1


# -- writes ------------------------------------------------------------------------------------


def test_writes_keep_a_uniform_columns_format(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME UNIQUE, note TEXT);\n"
        "INSERT INTO events VALUES (1, '2021-01-01T08:30:00', 'a');\n"
        "INSERT INTO events VALUES (2, '2021-01-02T08:30:00', 'b');\n"
    )
    assert client.post("/api/events", json={"at": "2022-05-06T07:08:09"}).status_code == 201
    bulk = [{"at": "2022-05-07T00:00:00"}, {"at": "2022-05-08T10:00:00"}]
    assert client.post("/api/events", json=bulk).status_code == 201
    assert client.put("/api/events/1", json={"at": "2021-01-01T09:00:00"}).status_code == 200
    assert client.patch("/api/events/2", json={"at": "2021-01-02T09:00:00"}).status_code == 200
    upsert = client.post("/api/events?on_conflict=at", json={"at": "2022-05-06T07:08:09"})
    assert upsert.status_code in (200, 201), upsert.get_data(as_text=True)
    assert _stored(path, "SELECT at FROM events ORDER BY id") == [
        "2021-01-01T09:00:00",
        "2021-01-02T09:00:00",
        "2022-05-06T07:08:09",
        "2022-05-07T00:00:00",
        "2022-05-08T10:00:00",
    ]
    # And the new rows are found like the old ones.
    assert _ids(client, "filter[at]=2022-05-07T00:00:00") == [4]


def test_writes_keep_the_z_format_of_a_utc_column(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME);\n"
        "INSERT INTO events VALUES (1, '2024-01-02T09:00:00.000Z');\n"
    )
    made = client.post("/api/events", json={"at": "2024-01-02T04:00:00-05:00"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["at"] == "2024-01-02T09:00:00+00:00"
    assert _stored(path, "SELECT at FROM events ORDER BY id") == [
        "2024-01-02T09:00:00.000Z",
        "2024-01-02T09:00:00.000Z",
    ]


def test_get_then_put_of_a_row_stored_with_an_offset_succeeds(
    mixed: tuple[FlaskClient, Path],
) -> None:
    client, path = mixed
    row = client.get("/api/events/8").get_json()
    assert row == {"id": 8, "at": "2024-03-10T10:00:00-05:00"}  # read with its offset
    put = client.put("/api/events/8", json=row)
    assert put.status_code == 200, put.get_data(as_text=True)
    assert put.get_json() == row
    # Stored in the column's most common format, keeping the offset (the same instant).
    assert _stored(
        path, "SELECT julianday(at) = julianday('2024-03-10T15:00:00') FROM events WHERE id = 8"
    ) == [1]
    assert _stored(path, "SELECT at FROM events WHERE id = 8")[0].endswith("-05:00")
    # Some stored values have offsets, some not: both kinds are accepted, and read back.
    for value in ("2025-01-01T00:00:00", "2025-01-01T00:00:00+09:00"):
        made = client.post("/api/events", json={"at": value})
        assert made.status_code == 201, made.get_data(as_text=True)
        assert made.get_json()["at"] == value


def test_empty_column_keeps_todays_format(serve: Serve) -> None:
    client, path = serve("CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME);")
    assert client.post("/api/events", json={"at": "2021-01-01T00:00:00"}).status_code == 201
    assert _stored(path, "SELECT at FROM events") == ["2021-01-01 00:00:00.000000"]
    problem(client.post("/api/events", json={"at": "2021-01-01T00:00:00Z"}), 422)


# -- time columns --------------------------------------------------------------------------------


def test_time_columns_in_several_formats(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIME);\n"
        + _rows(
            [(1, "10:00:00"), (2, "10:00"), (3, "09:59:59.5"), (4, "10:00:00.000"), (5, "08:00:00")]
        )
    )
    assert _ids(client, "filter[at]=10:00:00") == [1, 2, 4]
    assert _ids(client, "filter[at][lt]=10:00:00") == [3, 5]
    assert _ids(client, "sort=-at") == [1, 2, 4, 3, 5]
    assert client.patch("/api/events/3", json={"at": "11:00:00"}).status_code == 200
    assert _ids(client, "filter[at][gt]=10:00:00") == [3]
    # Written in the column's most common format.
    assert _stored(path, "SELECT at FROM events WHERE id = 3") == ["11:00:00"]


# -- date columns ---------------------------------------------------------------------------------


def test_date_columns_holding_times_too_compare_the_dates_written(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATE);\n"
        + _rows(
            [
                (1, "2021-01-01"),
                (2, "2021-01-01 00:00:00"),
                (3, "2021-01-02T00:00:00Z"),
                (4, "2021-01-03"),
                (5, "2020-12-31"),
            ]
        )
    )
    # Read as dates (once a 500: '2021-01-01 00:00:00' is not an ISO date).
    rows = client.get("/api/events?sort=at").get_json()["data"]
    assert [(r["id"], r["at"]) for r in rows] == [
        (5, "2020-12-31"),
        (1, "2021-01-01"),
        (2, "2021-01-01"),
        (3, "2021-01-02"),
        (4, "2021-01-03"),
    ]
    assert _ids(client, "filter[at]=2021-01-01") == [1, 2]
    assert _ids(client, "filter[at][gt]=2021-01-01") == [3, 4]
    assert _ids(client, "filter[at][in]=2021-01-02,2020-12-31") == [3, 5]
    body = client.get("/api/events?aggregate=min(at),max(at)").get_json()
    assert body["data"] == [{"min_at": "2020-12-31", "max_at": "2021-01-03"}]
    assert client.put("/api/events/2", json={"at": "2021-01-04"}).status_code == 200
    # Written in the column's most common format, dates only.
    assert _stored(path, "SELECT at FROM events WHERE id = 2") == ["2021-01-04"]
    assert _ids(client, "filter[at][ge]=2021-01-03") == [2, 4]


def test_uniform_column_filters_can_use_its_index(serve: Serve) -> None:
    client, path = serve(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME, note TEXT);\n"
        "CREATE INDEX events_at ON events (at);\n"
        + "".join(
            f"INSERT INTO events VALUES ({i}, '2021-01-{i:02d} 10:00:00', 'x');\n"
            for i in range(1, 29)
        )
    )
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM events" in statement and "WHERE" in statement:
            seen.append((statement, params))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
    try:
        assert _ids(client, "filter[at][ge]=2021-01-27T10:00:00&sort=at") == [27, 28]
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
    statement, params = seen[-1]
    with sqlite3.connect(path) as conn:
        plan = " ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
    conn.close()
    assert "INDEX events_at" in plan, plan


# -- the change feed -----------------------------------------------------------------------------

#: Filters on the mixed column, with offsets and without, around its equal instants.
FEED_FILTERS = [
    "filter[at]=2021-01-01T00:00:00",
    "filter[at]=" + _q("2021-01-01T05:30:00+05:30"),
    "filter[at][ne]=2021-01-01T00:00:00",
    "filter[at][ge]=2021-01-01T00:00:00",
    "filter[at][gt]=2021-01-01T00:00:00",
    "filter[at][lt]=2021-01-01T01:00:00",
    "filter[at][le]=" + _q("2020-12-31T20:00:00-05:00"),
    "filter[at][ge]=2021-01-01T01:00:00&filter[at][lt]=2024-03-10",
    "filter[at][in]=2024-01-02T09:00:00," + _q("2021-01-01T00:00:00+00:00"),
    "filter[at][nin]=2021-01-01T00:00:00,2024-03-10T15:00:00Z",
    "filter[at][null]=true",
]


def _feed_keys(client: FlaskClient, query: str) -> list[int]:
    resp = client.get(f"/api/events/changes?{query}", headers={"Last-Event-ID": "0"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    found = [
        orjson.loads(line[len("data: ") :])
        for line in resp.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    return [int(event["key"]) for event in found]


def test_the_change_feed_decides_date_time_filters_as_lists_do(tmp_path: Path) -> None:
    """The feed compares the instants a list compares, on rows another program wrote in its
    formats (seen by the feed once changed through the API: the outbox records only
    tablerest's writes) and on rows created through the API, with offsets and without."""
    path = tmp_path / "other-program.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME, note TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, 'raw')", MIXED)
    conn.close()
    client = create_app(
        f"sqlite:///{path}",
        engine_options={"poolclass": sa.NullPool},
        changes=ChangeFeed(stream_seconds=0),
    ).test_client()
    for i, _ in MIXED:
        assert client.patch(f"/api/events/{i}", json={"note": "seen"}).status_code == 200
    for at in ("2021-01-01T05:30:00+05:30", "2021-01-01T00:00:00.000001", "2024-03-10T15:00:00"):
        assert client.post("/api/events", json={"at": at}).status_code == 201
    # The rows as the feed has them: another program's text, read as each value says.
    assert _stored(path, "SELECT at FROM events WHERE id IN (4, 6)") == [
        "2021-01-01T00:00:00.000Z",
        "2020-12-31T20:00:00-05:00",
    ]
    assert _ids(client, "filter[at]=2021-01-01T00:00:00") == [1, 2, 3, 4, 11]
    for query in FEED_FILTERS:
        assert _feed_keys(client, query) == _ids(client, query), query


# -- the OpenAPI document ------------------------------------------------------------------------

#: Columns of each kind: ``some`` holds values with and without offsets, ``zoned`` only with,
#: ``local`` one format without, ``wall`` several without; a TIME and a DATE holding times.
DESCRIBED = """
CREATE TABLE events (id INTEGER PRIMARY KEY, some DATETIME, zoned TIMESTAMP,
                     local DATETIME NOT NULL, wall DATETIME, clock TIME, day DATE);
INSERT INTO events VALUES
  (1, '2021-01-01 00:00:00', '2021-01-01T00:00:00Z', '2021-01-01 00:00:00',
   '2021-01-01', '10:00', '2021-01-01'),
  (2, '2024-03-10T10:00:00-05:00', '2024-03-10T10:00:00.5-05:00', '2021-01-02 10:00:00',
   '2021-01-01T10:00:00.123', '10:00:00.5', '2021-01-01 10:00:00'),
  (3, '2021-01-01T00:00:00.000001Z', '2024-01-02T09:00:00+05:30', '2021-01-03 00:00:00',
   NULL, NULL, NULL);
"""

_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")
_LOCAL_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")


def _checker() -> jsonschema.FormatChecker:
    """JSON Schema's formats, with the OpenAPI registry's ``date-time-local`` and
    ``time-local`` (RFC 3339 without the offset) checked too."""
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    assert "date-time" in checker.checkers  # rfc3339-validator is installed: offsets checked
    extra = jsonschema.FormatChecker()
    extra.checkers.update(checker.checkers)

    @extra.checks("date-time-local", raises=ValueError)
    def local(value: object) -> bool:
        return not isinstance(value, str) or bool(
            _LOCAL.fullmatch(value) and dt.datetime.fromisoformat(value)
        )

    @extra.checks("time-local", raises=ValueError)
    def local_time(value: object) -> bool:
        return not isinstance(value, str) or bool(
            _LOCAL_TIME.fullmatch(value) and dt.time.fromisoformat(value)
        )

    return extra


def _validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=_checker())


def test_the_openapi_document_describes_what_each_date_time_column_holds(
    serve: Serve,
) -> None:
    """Values read match the document's row schemas; sent back, they match its body schemas
    and filter parameters, and are accepted."""
    client, _ = serve(DESCRIBED)
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    branches = {
        name: prop.get("anyOf", [prop])[0]
        for name, prop in doc["components"]["schemas"]["Events"]["properties"].items()
    }
    formats = {n: b.get("format") or ("pattern" in b and "pattern") for n, b in branches.items()}
    assert formats == {
        "id": False,
        "some": "pattern",  # no format names "offset or not": a pattern that allows both
        "zoned": "date-time",
        "local": "date-time-local",
        "wall": "date-time-local",
        "clock": "time-local",
        "day": "date",
    }
    listed = client.get("/api/events?page[size]=100").get_json()
    _validator(doc, "EventsList").validate(listed)
    rows = listed["data"]
    assert {r["some"] for r in rows} == {
        "2021-01-01T00:00:00",
        "2024-03-10T10:00:00-05:00",
        "2021-01-01T00:00:00.000001+00:00",
    }
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/events"]["get"]["parameters"]}
    for row in rows:
        _validator(doc, "Events").validate(row)
        _validator(doc, "EventsReplace").validate(row)
        put = client.put(f"/api/events/{row['id']}", json=row)
        assert put.status_code == 200, put.get_data(as_text=True)
        assert put.get_json() == row
        for column in ("some", "zoned", "local", "wall", "clock", "day"):
            if row[column] is None:
                continue
            schema = {**params[f"filter[{column}]"], "components": doc["components"]}
            jsonschema.Draft202012Validator(schema, format_checker=_checker()).validate(row[column])
            found = _ids(client, f"filter[{column}]={_q(row[column])}")
            assert row["id"] in found, (column, row)
        created = {k: v for k, v in row.items() if k != "id"}
        _validator(doc, "EventsCreate").validate(created)
        made = client.post("/api/events", json=created)
        assert made.status_code == 201, made.get_data(as_text=True)


def test_every_value_the_document_allows_some_offsets_for_is_accepted(serve: Serve) -> None:
    """Each date-time the pattern matches (on a real calendar day) is taken by a column where
    only some values have an offset, and read back as the same instant, offset or not."""
    client, _ = serve(DESCRIBED)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=st.from_regex(OPTIONAL_OFFSET_PATTERN, fullmatch=True))
    def check(value: str) -> None:
        try:
            meant = dt.datetime.fromisoformat(value.upper())
        except ValueError:
            return  # 2021-02-31: the pattern does not know the calendar
        made = client.post("/api/events", json={"some": value, "local": "2021-01-01T00:00:00"})
        assert made.status_code == 201, (value, made.get_data(as_text=True))
        read = dt.datetime.fromisoformat(made.get_json()["some"])
        assert read == meant, value
        assert (read.tzinfo is None) == (meant.tzinfo is None), value

    check()
