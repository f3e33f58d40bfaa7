"""The paths of one resource, in the order a reader meets them: its collection, its change
feed, one row, and the row's relations; each operation says who may call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..resource import Resource
from .changes import changes_operation
from .collection import collection_operations, create_operation
from .common import json_ok, problems, ref
from .context import Context
from .item import RowRoute, if_match_header, item_operations
from .parameters import key_parameter
from .relations import relation_paths
from .schemas import enveloped, row_schema

if TYPE_CHECKING:
    from ..nests import Nest
    from ..toggles import Toggle


def resource_paths(ctx: Context, res: Resource) -> None:
    """Add the paths of ``res`` to the document (and the schemas they refer to)."""
    url = f"{ctx.prefix}/{res.path}"
    tag = [res.name]
    collection = collection_operations(ctx, res, tag)
    if collection:
        ctx.paths[url] = collection
    _permissions(res, collection, {})
    if res.changes and "GET" in res.methods:
        ctx.paths[f"{url}/changes"] = {"get": changes_operation(ctx, res, tag)}
    if not res.key_fields:
        return
    key_param, key_path = key_parameter(res)
    route = RowRoute(f"{url}/{key_path}", key_param, if_match_header(res), tag)
    item = item_operations(ctx, res, route)
    if len(item) > 1:
        ctx.paths[route.path] = item
    _permissions(res, {}, item)
    if "GET" not in res.methods:
        return
    relation_paths(ctx, res, route)
    for nest in ctx.state.api.nests:
        if nest.parent is res and nest.child.name in ctx.state.endpoints:
            _nested(ctx, nest, route)
    for toggle in ctx.state.api.toggles:
        if toggle.on is res and toggle.through.name in ctx.state.endpoints:
            ctx.paths[f"{route.path}/{toggle.name}"] = _toggle(ctx, res, toggle, route)


def _nested(ctx: Context, nest: Nest, route: RowRoute) -> None:
    """A child's rows under a parent row: create on the relation route's path (whose GET lists
    them), and one row's operations below it, each under the parent's key too."""
    child = nest.child
    under = f"_under_{nest.parent.name}"
    listed = ctx.paths.get(f"{route.path}/{nest.step}")
    if listed is not None and "POST" in child.methods:
        create = create_operation(ctx, child, route.tag)
        create["operationId"] += under
        create["summary"] += f" (under one row of {nest.parent.name}: its key filled in)"
        create["responses"].update(problems(404))
        listed["post"] = create
    param, _path = key_parameter(child)
    param = {**param, "name": f"{nest.step}_{param['name']}"}
    path = f"{route.path}/{nest.step}/{{{param['name']}}}"
    item = item_operations(ctx, child, RowRoute(path, param, if_match_header(child), route.tag))
    for method, op in item.items():
        if method != "parameters":
            op["operationId"] += under
            op["responses"].update(problems(404))
    if len(item) > 1:
        ctx.paths[path] = {**item, "parameters": [route.key, param]}


def _toggle(ctx: Context, res: Resource, toggle: Toggle, route: RowRoute) -> dict[str, Any]:
    """``POST`` and ``DELETE`` of a membership toggle: the row as a GET shows it, after."""
    row = enveloped(res, ref(row_schema(ctx, res)))
    out: dict[str, Any] = {"parameters": [route.key]}
    for method, what in (("post", "Add"), ("delete", "Remove")):
        out[method] = {
            "operationId": f"{method}_{res.name}_{toggle.name}",
            "summary": f"{what} the caller's {toggle.name} of one row of {res.name} "
            f"(a row of {toggle.through.name}; idempotent)",
            "tags": route.tag,
            "responses": {
                "200": json_ok(row, "The row, after", etag=True),
                **problems(401, 403, 404, 409, 503),
            },
        }
    return out


def _permissions(res: Resource, collection: dict[str, Any], item: dict[str, Any]) -> None:
    """Each operation says who may call it (``x-permission`` and its description)."""
    if res.policy is None:
        return
    actions = (
        (collection, {"get": "list", "post": "create"}),
        (item, {"get": "read", "put": "update", "patch": "update", "delete": "delete"}),
    )
    for ops, by_method in actions:
        for method, action in by_method.items():
            if method in ops:
                rule = repr(res.policy.rules[action])  # type: ignore[index]
                ops[method]["x-permission"] = rule
                ops[method]["description"] = f"Permission ({action}): `{rule}`."
