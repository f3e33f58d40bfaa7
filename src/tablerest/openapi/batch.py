"""``POST {prefix}/batch``: the operations it takes on each resource (create, update, replace,
delete), and what it answers.
"""

from __future__ import annotations

from typing import Any

from ..schema import Variant
from .common import closed, json_body, json_ok, problems, ref
from .context import Context
from .schemas import input_schema


def batch_path(ctx: Context) -> None:
    """``POST {prefix}/batch``: writes on any resources in one transaction."""
    earlier = closed({"$ref": {"type": "string"}, "field": {"type": "string"}}, ["$ref"])
    value: list[dict[str, Any]] = [{"type": "string"}, {"type": "integer"}]
    key = {
        "description": "The row's key: a value, the values of a composite key, or a "
        "reference to a row written earlier",
        "anyOf": [*value, {"type": "array", "items": {"anyOf": value}, "minItems": 1}, earlier],
    }
    name = {"type": "string", "description": "A name later operations refer by"}
    variants: list[dict[str, Any]] = []
    for ep in ctx.state.endpoints.values():
        res = ep.resource
        ops: list[tuple[str, dict[str, Any], list[str]]] = []
        if "POST" in res.methods:
            body = ref(input_schema(ctx, res, "create", nested=True))
            ops.append(("create", {"data": body, "ref": name}, ["data"]))
        if res.primary_key:
            changes: tuple[tuple[str, str, Variant], ...] = (
                ("update", "PATCH", "patch"),
                ("replace", "PUT", "replace"),
            )
            for op, method, variant in changes:
                if method in res.methods:
                    body = ref(input_schema(ctx, res, variant))
                    ops.append((op, {"key": key, "data": body, "ref": name}, ["key", "data"]))
            if "DELETE" in res.methods:
                ops.append(("delete", {"key": key}, ["key"]))
        for op, props, required in ops:
            variants.append(
                closed(
                    {"op": {"const": op}, "resource": {"const": res.name}, **props},
                    ["op", "resource", *required],
                )
            )
    if not variants:
        return
    operation = {
        "oneOf": variants,
        "description": "The request an operation stands for: create = POST, update = "
        'PATCH, replace = PUT, delete = DELETE. {"$ref": "<ref>"} in data stands for '
        "the key of the row an earlier operation with that ref wrote "
        '({"$ref": "<ref>", "field": "<name>"} for one of its fields).',
    }
    result = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "integer"},
            "location": {"type": "string"},
            "data": {"type": "object"},
        },
    }
    limit = ctx.state.api.settings.limits.max_batch_operations
    body = closed(
        {"operations": {"type": "array", "items": operation, "minItems": 1, "maxItems": limit}},
        ["operations"],
    )
    ctx.paths[f"{ctx.prefix}/batch"] = {
        "post": {
            "operationId": "batch",
            "summary": "Run writes on any resources in one transaction: all or none",
            "description": "Each operation runs as the request it stands for (create = "
            "POST, update = PATCH, replace = PUT, delete = DELETE), with the caller's "
            "permissions. The answer holds each one's status and row; when one fails, "
            "nothing is changed and the problem's pointers start with /operations/<n>.",
            "tags": ["batch"],
            "requestBody": json_body(body),
            "responses": {
                "200": json_ok(
                    closed({"results": {"type": "array", "items": result}}, ["results"]),
                    "The result of each operation, in order",
                    etag=False,
                ),
                **problems(400, 403, 404, 409, 413, 415, 422, 503),
            },
        }
    }


# -- what the caller sees -----------------------------------------------------------------
