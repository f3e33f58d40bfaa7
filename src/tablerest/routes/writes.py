"""The write routes of one resource: negotiate, decode the body into an intent (as the
caller sees the API), call the write operation, answer the rows as stored."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import http
from ..decode.bodies import Decoder
from ..decode.exactjson import dump_exact, load_exact
from ..decode.queries import ListIntent, reject_query
from ..decode.urlkeys import parse_key
from ..errors import (
    BadRequest,
    FieldError,
    Forbidden,
    MethodNotAllowed,
    PreconditionRequired,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..grants import Action
from ..operations.caller import Caller
from ..operations.links import LinkMode, Links
from ..operations.service import Operations
from ..operations.writes import Expect
from ..relations import Relation
from ..render.json import dumps
from ..resource import Resource, linkage_columns
from .common import POINTERS, RouteContext, Routes
from .respond import enveloped, enveloped_rows, json_response, locate, no_content, root

__all__ = ["WriteRoutes"]


class WriteRoutes(Routes):
    """``POST`` and ``PATCH`` on the collection, ``PUT``, ``PATCH`` and ``DELETE`` on an
    item, ``PATCH`` on a to-one relationship."""

    def __init__(self, ops: Operations, context: RouteContext) -> None:
        super().__init__(ops, context)
        #: The resource's write bodies -> intents (the batch and application calls use it too).
        self.decoder = Decoder(self.resource, context.registry)

    #: How an anonymous create of one row is answered instead, when that row is a new user
    #: who is then signed in (``Auth(token_field=...)``): ``(request, row) -> response``.
    signed_up: Callable[[Request, dict[str, Any]], Response] | None = None

    def create(self, request: Request, fixed: Mapping[str, Any] | None = None) -> Response:
        """``POST`` on the collection; ``fixed``: fields the route fills in (a parent's key
        under a nested URL): a body may repeat them, not change them (422)."""
        res = self.resource
        caller = self.caller(request)
        caller.require(res, "create")  # before the body is read: it may name hidden fields
        fmt = http.representation(request, res.format)
        args = request.args.to_dict(flat=False)
        on_conflict = args.pop("on_conflict", None)
        reject_query(args)
        upsert = None if on_conflict is None else self.ops.bulk.conflict_key(caller, on_conflict)
        jsonapi = request.mimetype == http.JSONAPI
        body, many = self.unwrapped(self.body(request), jsonapi)
        if fixed:
            body = _filled(body, fixed)
        with self.pointing(many):
            intent = self.decoder.create(caller, body, jsonapi, upsert, self.pointers(request))
            if fixed:
                for i, item in enumerate(intent.items):
                    _fix(item, fixed, f"/{i}" if intent.many else "")
            written = self.ops.create(caller, intent)
        if intent.many:
            status = res.create_status if upsert is None else 200
            return json_response(enveloped_rows(res, [w.out for w in written]), status)
        (one,) = written
        if self.signed_up is not None and caller.identity is None and one.created:
            resp = self.signed_up(request, one.row)
            locate(resp, self.collection_url(request), res, one.row)
            return resp
        status = res.create_status if one.created else 200
        resp = self.written(request, caller, one.row, fmt, status)
        if intent.nested:
            # The ETag stays that of the row as a GET shows it; the body adds the nested rows.
            if fmt == "jsonapi":
                url = self.item_url(request, one.row)
                view = caller.access  # without what is concealed from the caller, as a GET
                doc = self.jsonapi.single(res, one.out, url, view=view, root=root(request))
                resp.set_data(dumps(doc))
            else:
                resp.set_data(dumps(enveloped(res, one.out)))
        if one.created:
            locate(resp, self.collection_url(request), res, one.row)
        return resp

    def update_many(self, request: Request) -> Response:
        """``PATCH`` on the collection: an array of rows, each with its key and the fields to
        change. All or nothing; 200 with the rows as stored, in the order given."""
        res = self.resource
        caller = self.caller(request)
        caller.require(res, "update")
        reject_query(request.args.to_dict(flat=False))
        body, many = self.unwrapped(self.body(request), False)
        if body.kind != "json" or body.raw.lstrip()[:1] != b"[":
            raise BadRequest("Send a JSON array of rows: each with its key, and fields to change")
        with self.pointing(many):
            items = res.schema.validate_json_patch_many(body.raw)
            rows = self.ops.bulk.update_many(caller, items)
        return json_response(enveloped_rows(res, [caller.visible(res, r) for r in rows]), 200)

    def replace(self, request: Request, key: str) -> Response:
        return self._update(request, key, replace=True)

    def update(self, request: Request, key: str) -> Response:
        return self._update(request, key, replace=False)

    def change(
        self, request: Request, key: str, *, replace: bool, fixed: Mapping[str, Any]
    ) -> Response:
        """A PUT or PATCH of row ``key`` whose ``fixed`` fields the body may not change."""
        return self._update(request, key, replace=replace, fixed=fixed)

    def update_own(
        self, request: Request, subject: str, extra: Mapping[str, Any], *, replace: bool
    ) -> Response:
        """A PUT or PATCH of the caller's own row (the token routes' ``me``), answered with
        ``extra`` members (their access token) added to the row."""
        res = self.resource
        if res.looked_up:
            # The subject is the user's primary key; the write finds rows by their lookup.
            pk = parse_key(res, subject, res.primary_key)
            own = self.ops.reads.own(self.caller(request), pk, ListIntent(1))
            subject = ",".join(str(own[f.name]) for f in res.key_fields)
        return self._update(request, subject, replace=replace, extra=extra)

    def _update(
        self,
        request: Request,
        key: str,
        *,
        replace: bool,
        extra: Mapping[str, Any] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> Response:
        replace = replace and self.resource.put == "replace"  # put="update": PUT as PATCH
        caller, fmt, values, expect = self._item_write(request, key, "update")
        jsonapi = request.mimetype == http.JSONAPI
        body, many = self.unwrapped(self.body(request), jsonapi)
        if fixed and replace:
            body = _filled(body, fixed)  # a PUT names every field: these are given
        if many:
            raise BadRequest("Send one row, not an array")
        with self.pointing(many):
            data = self.decoder.change(caller, body, jsonapi, key, replace, self.pointers(request))
            if fixed:
                _fix(data, fixed, "")
            row = self.ops.writes.update(
                caller, values, data, replace=replace, expect=expect, method=request.method
            )
        return self.written(request, caller, {**row, **(extra or {})}, fmt, 200)

    def delete(self, request: Request, key: str) -> Response:
        caller, _fmt, values, expect = self._item_write(request, key, "delete")
        self.ops.writes.delete(caller, values, expect=expect)
        return no_content()

    def _item_write(
        self, request: Request, key: str, action: Action
    ) -> tuple[Caller, str, tuple[Any, ...], Expect | None]:
        """What a write to one row checks before its body is read, in this order: the
        caller may act at all, the answer's format, no query string, the key, ``If-Match``."""
        res = self.resource
        caller = self.caller(request)
        caller.require(res, action)
        fmt = http.representation(request, res.format)
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(res, key)
        return caller, fmt, values, self._expect(request, caller, fmt)

    def set_relationship(
        self, request: Request, caller: Caller, key: str, rel: Relation, target: Resource
    ) -> Response:
        """``PATCH /books/1/relationships/author`` with ``{"data": {"type", "id"} | null}``."""
        res = self.resource
        caller.require(res, "update")
        if rel.through is not None and "PATCH" in res.methods:
            return self._relink(request, caller, key, rel, target)
        columns = linkage_columns(res, rel, target)
        if rel.through is not None:
            raise Forbidden(f"{res.name}.{rel.name} cannot be changed: {res.name} takes no PATCH")
        if rel.to_many or columns is None:
            raise Forbidden(
                f"{res.name}.{rel.name} cannot be changed here: set the key on the related "
                f"{target.name} rows instead"
            )
        if request.method not in self.relationship_methods(rel, target):
            raise MethodNotAllowed(self.relationship_methods(rel, target))
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(res, key)
        expect = self._expect(request, caller, "jsonapi")
        body = self.body(request)
        if body.kind != "json":
            raise UnsupportedMediaType('Send a JSON:API document: {"data": ...}')
        linkage = self.decoder.linkage(body.raw, target)
        request.environ[POINTERS] = {f"/{c}": "/data" for c in columns}
        data = res.schema.validate_json(dumps(dict(zip(columns, linkage, strict=True))), "patch")
        self.ops.writes.update(caller, values, data, expect=expect, method="PATCH")
        return no_content()

    def _relink(
        self, request: Request, caller: Caller, key: str, rel: Relation, target: Resource
    ) -> Response:
        """``POST`` (add), ``DELETE`` (remove) or ``PATCH`` (set) the rows linked to one row
        through a many-to-many relation: ``{"data": [{"type", "id"}, ...]}``."""
        reject_query(request.args.to_dict(flat=False))
        values = parse_key(self.resource, key)
        body = self.body(request)
        if body.kind != "json":
            raise UnsupportedMediaType('Send a JSON:API document: {"data": [...]}')
        keys = self.decoder.linkages(body.raw, target)
        modes: dict[str, LinkMode] = {"POST": "add", "DELETE": "remove", "PATCH": "set"}
        mode = modes[request.method]
        self.ops.relink(caller, values, Links(rel, target, target.key, keys), mode)
        return no_content()

    def relationship_methods(self, rel: Relation, target: Resource) -> list[str]:
        """What a relationship route takes: changing a to-many one is a 403 (JSON:API)."""
        methods = ["GET", "HEAD", "OPTIONS"]
        if rel.to_many:
            methods += ["PATCH", "POST", "DELETE"]
        elif "PATCH" in self.resource.methods and linkage_columns(self.resource, rel, target):
            methods.append("PATCH")
        return methods

    def _expect(self, request: Request, caller: Caller, fmt: str) -> Expect | None:
        """The write's ``If-Match`` as a condition on the row as it is now, in the client's
        representation of it (the tag it holds is that of what it read); None without one
        (428 when the resource requires it)."""
        if "HTTP_IF_MATCH" not in request.environ:
            if self.resource.require_if_match:
                raise PreconditionRequired(
                    f"Changes to {self.resource.name} must send If-Match with the ETag of the "
                    "row as last read, so that they cannot overwrite someone else's change"
                )
            return None

        def holds(current: dict[str, Any]) -> bool:
            shown: Any = current
            if fmt == "jsonapi":
                # As the caller's GET shows it: their links, without the relationships
                # concealed from them (the tag they hold is of that document).
                url = self.item_url(request, current)
                view = caller.access
                shown = self.jsonapi.single(
                    self.resource, current, url, view=view, root=root(request)
                )
            else:
                shown = enveloped(self.resource, current)
            return http.if_match(request, http.etag(dumps(shown)))

        return holds


def _fix(item: Any, fixed: Mapping[str, Any], at: str) -> None:
    """Fill ``fixed`` into a validated row; 422 where the row holds another value."""
    if not isinstance(item, dict):
        return
    errors = [
        FieldError(f"{at}/{name}", f"Must be {value!r} here (the row this URL is under)")
        for name, value in fixed.items()
        if item.get(name) is not None and item[name] != value
    ]
    if errors:
        raise ValidationFailed(errors)
    item.update(fixed)


def _filled(body: http.Body, fixed: Mapping[str, Any]) -> http.Body:
    """A plain JSON or form body with ``fixed`` given where it leaves them out (a value it
    gives is checked once validated, by :func:`_fix`)."""
    if body.kind == "form":
        given = {k: str(v) for k, v in fixed.items()}
        return dataclasses.replace(body, form={**given, **(body.form or {})})
    try:
        data = load_exact(body.raw)
    except ValueError:
        return body  # not JSON: the decode stage says so
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, dict):
            for name, value in fixed.items():
                item.setdefault(name, value)
    return dataclasses.replace(body, raw=dump_exact(data))
