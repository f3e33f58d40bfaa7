"""``GET /api/<resource>/changes``: the resource's change events as Server-Sent Events.

Parse (the list filters, on the resource's own fields), authorize (``list`` on the resource;
each event only when its row, as stored with the event, is within the caller's ``read`` and
``list`` grants, and an update only when it changed a field the caller can see), then stream:
``id:`` the outbox id, ``event:`` the operation, ``data:`` ``{"op", "key", "row"}`` with the
row as the caller may see it. ``Last-Event-ID`` resumes after that id; an id the outbox no
longer holds (pruned, or from another database) gets a ``reset`` event first, and the stream
goes on from the newest event.
"""

from __future__ import annotations

import contextlib
import re
import select
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import orjson
import pydantic
import sqlalchemy as sa
from werkzeug.wrappers import Request, Response

from ..auth.policies import Action, Rows
from ..columns.sqlite_time import instant_key
from ..columns.typeops import family, matcher
from ..columns.untyped import LOOSE_OPS, Untyped, loose_matches
from ..decode.queries import PAGE_PARAMETERS, Filter, Group, QueryReader
from ..decode.values import value_parser
from ..errors import InvalidParameter, MethodNotAllowed, NotAcceptable
from ..operations.caller import Caller
from ..render.json import dumps
from ..resource import Resource
from ..routes.common import RouteContext
from .fanout import Feeds, Hub
from .like import like_matcher
from .outbox import Event

__all__ = ["EVENT_STREAM", "ChangeStream"]

EVENT_STREAM = "text/event-stream"
#: Events read from the outbox at a time.
BATCH = 200
_NOT_HERE = (*PAGE_PARAMETERS, "sort", "include", "count", "q", "format", "group_by",
             "aggregate", "distinct")  # fmt: skip
#: The operators a list decides by comparing values (rather than text or presence).
_ORDERED_OPS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "nin"})
_ID = re.compile(r"^[0-9]{1,18}$")

#: One filter of a stream: the field it looks at, and the test of that field's value.
Check = tuple[str, Callable[[Any], bool]]
#: The filters of a stream (their OR / NOT groups too) as one test of an event's row.
RowTest = Callable[[Mapping[str, Any]], bool]


