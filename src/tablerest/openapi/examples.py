"""The examples of the document: what the docs page's "Try it out" sends when nothing is changed.

Swagger UI fills a parameter from its ``example`` (or ``default``), an object parameter without
one from a sample of its schema (``{"additionalProp1": "string"}``: a 400 for ``having``), and a
request body from its media type's ``example``, or else from a sample of every property of the
schema (nested rows, keys and their alternatives together: a 422). Each operation gets examples
that the API accepts, built from the declarations only: column types, lengths, nullability,
unique constraints and foreign keys, never from stored rows (a code-first app has none when its
document is built).

What must exist is named by convention: a row key (a path's key, a foreign key in a body) is the
type's first value, ``1`` for an integer key, the first row of a table numbered from 1 (and so
on the demo); elsewhere Try it out answers 404 (or 409) until the user types a key that exists.
Unique columns (and keys a client chooses) get a value per operation (``create-example``,
``replace-example``..., ``2``, ``3``...) so that one run of each operation does not collide
with another's row, nor with the example key's. Optional parameters stay empty, object ones
included (``example: {}`` sends nothing).

All of it is applied in one pass over the finished paths (:func:`add_examples`), so that the
builders of the paths and schemas stay about what the API accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..columns.typeops import base_type, family
from ..fields import Field
from ..relations import unique_sets
from ..render.jsonapi import JSONAPI
from ..resource import Resource, enum_labels, linkage_columns
from .context import Context
from .schemas import enveloped_example

__all__ = ["add_examples", "field_example", "key_example"]

#: No example can be given for a value (a range, an interval): left out where optional.
_NONE = object()


def add_examples(ctx: Context) -> None:
    """Give every operation of the document under way the examples Try it out sends."""
    resources = {ep.resource.name: ep.resource for ep in ctx.state.endpoints.values()}
    for path, item in ctx.paths.items():
        found = _route(ctx, resources, path)
        for param in item.get("parameters", []):
            _parameter(param, found)
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                _parameter(param, found)
            body = op.get("requestBody")
            if body is not None:
                _body(ctx, method, path, body, found)


# -- which resource a path is about ------------------------------------------------------------

#: (resource, what the path is past the resource's URL: "" for the collection, "item", the
#: relation name of a related route, "relationships/<name>" of a linkage one, "changes").
_Route = tuple[Resource, str] | None


def _route(ctx: Context, resources: dict[str, Resource], path: str) -> _Route:
    if not path.startswith(ctx.prefix + "/"):
        return None
    name, _, rest = path[len(ctx.prefix) + 1 :].partition("/")
    res = resources.get(name)
    if res is None:
        return None
    if not rest:
        return res, ""
    if not rest.startswith("{"):
        return res, rest
    _key, _, past = rest.partition("}")
    past = past.lstrip("/")
    return res, past or "item"


# -- parameters --------------------------------------------------------------------------------


def _parameter(param: dict[str, Any], found: _Route) -> None:
    if "example" in param or "examples" in param or "$ref" in param:
        return
    schema = param.get("schema", {})
    if param.get("in") == "path" and found is not None:
        res = found[0]
        if res.key_fields:
            param["example"] = key_example(res)
        return
    kind = _type(schema)
    items = schema.get("items") if kind == "array" else None
    if param.get("required") or schema.get("minProperties") or schema.get("minItems"):
        return
    # Swagger UI fills an optional object parameter (or array of objects) with a sample of
    # its schema (additionalProp1...), which the API rightly refuses; an empty value sends
    # nothing. Other parameters it leaves empty by itself.
    if kind == "object":
        param["example"] = {}
    elif isinstance(items, dict) and _type(items) == "object":
        param["example"] = []


def _type(schema: dict[str, Any]) -> str | None:
    """The type of a schema as Swagger UI decides it: the first branch of a union."""
    for branch in (schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())):
        kind = branch.get("type")
        if isinstance(kind, str) and kind != "null":
            return kind
    return None


def key_example(res: Resource) -> Any:
    """The example key of a row of ``res`` in a path: its first value by type (``1``), the
    values of a composite key comma-separated."""
    values = [_key_value(f.column) for f in res.key_fields]
    if len(values) == 1:
        return values[0]
    return ",".join(str(v) for v in values)


def _key_value(col: sa.Column[Any]) -> Any:
    value = _scalar(col, "")
    return 1 if value is _NONE or value is None else value


# -- bodies ------------------------------------------------------------------------------------


def _body(ctx: Context, method: str, path: str, body: dict[str, Any], found: _Route) -> None:
    content = body.get("content", {})
    examples: dict[str, Any] = {}
    auth = ctx.state.api.auth
    users = auth.users if auth is not None else None
    #: The resource whose envelope a plain JSON example goes in, if any.
    owner: Resource | None = None
    if path == f"{ctx.prefix}/batch" and method == "post":
        examples["application/json"] = _batch(ctx)
    elif auth is not None and path == ctx.prefix + auth.paths["token"] and method == "post":
        examples["application/json"] = examples["application/x-www-form-urlencoded"] = _credentials(
            ctx
        )
        # With token_field, a JSON sign-in is in the users' envelope (as a sign-up is).
        owner = users if auth.token_field else None
    elif auth is not None and users is not None and path == ctx.prefix + auth.paths["me"]:
        if method in ("put", "patch"):
            variant = "replace" if method == "put" and users.put == "replace" else "patch"
            examples["application/json"] = row_example(ctx, users, variant)
            owner = users
    elif found is not None:
        res, where = found
        owner = res
        if where == "" and method == "post":
            row = row_example(ctx, res, "create")
            examples["application/json"] = row
            examples[JSONAPI] = _jsonapi(ctx, res, "create", row)
        elif where == "" and method == "patch":
            keys = {f.name: _key_value(f.column) for f in res.key_fields}
            examples["application/json"] = [{**keys, **row_example(ctx, res, "patch", "bulk")}]
        elif where == "item" and method in ("put", "patch"):
            variant = "replace" if method == "put" and res.put == "replace" else "patch"
            row = row_example(ctx, res, variant)
            examples["application/json"] = row
            examples[JSONAPI] = _jsonapi(ctx, res, variant, row)
        elif where.startswith("relationships/"):
            examples[JSONAPI] = _linkage(ctx, res, where.partition("/")[2])
    if owner is not None and "application/json" in examples:
        examples["application/json"] = enveloped_example(owner, examples["application/json"])
    for media, example in examples.items():
        entry = content.get(media)
        if entry is not None and example is not None and "example" not in entry:
            entry["example"] = example


def row_example(
    ctx: Context, res: Resource, variant: str, tag: str | None = None
) -> dict[str, Any]:
    """A plain JSON body of a write of ``res`` (``create``, ``replace`` or ``patch``) that the
    API accepts: the fields it requires (foreign keys as keys, never nested rows) and the
    optional ones an example cannot get wrong; a patch changes one field. ``tag`` sets unique
    text values apart (the variant's name by default)."""
    tag = tag or {"patch": "update"}.get(variant, variant)
    hidden = ctx.concealed(res)
    auth = ctx.state.api.auth
    password = auth.accounts.password_field if auth is not None and auth.users is res else None
    out: dict[str, Any] = {}
    for f in res.fields.values():
        if not f.writable or f.expression is not None or f.name in hidden:
            continue
        if f.primary_key and variant != "create":
            if variant == "replace" and f.required_on_replace:
                out[f.name] = _key_value(f.column)  # a key a client writes: the URL's
            continue
        needed = f.required_on_create if variant == "create" else f.required_on_replace
        if not needed and not _safe(f):
            continue
        value = field_example(f, tag)
        if f.name == password:
            value = _password(ctx, f)
        if value is not _NONE:
            out[f.name] = value
    if variant == "create":
        out.update(_value_lists(ctx, res, tag, hidden))
    if variant == "patch":
        # A change of one field: the first the row requires that is not a key, nor unique.
        required = _required(res)

        def rank(name: str) -> tuple[bool, bool, bool]:
            col = res.fields[name].column
            return bool(col.foreign_keys), _unique(col), name not in required

        first = sorted(out, key=rank)
        return {first[0]: out[first[0]]} if first else {}
    return out


def _value_lists(
    ctx: Context, res: Resource, tag: str, hidden: frozenset[str]
) -> dict[str, list[Any]]:
    """Value lists a create can always send: those whose missing rows are made (and made by
    anyone: the target has no permissions), one value each."""
    out: dict[str, list[Any]] = {}
    for name, vl in res.value_lists.items():
        target = ctx.state.target(vl.rel)
        if name in hidden or vl.relation not in res.get_or_create:
            continue
        if target is None or target.policy is not None:
            continue
        value = _scalar(vl.column, tag)
        if value is not _NONE:
            out[name] = [value]
    return out


def _password(ctx: Context, f: Field) -> str:
    """The users' password in a sign-up: long enough for the password policy."""
    auth = ctx.state.api.auth
    shortest = auth.passwords.min_length if auth is not None else 0
    text = "example-password"
    return text + "-" * max(shortest - len(text), 0)


def _required(res: Resource) -> set[str]:
    return {f.name for f in res.fields.values() if f.required_on_replace}


def _safe(f: Field) -> bool:
    """Whether an optional field gets an example: not a key, not unique, nothing fills it."""
    col = f.column
    if col.foreign_keys or col.default is not None or col.server_default is not None:
        return False
    return not _unique(col)


def _unique(col: sa.Column[Any]) -> bool:
    if not isinstance(col.table, sa.Table):
        return False  # a computed field's stand-in column
    sets = unique_sets(col.table)
    if col.table.primary_key.columns:
        sets = sets[1:]  # the key's own set: a row's key is written by nobody here
    return any(c is col for cols in sets for c in cols)


def field_example(f: Field, tag: str = "") -> Any:
    """A value of ``f`` that a write accepts: by type, within its length; the key of the
    example row (``1``) for a foreign key; text set apart by ``tag`` for a unique column."""
    col = f.column
    for fk in col.foreign_keys:
        try:
            return _key_value(fk.column)
        except sa.exc.SQLAlchemyError:  # a key to a table not in the metadata: by type
            break
    return _scalar(col, tag if col.primary_key or _unique(col) else "")


#: The rank of each operation's values of a unique column: they differ from one another and
#: from the example key's (rank 0), so that one run of each does not collide with another's.
_TAGS = {"": 0, "create": 1, "batch": 2, "replace": 3, "update": 4, "bulk": 5}


def _scalar(col: sa.Column[Any], tag: str) -> Any:
    """The type's example value (``_NONE`` when there is no sure one); ``tag``: that of an
    operation, for a unique column (text that starts with the tag, so that it stays apart
    when cut to the column's length; the number of its rank)."""
    rank = _TAGS.get(tag, len(_TAGS))
    t = base_type(col.type)
    labels = enum_labels(t)
    if family(t) != "scalar":
        return _NONE
    if labels:
        return labels[0]
    if isinstance(t, sa.Boolean):
        return False
    if isinstance(t, sa.Integer):
        return 1 + rank
    if isinstance(t, sa.Float) or (isinstance(t, sa.Numeric) and not t.asdecimal):
        return 1.5
    if isinstance(t, sa.Numeric):
        scale = t.scale or 0
        whole = "1" if t.precision is None or t.precision > scale else "0"
        return whole + ("." + "0" * scale if scale else "")
    if isinstance(t, sa.DateTime):
        return "2024-01-01T12:00:00" + ("Z" if t.timezone else "")
    if isinstance(t, sa.Date):
        return "2024-01-01"
    if isinstance(t, sa.Time):
        return "12:00:00" + ("Z" if t.timezone else "")
    if isinstance(t, sa.Uuid):
        return f"00000000-0000-4000-8000-{1 + rank:012d}"
    if isinstance(t, sa.LargeBinary):
        return "ZXhhbXBsZQ=="  # "example", base64
    if isinstance(t, sa.String):
        text = f"{tag}-example" if tag else "example"
        return text[: t.length] if t.length else text
    if isinstance(t, sa.JSON):
        return {}
    return _NONE


def _jsonapi(ctx: Context, res: Resource, variant: str, row: dict[str, Any]) -> dict[str, Any]:
    """The JSON:API document of the same write as ``row``: attributes, to-one linkage for
    its foreign keys, the row's id where it applies."""
    linked: set[str] = set()
    relationships: dict[str, Any] = {}
    for rel_name, rel, target in ctx.relations(res):
        cols = linkage_columns(res, rel, target)
        if cols is None or not all(c in row for c in cols):
            continue
        ident = ",".join(str(row[c]) for c in cols)
        relationships[rel_name] = {"data": {"type": target.name, "id": ident}}
        linked.update(cols)
    data: dict[str, Any] = {"type": res.name}
    keys = [f.name for f in res.key_fields]
    if variant != "create" and keys:
        data["id"] = str(key_example(res))
    elif keys and all(k in row for k in keys):  # a key the client chooses: the id
        data["id"] = ",".join(str(row[k]) for k in keys)
        linked.update(keys)  # (a replace takes it among the attributes too, as in the URL)
    attributes = {k: v for k, v in row.items() if k not in linked}
    hidden = ctx.jsonapi.hidden_keys(res, ctx.view)
    attributes = {k: v for k, v in attributes.items() if k not in hidden}
    if attributes:
        data["attributes"] = attributes
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


def _linkage(ctx: Context, res: Resource, rel_name: str) -> dict[str, Any] | None:
    """A relationship document: the example row of the target of a to-one relation, none
    of a to-many one (which is changed from the other side)."""
    for name, rel, target in ctx.relations(res):
        if name == rel_name:
            if rel.to_many:
                return {"data": []}
            return {"data": {"type": target.name, "id": str(key_example(target))}}
    return None


def _credentials(ctx: Context) -> dict[str, Any] | None:
    """A sign-in with the sign-up example's login and password: the user it creates."""
    auth = ctx.state.api.auth
    users = auth.users if auth is not None else None
    if auth is None or users is None:
        return None
    signed_up = row_example(ctx, users, "create")
    password = auth.accounts.password_field
    for login in auth.login_fields:
        if login in signed_up and password in signed_up:
            return {login: signed_up[login], "password": signed_up[password]}
    return None


def _batch(ctx: Context) -> dict[str, Any] | None:
    """One create in the first resource that takes them."""
    for res in _creatable(ctx):
        data = row_example(ctx, res, "create", "batch")
        return {"operations": [{"op": "create", "resource": res.name, "data": data}]}
    return None


def _creatable(ctx: Context) -> Iterator[Resource]:
    for ep in ctx.state.endpoints.values():
        if "POST" in ep.resource.methods:
            yield ep.resource
