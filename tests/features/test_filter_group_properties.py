"""Property-based tests of OR / NOT filter groups: the API against a Python reference.

The dataset, the leaf filters and the reference of each leaf come from
:mod:`tests.features.test_query_properties` (see its docstring: collations, NULL rules, the
seeded data). Here Hypothesis draws a tree of groups, at most 3 deep, over those leaves; the
reference evaluates it with the documented rule, decided before this test was written:

- a leaf holds for a row when one value its path reaches satisfies it (the single-filter rule:
  a NULL, or no related row, satisfies only ``ne``, ``nin`` and ``null=true``);
- a list of conditions (the top level, a branch, the inside of a ``not``) holds when all do;
- ``or`` holds when any branch does;
- ``not`` holds exactly when its conditions do not (the complement: a row that one of them
  fails because of a NULL is selected by the ``not``; SQL's three-valued NOT would not).

Each example is checked as a list with its count, on the relation route when it draws one,
and as a keyset walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.features.test_query_properties import (
    AUTHOR_FIELDS,
    AUTHOR_SORTS,
    BOOK_FIELDS,
    BOOK_SORTS,
    FieldSpec,
    Filter,
    Reference,
    Row,
    get,
    load_dataset,
    parse_arg,
    predicate,
    search,
    sort_param,
    sort_strategy,
    walk,
)
from tests.features.test_query_properties import filter_strategy as leaf_strategy

every_backend = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

MAX_DEPTH = 3


@dataclass(frozen=True)
class AndNode:
    """Conditions that must all hold: leaves, at most one ``or`` (its branches by index) and
    at most one ``not`` (a parameter name given twice would be one group, not two)."""

    leaves: tuple[Filter, ...] = ()
    branches: tuple[tuple[int, AndNode], ...] = ()
    negated: AndNode | None = None

    def empty(self) -> bool:
        return not self.leaves and not self.branches and self.negated is None

    def params(self, prefix: str = "filter") -> list[tuple[str, str]]:
        out = []
        for f in self.leaves:
            name, raw = f.param()
            # A nested leaf is the same parameter under the group's prefix.
            out.append((name if prefix == "filter" else prefix + name[len("filter") :], raw))
        for index, branch in self.branches:
            out += branch.params(f"{prefix}[or][{index}]")
        if self.negated is not None:
            out += self.negated.params(f"{prefix}[not]")
        return out

    def count(self) -> int:
        inner = sum(b.count() for _, b in self.branches)
        return len(self.leaves) + inner + (self.negated.count() if self.negated else 0)


@st.composite
def and_node(
    draw: st.DrawFn,
    ref: Reference,
    resource: str,
    specs: dict[str, FieldSpec],
    depth: int,
    budget: list[int],
) -> AndNode:
    """A node of at most ``budget[0]`` leaves in all (the budget is shared down the tree)."""
    leaves: list[Filter] = []
    names: set[str] = set()
    for _ in range(draw(st.integers(0 if depth == 0 else 1, 2))):
        if budget[0] == 0:
            break
        f = draw(leaf_strategy(ref, resource, specs))
        if depth > 0 and f.style == "short":
            f = replace(f, style="bare")  # f=v has no spelling inside a group
        if f.param()[0] in names:
            continue
        names.add(f.param()[0])
        leaves.append(f)
        budget[0] -= 1
    branches: list[tuple[int, AndNode]] = []
    negated = None
    if depth < MAX_DEPTH and budget[0] > 0 and draw(st.booleans()):
        indexes = draw(st.lists(st.integers(0, 19), min_size=1, max_size=3, unique=True))
        for index in indexes:
            branch = draw(and_node(ref, resource, specs, depth + 1, budget))
            if not branch.empty():
                branches.append((index, branch))
    if depth < MAX_DEPTH and budget[0] > 0 and draw(st.booleans()):
        inside = draw(and_node(ref, resource, specs, depth + 1, budget))
        negated = None if inside.empty() else inside
    return AndNode(tuple(leaves), tuple(branches), negated)


@st.composite
def tree_strategy(
    draw: st.DrawFn, ref: Reference, resource: str, specs: dict[str, FieldSpec]
) -> AndNode:
    budget = [draw(st.integers(1, 8))]
    return draw(and_node(ref, resource, specs, 0, budget))


class GroupReference:
    """The documented rule for groups (module docstring) over :class:`Reference`."""

    def __init__(self, ref: Reference, resource: str, specs: dict[str, FieldSpec]) -> None:
        self.ref, self.resource, self.specs = ref, resource, specs

    def leaf(self, f: Filter, row: Row) -> bool:
        test = predicate(f.op, parse_arg(self.specs[f.path].kind, f.op, f.raw))
        return any(test(v) for v in self.ref.reach(self.resource, row, f.path))

    def holds(self, node: AndNode, row: Row) -> bool:
        return (
            all(self.leaf(f, row) for f in node.leaves)
            and (not node.branches or any(self.holds(b, row) for _, b in node.branches))
            and (node.negated is None or not self.holds(node.negated, row))
        )

    def rows(
        self, node: AndNode, sort: tuple[tuple[str, bool], ...], scope: int | None
    ) -> list[Row]:
        ordered = self.ref.rows(self.resource, self.specs, (), sort, scope)
        return [r for r in ordered if self.holds(node, r)]


def _url(base: str, pairs: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(pairs, quote_via=quote)}"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A pooled engine, as in test_query_properties (examples cost a millisecond each)."""
    eng = sa.create_engine(db_url)
    models.Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def loaded(make_app: AppFactory) -> tuple[FlaskClient, Reference]:
    client = make_app().test_client()
    return client, Reference(load_dataset(client))