class ChangeStream:
    """The change feed route of one resource, built once at registration."""

    def __init__(
        self,
        resource: Resource,
        context: RouteContext,
        feeds: Feeds,
    ) -> None:
        self.resource = resource
        self.context = context
        self.queries = QueryReader(context.registry, context.settings.limits)
        self.feeds = feeds
        self.feed = feeds.feed
        self._typed = _typing(resource)

    def view(self, request: Request) -> Response:
        res = self.resource
        allowed = ["GET", "HEAD", "OPTIONS"]
        if request.method == "OPTIONS":
            resp = Response(status=200)
            resp.headers["Allow"] = ", ".join(allowed)
            return resp
        if request.method not in allowed:
            raise MethodNotAllowed(allowed)
        caller = self.context.caller(request)
        caller.require(res, "list")
        if request.accept_mimetypes and not request.accept_mimetypes.best_match([EVENT_STREAM]):
            raise NotAcceptable(f"The change feed is {EVENT_STREAM} only")
        filters = self._filters(request, caller)
        after = _last_event_id(request)
        hub = self.feeds.hub(res)
        self.feeds.prepare()
        oldest, latest = hub.outbox.bounds()
        reset = after is not None and not oldest - 1 <= after <= latest
        start = latest if after is None or reset else after
        first = f"retry: {self.feed.retry_ms}\n\n"
        if reset:
            gone = dumps({"reason": "Last-Event-ID is no longer kept", "latest": latest})
            first += f"event: reset\ndata: {gone.decode()}\n\n"
        live = self.feed.stream_seconds > 0 and request.method == "GET"
        # Counted now, so that a stream over a cap is a 429 rather than a broken stream.
        release = hub.open_stream(request.remote_addr or "unknown") if live else _nothing

        environ = request.environ  # the generator runs after the request context is gone
        request_method = request.method

        def body() -> Iterator[bytes]:
            if request_method == "HEAD":
                return
            try:
                yield first.encode()
                yield from self._events(hub, start, filters, caller, environ, live)
            finally:
                release()  # the slot is free as soon as the stream ends

        resp = Response(body(), mimetype=EVENT_STREAM)
        # The server closes every response it was handed, whether or not it read the body (a
        # client gone before the first byte): a generator never started runs no finally.
        resp.call_on_close(release)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return resp

    def _filters(self, request: Request, caller: Caller) -> RowTest:
        args = request.args.to_dict(flat=False)
        for name in args:
            if name in _NOT_HERE or name.startswith(("fields", "having[")):
                raise InvalidParameter(name, f"{name} does not apply to a change feed")
        intent = self.queries.list_intent(self.resource, args, caller.access)
        hidden = caller.concealed(self.resource)
        for f in intent.leaves():
            if f.path.steps:
                raise InvalidParameter(
                    f.parameter, "A change feed filters on the resource's own fields only"
                )
            if f.path.field.name in hidden:
                raise InvalidParameter(f.parameter, f"Unknown field {f.path.dotted!r}")
            if f.path.field.caller_type is not None:
                raise InvalidParameter(
                    f.parameter,
                    f"{f.path.dotted!r} depends on who asks: change events do not carry it",
                )
        return _row_test(Group("and", intent.filters, intent.groups))

    def _events(
        self,
        hub: Hub,
        seen: int,
        filters: RowTest,
        caller: Caller,
        environ: Mapping[str, Any],
        live: bool,
    ) -> Iterator[bytes]:
        feed = self.feed
        now = time.monotonic()
        ends, ping = now + feed.stream_seconds, now + feed.heartbeat
        latest = seen + 1  # read once at the start, whatever the hub knows
        while True:
            if latest > seen:
                events, seen = hub.outbox.read(self.resource.name, seen, BATCH)
                for event in events:
                    out = self._event(event, filters, caller)
                    if out is not None:
                        yield out
                if len(events) == BATCH:
                    continue
            if not live:
                return
            now = time.monotonic()
            if now >= ends or _client_gone(environ):
                return
            if now >= ping:
                yield b": ping\n\n"
                ping = now + feed.heartbeat
            latest = hub.wait(seen, min(1.0, ends - now, max(ping - now, 0.0)))

    def _event(self, event: Event, filters: RowTest, caller: Caller) -> bytes | None:
        res = self.resource
        row: dict[str, Any] = orjson.loads(event.row)
        typed = self._typed(row)
        if not _within(caller, res, typed):
            return None
        if not filters(typed):
            return None
        hidden = caller.concealed(res)
        if event.changed is not None and not set(event.changed) - hidden:
            return None  # an update of fields hidden from this caller only: nothing to see
        if hidden:
            row = {k: v for k, v in row.items() if k not in hidden}
        data = dumps({"op": event.op, "key": event.key, "row": row}).decode()
        return f"id: {event.id}\nevent: {event.op}\ndata: {data}\n\n".encode()


def _nothing() -> None:
    return None


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw == "":
        return None
    if not _ID.match(raw.strip()):
        raise InvalidParameter("Last-Event-ID", "Last-Event-ID must be an event id (digits)")
    return int(raw)


