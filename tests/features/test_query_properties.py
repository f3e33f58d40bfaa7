"""Property-based tests of list queries: the API's answer against a plain-Python reference.

Approach
--------
Each test runs once per backend (SQLite, PostgreSQL, MariaDB). It creates the database once
(the ``make_app`` / ``engine`` fixtures), loads a dataset generated from a fixed seed through the
API (one array POST of authors, one of books), and then runs a Hypothesis search *inside* the
test: every example is a random list query (filters, sort, page, cursor walk) that is sent to the
API and evaluated again over the same dataset by the small interpreter ``Reference`` below, which
implements the documented semantics directly (NULL rules, ``ne``/``nin`` matching NULL, EXISTS
through relations, NULL-smallest sorting with the primary key as the final tie-break, LIKE
patterns as regular expressions). Rows are compared as whole JSON objects, in order, together
with ``links`` and ``meta``. The database is made once per test because Hypothesis cannot re-run
function-scoped fixtures between examples; the queries never write, so examples are independent.
This module's ``engine`` fixture is conftest's with a connection pool, so that a request costs
about a millisecond rather than a new connection. The dataset is seeded (the same everywhere);
the queries are new on every run, and a failure prints the failing URL.

Besides the properties, the module keeps minimal examples of bugs the search and its probes
found, as plain tests on every backend.

Collation choices
-----------------
Comparisons (``eq``, ``lt``, ``in``...) and ``ORDER BY`` on text follow each database's
collation: SQLite compares code points; PostgreSQL uses the database's collation (``datcollate``
is ``C.UTF-8``, i.e. code points, on the test machine, but a locale such as ``en_US`` ignores
spaces and punctuation at first level); MariaDB's ``utf8mb4_unicode_ci`` ignores case and
trailing spaces. The reference compares code points, so the text fields that are sorted or
compared (book title and author name: lowercase ASCII letters; country: uppercase ASCII letters)
only hold strings on which all of these collations agree: one case of ASCII letters, with no
spaces, digits or punctuation. Filter values for those comparisons use the same alphabets.

The case-sensitive text operators (``contains``, ``startswith``, ``endswith``, ``like``) mean the
same on every backend, so they are also run on ``isbn``, which holds mixed-case ASCII with the
LIKE wildcards (``%``, ``_``), the escape (``\\``), SQLite GLOB metacharacters (``*?[]``) and
characters that matter in URLs (``&#+=``). ``isbn`` is never sorted or compared with
``eq``/``lt``/``in`` (MariaDB would find ``'ab' = 'AB'``), and its values are distinct even
ignoring case, because of its unique index under MariaDB's case-insensitive collation.
``ilike`` is only ever given ASCII (SQLite's ``lower()`` folds ASCII only).

Non-ASCII text is left out of the properties; ``test_like_underscore_matches_one_character``
checks one non-ASCII case of ``like`` by example.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tablerest import ChangeFeed
from tablerest.server import create_app
from tests import models
from tests.conftest import AppFactory
from tests.databases import BACKENDS

Row = dict[str, Any]

#: The dataset is the same on every backend and every run; change the seed to explore others.
SEED = 20240917
N_AUTHORS = 7
N_BOOKS = 64  # under the largest page size (100), so one page holds every row

#: Enum labels in declaration order, which is how PostgreSQL and MariaDB sort enums; SQLite
#: stores and sorts the labels as text. The two agree only because the order is alphabetical.
GENRES = tuple(g.value for g in models.Genre)
assert list(GENRES) == sorted(GENRES)

LOWER = "abcde"  # titles and author names: one case only (see the module docstring)
UPPER = "BFGNRSUZ"  # countries
# isbn: mixed case, LIKE and GLOB metacharacters, the escape, URL-significant characters.
ISBN_ALPHABET = "aAbBcCxX09 %_\\*?[]^-,.'\"&#+="
TITLE_WORDS = ("a", "ab", "abc", "b", "ba", "cab", "dab", "e", "ed")
AUTHOR_NAMES = ("ann", "bea", "bo", "bob", "cy", "cy", "dee")
COUNTRIES = (None, "NZ", "US", "GB", "FR")
PRICES = (None, None, "0.00", "9.99", "10.00", "10.50", "12.34", "999999.99")

SCALAR_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "nin", "null")
TEXT_OPS = ("contains", "startswith", "endswith", "like", "ilike")
NULL_WORDS = {"true": True, "1": True, "yes": True, "": True, "TRUE": True}
NULL_WORDS |= {"false": False, "0": False, "no": False, "No": False}

every_backend = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def search(max_examples: int) -> settings:
    """Settings for a Hypothesis search run inside a test that owns a database."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# -- the dataset ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """Rows exactly as the API shows them (price as a string with two decimals)."""

    authors: tuple[Row, ...]
    books: tuple[Row, ...]

    def author(self, author_id: int | None) -> Row | None:
        return next((a for a in self.authors if a["id"] == author_id), None)


def _isbns(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    seen: set[str] = set()
    while len(out) < n:
        if rng.random() < 0.25:
            out.append(None)
            continue
        text = "".join(rng.choice(ISBN_ALPHABET) for _ in range(rng.randint(1, 8))).strip()
        # MariaDB's unique index ignores case and trailing spaces.
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def load_dataset(client: FlaskClient) -> Dataset:
    """Generate the seeded dataset and POST it; return it as the API should show it."""
    rng = random.Random(SEED)
    authors_in = [
        {"name": name, "country": rng.choice(COUNTRIES)}
        for name in rng.sample(AUTHOR_NAMES, N_AUTHORS)
    ]
    resp = client.post("/api/authors", json=authors_in)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    authors = tuple(resp.get_json())
    assert [{k: a[k] for k in ("name", "country")} for a in authors] == authors_in
    # The last author writes nothing, so "has a book such that..." can be false for everyone.
    writers = [a["id"] for a in authors[:-1]]
    isbns = _isbns(rng, N_BOOKS)
    books_in = []
    for i in range(N_BOOKS):
        book: Row = {
            "title": "".join(rng.choice(TITLE_WORDS) for _ in range(rng.randint(1, 3))),
            "year": rng.choice([None, 1990, 1995, 1999, 2000, 2001, 2010]),
            "isbn": isbns[i],
            "price": rng.choice(PRICES),
            "genre": rng.choice([None, *GENRES]),
            "author_id": rng.choice([None, *writers]),
        }
        if rng.random() < 0.8:  # otherwise the column default, 100
            book["pages"] = rng.choice([1, 50, 100, 100, 250, 999])
        books_in.append(book)
    resp = client.post("/api/books", json=books_in)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    books = tuple(resp.get_json())
    expected = [
        {
            **b,
            "id": got["id"],
            "pages": b.get("pages", 100),
            "price": None if b["price"] is None else f"{Decimal(b['price']):.2f}",
            "created_at": None,
        }
        for b, got in zip(books_in, books, strict=True)
    ]
    assert list(books) == expected
    assert len({b["id"] for b in books}) == N_BOOKS
    return Dataset(authors, books)


# -- the reference --------------------------------------------------------------------------


def like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """A SQL LIKE pattern (``%``, ``_``, ``\\`` escapes any character) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if ignore_case else 0)
    return re.compile("".join(out), flags)


