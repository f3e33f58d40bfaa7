"""Unit tests of the decode stage: query strings and URL keys -> intents, without a database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tablerest.decode.queries import Group, ListIntent, QueryReader
from tablerest.decode.urlkeys import parse_key
from tablerest.errors import InvalidParameter, NotFound
from tablerest.plan.filters import where_condition
from tablerest.plan.reads import list_signature
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


def _groups(query: dict[str, list[str]]) -> tuple[Any, ...]:
    """The group tree of a parse as (kind, leaves as (field, op, value), children)."""

    def tree(g: Group) -> tuple[Any, ...]:
        leaves = tuple((f.path.dotted, f.op, f.value) for f in g.filters)
        return (g.kind, leaves, tuple(tree(c) for c in g.groups))

    intent = QUERIES.list_intent(BOOKS, query)
    return tree(Group("and", intent.filters, intent.groups))


def test_or_and_not_parameters_read_as_a_tree() -> None:
    got = _groups(
        {
            "year": ["1990"],
            "filter[or][3][pages][lt]": ["10"],
            "filter[or][0][genre]": ["poetry"],
            "filter[or][3][title][null]": ["true"],
            "filter[or][0][not][id][in]": ["1,2"],
            "filter[not][year]": ["2000"],
        }
    )
    assert got == (
        "and",
        (("year", "eq", 1990),),
        (
            (
                "or",
                (),
                (
                    ("and", (("pages", "lt", 10), ("title", "null", True)), ()),
                    ("and", (("genre", "eq", "poetry"),), (("not", (("id", "in", (1, 2)),), ()),)),
                ),
            ),
            ("not", (("year", "eq", 2000),), ()),
        ),
    )
    # [01] and [1] are one branch.
    one = _groups({"filter[or][01][year]": ["1"], "filter[or][1][pages]": ["2"]})
    assert one == (
        "and",
        (),
        (("or", (), (("and", (("year", "eq", 1), ("pages", "eq", 2)), ()),)),),
    )


def test_leaves_number_the_binds_top_level_first_then_groups_depth_first() -> None:
    intent = QUERIES.list_intent(
        BOOKS,
        {
            "filter[not][or][0][year]": ["1"],
            "filter[not][pages]": ["2"],
            "filter[title]": ["t"],
            "filter[or][0][id]": ["3"],
        },
    )
    assert [f.parameter for f in intent.leaves()] == [
        "filter[title]",
        "filter[not][pages]",
        "filter[not][or][0][year]",
        "filter[or][0][id]",
    ]


def test_group_structure_is_in_the_statement_signature() -> None:
    def sig(query: dict[str, list[str]]) -> Any:
        return list_signature(QUERIES.list_intent(BOOKS, query), None)

    one_branch = {"filter[or][0][year]": ["1"], "filter[or][0][pages]": ["2"]}
    two_branches = {"filter[or][0][year]": ["1"], "filter[or][1][pages]": ["2"]}
    assert sig(one_branch) != sig(two_branches)
    assert sig({"filter[not][year]": ["1"]}) != sig({"filter[year]": ["1"]})
    # Values are bound, not part of it.
    assert sig(two_branches) == sig({"filter[or][0][year]": ["7"], "filter[or][1][pages]": ["8"]})


def test_not_is_the_complement_in_sql_too() -> None:
    intent = QUERIES.list_intent(BOOKS, {"filter[not][year][lt]": ["1950"]})
    cond = where_condition(BOOKS.table, intent)
    assert cond is not None
    sql = str(cond.compile(compile_kwargs={"literal_binds": False}))
    assert sql == "NOT coalesce(books.year < :f0, false)"
