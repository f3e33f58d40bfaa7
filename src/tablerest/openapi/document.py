"""The whole document: each resource's paths, the index, the auth and batch routes, the
responses every operation can give (414, 401/403 where guarded, 429 under rate limits), the
components; and which callers get the same document (the key it is kept under).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..names import slug
from ..reflect.selection import reserved_names
from ..render.jsonapi import JSONAPI
from ..resource import Resource, View
from .auth import auth_paths
from .batch import batch_path
from .common import TOO_LONG, problems, ref, schema_name
from .context import Context
from .examples import add_examples
from .paths import resource_paths
from .source import Source

OPENAPI_VERSION = "3.1.0"
PROBLEM_JSON = "application/problem+json"


#: The representations a document can be limited to, and the media types each keeps.
FORMATS = {
    "json": ("application/json", "application/problem+json"),
    "jsonapi": (JSONAPI,),
}


def document(
    state: Source, view: View | None = None, root: str = "", only: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the resources mounted on one app, as the caller whose
    ``view`` it is sees them (None: every declared field and relation). ``root``: where the
    app is mounted (WSGI's ``SCRIPT_NAME``), the server URL every path is relative to.
    ``only`` (a key of :data:`FORMATS`): bodies and answers in that representation alone,
    where an operation has it; see :func:`_one_format`."""
    return _build(Context(state, view), root, only)