def predicate(op: str, arg: Any) -> Callable[[Any], bool]:
    """Whether one reached value satisfies ``op``/``arg`` (NULL rules as documented)."""
    if op == "null":
        return lambda v: (v is None) == arg
    if op == "ne":
        return lambda v: v is None or v != arg
    if op == "nin":
        return lambda v: v is None or v not in arg
    compare: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: v == arg,
        "lt": lambda v: v < arg,
        "le": lambda v: v <= arg,
        "gt": lambda v: v > arg,
        "ge": lambda v: v >= arg,
        "in": lambda v: v in arg,
        "contains": lambda v: arg in v,
        "startswith": lambda v: v.startswith(arg),
        "endswith": lambda v: v.endswith(arg),
    }
    if op in ("like", "ilike"):
        regex = like_regex(arg, ignore_case=op == "ilike")
        compare[op] = lambda v: regex.fullmatch(v) is not None
    test = compare[op]
    return lambda v: v is not None and test(v)


@dataclass(frozen=True)
class FieldSpec:
    """A filterable path and how its values are written in a URL."""

    kind: str  # int | decimal | lower | upper | enum | isbn
    ops: tuple[str, ...]


def parse_scalar(kind: str, raw: str) -> Any:
    if kind == "int":
        return int(raw)
    if kind == "decimal":
        return Decimal(raw)
    return raw


def parse_arg(kind: str, op: str, raw: str) -> Any:
    """The typed argument of a filter, parsed from its URL text as the spec says."""
    if op == "null":
        return NULL_WORDS[raw]
    if op in TEXT_OPS:
        return raw
    if op in ("in", "nin"):
        return tuple(parse_scalar(kind, item) for item in raw.split(",")) if raw else ()
    return parse_scalar(kind, raw)


@dataclass(frozen=True)
class Filter:
    path: str
    op: str
    raw: str
    #: How it is written: ``filter[f][op]=``, ``filter[f]=`` (eq) or ``f=`` (eq).
    style: str = "full"

    def param(self) -> tuple[str, str]:
        if self.style == "short":
            return (self.path, self.raw)
        if self.style == "bare":
            return (f"filter[{self.path}]", self.raw)
        return (f"filter[{self.path}][{self.op}]", self.raw)


def _named(f: Filter) -> str:
    """A filter's parameter name: lists of filters give each name once, so that the filters are
    ANDed (a repeated name has a meaning of its own, see
    test_repeated_equality_and_page_offsets_match_the_reference)."""
    return f.param()[0]


def leaf_value(resource: str, row: Row, name: str) -> Any:
    value = row[name]
    if resource == "books" and name == "price" and value is not None:
        return Decimal(value)
    return value


