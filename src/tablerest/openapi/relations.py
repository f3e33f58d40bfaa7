"""The relation routes of one row: ``{key}/{relation}`` (the related rows, listed or read like
any), and ``{key}/relationships/{relation}`` (JSON:API linkage, settable for a to-one relation
whose keys the caller may write).
"""

from __future__ import annotations

from typing import Any

from ..relations import Relation
from ..render.jsonapi import JSONAPI
from ..resource import Resource, linkage_columns
from .collection import list_operation
from .common import json_ok, problems, ref
from .context import Context
from .item import RowRoute
from .jsonapi import identifier, jsonapi_document, settable_linkage
from .parameters import item_params, page_params
from .schemas import enveloped, row_schema


def relation_paths(ctx: Context, res: Resource, route: RowRoute) -> None:
    """The routes of each relation of the row at ``route`` that the caller may follow."""
    tag = route.tag
    for rel_name, rel, target in ctx.relations(res):
        path = f"{route.path}/{rel_name}"
        if rel.to_many:
            # Rows, not groups: a relation route refuses group_by and the like (400).
            op = list_operation(ctx, target, f"list_{res.name}_{rel_name}", tag, groups=False)
            op["summary"] = f"The {rel_name} of one row of {res.name}"
            op["responses"].update(problems(404))
        else:
            op = {
                "operationId": f"read_{res.name}_{rel_name}",
                "summary": f"The {rel_name} of one row of {res.name} (null when unset)",
                "tags": tag,
                "parameters": item_params(ctx, target),
                "responses": {
                    "200": json_ok(
                        enveloped(
                            target, {"anyOf": [ref(row_schema(ctx, target)), {"type": "null"}]}
                        ),
                        "The related row, or null",
                        etag=True,
                        jsonapi=ref(jsonapi_document(ctx, target)),
                    ),
                    "304": {"description": "Not modified (If-None-Match)"},
                    **problems(400, 404, 406, 503),
                },
            }
        ctx.paths[path] = {"parameters": [route.key], "get": op}
        ctx.paths[f"{route.path}/relationships/{rel_name}"] = _linkage(
            ctx, res, rel_name, rel, target, route
        )


def _linkage(
    ctx: Context,
    res: Resource,
    rel_name: str,
    rel: Relation,
    target: Resource,
    route: RowRoute,
) -> dict[str, Any]:
    """``/relationships/<name>``: its linkage (GET), a to-one one set with PATCH, a
    many-to-many one changed with POST (add), PATCH (set) and DELETE (remove). Another
    to-many one is changed from the other side: its PATCH, POST and DELETE answer 403, as
    JSON:API says of relationship updates a server does not support, and are described so
    (an undescribed method would be expected to answer 405)."""
    tag = route.tag
    ident = identifier(target)
    data = (
        {"type": "array", "items": ident} if rel.to_many else {"anyOf": [ident, {"type": "null"}]}
    )
    doc = {
        "type": "object",
        "required": ["data"],
        "properties": {"links": {"type": "object"}, "meta": {"type": "object"}, "data": data},
    }
    jsonapi_only = {JSONAPI: {"schema": doc}}
    item: dict[str, Any] = {
        "parameters": [route.key],
        "get": {
            "operationId": f"linkage_{res.name}_{rel_name}",
            "summary": f"The linkage of {rel_name} of one row of {res.name} (JSON:API)",
            "tags": tag,
            "parameters": page_params(target) if rel.to_many else [],
            "responses": {
                "200": {"description": "The relationship", "content": jsonapi_only},
                "304": {"description": "Not modified (If-None-Match)"},
                **problems(400, 404, 406, 503),
            },
        },
    }
    cols = None if rel.to_many else linkage_columns(res, rel, target)
    if cols is not None and "PATCH" in res.methods:
        body = {
            "type": "object",
            "required": ["data"],
            "properties": {"data": settable_linkage(res, cols, target)},
        }
        item["patch"] = {
            "operationId": f"relate_{res.name}_{rel_name}",
            "summary": f"Set {rel_name} of one row of {res.name}",
            "tags": tag,
            "parameters": [route.if_match],
            "requestBody": {"required": True, "content": {JSONAPI: {"schema": body}}},
            "responses": {
                "204": {"description": "Changed"},
                **problems(400, 404, 406, 409, 412, 413, 415, 422, 428, 503),
            },
        }
    elif rel.through is not None and "PATCH" in res.methods:
        said = {"post": "Add to", "patch": "Set", "delete": "Remove from"}
        for method, verb in said.items():
            item[method] = {
                "operationId": f"{method}_{res.name}_{rel_name}_linkage",
                "summary": f"{verb} {rel_name} of one row of {res.name} (its link rows)",
                "tags": tag,
                "requestBody": {"required": True, "content": {JSONAPI: {"schema": doc}}},
                "responses": {
                    "204": {"description": "Changed"},
                    **problems(400, 401, 403, 404, 406, 409, 415, 422, 503),
                },
            }
    elif rel.to_many:
        for method in ("patch", "post", "delete"):
            item[method] = {
                "operationId": f"{method}_{res.name}_{rel_name}_linkage",
                "summary": f"Not supported: change {rel_name} on the {target.name} rows",
                "tags": tag,
                "requestBody": {"content": {JSONAPI: {"schema": doc}}},
                "responses": {
                    "403": {
                        "description": "A to-many relationship is changed from the other side",
                        "content": {
                            JSONAPI: {"schema": {"$ref": "#/components/schemas/JsonApiErrors"}}
                        },
                    },
                    **problems(404, 406, 415),
                },
            }
    return item
