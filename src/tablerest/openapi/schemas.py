"""The component schemas of plain JSON: a row (with the relations ``include`` may embed), a
page of rows, and the body of each kind of write (create, with the rows it may nest; replace;
patch), taken from the validators' own JSON Schema so that the document cannot disagree with
what a write accepts.
"""

from __future__ import annotations

from typing import Any

from ..decode.nested import field_names, nestable
from ..resource import Resource
from ..schema import Variant
from .common import ref, schema_name
from .context import Context
from .fields import key_schema, read_schema, refine_input


def row_schema(ctx: Context, res: Resource) -> str:
    """The name of the component of one row of ``res`` as the caller reads it (added once)."""
    name = schema_name(res)
    if name in ctx.schemas:
        return name
    props: dict[str, Any] = {f.name: read_schema(f) for f in ctx.readable(res)}
    ctx.schemas[name] = {
        "type": "object",
        "description": (
            f"A row of {res.name}. Sparse fieldsets (`fields=`) leave fields out; included "
            "relations (`include=`) add theirs."
        ),
        "properties": props,
    }
    for rel_name, rel, target in ctx.relations(res):
        target_name = row_schema(ctx, target)
        props[rel_name] = (
            {"type": "array", "items": ref(target_name)}
            if rel.to_many
            else {"anyOf": [ref(target_name), {"type": "null"}]}
        )
    return name


def input_schema(
    ctx: Context,
    res: Resource,
    variant: Variant,
    supplied: frozenset[str] = frozenset(),
    under: Resource | None = None,
    *,
    nested: bool = False,
) -> str:
    """The body schema of a write. ``nested``: a plain JSON create, which names the rows
    it may nest (JSON:API and form bodies nest none); ``supplied``: the fields that link
    a row nested under ``under`` (left out)."""
    nested = variant == "create" and (nested or under is not None)
    name = schema_name(res, variant.capitalize())
    if under is not None:
        name += f"Under{schema_name(under)}"
    elif nested and nestable(res, ctx.state):
        name += "Nested"
    else:
        nested = False
    if name not in ctx.schemas:
        adapter = res.schema.supplied_adapter(supplied) if supplied else res.schema.adapter(variant)
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        ctx.schemas.update(schema.pop("$defs", {}))
        schema["title"] = name
        props = schema.setdefault("properties", {})
        for field_name in supplied | ctx.concealed(res):
            props.pop(field_name, None)
        if "required" in schema:
            schema["required"] = [n for n in schema["required"] if n in props]
        for field_name, prop in props.items():
            f = res.fields.get(field_name)
            if f is not None:
                refine_input(f, prop)
        ctx.schemas[name] = schema  # before nesting: relations may lead back here
        if nested:
            _nested_inputs(ctx, res, schema, supplied)
    return name


def _nested_inputs(
    ctx: Context, res: Resource, schema: dict[str, Any], supplied: frozenset[str]
) -> None:
    """The relations a create may nest rows under (see :mod:`tablerest.decode.nested`)."""
    props = schema["properties"]
    followed = {name for name, _rel, _target in ctx.relations(res)}
    for rel_name, rel in nestable(res, ctx.state).items():
        if rel_name not in followed:
            continue  # concealed from the caller: no nesting under it described either
        target = ctx.state.target(rel)
        assert target is not None
        if rel.through is not None:
            props[rel_name] = _links_input(ctx, res, rel_name, target)
            continue
        if rel.to_many:
            back = frozenset(field_names(target, rel.remote) or ())
            item = input_schema(ctx, target, "create", back, res)
            props[rel_name] = {
                "type": "array",
                "items": ref(item),
                "description": f"Rows of {target.name} to create after this one, each "
                f"pointing at it ({', '.join(sorted(back))} filled in)",
            }
            continue
        local = field_names(res, rel.local) or []
        if supplied & set(local):
            continue
        props[rel_name] = {
            **ref(input_schema(ctx, target, "create", nested=True)),
            "description": f"A row of {target.name} to create first, for this one to "
            f"point at ({', '.join(local)} filled in; send either)",
        }
        # The row to point at comes nested, or as its key: not both (and one of them
        # where the key is required).
        # (Each rule names the properties it requires: defined above, and {} here adds
        # nothing, but a reader of one subschema sees them defined. {} rather than the
        # equivalent `true`: generators such as openapi-python-client refuse boolean schemas.)
        rules = schema.setdefault("allOf", [])
        rules.extend(_requiring([rel_name, n], negated=True) for n in local)
        required = schema.get("required", [])
        if set(local) <= set(required):
            rules.append({"anyOf": [_requiring([rel_name]), _requiring(local)]})
            schema["required"] = [r for r in required if r not in local]


