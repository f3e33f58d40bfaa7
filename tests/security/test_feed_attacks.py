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
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from tablerest import ChangeFeed, Limits, owner, public, role
from tablerest.changes.like import fold, like_matcher
from tablerest.changes.outbox import changes_table
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


# -- item 17: no event when nothing visible changed; history under the caller's grants -------

#: Users anyone may list and read; email shown to admins only, the password never (write-only).
OPEN_USERS: dict[str, Any] = {
    "list": public,
    "read": public,
    "create": public,
    "update": owner("id") | role("admin"),
    "delete": role("admin"),
}


@pytest.fixture
def users_feed(make_app: AppFactory) -> FlaskClient:
    return make_app(
        api={"changes": BOUNDED},
        permissions={"users": OPEN_USERS},
        users_options={"hidden_unless": {"email": role("admin")}},
    ).test_client()


def _outbox(client: FlaskClient) -> list[tuple[str, str, str, str | None]]:
    """The outbox as SQL sees it: (resource, op, row JSON, changed JSON)."""
    state = client.application.extensions["tablerest"]["/api"]
    engine = state.db.engine(state.endpoints["users"].resource.table)
    t = changes_table
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.resource, t.c.op, t.c.row_json, t.c.changed_json))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _keys(found: list[Any]) -> list[tuple[str, str]]:
    return [(e["event"], e["data"]["key"]) for e in found]


@pytest.mark.parametrize(
    "change",
    [
        ("PATCH", {"password": "a-new-password-1"}),
        ("PUT", {"username": "bob", "password": "a-new-password-1"}),  # email: kept
        ("PATCH", {"username": "bob"}),  # the same value: nothing changed at all
    ],
    ids=["patch-password", "put-password", "patch-same-value"],
)
def test_a_write_that_changes_nothing_visible_sends_no_event(
    users_feed: FlaskClient, change: tuple[str, dict[str, Any]]
) -> None:
    bob = login(users_feed, "bob")
    method, body = change

    resp = users_feed.open("/api/users/2", method=method, json=body, headers=bob)

    assert resp.status_code == 200, resp.get_data(as_text=True)
    for who in ({}, bob, login(users_feed, "ann")):
        assert replay(users_feed, "/api/users/changes", who) == []
    assert _outbox(users_feed) == []  # nothing recorded at all, and no hash stored


def test_a_change_of_a_field_hidden_from_a_caller_is_sent_only_to_those_who_see_it(
    users_feed: FlaskClient,
) -> None:
    bob, ann = login(users_feed, "bob"), login(users_feed, "ann")
    hidden = users_feed.patch("/api/users/2", json={"email": "bob@new.example"}, headers=ann)
    visible = users_feed.patch("/api/users/2", json={"username": "bobby"}, headers=bob)
    assert (hidden.status_code, visible.status_code) == (200, 200)

    anonymous = replay(users_feed, "/api/users/changes")
    owner_self = replay(users_feed, "/api/users/changes", bob)
    admin = replay(users_feed, "/api/users/changes", ann)

    assert _keys(anonymous) == _keys(owner_self) == [("update", "2")]
    assert anonymous[0]["data"]["row"] == {"id": 2, "username": "bobby", "roles": ""}
    assert _keys(admin) == [("update", "2"), ("update", "2")]
    assert admin[0]["data"]["row"]["email"] == "bob@new.example"
    stored = _outbox(users_feed)
    assert [orjson.loads(changed or "null") for *_rest, changed in stored] == [
        ["email"],
        ["username"],
    ]
    assert not any("argon2" in row or "-pw" in row for _res, _op, row, _c in stored)


def test_hidden_only_changes_through_batch_and_json_api_send_no_event(
    users_feed: FlaskClient,
) -> None:
    bob, ann = login(users_feed, "bob"), login(users_feed, "ann")
    batch = users_feed.post(
        "/api/batch",
        json={
            "operations": [
                {"op": "update", "resource": "users", "key": 2, "data": {"password": "pw-2-long"}},
                {"op": "replace", "resource": "users", "key": 2,
                 "data": {"username": "bob", "password": "pw-3-long"}},
            ]
        },
        headers=bob,
    )  # fmt: skip
    jsonapi = users_feed.patch(
        "/api/users/2",
        data=orjson.dumps(
            {"data": {"type": "users", "id": "2", "attributes": {"email": "b@y.example"}}}
        ),
        content_type="application/vnd.api+json",
        headers={**ann, "Accept": "application/vnd.api+json"},
    )
    assert (batch.status_code, jsonapi.status_code) == (200, 200), batch.get_data(as_text=True)

    assert replay(users_feed, "/api/users/changes") == []
    assert replay(users_feed, "/api/users/changes", bob) == []
    assert _keys(replay(users_feed, "/api/users/changes", ann)) == [("update", "2")]


def test_replayed_history_shows_each_caller_only_rows_they_could_read(feed: FlaskClient) -> None:
    """``Last-Event-ID: 0`` replays a day of history: each event (deletes included) is judged
    by the row's owner fields as stored with it, so nobody sees another's private posts, even
    after the rows are gone or have changed hands."""
    ann, bob, cy = (login(feed, n) for n in ("ann", "bob", "cy"))
    made = feed.post("/api/posts", json={"title": "bob's draft"}, headers=bob)
    assert made.status_code == 201
    new = str(made.get_json()["id"])
    writes = [
        feed.patch(f"/api/posts/{new}", json={"title": "bob's plan"}, headers=bob),
        feed.delete(f"/api/posts/{new}", headers=bob),
        feed.patch("/api/posts/3", json={"owner_id": 3}, headers=ann),  # bob's secret -> cy
        feed.delete("/api/posts/3", headers=cy),
    ]
    assert [w.status_code for w in writes] == [200, 204, 200, 204]

    assert _keys(replay(feed, "/api/posts/changes", bob)) == [
        ("create", new), ("update", new), ("delete", new),
    ]  # fmt: skip
    assert _keys(replay(feed, "/api/posts/changes", cy)) == [("update", "3"), ("delete", "3")]
    assert len(replay(feed, "/api/posts/changes", ann)) == 5
    problem(feed.get("/api/posts/changes", headers={"Last-Event-ID": "0"}), 401)
    # Filters do not widen it: a filter on the owner only narrows what the grants let through.
    assert replay(feed, "/api/posts/changes?owner_id=2", cy) == []