class Reference:
    """The documented query semantics, evaluated in Python over a ``Dataset``."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def reach(self, resource: str, row: Row, path: str) -> list[Any]:
        """The values ``path`` reaches from ``row``: one for a field here, any number through
        relations (none through a missing to-one)."""
        head, _, rest = path.partition(".")
        if not rest:
            return [leaf_value(resource, row, path)]
        if resource == "books" and head == "author":
            author = self.ds.author(row["author_id"])
            return [] if author is None else self.reach("authors", author, rest)
        if resource == "authors" and head == "books":
            return [
                v
                for b in self.ds.books
                if b["author_id"] == row["id"]
                for v in self.reach("books", b, rest)
            ]
        raise AssertionError(path)

    def sort_value(self, resource: str, row: Row, path: str) -> Any:
        values = self.reach(resource, row, path)
        assert len(values) <= 1, path  # sorting goes through to-one relations only
        return values[0] if values else None

    def rows(
        self,
        resource: str,
        specs: dict[str, FieldSpec],
        filters: Sequence[Filter],
        sort: Sequence[tuple[str, bool]],
        scope: int | None = None,
    ) -> list[Row]:
        rows = list(self.ds.books if resource == "books" else self.ds.authors)
        if scope is not None:
            rows = [r for r in rows if r["author_id"] == scope]
        for f in filters:
            test = predicate(f.op, parse_arg(specs[f.path].kind, f.op, f.raw))
            rows = [r for r in rows if any(test(v) for v in self.reach(resource, r, f.path))]
        # Stable sorts from the last key to the first; the id sort first is the tie-break.
        rows.sort(key=lambda r: r["id"])
        for path, descending in reversed(sort):

            def key(r: Row, path: str = path) -> tuple[int, Any]:
                v = self.sort_value(resource, r, path)
                return (0, 0) if v is None else (1, v)  # NULL is the smallest value

            rows.sort(key=key, reverse=descending)
        return rows


# -- query strategies -----------------------------------------------------------------------

CMP = ("eq", "ne", "lt", "le", "gt", "ge", "in", "nin")
BOOK_FIELDS = {
    "id": FieldSpec("int", ("eq", "ne", "lt", "ge", "in", "nin")),
    "year": FieldSpec("int", SCALAR_OPS),
    "pages": FieldSpec("int", SCALAR_OPS),
    "title": FieldSpec("lower", SCALAR_OPS + TEXT_OPS),
    "isbn": FieldSpec("isbn", ("null", *TEXT_OPS)),
    "genre": FieldSpec("enum", SCALAR_OPS),
    "price": FieldSpec("decimal", SCALAR_OPS),
    "author_id": FieldSpec("int", ("eq", "ne", "in", "nin", "null")),
    "author.name": FieldSpec("lower", SCALAR_OPS + TEXT_OPS),
    "author.country": FieldSpec("upper", (*SCALAR_OPS, "like", "contains")),
}
AUTHOR_FIELDS = {
    "id": FieldSpec("int", ("eq", "ne", "lt", "ge", "in", "nin")),
    "name": FieldSpec("lower", SCALAR_OPS + TEXT_OPS),
    "country": FieldSpec("upper", SCALAR_OPS),
    "books.year": FieldSpec("int", SCALAR_OPS),
    "books.pages": FieldSpec("int", CMP),
    "books.title": FieldSpec("lower", SCALAR_OPS + TEXT_OPS),
    "books.isbn": FieldSpec("isbn", ("null", *TEXT_OPS)),
    "books.genre": FieldSpec("enum", SCALAR_OPS),
    "books.price": FieldSpec("decimal", SCALAR_OPS),
    "books.author.country": FieldSpec("upper", ("eq", "ne", "null")),
}
BOOK_SORTS = (
    "id",
    "year",
    "pages",
    "title",
    "genre",
    "price",
    "author_id",
    "author.name",
    "author.country",
)
AUTHOR_SORTS = ("id", "name", "country")


def observed(ref: Reference, resource: str, path: str) -> list[Any]:
    """Every non-NULL value ``path`` reaches in the dataset (raw JSON values)."""
    rows = ref.ds.books if resource == "books" else ref.ds.authors
    values = {v for r in rows for v in ref.reach(resource, r, path) if v is not None}
    assert values, path
    return sorted(values)


def scalar_text(ref: Reference, resource: str, path: str, kind: str) -> st.SearchStrategy[str]:
    """One value in URL text, for comparisons: mostly values the data has, some it has not."""
    seen = observed(ref, resource, path)
    if kind == "int":
        lo, hi = min(seen), max(seen)
        return st.one_of(st.sampled_from(seen), st.integers(lo - 2, hi + 2)).map(str)
    if kind == "decimal":
        exact = st.sampled_from(seen).flatmap(
            lambda d: st.sampled_from([str(d), f"{d}0", f"{Decimal(d):.1f}"])
        )
        near = st.decimals(min_value=-1, max_value=1000, places=3).map(str)
        return st.one_of(exact, near)
    if kind == "enum":
        return st.sampled_from(GENRES)
    alphabet = LOWER if kind == "lower" else UPPER
    return st.one_of(st.sampled_from(seen), st.text(alphabet, max_size=4))


@st.composite
def _piece(draw: st.DrawFn, sources: Sequence[str], alphabet: str) -> str:
    """A substring of a value the data has (often anchored at either end), or random text."""
    s = draw(st.one_of(st.sampled_from(sources), st.text(alphabet, max_size=5)))
    i = 0 if draw(st.booleans()) else draw(st.integers(0, len(s)))
    j = len(s) if draw(st.booleans()) else draw(st.integers(i, len(s)))
    return s[i:j]


@st.composite
def literal_text(draw: st.DrawFn, sources: Sequence[str], alphabet: str) -> str:
    """A value for contains/startswith/endswith, sometimes with one letter's case flipped."""
    chars = list(draw(_piece(sources, alphabet)))
    if chars and draw(st.integers(0, 3)) == 0:
        k = draw(st.integers(0, len(chars) - 1))
        chars[k] = chars[k].swapcase()
    return "".join(chars)


