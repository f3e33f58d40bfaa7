"""Aggregates: ``group_by``, ``aggregate``, ``having``, ``distinct`` and ``sort`` over groups,
checked against a Python reference on random data, and every way to ask wrongly."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import problem

GENRES = [None, "fantasy", "poetry", "mystery"]


def _load(engine: sa.Engine, books: list[dict[str, Any]]) -> None:
    table = models.Book.__table__
    with engine.begin() as conn:
        conn.execute(table.delete())
        conn.execute(models.Author.__table__.delete())
        conn.execute(
            models.Author.__table__.insert(),
            [{"id": 1, "name": "A", "country": "NZ"}, {"id": 2, "name": "B", "country": None}],
        )
        if books:
            conn.execute(table.insert(), books)


book = st.fixed_dictionaries(
    {
        "title": st.sampled_from(["x", "y"]),
        "genre": st.sampled_from(GENRES),
        "year": st.one_of(st.none(), st.integers(1900, 2030)),
        "pages": st.integers(1, 2000),
        "author_id": st.sampled_from([None, 1, 2]),
    }
)


def _reference(books: list[dict[str, Any]], min_count: int) -> list[dict[str, Any]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for b in books:
        if b["year"] is None or b["year"] >= 1950:  # the filter, applied before grouping
            groups[b["genre"]].append(b)
    out = []
    for genre, rows in groups.items():
        if len(rows) <= min_count:
            continue
        years = [r["year"] for r in rows if r["year"] is not None]
        out.append(
            {
                "genre": genre,
                "count": len(rows),
                "count_year": len(years),
                "sum_pages": sum(r["pages"] for r in rows),
                "avg_pages": statistics.fmean(r["pages"] for r in rows),
                "min_year": min(years, default=None),
                "max_year": max(years, default=None),
            }
        )
    # Sorted by count descending, then by the group key (nulls first).
    return sorted(out, key=lambda g: (-g["count"], g["genre"] is not None, g["genre"] or ""))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(books=st.lists(book, max_size=40), min_count=st.integers(0, 3))
def test_groups_match_a_python_reference(
    make_app: AppFactory, engine: sa.Engine, books: list[dict[str, Any]], min_count: int
) -> None:
    _load(engine, books)
    client = make_app().test_client()
    query = (
        "group_by=genre&aggregate=count(),count(year),sum(pages),avg(pages),min(year),max(year)"
        f"&having[count()][gt]={min_count}&sort=-count(),genre&filter[year][ge]=1950"
        "&page[size]=100"
    )
    # Rows with a null year are kept by the reference's filter only if the API keeps them too:
    # a null year never matches ge (the query language's rule), so drop them there.
    expected = _reference([b for b in books if b["year"] is not None], min_count)

    got = client.get(f"/api/books?{query}").get_json()["data"]

    assert [g["genre"] for g in got] == [g["genre"] for g in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["avg_pages"] == pytest.approx(e.pop("avg_pages"))
        g.pop("avg_pages")
        assert g == e


every_backend = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def shelf(make_app: AppFactory, engine: sa.Engine) -> FlaskClient:
    _load(
        engine,
        [
            {"title": "a", "genre": "poetry", "year": 2001, "pages": 10, "author_id": 1},
            {"title": "b", "genre": "poetry", "year": 2003, "pages": 30, "author_id": 2},
            {"title": "c", "genre": "mystery", "year": None, "pages": 20, "author_id": 1},
            {"title": "d", "genre": None, "year": 1999, "pages": 40, "author_id": None},
        ],
    )
    return make_app().test_client()


@every_backend
def test_group_through_a_to_one_relation(shelf: FlaskClient) -> None:
    body = shelf.get("/api/books?group_by=author.country&aggregate=count(),sum(pages)").get_json()

    assert body["data"] == [
        {"author.country": None, "count": 2, "sum_pages": 70},  # author 2 and no author
        {"author.country": "NZ", "count": 2, "sum_pages": 30},
    ]


@every_backend
def test_distinct_values_and_whole_table_aggregates(shelf: FlaskClient) -> None:
    distinct = shelf.get("/api/books?distinct=genre").get_json()["data"]
    whole = shelf.get("/api/books?aggregate=count(),min(year),max(title)").get_json()["data"]
    counted = shelf.get("/api/books?aggregate=count()&filter[pages][gt]=15").get_json()["data"]

    assert distinct == [{"genre": None}, {"genre": "mystery"}, {"genre": "poetry"}]
    assert whole == [{"count": 4, "min_year": 1999, "max_title": "d"}]
    assert counted == [{"count": 3}]


@every_backend
def test_groups_page_count_and_export(shelf: FlaskClient) -> None:
    first = shelf.get("/api/books?distinct=genre&page[size]=2&count=true").get_json()
    second = shelf.get(first["links"]["next"]).get_json()
    exported = shelf.get("/api/books?group_by=genre&aggregate=count()&format=csv")
    lines = shelf.get("/api/books?group_by=genre&aggregate=count()&format=ndjson")

    assert first["meta"]["total"] == 3
    assert [g["genre"] for g in first["data"] + second["data"]] == [None, "mystery", "poetry"]
    assert second["links"]["next"] is None
    assert list(csv.DictReader(io.StringIO(exported.get_data(as_text=True)))) == [
        {"genre": "", "count": "1"},
        {"genre": "mystery", "count": "1"},
        {"genre": "poetry", "count": "2"},
    ]
    assert lines.get_data(as_text=True).count("\n") == 3


@every_backend
def test_groups_in_json_api_are_meta(shelf: FlaskClient) -> None:
    doc = shelf.get(
        "/api/books?group_by=genre&aggregate=count()",
        headers={"Accept": "application/vnd.api+json"},
    ).get_json()

    assert doc["data"] == []
    assert doc["meta"]["groups"][2] == {"genre": "poetry", "count": 2}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("group_by=nope", "group_by"),
        ("group_by=secret_note", "group_by"),  # hidden: unknown
        ("aggregate=max(secret_note)", "aggregate"),
        ("aggregate=avg(title)", "aggregate"),
        ("aggregate=median(pages)", "aggregate"),
        ("aggregate=sum()", "aggregate"),
        ("aggregate=count(),count()", "aggregate"),
        ("group_by=genre&having[count()][gt]=1", "having[count()][gt]"),  # not asked for
        ("aggregate=count()&having[count()][between]=1", "having[count()][between]"),
        ("aggregate=count()&having[count()][gt]=many", "having[count()][gt]"),
        ("group_by=genre&sort=year", "sort"),
        ("group_by=genre&distinct=genre", "distinct"),
        ("distinct=genre&aggregate=count()", "aggregate"),
        ("group_by=genre&include=author", "include"),
        ("group_by=genre&fields=genre", "fields"),
        ("group_by=genre&page[after]=", "page[after]"),
        ("group_by=", "group_by"),
    ],
)
def test_wrong_grouping_is_a_400_naming_the_parameter(
    shelf: FlaskClient, query: str, parameter: str
) -> None:
    body = problem(shelf.get(f"/api/books?{query}"), 400)

    assert body["parameter"] == parameter


def test_groups_by_a_to_many_relation_are_refused(make_app: AppFactory) -> None:
    client = make_app().test_client()

    body = problem(client.get("/api/authors?group_by=books.year"), 400)

    assert "to-many" in body["detail"]