@every_backend
def test_book_filter_groups_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """OR / NOT trees over every book filter: the list, its count, the relation route and a
    keyset walk select what the reference selects, in order."""
    client, ref = loaded
    groups = GroupReference(ref, "books", BOOK_FIELDS)
    scopes = [a["id"] for a in ref.ds.authors]

    @search(100)
    @given(
        tree=tree_strategy(ref, "books", BOOK_FIELDS),
        sort=sort_strategy(BOOK_SORTS),
        scope=st.one_of(st.none(), st.sampled_from(scopes)),
        size=st.integers(1, 25),
    )
    def check(
        tree: AndNode, sort: tuple[tuple[str, bool], ...], scope: int | None, size: int
    ) -> None:
        assert tree.count() <= 20
        expected = groups.rows(tree, sort, scope)
        base = "/api/books" if scope is None else f"/api/authors/{scope}/books"
        pairs = tree.params() + sort_param(sort, False)
        url = _url(base, [*pairs, ("count", "true"), ("page[size]", "100")])
        body = get(client, url)
        assert body["data"] == expected, url
        assert body["meta"]["total"] == len(expected), url
        start = _url(base, [*pairs, ("page[size]", str(size)), ("page[after]", "")])
        forward, _ = walk(client, start, "next", size)
        assert forward == expected, start

    check()


@every_backend
def test_author_filter_groups_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """Through the to-many relation: NOT of "has a book such that" is "has none"."""
    client, ref = loaded
    groups = GroupReference(ref, "authors", AUTHOR_FIELDS)

    @search(80)
    @given(tree=tree_strategy(ref, "authors", AUTHOR_FIELDS), sort=sort_strategy(AUTHOR_SORTS))
    def check(tree: AndNode, sort: tuple[tuple[str, bool], ...]) -> None:
        expected = groups.rows(tree, sort, None)
        pairs: list[tuple[str, Any]] = tree.params() + sort_param(sort, False)
        url = _url("/api/authors", [*pairs, ("count", "true"), ("page[size]", "100")])
        body = get(client, url)
        assert body["data"] == expected, url
        assert body["meta"]["total"] == len(expected), url

    check()
