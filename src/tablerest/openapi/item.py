"""The operations on one row's URL (``{prefix}/{name}/{key}``): read, replace, change, delete,
each with the ``If-Match`` precondition where the row changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..resource import Resource
from .common import json_body, json_ok, problems, ref
from .context import Context
from .jsonapi import jsonapi_document, jsonapi_input
from .parameters import item_params
from .schemas import enveloped, input_schema, row_schema


@dataclass(frozen=True)
class RowRoute:
    """What every route of one row shares: its path, the key parameter, the ``If-Match``
    header of changes, and the tag of its resource."""

    path: str
    key: dict[str, Any]
    if_match: dict[str, Any]
    tag: list[str]


def if_match_header(res: Resource) -> dict[str, Any]:
    """The ``If-Match`` header of the operations that change a row (required if the resource
    says so)."""
    return {
        "name": "If-Match",
        "in": "header",
        "required": res.require_if_match,
        "schema": {"type": "string"},
        "description": "The ETag of the row as last read: the change happens only if "
        "the row has not changed since.",
    }


def item_operations(ctx: Context, res: Resource, route: RowRoute) -> dict[str, Any]:
    """The path item of one row: its key parameter and what the resource's methods allow."""
    tag, if_match = route.tag, route.if_match
    item: dict[str, Any] = {"parameters": [route.key]}
    row = enveloped(res, ref(row_schema(ctx, res)))
    if "GET" in res.methods:
        item["get"] = {
            "operationId": f"read_{res.name}",
            "summary": f"Read one row of {res.name}",
            "tags": tag,
            "parameters": item_params(ctx, res),
            "responses": {
                "200": json_ok(row, "The row", etag=True, jsonapi=ref(jsonapi_document(ctx, res))),
                "304": {"description": "Not modified (If-None-Match)"},
                **problems(400, 404, 406, 503),
            },
        }
    for method, op in (("PUT", "replace"), ("PATCH", "patch")):
        if method in res.methods:
            # put="update": a PUT takes what a PATCH takes.
            variant = "patch" if method == "PUT" and res.put == "update" else op
            item[method.lower()] = {
                "operationId": f"{op}_{res.name}",
                "summary": (
                    f"Replace one row of {res.name} (every writable field)"
                    if variant == "replace"
                    else f"Change some fields of one row of {res.name}"
                ),
                "tags": tag,
                "parameters": [if_match],
                "requestBody": json_body(
                    enveloped(res, ref(input_schema(ctx, res, variant))),  # type: ignore[arg-type]
                    ref(jsonapi_input(ctx, res, variant)),  # type: ignore[arg-type]
                ),
                "responses": {
                    "200": json_ok(
                        row,
                        "The row as stored",
                        etag=True,
                        jsonapi=ref(jsonapi_document(ctx, res)),
                    ),
                    **problems(400, 404, 406, 409, 412, 413, 415, 422, 428, 503),
                },
            }
    if "DELETE" in res.methods:
        item["delete"] = {
            "operationId": f"delete_{res.name}",
            "summary": f"Delete one row of {res.name}",
            "tags": tag,
            "parameters": [if_match],
            "responses": {
                "204": {"description": "Deleted"},
                **problems(400, 404, 409, 412, 428, 503),
            },
        }
    return item