def _typing(resource: Resource) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Rows as stored (JSON) -> the fields' Python values, to compare with filter values and
    owner ids as the database would."""
    parsers: dict[str, Callable[[str], Any]] = {}
    for f in resource.readable:
        col_type = f.column.type
        if isinstance(col_type, sa.String | sa.JSON):
            continue
        parsers[f.name] = value_parser(col_type)

    def typed(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, parse in parsers.items():
            value = out.get(name)
            if isinstance(value, str):
                with contextlib.suppress(ValueError, pydantic.ValidationError):
                    out[name] = parse(value)
        return out

    return typed


def _within(caller: Caller, res: Resource, row: Mapping[str, Any]) -> bool:
    """Whether the caller may read ``row`` in a list (their ``read`` and ``list`` grants)."""
    actions: tuple[Action, ...] = ("read", "list")
    for action in actions:
        got = caller.grant(res, action)
        if got is False:
            return False
        if isinstance(got, Rows):
            assert res.policy is not None
            if not res.policy.matches(got, caller.identity, row):
                return False
    return True


def _row_test(group: Group) -> RowTest:
    """A group of filters as a test of a row, deciding as the list's SQL does: a condition a
    NULL fails is false, so ``not`` holds for it (see :func:`.plan.filters.where_condition`)."""
    tests: list[RowTest] = [_field_test(_check(f)) for f in group.filters]
    tests += [_row_test(g) for g in group.groups]
    if group.kind == "or":
        return lambda row: any(test(row) for test in tests)
    if group.kind == "not":
        return lambda row: not all(test(row) for test in tests)
    return lambda row: all(test(row) for test in tests)


def _field_test(check: Check) -> RowTest:
    name, test = check
    return lambda row: test(row.get(name))


def _check(f: Filter) -> Check:
    """A list filter as a test of one field's value, made once per stream."""
    col_type = f.path.field.column.type
    if family(col_type) != "scalar" and f.op != "null":
        test = matcher(col_type, f.op, f.value, value_parser)
        if test is None:
            raise InvalidParameter(
                f.parameter, f"{f.op} on {f.path.dotted} does not apply to a change feed"
            )
        return f.path.field.name, test
    if f.op in ("like", "ilike"):
        like = like_matcher(f.value, ignore_case=f.op == "ilike")
        return f.path.field.name, lambda value: isinstance(value, str) and like(value)
    if isinstance(f.path.field.column.type, Untyped) and f.op in LOOSE_OPS:
        return f.path.field.name, lambda value: loose_matches(f.op, f.value, value)
    instant = instant_key(col_type)
    if instant is not None and f.op in _ORDERED_OPS:
        # A SQLite column of several date-time formats or offsets: lists compare instants.
        many = f.op in ("in", "nin")
        keyed = replace(f, value=tuple(map(instant, f.value)) if many else instant(f.value))
        return f.path.field.name, lambda value: _matches(keyed, instant(value))
    return f.path.field.name, lambda value: _matches(f, value)


def _matches(f: Filter, value: Any) -> bool:
    """A list filter on one value, as the SQL the list runs would decide it (NULL matches
    ``ne``, ``nin`` and ``null=true`` only; text operators are case-sensitive but ``ilike``;
    ``like``/``ilike`` are decided by :func:`_check`)."""
    op, want = f.op, f.value
    if op == "null":
        return (value is None) is bool(want)
    if value is None:
        return op in ("ne", "nin")
    try:
        if op == "eq":
            return bool(value == want)
        if op == "ne":
            return bool(value != want)
        if op == "in":
            return value in want
        if op == "nin":
            return value not in want
        if op == "lt":
            return bool(value < want)
        if op == "le":
            return bool(value <= want)
        if op == "gt":
            return bool(value > want)
        if op == "ge":
            return bool(value >= want)
    except TypeError:
        return False
    if not isinstance(value, str):
        return False
    if op == "contains":
        return want in value
    if op == "startswith":
        return value.startswith(want)
    if op == "endswith":
        return value.endswith(want)
    return False


def _client_gone(environ: Mapping[str, Any]) -> bool:
    """Whether the client closed its connection (gunicorn hands the socket over; elsewhere a
    closed client is noticed at the next write, a heartbeat at the latest)."""
    sock = environ.get("gunicorn.socket")
    if sock is None or not hasattr(select, "poll"):
        return False
    hangup = select.POLLHUP | select.POLLERR | select.POLLNVAL | getattr(select, "POLLRDHUP", 0)
    try:
        poller = select.poll()
        poller.register(sock, hangup)
        return any(events & hangup for _fd, events in poller.poll(0))
    except (OSError, ValueError):
        return True