@st.composite
def like_pattern(draw: st.DrawFn, sources: Sequence[str], alphabet: str) -> str:
    """A LIKE pattern made from a value: letters kept, case-flipped, escaped or made wildcards.

    Never ends in a lone backslash (an escape with nothing to escape is not a pattern)."""
    out = ["%"] if draw(st.integers(0, 2)) == 0 else []
    for ch in draw(_piece(sources, alphabet)):
        how = draw(st.sampled_from(("keep",) * 5 + ("one", "run", "flip", "escape")))
        if how == "one":
            out.append("_")
        elif how == "run":
            out.append("%")
        else:
            c = ch.swapcase() if how == "flip" else ch
            out.append("\\" + c if c in "%_\\" or how == "escape" else c)
    if draw(st.integers(0, 2)) == 0:
        out.append("%")
    return "".join(out)


def raw_value(
    ref: Reference, resource: str, path: str, spec: FieldSpec, op: str
) -> st.SearchStrategy[str]:
    if op == "null":
        return st.sampled_from(sorted(NULL_WORDS))
    if op in TEXT_OPS:
        sources = observed(ref, resource, path)
        alphabet = {"lower": LOWER, "upper": UPPER}.get(spec.kind, ISBN_ALPHABET)
        if op == "ilike":  # often in another case than the data
            pattern = like_pattern(sources, alphabet)
            return pattern.flatmap(lambda p: st.sampled_from((p, p.upper(), p.swapcase())))
        if op == "like":
            return like_pattern(sources, alphabet)
        return literal_text(sources, alphabet)
    one = scalar_text(ref, resource, path, spec.kind)
    if op in ("in", "nin"):
        return st.lists(one, max_size=4).map(",".join)
    return one


@st.composite
def filter_strategy(
    draw: st.DrawFn, ref: Reference, resource: str, specs: dict[str, FieldSpec]
) -> Filter:
    path = draw(st.sampled_from(sorted(specs)))
    spec = specs[path]
    op = draw(st.sampled_from(spec.ops))
    raw = draw(raw_value(ref, resource, path, spec, op))
    style = draw(st.sampled_from(("full", "full", "bare", "short"))) if op == "eq" else "full"
    return Filter(path, op, raw, style)


def sort_strategy(paths: Sequence[str]) -> st.SearchStrategy[tuple[tuple[str, bool], ...]]:
    return st.lists(
        st.tuples(st.sampled_from(paths), st.booleans()),
        max_size=3,
        unique_by=lambda key: key[0],
    ).map(tuple)


def sort_param(sort: Sequence[tuple[str, bool]], plus: bool) -> list[tuple[str, str]]:
    if not sort:
        return []
    asc = "+" if plus else ""
    return [("sort", ",".join(("-" if d else asc) + p for p, d in sort))]


@dataclass(frozen=True)
class Query:
    resource: str
    filters: tuple[Filter, ...]
    sort: tuple[tuple[str, bool], ...]
    size: int
    number: int = 1
    count: bool = False
    fields: tuple[str, ...] | None = None
    #: List ``/api/authors/<scope>/books`` instead of ``/api/books``.
    scope: int | None = None
    plus: bool = False

    def base(self) -> str:
        if self.scope is not None:
            return f"/api/authors/{self.scope}/books"
        return f"/api/{self.resource}"

    def params(self) -> list[tuple[str, str]]:
        out = [f.param() for f in self.filters] + sort_param(self.sort, self.plus)
        if self.fields is not None:
            out.append(("fields", ",".join(self.fields)))
        if self.count:
            out.append(("count", "true"))
        return out

    def url(self, **page: Any) -> str:
        pairs = self.params() + [(f"page[{k}]", str(v)) for k, v in page.items()]
        return f"{self.base()}?{urlencode(pairs, quote_via=quote)}"


def query_strategy(
    ref: Reference,
    resource: str,
    specs: dict[str, FieldSpec],
    sorts: Sequence[str],
    max_size: int = 100,
) -> st.SearchStrategy[Query]:
    readable = sorted((ref.ds.books if resource == "books" else ref.ds.authors)[0])
    scopes = [a["id"] for a in ref.ds.authors] if resource == "books" else []
    return st.builds(
        Query,
        resource=st.just(resource),
        filters=st.lists(filter_strategy(ref, resource, specs), max_size=2, unique_by=_named).map(
            tuple
        ),
        sort=sort_strategy(sorts),
        size=st.one_of(st.integers(1, 12), st.integers(1, max_size)),
        number=st.integers(1, 12),
        count=st.booleans(),
        fields=st.one_of(
            st.none(), st.lists(st.sampled_from(readable), min_size=1, unique=True).map(tuple)
        ),
        scope=st.one_of(st.none(), st.sampled_from(scopes)) if scopes else st.none(),
        plus=st.booleans(),
    )


