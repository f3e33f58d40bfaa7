"""The component schemas of JSON:API: resource identifiers and objects, the documents a read
answers with, and the documents a write takes (attributes, to-one linkage, a create's
many-to-many linkage, the id where it applies).
"""

from __future__ import annotations

from typing import Any

from ..resource import Resource, linkage_columns
from ..schema import Variant
from .common import closed, ref, schema_name
from .context import Context
from .fields import key_schema, read_schema
from .schemas import input_schema, list_meta, page_links


def id_schema(res: Resource) -> dict[str, Any]:
    """A resource's JSON:API ``id``: its key as text (composite keys comma-separated)."""
    if len(res.key_fields) == 1:
        key = key_schema(res.key_fields[0])
        if key.get("type") == "integer":  # canonical digits only: one id per row
            return {"type": "string", "pattern": "^(0|-?[1-9][0-9]{0,17})$"}
        return {"type": "string", **{k: v for k, v in key.items() if k in ("format", "enum")}}
    return {"type": "string"}


def settable_linkage(res: Resource, cols: list[str], target: Resource) -> dict[str, Any]:
    """What a to-one relationship can be set to: an identifier, or null if its keys can."""
    ident = identifier(target)
    if all(res.fields[c].nullable for c in cols):
        return {"anyOf": [ident, {"type": "null"}]}
    return ident


def identifier(res: Resource) -> dict[str, Any]:
    """A resource identifier object of ``res``: its type and id."""
    return {
        "type": "object",
        "required": ["type", "id"],
        "properties": {
            "type": {"const": res.name},
            "id": id_schema(res),
            "meta": {"type": "object"},
        },
        "additionalProperties": False,
    }


def jsonapi_resource(ctx: Context, res: Resource) -> str:
    """The name of the component of one JSON:API resource object of ``res``."""
    name = schema_name(res, "Resource")
    if name in ctx.schemas:
        return name
    ctx.schemas[name] = {}  # placeholder: relations may lead back here
    hidden = ctx.jsonapi.hidden_keys(res, ctx.view)
    attributes = {f.name: read_schema(f) for f in ctx.readable(res) if f.name not in hidden}
    relationships = {}
    for rel_name, rel, target in ctx.relations(res):
        ident = identifier(target)
        data = (
            {"type": "array", "items": ident}
            if rel.to_many
            else {"anyOf": [ident, {"type": "null"}]}
        )
        relationships[rel_name] = {
            "type": "object",
            "properties": {"links": {"type": "object"}, "data": data},
        }
    ctx.schemas[name] = {
        "type": "object",
        "description": f"A JSON:API resource object of {res.name}",
        "required": ["type", "id"],
        "properties": {
            "type": {"const": res.name},
            "id": id_schema(res),
            "attributes": {
                "type": "object",
                "properties": attributes,
                "additionalProperties": False,
            },
            "relationships": {
                "type": "object",
                "properties": relationships,
                "additionalProperties": False,
            },
            "links": {"type": "object"},
        },
        "additionalProperties": False,
    }
    return name


def jsonapi_document(ctx: Context, res: Resource, many: bool = False) -> str:
    """The name of the component of a JSON:API document of one ``res`` object (or
    ``many``)."""
    name = schema_name(res, "Collection" if many else "Document")
    if name not in ctx.schemas:
        one = ref(jsonapi_resource(ctx, res))
        data = {"type": "array", "items": one} if many else {"anyOf": [one, {"type": "null"}]}
        paged = {"links": ref(page_links(ctx)), "meta": ref(list_meta(ctx))} if many else {}
        ctx.schemas[name] = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "jsonapi": {"type": "object"},
                "links": {"type": "object"},
                "meta": {"type": "object"},
                **paged,
                "data": data,
                "included": {"type": "array", "items": {"type": "object"}},
            },
        }
    return name


def jsonapi_input(ctx: Context, res: Resource, variant: Variant) -> str:
    """A JSON:API request document: attributes, to-one linkage (and, in a create,
    many-to-many linkage), the id where it applies."""
    name = schema_name(res, f"{variant.capitalize()}Document")
    if name in ctx.schemas:
        return name
    flat = ctx.schemas[input_schema(ctx, res, variant)]
    hidden = ctx.jsonapi.hidden_keys(res, ctx.view)
    required = set(flat.get("required", ()))
    attributes = {k: v for k, v in flat.get("properties", {}).items() if k not in hidden}
    relationships: dict[str, Any] = {}
    needed_relationships = []
    for rel_name, rel, target in ctx.relations(res):
        if rel.through is not None and variant == "create":
            # A create links rows through a link table by their ids (an update cannot: a
            # 403 sends it to the relationship route).
            relationships[rel_name] = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {"type": "array", "items": identifier(target)},
                    "links": {"type": "object"},
                    "meta": {"type": "object"},
                },
                "additionalProperties": False,
            }
            continue
        cols = linkage_columns(res, rel, target)
        writable = cols is not None and all(
            c in res.fields and res.fields[c].writable for c in cols
        )
        if rel.to_many or not writable:
            continue
        assert cols is not None
        relationships[rel_name] = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": settable_linkage(res, cols, target),
                "links": {"type": "object"},
                "meta": {"type": "object"},
            },
            "additionalProperties": False,
        }
        if required & set(cols):
            needed_relationships.append(rel_name)
    data_props: dict[str, Any] = {
        "type": {"const": res.name},
        "links": {"type": "object"},
        "meta": {"type": "object"},
    }
    data_required = ["type"]
    if variant != "create":
        data_props["id"] = id_schema(res)
        data_required.append("id")
    elif all(f.writable for f in res.key_fields):
        data_props["id"] = id_schema(res)
    needed_attributes = sorted(required & set(attributes))
    for member, properties, needed in (
        ("attributes", attributes, needed_attributes),
        ("relationships", relationships, needed_relationships),
    ):
        data_props[member] = closed(properties, needed)
        if needed:
            data_required.append(member)
    ctx.schemas[name] = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": data_required,
                "properties": data_props,
                "additionalProperties": False,
            }
        },
    }
    return name
