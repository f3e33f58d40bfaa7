"""The live change feed's operation (``{prefix}/{name}/changes``): Server-Sent Events,
filtered like lists, with the caller's list permission.
"""

from __future__ import annotations

from typing import Any

from ..resource import Resource
from .common import problems
from .context import Context
from .parameters import filter_groups_param, filter_params


def changes_operation(ctx: Context, res: Resource, tag: list[str]) -> dict[str, Any]:
    """The live change feed: Server-Sent Events, filtered like lists."""
    params: list[dict[str, Any]] = [
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
            "description": "Resume after this event id (EventSource sends it on reconnect)",
        }
    ]
    # The feed decides on each changed row alone: no filter goes through a relation.
    params += [*filter_params(ctx, res), filter_groups_param(ctx, res, related=False)]
    op: dict[str, Any] = {
        "operationId": f"changes_{res.name}",
        "summary": f"Follow changes to {res.name} live: Server-Sent Events",
        "description": "Each event: `id` (resume with Last-Event-ID), `event` (create, "
        "update, delete; `reset` when Last-Event-ID is no longer kept) and `data`, JSON "
        '`{"op", "key", "row"}`, the row as a read shows it. Only rows the caller may '
        "list, matching the filters (the resource's own fields).",
        "tags": tag,
        "parameters": params,
        "responses": {
            "200": {
                "description": "An event stream (text/event-stream)",
                "content": {"text/event-stream": {"schema": SSE_EVENT}},
            },
            # 429: over a stream cap (per client address, or in all).
            **problems(400, 406, 429, 503),
        },
    }
    if res.policy is not None:
        rule = repr(res.policy.rules["list"])
        op["x-permission"] = rule
        op["description"] += f" Permission (list): `{rule}`."
        op["responses"].update(problems(401, 403))
    return op


#: One event of a change stream (``data`` is JSON text: op, key, row).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string", "enum": ["create", "update", "delete", "reset"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer"},
    },
}
