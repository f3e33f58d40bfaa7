"""The decode stage of writes: a request body (plain JSON, an array, a form, a JSON:API
document, a nested document) -> the validated intent the operations take.

A body is read as the caller sees the API: relations concealed from them are no relations
(:attr:`Caller.catalog`), so a body naming one is answered as for any unknown name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import FieldError, ValidationFailed
from ..http import Body
from ..operations.caller import Caller
from ..operations.intents import Create
from ..resource import Catalog, Resource
from ..schema import Variant
from .exactjson import load_exact
from .nested import nestable

if TYPE_CHECKING:
    from .jsonapi import Decoded

__all__ = ["Decoder", "Pointers"]

#: Where each field of a JSON:API body came from (``/title`` -> ``/data/attributes/title``),
#: for error pointers.
Pointers = dict[str, str]


class Decoder:
    """Decodes the write bodies of one resource."""

    def __init__(self, resource: Resource, catalog: Catalog) -> None:
        self.resource = resource
        self._catalog = catalog
        #: The relation names a create may nest rows under, and how they look in JSON.
        self._nests: tuple[frozenset[str], tuple[bytes, ...]] | None = None

    def create(
        self,
        caller: Caller,
        body: Body,
        jsonapi: bool,
        upsert: list[str] | None = None,
        pointers: Pointers | None = None,
    ) -> Create:
        """A create body as the rows it asks for (``upsert``: checked unique field names).
        ``pointers`` receives where a JSON:API body's fields came from."""
        res = self.resource
        if upsert is None and jsonapi and body.kind == "json" and self._may_nest(body.raw):
            nested = self._decode_nested(body.raw, res, caller.catalog)
            if nested is not None:
                if pointers is not None:
                    pointers.update(nested[1])
                return _documents(nested[0], upsert)
        if not jsonapi:
            doc = self._nested_body(caller, body)
            if doc is not None:
                return _documents(doc, upsert)
        if body.kind == "json" and not jsonapi and body.raw.lstrip()[:1] == b"[":
            return Create(res.schema.validate_json_many(body.raw), many=True, upsert=upsert)
        data = self.data(caller, body, jsonapi, "create", pointers=pointers)
        return Create([data], upsert=upsert)

    def _may_nest(self, raw: bytes) -> bool:
        """Whether a JSON:API create may hold rows to nest: rows to create (``included``),
        or a many-to-many linkage (to rows that exist, by their ids). A cheap look first."""
        if b'"included"' in raw:
            return True
        names = [n for n, rel in self.resource.relations.items() if rel.through is not None]
        return any(orjson.dumps(n) in raw for n in names)

    def change(
        self,
        caller: Caller,
        body: Body,
        jsonapi: bool,
        key: str,
        replace: bool,
        pointers: Pointers | None = None,
    ) -> dict[str, Any]:
        """The fields of a PUT (``replace``) or PATCH body."""
        res = self.resource
        restricted = caller.concealed(res) | caller.locked(res)
        if not (replace and restricted):
            variant: Variant = "replace" if replace else "patch"
            return self.data(caller, body, jsonapi, variant, key, pointers)
        # What the caller may not write or see is not theirs to replace: not required of
        # them, and kept as it is (see Writes._with_resets).
        data = self.data(caller, body, jsonapi, "patch", key, pointers)
        missing = [
            f.name
            for f in res.writable
            if f.required_on_replace and f.name not in data and f.name not in restricted
        ]
        if missing:
            raise ValidationFailed([FieldError(f"/{n}", "Field required") for n in missing])
        return data

    def data(
        self,
        caller: Caller,
        body: Body,
        jsonapi: bool,
        variant: Variant,
        key: str | None = None,
        pointers: Pointers | None = None,
    ) -> dict[str, Any]:
        """The validated fields of one row: JSON, a JSON:API document or a form."""
        schema = self.resource.schema
        if body.kind == "form":
            return schema.validate_form(body.form or {}, variant, body.files)
        if jsonapi:
            decoded = self._decode_document(body.raw, self.resource, caller.catalog, key=key)
            if pointers is not None:
                pointers.update(decoded.pointers)
            return schema.validate_json(decoded.raw, variant)
        return schema.validate_json(body.raw, variant)

    # JSON:API documents are read by decode.jsonapi, imported by the resource's first JSON:API
    # write, then kept: an API that only ever gets plain JSON never loads it (nor does each
    # JSON:API write pay an import statement).
    @cached_property
    def _decode_document(self) -> Callable[..., Decoded]:
        from .jsonapi import decode

        return decode

    @cached_property
    def _decode_nested(self) -> Callable[..., tuple[dict[str, Any], dict[str, str]] | None]:
        from .jsonapi import decode_nested

        return decode_nested

    @cached_property
    def _linkage(self) -> Callable[[bytes, Resource], tuple[Any, ...]]:
        from .jsonapi import decode_linkage, document_data

        return lambda raw, target: decode_linkage(document_data(raw), target, "/data")

    def linkage(self, raw: bytes, target: Resource) -> tuple[Any, ...]:
        """A relationship document (``{"data": {"type", "id"} | null}``) as the key values of
        the ``target`` row it names (all None for null)."""
        return self._linkage(raw, target)

    def linkages(self, raw: bytes, target: Resource) -> list[tuple[Any, ...]]:
        """A to-many relationship document (``{"data": [{"type", "id"}, ...]}``) as the key
        values of the ``target`` rows it names."""
        from .jsonapi import decode_linkages, document_data

        return decode_linkages(document_data(raw), target, "/data")

    def _nested_body(self, caller: Caller, body: Body) -> Any:
        """The decoded plain-JSON create body when it nests rows under a relation (an object,
        or an array of objects, with such a key); None otherwise, or when it is not JSON at all
        (the plain path then says what is wrong). A cheap look at the bytes comes first: a
        body that names no such relation is never parsed twice. A relation concealed from the
        caller is no relation to them: a body naming only such ones takes the plain path."""
        if body.kind != "json":
            return None
        if self._nests is None:
            names = frozenset(nestable(self.resource, self._catalog))
            self._nests = (names, tuple(orjson.dumps(n) for n in names))
        names, patterns = self._nests
        if not any(p in body.raw for p in patterns):
            return None
        try:
            doc = load_exact(body.raw)
        except ValueError:
            return None
        names = names - caller.concealed_relations(self.resource)
        items = doc if isinstance(doc, list) else [doc]
        return doc if any(isinstance(d, dict) and names & d.keys() for d in items) else None


def _documents(doc: Any, upsert: list[str] | None) -> Create:
    many = isinstance(doc, list)
    return Create(doc if many else [doc], many=many, nested=True, upsert=upsert)