# -- checks ---------------------------------------------------------------------------------


def get(client: FlaskClient, url: str) -> dict[str, Any]:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True))
    body: dict[str, Any] = resp.get_json()
    return body


def project(rows: Sequence[Row], fields: Sequence[str] | None) -> list[Row]:
    return [dict(r) if fields is None else {k: r[k] for k in fields} for r in rows]


def check_offset_page(client: FlaskClient, expected: list[Row], q: Query) -> None:
    """One numbered page, the whole list on one page, and the next link."""
    url = q.url(size=q.size, number=q.number)
    body = get(client, url)
    start, stop = (q.number - 1) * q.size, q.number * q.size
    assert body["data"] == project(expected[start:stop], q.fields), url
    links = body["links"]
    assert (links["next"] is None) == (stop >= len(expected)), (url, links)
    assert (links["prev"] is None) == (q.number == 1), (url, links)
    assert body["meta"]["page"] == {"number": q.number, "size": q.size}, url
    if q.count:
        assert body["meta"]["total"] == len(expected), url
    else:
        assert "total" not in body["meta"], url
    if links["next"] is not None:
        after = get(client, links["next"])
        assert after["data"] == project(expected[stop : stop + q.size], q.fields), links["next"]
    if links["prev"] is not None:
        before = get(client, links["prev"])
        want = expected[start - q.size : start]
        assert before["data"] == project(want, q.fields), links["prev"]
        first = get(client, links["first"])
        assert first["data"] == project(expected[: q.size], q.fields), links["first"]
    assert get(client, links["self"])["data"] == body["data"], links["self"]
    everything = q.url(size=100)
    assert get(client, everything)["data"] == project(expected, q.fields), everything


def walk(client: FlaskClient, url: str, link: str, size: int) -> tuple[list[Row], Row]:
    """Follow ``link`` (next or prev) from ``url``: the rows in list order, and the last body.

    Every page but the walk's last is full, and each page after the first links back."""
    back = "prev" if link == "next" else "next"
    seen: list[Row] = []
    next_url: str | None = url
    body: Row = {}
    while next_url:
        body = get(client, next_url)
        page = body["data"]
        assert len(page) <= size, next_url
        if body["links"][link] is not None:
            assert len(page) == size, (next_url, "only the last page of a walk may be short")
        if seen:
            assert body["links"][back] is not None, (next_url, f"no {back} link")
        seen = seen + page if link == "next" else page + seen
        assert len(seen) <= N_BOOKS, (next_url, "the walk does not end")
        next_url = body["links"][link]
    return seen, body


def check_keyset(client: FlaskClient, expected: list[Row], q: Query) -> None:
    """Walk forward from the start, back from the last page reached, and back from the end."""
    want = project(expected, q.fields)
    start = q.url(size=q.size, after="")
    assert get(client, start)["links"]["prev"] is None, start
    forward, last = walk(client, start, "next", q.size)
    assert forward == want, start
    earlier: list[Row] = []
    if last["links"]["prev"] is not None:
        earlier, _ = walk(client, last["links"]["prev"], "prev", q.size)
    assert earlier + last["data"] == want, ("back from", last["links"])
    end = q.url(size=q.size, before="")
    assert get(client, end)["links"]["next"] is None, end
    from_end, _ = walk(client, end, "prev", q.size)
    assert from_end == want, end