def _build(ctx: Context, root: str, only: str | None) -> dict[str, Any]:
    """Every path (resources in the order they were mounted, then the index, auth and batch),
    the responses common to all operations, and the components gathered on the way."""
    api = ctx.state.api
    owners: dict[str, Resource] = {}  # each path -> its resource: its errors' documents
    for ep in ctx.state.endpoints.values():
        before = set(ctx.paths)
        resource_paths(ctx, ep.resource)
        owners.update(dict.fromkeys(set(ctx.paths) - before, ep.resource))
    ctx.paths[ctx.prefix] = {
        "get": {
            "operationId": "index",
            "summary": "The resources of this API",
            "tags": ["index"],
            "responses": {
                "200": {
                    "description": "Each resource's name, URL, fields and methods",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    if api.auth is not None:
        auth_paths(ctx, api.auth)
    if api.batch:
        batch_path(ctx)
    add_examples(ctx)  # what the docs page's Try it out sends
    guarded = ctx.state.identify is not None or api.guarded
    for path, item in ctx.paths.items():
        for method, op in item.items():
            if method == "parameters":
                continue
            op["responses"].setdefault("414", TOO_LONG)
            if guarded and path != ctx.prefix:
                for code, entry in problems(401, 403).items():
                    op["responses"].setdefault(code, entry)
            if api.rate_limits is not None:
                op["responses"].setdefault("429", problems(429)["429"])
            # Bodies in one representation: the default one unless asked for (see _one_format;
            # generated clients fail on alternative bodies: openapi-python-client 0.29's
            # code does not import).
            _one_format(op, FORMATS[only or api.format or "json"], answers=only is not None)
            if only is None and api.format == "jsonapi":
                _jsonapi_first(op)
            _error_documents(ctx, op, owners.get(path))
    components: dict[str, Any] = {"schemas": ctx.schemas}
    if api.auth is not None:
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": api.title, "version": api.version, "description": api.description},
        # Relative to where the document was fetched from: the server that serves it.
        "servers": [{"url": root or "/", "description": "The server of this document"}],
        **({"tags": tags} if (tags := _renamed_tags(ctx)) else {}),
        "paths": ctx.paths,
        "components": components,
        # Signed in or anonymous: each operation's permissions decide (401/403). Without
        # auth, an explicit "none": every operation is open.
        "security": [{"bearerAuth": []}, {}] if api.auth is not None else [],
    }
    _drop_unused(ctx.schemas, doc)
    return doc


def _error_documents(ctx: Context, op: dict[str, Any], res: Resource | None) -> None:
    """An operation's error answers as its resource (or else the API) writes them: the
    error renderer's media type and schema in place of problems, and a taken unique value
    under 422 rather than 409 where ``unique_violation="validation"``."""
    api = ctx.state.api
    answers = op["responses"]
    mode = (res.unique_violation if res is not None else None) or api.unique_violation
    if mode == "validation" and "409" in answers:
        answers["409"]["description"] = "Conflicts with stored data (a foreign key)"
        if "422" in answers:
            answers["422"]["description"] += (
                "; a value another row holds in a unique key is one (per column)"
            )
    own = res.error_renderer if res is not None else None
    renderer = own or api.error_renderer
    if renderer is None:
        return
    name = (
        f"{schema_name(res)}ErrorDocument"
        if own is not None and res is not None
        else "ErrorDocument"
    )
    schema = getattr(renderer, "schema", None)
    ctx.schemas.setdefault(name, dict(schema) if schema else {"type": "object"})
    media_type = getattr(renderer, "media_type", "application/json")
    for entry in answers.values():
        content = entry.get("content")
        if content and PROBLEM_JSON in content:
            rest = {t: v for t, v in content.items() if t != PROBLEM_JSON}
            entry["content"] = {media_type: {"schema": ref(name)}, **rest}


def _jsonapi_first(op: dict[str, Any]) -> None:
    """Put JSON:API first in each body and answer of an API that answers it by default:
    generated clients (openapi-python-client) read an answer as its first media type."""
    bodies = [op["requestBody"]] if "requestBody" in op else []
    for entry in [*bodies, *op["responses"].values()]:
        content = entry.get("content")
        if content and JSONAPI in content:
            entry["content"] = {JSONAPI: content[JSONAPI]} | content


def _one_format(op: dict[str, Any], kept: tuple[str, ...], *, answers: bool) -> None:
    """Keep the media types ``kept`` in the body (and each answer, if ``answers``) that has
    one of them. What an answer is in depends on what was sent and asked for (Accept, a
    JSON:API body), which OpenAPI cannot tie together: code generators read every answer as
    its first media type. A document of one representation is one they can follow (Accept
    chosen once, for all)."""
    bodies = [op["requestBody"]] if "requestBody" in op else []
    for entry in [*bodies, *(op["responses"].values() if answers else ())]:
        content = entry.get("content")
        if content and any(t in content for t in kept):
            entry["content"] = {t: content[t] for t in kept if t in content}


def _drop_unused(schemas: dict[str, Any], doc: Mapping[str, Any]) -> None:
    """Leave out the schema components nothing refers to (some are built only as a
    template of another, such as the flat create body a JSON:API document is made from)."""
    prefix = "#/components/schemas/"
    used: set[str] = set()
    others = {k: v for k, v in doc["components"].items() if k != "schemas"}
    pending: list[Any] = [doc["paths"], others]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str) and target.startswith(prefix):
                name = target[len(prefix) :]
                if name not in used and name in schemas:
                    used.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name in [n for n in schemas if n not in used]:
        del schemas[name]


def _renamed_tags(ctx: Context) -> list[dict[str, str]]:
    """A tag per resource served under a name other than its table's: which table it is
    (and why, when the API itself serves the table's own name)."""
    api = ctx.state.api
    reserved = reserved_names(docs=api.docs, batch=api.batch, auth=api.auth is not None)
    out = []
    for ep in ctx.state.endpoints.values():
        table, name = ep.resource.table.name, ep.resource.name
        if name == slug(table):
            continue
        own = slug(table) in reserved
        why = f" (the API serves its own {ctx.prefix}/{slug(table)})" if own else ""
        out.append({"name": name, "description": f"The table `{table}`{why}"})
    return out


def view_key(state: Source, view: View | None) -> Any:
    """What about ``view`` changes the document: callers with equal keys get the same one."""
    if view is None:
        return None
    out = []
    for ep in state.endpoints.values():
        res = ep.resource
        out.append((res.name, view.concealed(res), view.concealed_relations(res, state)))
    return tuple(out)


def operations(doc: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(method, path) of every operation in a document."""
    for path, item in doc["paths"].items():
        for method in item:
            if method != "parameters":
                yield method.upper(), path
