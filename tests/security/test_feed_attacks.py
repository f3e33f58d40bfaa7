"""Attacks on the live change feed (issue 17: item 1, item 17, and the stream half of item 5).

The multi-user schema of conftest.py (users, private posts, public comments) with the feed on.
Streams here end once they have sent what is stored (``stream_seconds=0``) unless a test says
otherwise, so the test client reads a bounded body; tests/e2e/test_feed_attacks.py runs the
ReDoS attack against a real server.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tablerest import ChangeFeed, Limits
from tablerest.changes.like import fold, like_matcher
from tests.helpers import problem
from tests.security.conftest import AppFactory, login

BOUNDED = ChangeFeed(stream_seconds=0)


def parse(text: str) -> list[dict[str, Any]]:
    """Server-Sent Events: the blocks that carry an event (id, event, data parsed)."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
        if "event" in fields:
            fields["data"] = orjson.loads(fields["data"])
            out.append(fields)
    return out


def replay(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> list[Any]:
    """Every event the caller gets from the whole history (``Last-Event-ID: 0``)."""
    resp = client.get(url, headers={"Last-Event-ID": "0", **(headers or {})})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return parse(resp.get_data(as_text=True))


@pytest.fixture
def feed(make_app: AppFactory) -> FlaskClient:
    return make_app(api={"changes": BOUNDED}).test_client()


# -- item 1: LIKE patterns cost linear time --------------------------------------------------


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError when the block takes longer. SIGALRM interrupts even a regular
    expression stuck in C (``re`` checks for signals as it goes), so a test of the old
    matcher fails instead of hanging."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("needs SIGALRM")

    def expired(*_args: Any) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: Ten ``%`` (within the limits), then a letter no comment below ends with: as a regular
#: expression (``.*`` ten times) this backtracks for hours on a 150-character text.
HOSTILE = "%" * 10 + "x"


@pytest.mark.parametrize("op", ["like", "ilike"])
def test_a_hostile_like_pattern_costs_linear_time_on_each_event(feed: FlaskClient, op: str) -> None:
    bob = login(feed, "bob")
    long = feed.post("/api/comments", json={"post_id": 2, "text": "a" * 150}, headers=bob)
    last = feed.post("/api/comments", json={"post_id": 2, "text": "a" * 150 + "X"}, headers=bob)
    assert (long.status_code, last.status_code) == (201, 201)

    with deadline(3):
        found = replay(
            feed, f"/api/comments/changes?filter[text][{op}]={HOSTILE}".replace("%", "%25")
        )

    # The long text is rejected, the one ending in X is taken (by ilike only: like respects case).
    want = [str(last.get_json()["id"])] if op == "ilike" else []
    assert [e["data"]["key"] for e in found] == want


@pytest.mark.parametrize("op", ["like", "ilike"])
@pytest.mark.parametrize("where", ["/api/comments", "/api/comments/changes"])
@pytest.mark.parametrize(
    ("pattern", "detail"),
    [("%" * 21, "at most 20 wildcards"), ("_%" * 11, "at most 20 wildcards"),
     ("a" * 201, "at most 200 characters")],
)  # fmt: skip
def test_like_patterns_beyond_the_limits_are_a_400_naming_the_parameter(
    feed: FlaskClient, op: str, where: str, pattern: str, detail: str
) -> None:
    resp = feed.get(where, query_string={f"filter[text][{op}]": pattern})

    body = problem(resp, 400)
    assert body["parameter"] == f"filter[text][{op}]"
    assert detail in body["detail"]


def test_like_limits_count_only_unescaped_wildcards_and_are_configurable(
    make_app: AppFactory,
) -> None:
    client = make_app(
        api={"changes": BOUNDED, "limits": Limits(max_like_length=8, max_like_wildcards=2)}
    ).test_client()
    bob = login(client, "bob")
    client.post("/api/comments", json={"post_id": 2, "text": "50%_off"}, headers=bob)

    def status(pattern: str) -> int:
        return client.get("/api/comments", query_string={"filter[text][like]": pattern}).status_code

    assert status("%\\%\\_%") == 200  # two wildcards; the escaped ones are literal
    assert status("%a%b%") == 400
    assert status("123456789") == 400
    listed = client.get("/api/comments", query_string={"filter[text][like]": "%\\%\\_%"})
    assert [c["text"] for c in listed.get_json()["data"]] == ["50%_off"]
    feed_url = "/api/comments/changes?filter[text][like]=" + "%25%5C%25%5C_%25"
    assert [e["data"]["row"]["text"] for e in replay(client, feed_url)] == ["50%_off"]


# The oracle: SQLite's own LIKE (ESCAPE '\'), case-sensitive for like, ASCII-folding for
# ilike. The alphabet mixes wildcards, escapes and letters in both cases; its other letters
# have no case, so that SQLite's ASCII-only folding and the feed's Unicode folding agree.
_ALPHABET = st.sampled_from(["a", "A", "b", "B", "%", "_", "\\", "é", "€", "-"])
_PATTERNS = st.lists(_ALPHABET, max_size=12).map("".join)
_TEXTS = st.lists(_ALPHABET, max_size=16).map("".join)


@pytest.fixture(scope="module")
def oracle() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    yield conn
    conn.close()


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pattern=_PATTERNS, text=_TEXTS)
def test_the_feed_matcher_agrees_with_sqlite_like(
    oracle: sqlite3.Connection, pattern: str, text: str
) -> None:
    for ignore_case in (False, True):
        oracle.execute(f"PRAGMA case_sensitive_like = {'OFF' if ignore_case else 'ON'}")
        (want,) = oracle.execute("SELECT ? LIKE ? ESCAPE '\\'", (text, pattern)).fetchone()
        assert like_matcher(pattern, ignore_case)(text) is bool(want), (pattern, text, ignore_case)


@given(text=st.text(max_size=30), cut=st.integers(0, 30))
def test_a_pattern_made_of_a_text_matches_it(text: str, cut: int) -> None:
    """Beyond the oracle's alphabet: any text, escaped, matches itself, and with ilike its
    upper-case self; a prefix of it followed by % matches it; folding keeps the length (so
    ``_`` is still one character)."""
    escaped = "".join("\\" + ch if ch in "%_\\" else ch for ch in text)
    assert like_matcher(escaped)(text)
    assert like_matcher(escaped, ignore_case=True)(fold(text))
    head = "".join("\\" + ch if ch in "%_\\" else ch for ch in text[:cut])
    assert like_matcher(head + "%")(text)
    assert len(fold(text)) == len(text)
    assert like_matcher("_" * len(text), ignore_case=True)(text)
