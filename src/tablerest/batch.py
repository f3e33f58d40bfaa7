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

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import orjson
import pydantic
from flask import Request, Response
from sqlalchemy import exc as sa_exc

from . import http
from .errors import (
    FieldError,
    MalformedBody,
    NotAcceptable,
    NotFound,
    TablerestError,
    UnsupportedMediaType,
    ValidationFailed,
)
from .render.json import dumps
from .render.jsonapi import JSONAPI
from .request import dump_exact, reject_query
from .store import Database, translate

if TYPE_CHECKING:
    from .dispatch import Endpoint, Settings

__all__ = ["Batch"]

Op = Literal["create", "update", "replace", "delete"]
_METHODS: dict[str, str] = {
    "create": "POST",
    "update": "PATCH",
    "replace": "PUT",
    "delete": "DELETE",
}
#: Request headers an operation does not inherit from the batch: they are about its body, or
#: conditions on one resource's representation.
_NOT_INHERITED = (
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_TRANSFER_ENCODING",
)


class _Operation(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    op: Op
    resource: str
    key: Any = None
    data: dict[str, Any] | None = None
    ref: str | None = None


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

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        db: Database,
        settings: Settings,
        authorize: Callable[[Request], Any],
    ) -> None:
        self.endpoints = endpoints
        self.db = db
        self.settings = settings
        self.authorize = authorize
        self.limit = settings.limits.max_batch_operations

    def run(self, request: Request) -> Response:
        if http.representation(request, "json") != "json":
            if request.mimetype == JSONAPI:
                raise UnsupportedMediaType("Send the batch as application/json")
            raise NotAcceptable("A batch answers with application/json")
        reject_query(request.args.to_dict(flat=False))
        body = http.read_body(
            request, self.settings.max_body_size, self.settings.limits.max_json_depth
        )
        if body.kind != "json":
            raise UnsupportedMediaType("Send the batch as application/json")
        operations = self._parse(body.raw)
        self.authorize(request)  # who is asking, once: every operation inherits it
        done: dict[str, _Done] = {}
        results: list[dict[str, Any]] = []
        try:
            with self.db.atomic():
                for i, operation in enumerate(operations):
                    results.append(self._apply(request, i, operation, done))
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
        self, request: Request, i: int, op: _Operation, done: dict[str, _Done]
    ) -> dict[str, Any]:
        """Run one operation as the request it stands for; its result entry."""
        at = f"/operations/{i}"
        ep = self.endpoints[op.resource]
        try:
            key = None if op.key is None else _key_text(op.key, done, f"{at}/key")
            data = None if op.data is None else _resolve(op.data, done, f"{at}/data")
            path = ep.url if key is None else f"{ep.url}/{quote(key, safe=',')}"
            sub = _subrequest(request, path, op.op, data)
            try:
                if op.op == "create":
                    resp = ep.create(sub)
                elif op.op == "delete":
                    assert key is not None
                    resp = ep.delete(sub, key)
                else:
                    assert key is not None
                    resp = (ep.update if op.op == "update" else ep.replace)(sub, key)
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
        result: dict[str, Any] = {"status": resp.status_code}
        if "Location" in resp.headers:
            result["location"] = resp.headers["Location"]
        if resp.status_code != 204:
            row = orjson.loads(resp.get_data())
            result["data"] = row
            if op.ref is not None:
                done[op.ref] = _Done(op.resource, row, [f.name for f in ep.resource.pk_fields])
        return result


def _subrequest(request: Request, path: str, op: str, data: Any) -> Request:
    """The request one operation stands for: the batch's caller, headers and client, with
    the operation's method, path and JSON body."""
    environ = {k: v for k, v in request.environ.items() if k not in _NOT_INHERITED}
    raw = b"" if data is None else dump_exact(data)
    environ.update(
        {
            "REQUEST_METHOD": _METHODS[op],
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(raw),
        }
    )
    if data is not None:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(raw))
    return Request(environ)


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
