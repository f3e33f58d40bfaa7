"""Unit tests of the decode stage: query strings and URL keys -> intents, without a database."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tablerest.decode.queries import ListIntent, QueryReader
from tablerest.decode.urlkeys import parse_key
from tablerest.errors import InvalidParameter, NotFound
from tablerest.relations import Relation
from tablerest.resource import Resource
from tests import models

BOOKS = Resource(models.Book.__table__, model=models.Book, page_size=20, max_page_size=100)  # type: ignore[arg-type]
ENROLLMENTS = Resource(models.Enrollment.__table__, model=models.Enrollment)  # type: ignore[arg-type]
GADGETS = Resource(models.Gadget.__table__, model=models.Gadget)  # type: ignore[arg-type]


class Catalog:
    """Just the resources above, for resolving relations."""

    resources = (BOOKS, ENROLLMENTS, GADGETS)

    def target(self, relation: Relation) -> Resource | None:
        return next((r for r in self.resources if r.table is relation.target), None)

    def by_name(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name == name), None)


CATALOG = Catalog()
QUERIES = QueryReader(CATALOG)


def test_defaults_are_the_first_page_of_the_default_size() -> None:
    assert QUERIES.list_intent(BOOKS, {}) == ListIntent(
        limit=20, offset=0, page_number=1, count=None
    )


@given(size=st.integers(1, 100), number=st.integers(1, 10_000))
def test_page_number_and_size_give_offset(size: int, number: int) -> None:
    intent = QUERIES.list_intent(BOOKS, {"page[size]": [str(size)], "page[number]": [str(number)]})
    assert (intent.limit, intent.offset, intent.page_number) == (size, (number - 1) * size, number)


def test_limit_and_offset() -> None:
    intent = QUERIES.list_intent(BOOKS, {"limit": ["7"], "offset": ["3"], "count": ["true"]})
    assert intent == ListIntent(limit=7, offset=3, page_number=None, count="exact")


@given(st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+-").isdigit()))
def test_non_integer_page_size_names_the_parameter(raw: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        QUERIES.list_intent(BOOKS, {"page[size]": [raw]})
    assert info.value.parameter == "page[size]"


def test_keys_are_converted_by_column_type() -> None:
    assert parse_key(BOOKS, "42") == (42,)
    assert parse_key(ENROLLMENTS, "7,math") == (7, "math")
    u = uuid.uuid4()
    assert parse_key(GADGETS, str(u)) == (u,)
    for resource, raw in [
        (BOOKS, "x"),
        (ENROLLMENTS, "7"),
        (ENROLLMENTS, "x,math"),
        (GADGETS, "nope"),
    ]:
        with pytest.raises(NotFound):
            parse_key(resource, raw)


def test_page_offset_and_limit_are_offset_and_limit_remembered_as_asked() -> None:
    intent = QUERIES.list_intent(BOOKS, {"page[offset]": ["30"], "page[limit]": ["10"]})
    assert (intent.limit, intent.offset, intent.page_number) == (10, 30, None)
    assert intent.offset_parameter == "page[offset]"
    plain = QUERIES.list_intent(BOOKS, {"offset": ["30"], "limit": ["10"]})
    assert (plain.limit, plain.offset, plain.offset_parameter) == (10, 30, "offset")
    only_limit = QUERIES.list_intent(BOOKS, {"page[limit]": ["5"]})
    assert (only_limit.limit, only_limit.offset, only_limit.offset_parameter) == (
        5, 0, "page[offset]",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"page[offset]": ["1"], "offset": ["1"]}, "page[offset]"),
        ({"page[limit]": ["1"], "limit": ["1"]}, "page[limit]"),
        ({"page[offset]": ["1"], "page[number]": ["1"]}, "page[offset]"),
        ({"page[limit]": ["1"], "page[after]": [""]}, "page[after]"),
        ({"page[limit]": ["0"]}, "page[limit]"),
    ],
)
def test_page_offset_and_limit_mix_with_no_other_family(
    args: dict[str, list[str]], parameter: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        QUERIES.list_intent(BOOKS, args)
    assert caught.value.parameter == parameter


def test_a_repeated_equality_is_one_in_filter() -> None:
    (one,) = QUERIES.list_intent(BOOKS, {"id": ["3", "1", "2"]}).filters
    assert (one.op, one.value, one.parameter) == ("in", (3, 1, 2), "id")
    (joined,) = QUERIES.list_intent(BOOKS, {"filter[id][nin]": ["1,2", "3"]}).filters
    assert (joined.op, joined.value) == ("nin", (1, 2, 3))
    (none_of,) = QUERIES.list_intent(BOOKS, {"filter[id][ne]": ["1", "2"]}).filters
    assert (none_of.op, none_of.value) == ("nin", (1, 2))
    both = QUERIES.list_intent(BOOKS, {"filter[title][contains]": ["a", "b"]}).filters
    assert [(f.op, f.value) for f in both] == [("contains", "a"), ("contains", "b")]
    with pytest.raises(InvalidParameter) as caught:
        QUERIES.list_intent(BOOKS, {"filter[year][gt]": ["1", "2"]})
    assert caught.value.parameter == "filter[year][gt]"