def _links_input(ctx: Context, res: Resource, rel_name: str, target: Resource) -> dict[str, Any]:
    """A many-to-many relation in a create: rows to link, each named by its key alone (or,
    where the target takes creates, a row to create first)."""
    names = [f.name for f in target.key_fields]
    named: dict[str, Any] = {
        "type": "object",
        "required": names,
        "properties": {f.name: key_schema(f) for f in target.key_fields},
        "additionalProperties": False,
    }
    made = "missing ones are made" if rel_name in res.get_or_create else "each must exist"
    said = f"Rows of {target.name} to link this one to, each named by {', '.join(names)} ({made})"
    if "POST" in target.methods:
        named = {"anyOf": [named, ref(input_schema(ctx, target, "create", nested=True))]}
        said += ", or rows to create and link"
    return {"type": "array", "items": named, "description": said}


def _requiring(names: list[str], *, negated: bool = False) -> dict[str, Any]:
    rule = {"required": names, "properties": {n: {} for n in names}}
    return {"not": rule} if negated else rule


def list_schema(ctx: Context, res: Resource) -> str:
    """The name of the component of a page of ``res`` rows: data (or the envelope's list
    member, and its count), links, meta."""
    name = schema_name(res, "List")
    if name not in ctx.schemas:
        env = res.envelope
        rows = {"type": "array", "items": ref(row_schema(ctx, res))}
        members: dict[str, Any] = {"data": rows} if env is None else {str(env.list): rows}
        if env is not None and env.count is not None:
            members[env.count] = {"type": "integer", "minimum": 0}
        ctx.schemas[name] = {
            "type": "object",
            "required": [*members, "links", "meta"],
            "properties": {
                **members,
                "links": ref(page_links(ctx)),
                "meta": ref(list_meta(ctx)),
            },
        }
    return name


def enveloped(res: Resource, schema: dict[str, Any], many: bool = False) -> dict[str, Any]:
    """A plain JSON row's schema (or an array's, ``many``) as the resource's bodies and
    answers hold it: in its envelope's member, if it has one."""
    env = res.envelope
    if env is None:
        return schema
    member = str(env.list if many else env.item)
    return {"type": "object", "required": [member], "properties": {member: schema}}


def enveloped_example(res: Resource, example: Any) -> Any:
    """A plain JSON body's example, in the resource's envelope."""
    env = res.envelope
    if env is None or example is None:
        return example
    return {str(env.list if isinstance(example, list) else env.item): example}


def page_links(ctx: Context) -> str:
    """The component of a page's links (plain JSON and JSON:API): null where there is none."""
    name = "PageLinks"
    if name not in ctx.schemas:
        link = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        ctx.schemas[name] = {
            "type": "object",
            "properties": dict.fromkeys(("self", "first", "prev", "next"), link),
        }
    return name


def list_meta(ctx: Context) -> str:
    """The component of a page's ``meta`` (plain JSON and JSON:API): which page, and the
    totals a ``count`` asked for."""
    name = "ListMeta"
    if name not in ctx.schemas:
        size = {"type": "integer", "minimum": 1}
        ctx.schemas[name] = {
            "type": "object",
            "required": ["page"],
            "properties": {
                "page": {
                    "type": "object",
                    "description": "number and size (page[number] paging), offset and limit "
                    "(offset paging), size alone (cursor paging)",
                    "properties": {
                        "number": size,
                        "size": size,
                        "offset": {"type": "integer", "minimum": 0},
                        "limit": size,
                    },
                },
                "total": {"type": "integer", "description": "With count=..."},
                "total_capped": {
                    "type": "boolean",
                    "description": "count=capped: more rows exist than total says",
                },
                "total_estimated": {
                    "type": "boolean",
                    "description": "count=estimated: total is the planner's guess",
                },
            },
        }
    return name