# -- the tests ------------------------------------------------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """conftest's ``engine`` with a connection pool: without one, every request opens a new
    connection (about 20 ms on MariaDB), which would leave little time for examples."""
    eng = sa.create_engine(db_url)
    models.Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def loaded(make_app: AppFactory) -> tuple[FlaskClient, Reference]:
    client = make_app().test_client()
    return client, Reference(load_dataset(client))


def search_single_filters(
    client: FlaskClient,
    ref: Reference,
    resource: str,
    specs: dict[str, FieldSpec],
    sorts: Sequence[str],
) -> None:
    @search(120)
    @given(f=filter_strategy(ref, resource, specs), sort=sort_strategy(sorts))
    def check(f: Filter, sort: tuple[tuple[str, bool], ...]) -> None:
        url = Query(resource, (f,), sort, 100, count=True).url(size=100)
        body = get(client, url)
        expected = ref.rows(resource, specs, (f,), sort)
        assert body["data"] == expected, url
        assert body["meta"]["total"] == len(expected), url

    check()


@every_backend
def test_single_filters_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """Each operator on each path alone (so no other filter hides a difference), any sort."""
    client, ref = loaded
    search_single_filters(client, ref, "books", BOOK_FIELDS, BOOK_SORTS)
    search_single_filters(client, ref, "authors", AUTHOR_FIELDS, AUTHOR_SORTS)


@every_backend
def test_book_lists_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """Filters, sort, sparse fields, relation route, numbered pages and their links."""
    client, ref = loaded

    @search(120)
    @given(q=query_strategy(ref, "books", BOOK_FIELDS, BOOK_SORTS))
    def check(q: Query) -> None:
        expected = ref.rows("books", BOOK_FIELDS, q.filters, q.sort, q.scope)
        check_offset_page(client, expected, q)

    check()


TEXT_FIELDS = {
    "title": FieldSpec("lower", TEXT_OPS),
    "isbn": FieldSpec("isbn", TEXT_OPS),
    "author.name": FieldSpec("lower", TEXT_OPS),
}


@every_backend
def test_text_operators_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """contains/startswith/endswith/like are case-sensitive, ilike is not; wildcards and the
    escape in like patterns, literal ``%``/``_``/``\\`` in the others."""
    client, ref = loaded

    @search(150)
    @given(
        filters=st.lists(filter_strategy(ref, "books", TEXT_FIELDS), min_size=1, max_size=2),
        sort=sort_strategy(BOOK_SORTS),
    )
    def check(filters: list[Filter], sort: tuple[tuple[str, bool], ...]) -> None:
        q = Query("books", tuple(filters), sort, 100)
        expected = ref.rows("books", TEXT_FIELDS, q.filters, q.sort)
        url = q.url(size=100)
        assert get(client, url)["data"] == expected, url

    check()


@every_backend
def test_book_keyset_walks_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """Cursor pages both ways give exactly the filtered, sorted list, every row once (also on
    the relation route and with sparse fields that leave out the sort fields)."""
    client, ref = loaded

    @search(50)
    @given(q=query_strategy(ref, "books", BOOK_FIELDS, BOOK_SORTS, max_size=25))
    def check(q: Query) -> None:
        check_keyset(client, ref.rows("books", BOOK_FIELDS, q.filters, q.sort, q.scope), q)

    check()


@every_backend
def test_author_lists_match_the_reference(loaded: tuple[FlaskClient, Reference]) -> None:
    """Filters through the to-many relation mean "has at least one", each author once."""
    client, ref = loaded

    @search(60)
    @given(q=query_strategy(ref, "authors", AUTHOR_FIELDS, AUTHOR_SORTS, max_size=5))
    def check(q: Query) -> None:
        expected = ref.rows("authors", AUTHOR_FIELDS, q.filters, q.sort)
        check_offset_page(client, expected, q)
        full = Query("authors", q.filters, q.sort, q.size)
        forward, _ = walk(client, full.url(size=q.size, after=""), "next", q.size)
        assert forward == expected, full.url(size=q.size, after="")

    check()


@every_backend
def test_repeated_equality_and_page_offsets_match_the_reference(
    loaded: tuple[FlaskClient, Reference],
) -> None:
    """A repeated equality (``id=1&id=2``, react-admin's getMany) is any of its values; a page
    asked with ``page[offset]``/``page[limit]`` (@orbit/jsonapi) holds the rows from that
    offset, and its next link keeps paging that way."""
    client, ref = loaded
    paths = sorted(p for p, spec in BOOK_FIELDS.items() if "eq" in spec.ops)

    @search(100)
    @given(
        data=st.data(),
        style=st.sampled_from(("full", "bare", "short")),
        sort=sort_strategy(BOOK_SORTS),
        offset=st.integers(0, 70),
        limit=st.integers(1, 12),
    )
    def check(
        data: st.DataObject,
        style: str,
        sort: tuple[tuple[str, bool], ...],
        offset: int,
        limit: int,
    ) -> None:
        path = data.draw(st.sampled_from(paths))
        one = scalar_text(ref, "books", path, BOOK_FIELDS[path].kind)
        values = data.draw(st.lists(one, min_size=1, max_size=4))
        any_of = Filter(path, "in", ",".join(values))
        expected = ref.rows("books", BOOK_FIELDS, (any_of,), sort)
        pairs = [Filter(path, "eq", v, style).param() for v in values] + sort_param(sort, False)
        pairs += [("page[offset]", str(offset)), ("page[limit]", str(limit))]
        url = f"/api/books?{urlencode(pairs, quote_via=quote)}"
        body = get(client, url)
        assert body["data"] == expected[offset : offset + limit], url
        assert body["meta"]["page"] == {"offset": offset, "limit": limit}, url
        following = body["links"]["next"]
        assert (following is None) == (offset + limit >= len(expected)), (url, following)
        if following is not None:
            assert "page%5Boffset%5D=" in following, following
            assert "page%5Bnumber%5D" not in following, following
            after = get(client, following)["data"]
            assert after == expected[offset + limit : offset + 2 * limit], following

    check()


# -- bugs the search found, kept as minimal examples ------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_like_underscore_matches_one_character(make_app: AppFactory) -> None:
    # MariaDB once compiled like to LIKE BINARY, whose _ matched one byte.
    client = make_app().test_client()
    assert client.post("/api/books", json=[{"title": "café"}]).status_code == 201
    assert [b["title"] for b in get(client, "/api/books?filter[title][like]=caf_")["data"]] == [
        "café"
    ]
    assert get(client, "/api/books?filter[title][like]=caf__")["data"] == []


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("filter[year][lt]=99999999999999999999", "filter[year][lt]"),
        ("filter[id][in]=1,99999999999999999999", "filter[id][in]"),
        ("page[number]=99999999999999999999", "page[number]"),
        ("page[number]=2000000000000000000&page[size]=10", "page[number]"),
        ("offset=99999999999999999999", "offset"),
        ("filter[title][like]=caf%5C", "filter[title][like]"),
        ("filter[title][ilike]=caf%5C%5C%5C", "filter[title][ilike]"),
    ],
)
def test_values_no_database_can_take_are_400s(
    make_app: AppFactory, query: str, parameter: str
) -> None:
    # Once 500s (SQLite OverflowError, MariaDB syntax error) or a misleading 422 (PostgreSQL).
    resp = make_app().test_client().get(f"/api/books?{query}")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["parameter"] == parameter


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_key_beyond_64_bits_is_404(make_app: AppFactory) -> None:
    client = make_app().test_client()
    assert client.get("/api/books/99999999999999999999").status_code == 404
    assert client.get("/api/authors/99999999999999999999/books").status_code == 404


# -- SQLite date-times stored as text in several formats --------------------------------------
#
# A table written with the sqlite3 module the way other programs write it: ``at`` holds each
# instant in a format drawn at random (space or ``T``, date only at midnight, 3 or 6 fraction
# digits, ``Z``, ``±HH:MM`` or no offset), ``local`` one format only (``YYYY-MM-DD HH:MM:SS``,
# the uniform case that compares as text), ``wall`` several formats without offsets. The
# reference parses every stored value with ``datetime.fromisoformat`` and compares instants: a
# value with an offset is converted to UTC, one without counts as UTC (the documented rule).
# The change feed must decide the same filters alike on the same rows: it sees them once each
# is changed through the API (``note``, which leaves the date-times as the program wrote them).

UTC = dt.UTC
N_EVENTS = 48
#: Few distinct instants, so that equal values in different formats are common.
INSTANTS = tuple(
    dt.datetime(2021, 1, 1, tzinfo=UTC) + step
    for step in (
        dt.timedelta(0),
        dt.timedelta(microseconds=1),
        dt.timedelta(milliseconds=123),
        dt.timedelta(hours=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1, hours=23, minutes=59, seconds=59, microseconds=999999),
        dt.timedelta(days=400, hours=15),
    )
)
OFFSETS = (dt.timedelta(0), dt.timedelta(hours=-5), dt.timedelta(hours=5, minutes=30))


def stored_text(rng: random.Random, instant: dt.datetime, offsets: bool) -> str:
    """``instant`` as one of the text formats programs write."""
    local = instant.astimezone(dt.timezone(rng.choice(OFFSETS))) if offsets else instant
    sep = rng.choice(" T")
    if instant.microsecond % 1000 == 0 and rng.random() < 0.5:
        clock = local.strftime("%H:%M:%S") + f".{local.microsecond // 1000:03d}"
    else:
        clock = local.strftime("%H:%M:%S") + (
            f".{local.microsecond:06d}" if local.microsecond else ""
        )
    text = local.strftime("%Y-%m-%d") + sep + clock
    if not offsets:
        midnight = local.time() == dt.time(0)
        return local.strftime("%Y-%m-%d") if midnight and rng.random() < 0.5 else text
    if local.utcoffset() == dt.timedelta(0) and rng.random() < 0.5:
        return text + "Z"
    return text + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def instant_of(text: str) -> dt.datetime:
    """What a stored or filter value means: an instant (no offset counts as UTC)."""
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Events:
    """The stored text of every row: id -> {column: text or None}."""

    rows: dict[int, dict[str, str | None]]


def write_events(path: str) -> Events:
    """Write the table with the sqlite3 module, from the fixed seed."""
    rng = random.Random(SEED)
    rows: dict[int, dict[str, str | None]] = {}
    for i in range(1, N_EVENTS + 1):
        at, local, wall = (rng.choice(INSTANTS) for _ in range(3))
        rows[i] = {
            "at": None if rng.random() < 0.1 else stored_text(rng, at, rng.random() < 0.8),
            "local": None if rng.random() < 0.1 else local.strftime("%Y-%m-%d %H:%M:%S"),
            "wall": None if rng.random() < 0.1 else stored_text(rng, wall, offsets=False),
        }
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME, local DATETIME, "
            "wall TIMESTAMP, note TEXT)"
        )
        conn.executemany(
            "INSERT INTO events (id, at, local, wall) VALUES (?, ?, ?, ?)",
            [(i, r["at"], r["local"], r["wall"]) for i, r in rows.items()],
        )
    conn.close()
    formats = {re.sub(r"\d", "9", r["at"]) for r in rows.values() if r["at"]}
    assert len(formats) > 4, formats  # the column really is mixed
    return Events(rows)


DATE_COLUMNS = ("at", "local", "wall")


@st.composite
def date_filter(draw: st.DrawFn) -> Filter:
    column = draw(st.sampled_from(DATE_COLUMNS))
    op = draw(st.sampled_from(SCALAR_OPS))
    if op == "null":
        return Filter(column, op, draw(st.sampled_from(sorted(NULL_WORDS))))

    def one() -> str:
        instant = draw(
            st.one_of(
                st.sampled_from(INSTANTS),
                st.sampled_from(INSTANTS).map(lambda t: t + dt.timedelta(microseconds=500)),
            )
        )
        if column != "at" or draw(st.booleans()):  # without an offset: UTC wall-clock text
            text = instant.replace(tzinfo=None).isoformat()
        else:
            text = instant.astimezone(dt.timezone(draw(st.sampled_from(OFFSETS)))).isoformat()
        return text

    if op in ("in", "nin"):
        return Filter(column, op, ",".join(one() for _ in range(draw(st.integers(0, 3)))))
    return Filter(column, op, one())


def events_expected(
    events: Events, filters: Sequence[Filter], sort: Sequence[tuple[str, bool]]
) -> list[int]:
    """The ids the reference answers, in order."""

    def value(i: int, column: str) -> dt.datetime | None:
        text = events.rows[i][column]
        return None if text is None else instant_of(text)

    ids = sorted(events.rows)
    for f in filters:
        if f.op == "null":
            arg: Any = NULL_WORDS[f.raw]
        elif f.op in ("in", "nin"):
            arg = tuple(instant_of(t) for t in f.raw.split(",")) if f.raw else ()
        else:
            arg = instant_of(f.raw)
        test = predicate(f.op, arg)
        ids = [i for i in ids if test(value(i, f.path))]
    for column, descending in reversed(sort):

        def key(i: int, column: str = column) -> tuple[int, Any]:
            v = value(i, column)
            return (0, 0) if v is None else (1, v)

        ids.sort(key=key, reverse=descending)
    return ids


@pytest.fixture
def events_client(tmp_path: Path) -> tuple[FlaskClient, Events]:
    path = str(tmp_path / "events.sqlite3")
    events = write_events(path)
    return create_app(f"sqlite:///{path}").test_client(), events


def test_sqlite_date_times_in_several_formats_match_the_reference(
    events_client: tuple[FlaskClient, Events],
) -> None:
    """Filters and sorts on SQLite date-time columns mean the instants the stored text says,
    whatever its format; rows are read back as the same instants."""
    client, events = events_client
    shown = get(client, "/api/events?page[size]=100")["data"]
    for row in shown:
        for column in DATE_COLUMNS:
            text = events.rows[row["id"]][column]
            assert (row[column] is None) == (text is None), row
            if text is not None:
                assert instant_of(row[column]) == instant_of(text), (row, text)

    @search(150)
    @given(
        filters=st.lists(date_filter(), max_size=2, unique_by=_named),
        sort=sort_strategy(DATE_COLUMNS),
        size=st.integers(1, 20),
    )
    def check(filters: list[Filter], sort: tuple[tuple[str, bool], ...], size: int) -> None:
        q = Query("events", tuple(filters), sort, size)
        want = events_expected(events, filters, sort)
        url = q.url(size=100)
        assert [r["id"] for r in get(client, url)["data"]] == want, url
        forward, _ = walk(client, q.url(size=size, after=""), "next", size)
        assert [r["id"] for r in forward] == want, q.url(size=size, after="")
        backward, _ = walk(client, q.url(size=size, before=""), "prev", size)
        assert [r["id"] for r in backward] == want, q.url(size=size, before="")

    check()


@pytest.fixture
def events_feed(tmp_path: Path) -> tuple[FlaskClient, Events]:
    """The same table served with the change feed, and one event per row (a note written
    through the API: the feed sees no write of another program)."""
    path = str(tmp_path / "events.sqlite3")
    events = write_events(path)
    app = create_app(f"sqlite:///{path}", changes=ChangeFeed(stream_seconds=0))
    client = app.test_client()
    for i in events.rows:
        assert client.patch(f"/api/events/{i}", json={"note": "seen"}).status_code == 200
    with sqlite3.connect(path) as conn:  # the date-times are still as the program wrote them
        stored = {
            i: {"at": a, "local": b, "wall": c}
            for i, a, b, c in conn.execute("SELECT id, at, local, wall FROM events")
        }
    conn.close()
    assert stored == events.rows
    return client, events


def test_the_change_feed_decides_sqlite_date_time_filters_as_the_reference(
    events_feed: tuple[FlaskClient, Events],
) -> None:
    """The feed sends the events of the rows the reference (and so a list) selects."""
    client, events = events_feed

    @search(150)
    @given(filters=st.lists(date_filter(), min_size=1, max_size=2, unique_by=_named))
    def check(filters: list[Filter]) -> None:
        want = events_expected(events, filters, ())
        url = "/api/events/changes?" + urlencode([f.param() for f in filters], quote_via=quote)
        resp = client.get(url, headers={"Last-Event-ID": "0"})
        assert resp.status_code == 200, (url, resp.get_data(as_text=True))
        keys = [
            int(orjson.loads(line[len("data: ") :])["key"])
            for line in resp.get_data(as_text=True).splitlines()
            if line.startswith("data: ")
        ]
        assert keys == want, url

    check()
