"""Atomic batches: ``POST {prefix}/batch`` runs a list of writes, on any resources, in one
transaction, and answers each one's result, or rolls all of them back and says which one
failed and why.

::

    {"operations": [
        {"op": "create", "resource": "authors", "ref": "ada", "data": {"name": "Ada"}},
        {"op": "create", "resource": "books",
         "data": {"title": "Notes", "author_id": {"$ref": "ada"}}},
        {"op": "update", "resource": "books", "key": 7, "data": {"year": 1843}},
        {"op": "delete", "resource": "books", "key": "8"}
    ]}

Each operation is the request it stands for (``create`` = ``POST`` on the collection,
``update`` = ``PATCH``, ``replace`` = ``PUT``, ``delete`` = ``DELETE`` on the item) and runs
through that resource's endpoint with the caller's identity: the same validation,
permissions, field rules and hooks. ``{"$ref": "<ref>"}`` anywhere in ``data`` or as ``key``
stands for the key of the row an earlier operation with that ``ref`` wrote
(``{"$ref": "<ref>", "field": "<name>"}`` for one of its fields); a ref given again names
the later row from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import pydantic
from sqlalchemy import exc as sa_exc
from werkzeug.wrappers import Request, Response

from .. import http
from ..decode.exactjson import dump_exact
from ..decode.queries import reject_query
from ..decode.urlkeys import parse_key, unreachable_keys
from ..errors import (
    FieldError,
    MalformedBody,
    NotAcceptable,
    NotFound,
    PreconditionRequired,
    TablerestError,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..execute.store import translate
from ..grants import Action
from ..operations.caller import Caller
from ..render.json import dumps
from .common import RouteContext
from .endpoint import Endpoint
from .respond import item_url, root

__all__ = ["Batch"]

Op = Literal["create", "update", "replace", "delete"]
_METHODS: dict[str, str] = {
    "create": "POST",
    "update": "PATCH",
    "replace": "PUT",
    "delete": "DELETE",
}
#: The permission each operation needs.
_ACTIONS: dict[str, Action] = {
    "create": "create",
    "update": "update",
    "replace": "update",
    "delete": "delete",
}


class _Operation(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    op: Op
    resource: str
    key: Any = None
    data: dict[str, Any] | None = None
    ref: str | None = None

    @pydantic.field_validator("key", mode="before")
    @classmethod
    def _whole_keys(cls, key: Any) -> Any:
        return _whole_numbers(key)


def _whole_numbers(key: Any) -> Any:
    """A key value written ``5.0`` is the integer 5, as in a body's integer fields (JSON
    Schema counts it as one): as text it would name another row, ``5.0``. Beyond 2^53 such a
    number is not exact and stays a float, which is no key."""
    if isinstance(key, float) and key.is_integer() and abs(key) <= 2**53:
        return int(key)
    if isinstance(key, list):
        return [_whole_numbers(k) for k in key]
    return key


class _Document(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    operations: list[_Operation]


_DOCUMENT = pydantic.TypeAdapter(_Document)


@dataclass
class _Done:
    """What an earlier operation wrote, for the ones after it to refer to."""

    resource: str
    row: dict[str, Any]
    #: The names of the row's key fields.
    key: list[str]


class Batch:
    """The ``POST {prefix}/batch`` endpoint of one app."""

    def __init__(self, endpoints: Mapping[str, Endpoint], context: RouteContext) -> None:
        self.endpoints = endpoints
        self.context = context
        self.limit = context.settings.limits.max_batch_operations

    def run(self, request: Request) -> Response:
        if http.representation(request, "json") != "json":
            if request.mimetype == http.JSONAPI:
                raise UnsupportedMediaType("Send the batch as application/json")
            raise NotAcceptable("A batch answers with application/json")
        reject_query(request.args.to_dict(flat=False))
        body = self.context.body(request)
        if body.kind != "json":
            raise UnsupportedMediaType("Send the batch as application/json")
        operations = self._parse(body.raw)
        # Who is asking and what they may see, once: every operation takes it from here.
        caller = self.context.caller(request)
        done: dict[str, _Done] = {}
        results: list[dict[str, Any]] = []
        base = root(request)  # where each created row's location starts
        try:
            with self.context.registry.db.atomic():
                for i, operation in enumerate(operations):
                    results.append(self._apply(caller, i, operation, done, base))
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return Response(dumps({"results": results}), 200, mimetype="application/json")

    def _parse(self, raw: bytes) -> list[_Operation]:
        try:
            doc = _DOCUMENT.validate_json(raw)
        except pydantic.ValidationError as exc:
            errors = []
            for err in exc.errors(include_url=False, include_input=False, include_context=False):
                if err["type"] == "json_invalid":
                    raise MalformedBody("The request body is not valid JSON") from None
                where = "".join(f"/{_escape(str(p))}" for p in err["loc"])
                errors.append(FieldError(where, err["msg"]))
            raise ValidationFailed(
                errors, detail='Send {"operations": [...]}: see the batch format'
            ) from None
        operations = doc.operations
        if not operations:
            raise ValidationFailed([FieldError("/operations", "The list is empty")])
        if len(operations) > self.limit:
            raise ValidationFailed(
                [FieldError("/operations", f"At most {self.limit} operations in one batch")],
                detail=f"The batch has {len(operations)} operations; the limit is {self.limit}",
            )
        errors = []
        for i, op in enumerate(operations):
            at = f"/operations/{i}"
            for name in sorted(op.model_fields_set & {"key", "data", "ref"}):
                if getattr(op, name) is None:  # left out, or a value: never null
                    errors.append(FieldError(f"{at}/{name}", "Input should not be null"))
            if op.resource not in self.endpoints:
                errors.append(FieldError(f"{at}/resource", f"No resource named {op.resource!r}"))
            elif _METHODS[op.op] not in self.endpoints[op.resource].resource.methods or (
                op.op != "create" and not self.endpoints[op.resource].resource.primary_key
            ):
                errors.append(FieldError(f"{at}/op", f"{op.resource} does not allow {op.op}"))
            if op.key is not None and not _key_like(op.key):
                errors.append(
                    FieldError(
                        f"{at}/key", 'Input should be a key, a list of key values or {"$ref": ...}'
                    )
                )
            if (op.key is None) != (op.op == "create"):
                detail = "Not for a create" if op.op == "create" else "Field required"
                errors.append(FieldError(f"{at}/key", detail))
            if (op.data is None) != (op.op == "delete"):
                detail = "Not for a delete" if op.op == "delete" else "Field required"
                errors.append(FieldError(f"{at}/data", detail))
            if op.ref is not None and op.op == "delete":
                errors.append(FieldError(f"{at}/ref", "A deleted row cannot be referred to"))
        if errors:
            raise ValidationFailed(errors)
        return operations

    def _apply(
        self, caller: Caller, i: int, op: _Operation, done: dict[str, _Done], base: str
    ) -> dict[str, Any]:
        """Run one operation as the request it stands for would; its result entry (a
        created row's ``location`` starts at ``base``, as in a ``Location`` header)."""
        at = f"/operations/{i}"
        ep = self.endpoints[op.resource]
        try:
            key = None if op.key is None else _key_text(op.key, done, f"{at}/key")
            data = None if op.data is None else _resolve(op.data, done, f"{at}/data")
            try:
                result = _run(caller, ep, op.op, key, data, base)
            except TablerestError as exc:
                if exc.errors:
                    raise exc.under(f"{at}/data") from None
                # A refusal of the whole operation: point at the key of a missing row, or at
                # the operation.
                missing = op.key is not None and exc.status == 404
                exc.errors = (FieldError(f"{at}/key" if missing else at, exc.detail),)
                raise
        except TablerestError as exc:
            exc.detail = (
                f"Operation {i} ({op.op} {op.resource}) failed, nothing was changed: {exc.detail}"
            )
            raise
        if op.ref is not None and "data" in result:
            names = [f.name for f in ep.resource.key_fields]
            done[op.ref] = _Done(op.resource, result["data"], names)
        return result


def _run(
    caller: Caller, ep: Endpoint, op: Op, key: str | None, data: Any, base: str
) -> dict[str, Any]:
    """One operation through the resource's operations, with the checks its request would
    meet first (the action, the key, a required If-Match); its result entry."""
    res = ep.resource
    ops = ep.ops
    decoder = ep.writes.decoder
    body = http.Body("json", b"" if data is None else dump_exact(data))
    caller.require(res, _ACTIONS[op])
    if op == "create":
        (one,) = ops.create(caller, decoder.create(caller, body, jsonapi=False))
        result: dict[str, Any] = {"status": 201 if one.created else 200}
        if one.created and not unreachable_keys(res, one.row):
            result["location"] = item_url(base + ep.url, res, one.row)
        return {**result, "data": _as_sent(one.out)}
    assert key is not None
    values = parse_key(res, key)
    if res.require_if_match:  # an operation carries no If-Match of its own
        raise PreconditionRequired(
            f"Changes to {res.name} must send If-Match with the ETag of the row as last "
            "read, so that they cannot overwrite someone else's change"
        )
    if op == "delete":
        ops.writes.delete(caller, values)
        return {"status": 204}
    replace = op == "replace"
    changes = decoder.change(caller, body, False, key, replace)
    row = ops.writes.update(caller, values, changes, replace=replace, method=_METHODS[op])
    return {"status": 200, "data": _as_sent(caller.visible(res, row))}


def _as_sent(row: dict[str, Any]) -> Any:
    """A row as the client reads it (what a later ``$ref`` to it takes values from)."""
    return orjson.loads(dumps(row))


def _resolve(value: Any, done: Mapping[str, _Done], at: str) -> Any:
    """``value`` with each ``{"$ref": ...}`` replaced by what it refers to."""
    if isinstance(value, dict):
        if "$ref" in value and set(value) <= {"$ref", "field"}:
            return _referred(value, done, at)
        return {k: _resolve(v, done, f"{at}/{_escape(k)}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, done, f"{at}/{n}") for n, v in enumerate(value)]
    return value


def _referred(
    ref: dict[str, Any], done: Mapping[str, _Done], at: str, *, whole: bool = False
) -> Any:
    """The value a reference stands for: a field of an earlier operation's row, its key (the
    key's values when ``whole``)."""
    name, field = ref["$ref"], ref.get("field")
    target = done.get(name) if isinstance(name, str) else None
    if target is None:  # like a key that names no row
        detail = f"No earlier operation has the ref {name!r}"
        raise NotFound(detail, errors=[FieldError(f"{at}/$ref", detail)])
    if whole:
        return [target.row[n] for n in target.key]
    if field is None:
        if len(target.key) != 1:
            raise ValidationFailed(
                [FieldError(at, f'The {target.resource} key has several fields: add "field"')]
            )
        field = target.key[0]
    if not isinstance(field, str) or field not in target.row:
        raise ValidationFailed(
            [FieldError(f"{at}/field", f"The {target.resource} row has no field {field!r}")]
        )
    return target.row[field]


def _key_text(key: Any, done: Mapping[str, _Done], at: str) -> str:
    """An operation's key as its URL segment: one value, the values of a composite key, or
    the key of a row written earlier."""
    if isinstance(key, dict) and "field" not in key:
        ref = _referred({"$ref": key["$ref"], "field": None}, done, at, whole=True)
        return ",".join(str(v) for v in ref)
    if isinstance(key, list):
        return ",".join(str(k) for k in key)
    return str(_resolve(key, done, at))


def _key_like(key: Any) -> bool:
    """A key value, a composite key's values, or a reference to a row written earlier."""
    if isinstance(key, list):
        return bool(key) and all(_key_like(k) and not isinstance(k, (list, dict)) for k in key)
    if isinstance(key, dict):
        return "$ref" in key and set(key) <= {"$ref", "field"}
    return isinstance(key, (str, int)) and not isinstance(key, bool)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
