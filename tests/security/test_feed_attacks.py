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
from werkzeug.test import EnvironBuilder

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


# -- item 5, streams: one client address cannot take every stream -----------------------------


def _open(client: FlaskClient, address: str, read_first: bool = True) -> Any:
    """A live stream from ``address``, not read beyond its first chunk (or not at all)."""
    resp = client.get(
        "/api/comments/changes", buffered=False, environ_base={"REMOTE_ADDR": address}
    )
    if resp.status_code == 200 and read_first:
        assert next(iter(resp.response)) == b"retry: 2000\n\n"
    return resp


@pytest.fixture
def live(make_app: AppFactory) -> FlaskClient:
    feed = ChangeFeed(stream_seconds=30, max_streams=5, max_streams_per_client=2)
    return make_app(api={"changes": feed}).test_client()


def test_one_address_gets_its_cap_of_streams_then_a_429(live: FlaskClient) -> None:
    mine = [_open(live, "10.0.0.1"), _open(live, "10.0.0.1", read_first=False)]
    try:
        assert [r.status_code for r in mine] == [200, 200]

        over = _open(live, "10.0.0.1")
        body = problem(over, 429)
        assert "2 change streams open" in body["detail"]
        assert over.headers["Retry-After"] == "5"
        # Another address still gets a stream; so does this one once one of its own closes.
        other = _open(live, "10.0.0.2")
        assert other.status_code == 200
        other.close()
        mine.pop().close()  # never read: closing it frees its slot all the same
        again = _open(live, "10.0.0.1")
        assert again.status_code == 200
        mine.append(again)
    finally:
        for resp in mine:
            resp.close()


def test_the_global_cap_holds_across_addresses_and_is_a_429_not_a_503(live: FlaskClient) -> None:
    opened = [_open(live, f"10.0.1.{i // 2}") for i in range(5)]
    try:
        assert [r.status_code for r in opened] == [200] * 5
        full = _open(live, "10.0.2.1")
        body = problem(full, 429)
        assert "Too many change streams" in body["detail"]
        assert full.headers["Retry-After"] == "5"
    finally:
        for resp in opened:
            resp.close()
    assert _open(live, "10.0.2.1").status_code == 200


def test_a_stream_whose_body_is_never_read_is_uncounted_when_closed(
    make_app: AppFactory,
) -> None:
    """A server may close a response without reading its body (a client gone before the
    first byte); a generator never started runs no ``finally``, so the slot must be freed by
    the close. The WSGI app is called directly: the test client always reads a first chunk."""
    app = make_app(api={"changes": ChangeFeed(stream_seconds=30, max_streams=1)})
    statuses = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    for _ in range(3):
        environ = EnvironBuilder("/api/comments/changes", environ_base={"REMOTE_ADDR": "10.0.0.1"})
        body = app(environ.get_environ(), start_response)
        body.close()  # type: ignore[attr-defined]
    assert statuses == ["200 OK"] * 3
    state = app.extensions["tablerest"]["/api"]
    assert state.feeds.hub(state.endpoints["comments"].resource).streams == 0


def test_a_head_request_takes_no_stream_slot(make_app: AppFactory) -> None:
    feed = ChangeFeed(stream_seconds=30, max_streams=1, max_streams_per_client=1)
    client = make_app(api={"changes": feed}).test_client()
    held = _open(client, "10.0.0.1")
    try:
        head = client.head("/api/comments/changes", environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert head.status_code == 200
    finally:
        held.close()


@pytest.mark.parametrize("options", [{"max_streams_per_client": 0}, {"max_streams": 0}])
def test_stream_caps_must_be_positive(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ChangeFeed(**options)
