"""The operations on a resource's collection URL: list (a page as JSON or JSON:API, every row as
CSV or NDJSON), create (one row or several, or an upsert with ``on_conflict``) and the bulk
update of several rows by key.
"""

from __future__ import annotations

from typing import Any

from ..relations import unique_sets
from ..render.jsonapi import JSONAPI
from ..resource import Resource
from .common import headers, json_body, problems, query, ref
from .context import Context
from .jsonapi import jsonapi_document, jsonapi_input
from .parameters import list_params
from .schemas import enveloped, input_schema, list_schema, row_schema


def collection_operations(ctx: Context, res: Resource, tag: list[str]) -> dict[str, Any]:
    """The path item of ``{prefix}/{name}``: what the resource's methods allow of it."""
    collection: dict[str, Any] = {}
    if "GET" in res.methods:
        collection["get"] = list_operation(ctx, res, f"list_{res.name}", tag)
    if "POST" in res.methods:
        collection["post"] = create_operation(ctx, res, tag)
    if "PATCH" in res.methods and res.key_fields:
        collection["patch"] = bulk_update_operation(ctx, res, tag)
    return collection


def create_operation(ctx: Context, res: Resource, tag: list[str]) -> dict[str, Any]:
    """``POST {prefix}/{name}``: one row or an array of rows, or an upsert."""
    one = ref(input_schema(ctx, res, "create", nested=True))
    row = ref(row_schema(ctx, res))
    keys = []
    hidden = ctx.concealed(res)
    for cols in unique_sets(res.table):
        found = [res.field_by_column(c) for c in cols]
        if all(f is not None and f.readable and f.writable and f.name not in hidden for f in found):
            keys.append(",".join(f.name for f in found if f is not None))
    params = (
        [query("on_conflict", {"type": "string", "enum": sorted(set(keys))},
                "Upsert: rows whose value(s) of this unique key exist are changed (the "
                "fields sent), the others created")]
        if keys
        else []
    )  # fmt: skip
    # One row or an array of rows, under one media type: with a second body (JSON:API) beside
    # such a union, generated clients fail (see document._one_format).
    many = {"type": "array", "items": one, "minItems": 1}
    body = json_body(
        {"anyOf": [enveloped(res, one), enveloped(res, many, many=True)]},
        ref(jsonapi_input(ctx, res, "create")),
    )
    # The row, or the rows: the same in both answers (created, or changed by on_conflict).
    rows = {"type": "array", "items": row}
    written = {
        "application/json": {
            "schema": {"anyOf": [enveloped(res, row), enveloped(res, rows, many=True)]}
        },
        JSONAPI: {"schema": ref(jsonapi_document(ctx, res))},
    }
    return {
        "operationId": f"create_{res.name}",
        "summary": f"Create {res.name}: one row, or several (an array) all or none",
        "tags": tag,
        "parameters": params,
        "requestBody": body,
        "responses": {
            "201": {
                "description": "Created: the row (with Location and ETag), or the rows",
                "headers": headers("Location", "ETag"),
                "content": written,
            },
            "200": {
                "description": "on_conflict: the row changed, or the rows (created or changed)",
                "content": written,
            },
            **problems(400, 403, 406, 409, 413, 415, 422, 503),
        }
        if res.create_status == 201
        else {
            "200": {
                "description": "Created (with Location and ETag), or with on_conflict changed: "
                "the row, or the rows",
                "headers": headers("Location", "ETag"),
                "content": written,
            },
            **problems(400, 403, 406, 409, 413, 415, 422, 503),
        },
    }


def list_operation(
    ctx: Context, res: Resource, op_id: str, tag: list[str], *, groups: bool = True
) -> dict[str, Any]:
    """A list of ``res`` (a collection, or, without ``groups``, a to-many relation of
    another row)."""
    content: dict[str, Any] = {
        "application/json": {"schema": ref(list_schema(ctx, res))},
        JSONAPI: {"schema": ref(jsonapi_document(ctx, res, many=True))},
    }
    if res.export:
        text = {"schema": {"type": "string"}}
        content["text/csv"] = text
        content["application/x-ndjson"] = text
    return {
        "operationId": op_id,
        "summary": f"List {res.name}: a page (JSON), or every row (CSV, NDJSON)",
        "description": "Accept chooses the representation. (So does ?format=json, jsonapi, "
        "csv or ndjson, for links and browsers: not a declared parameter, as the answer's "
        "type would depend on it, which generated clients cannot follow.)",
        "tags": tag,
        "parameters": list_params(ctx, res, groups=groups),
        "responses": {
            "200": {
                "description": "A page (JSON), or every matching row (CSV, NDJSON)",
                "headers": headers("ETag", "Link"),
                "content": content,
            },
            "304": {"description": "Not modified (If-None-Match)"},
            **problems(400, 406, 503),
        },
    }


def bulk_update_operation(ctx: Context, res: Resource, tag: list[str]) -> dict[str, Any]:
    """``PATCH {prefix}/{name}``: several rows changed, each with its key, all or none."""
    patch = input_schema(ctx, res, "patch")
    keyed = f"{patch}Keyed"
    # The PATCH body with its key required: one item of a bulk update.
    base = ctx.schemas[patch]
    props = {
        name: {k: v for k, v in prop.items() if k != "readOnly"}
        if name in {f.name for f in res.key_fields}
        else prop
        for name, prop in base.get("properties", {}).items()
    }
    ctx.schemas[keyed] = {
        **base,
        "title": keyed,
        "properties": props,
        "required": [f.name for f in res.key_fields],
    }
    change = ref(keyed)
    rows = enveloped(res, {"type": "array", "items": ref(row_schema(ctx, res))}, many=True)
    return {
        "operationId": f"update_many_{res.name}",
        "summary": f"Change several rows of {res.name}, each with its key: all or none",
        "tags": tag,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": enveloped(
                        res, {"type": "array", "items": change, "minItems": 1}, many=True
                    )
                }
            },
        },
        "responses": {
            "200": {
                "description": "The rows as stored, in the order given",
                "content": {"application/json": {"schema": rows}},
            },
            **problems(400, 403, 404, 409, 413, 415, 422, 503),
        },
    }
