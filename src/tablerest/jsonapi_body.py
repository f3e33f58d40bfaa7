"""JSON:API request documents -> the flat field values the validators check.

``{"data": {"type": "books", "attributes": {...}, "relationships": {"author": {"data":
{"type": "authors", "id": "7"}}}}}`` becomes ``{..., "author_id": 7}``: attributes are fields,
a to-one relationship's linkage sets the foreign key behind it, a client-chosen ``id`` sets the
primary key where the table lets clients choose it. Each flat field remembers where in the
document it came from, so that validation errors point into the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import (
    Conflict,
    FieldError,
    Forbidden,
    MalformedBody,
    NotFound,
    ValidationFailed,
)
from .request import parse_key
from .resource import Catalog, Resource, linkage_columns

__all__ = ["Decoded", "decode", "decode_linkage", "document_data"]

#: The members a resource object may have (JSON:API 1.1); ``lid``, links and meta are ignored.
_RESOURCE_MEMBERS = frozenset({"type", "id", "lid", "attributes", "relationships", "links", "meta"})


@dataclass
class Decoded:
    """A flat JSON object for the validators, and flat pointer -> document pointer."""

    raw: bytes
    pointers: dict[str, str] = field(default_factory=dict)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _load(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBody("The request body is not valid JSON") from None


def _data(doc: Any) -> Any:
    if not isinstance(doc, dict) or "data" not in doc:
        raise MalformedBody('A JSON:API document needs a top-level "data" member')
    return doc["data"]


def _objects_only(member: dict[str, Any], where: str) -> None:
    """``links`` and ``meta`` are objects wherever they appear."""
    for name in ("links", "meta"):
        if name in member and not isinstance(member[name], dict):
            raise MalformedBody(f'"{name}" of {where} must be an object')


def document_data(body: bytes) -> Any:
    """The primary data of a JSON:API request document."""
    return _data(_load(body))


def decode(body: bytes, res: Resource, catalog: Catalog, *, key: str | None = None) -> Decoded:
    """A create (``key`` None) or update document for ``res``; ``key`` is the URL's key."""
    data = _data(_load(body))
    if not isinstance(data, dict):
        raise MalformedBody('"data" must be one resource object')
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedBody('The resource object needs its "type" (a string)')
    if kind != res.name:
        raise Conflict(f"This endpoint takes {res.name!r} resource objects, not {kind!r}")
    unknown = sorted(set(data) - _RESOURCE_MEMBERS)
    if unknown:
        raise MalformedBody(f"A resource object has no member {unknown[0]!r}")
    _objects_only(data, "the resource object")
    flat: dict[str, Any] = {}
    # Where a field's errors point, sent or not (a required one may be missing).
    pointers: dict[str, str] = {
        f"/{_escape(f.name)}": f"/data/attributes/{_escape(f.name)}" for f in res.writable
    }
    for f in res.pk_fields:
        pointers[f"/{_escape(f.name)}"] = "/data/id"
    for name, relation in res.relations.items():
        to = catalog.target(relation)
        for col in (linkage_columns(res, relation, to) or ()) if to is not None else ():
            pointers[f"/{_escape(col)}"] = f"/data/relationships/{_escape(name)}"
    errors: list[FieldError] = []

    if key is not None:
        if "id" not in data:
            raise MalformedBody('An update\'s resource object needs its "id"')
        if data["id"] != key:
            raise Conflict(f"The resource object's id {data['id']!r} is not the URL's {key!r}")
    elif "id" in data:
        if not all(f.writable for f in res.pk_fields):
            raise Forbidden(
                f"The database chooses the keys of {res.name}: send no id to create one"
            )
        ident = data["id"]
        try:
            if not isinstance(ident, str):
                raise NotFound(str(ident))
            values = parse_key(res, ident)
        except NotFound:
            errors.append(FieldError("/data/id", f"{ident!r} is not a valid key of {res.name}"))
        else:
            for f, value in zip(res.pk_fields, values, strict=True):
                flat[f.name] = value

    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise MalformedBody('"attributes" must be an object')
    for name, value in attributes.items():
        flat[name] = value
        pointers[f"/{_escape(name)}"] = f"/data/attributes/{_escape(name)}"

    relationships = data.get("relationships", {})
    if not isinstance(relationships, dict):
        raise MalformedBody('"relationships" must be an object')
    for name, member in relationships.items():
        at = f"/data/relationships/{_escape(name)}"
        rel = res.relations.get(name)
        target = catalog.target(rel) if rel is not None else None
        if rel is None or target is None:
            errors.append(FieldError(at, "Unknown relationship"))
            continue
        cols = linkage_columns(res, rel, target)
        if rel.to_many or cols is None:
            raise Forbidden(
                f"{res.name}.{name} cannot be set here: set the key on the related "
                f"{target.name} rows instead"
            )
        if not isinstance(member, dict) or "data" not in member:
            errors.append(FieldError(at, 'A relationship needs a "data" member'))
            continue
        extra = sorted(set(member) - {"data", "links", "meta"})
        if extra:
            errors.append(FieldError(f"{at}/{_escape(extra[0])}", "Unknown member"))
            continue
        _objects_only(member, f"relationship {name!r}")
        try:
            values = decode_linkage(member["data"], target, f"{at}/data")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            continue
        for col, value in zip(cols, values, strict=True):
            flat[col] = value
    if errors:
        raise ValidationFailed(errors)
    # Keys parsed from ids may be decimals; orjson writes the rest (dates, UUIDs) itself.
    return Decoded(orjson.dumps(flat, default=str), pointers)


def decode_linkage(linkage: Any, target: Resource, at: str) -> tuple[Any, ...]:
    """The key values a to-one linkage names (``{"type", "id"}``), or NULLs for ``null``."""
    if linkage is None:
        return (None,) * len(target.pk_fields)
    if not isinstance(linkage, dict) or not isinstance(linkage.get("id"), str):
        raise ValidationFailed([FieldError(at, 'Linkage is null or {"type": ..., "id": "..."}')])
    if linkage.get("type") != target.name:
        raise ValidationFailed(
            [FieldError(f"{at}/type", f"This relationship holds {target.name!r} objects")]
        )
    try:
        return parse_key(target, linkage["id"])
    except NotFound:
        raise ValidationFailed(
            [FieldError(f"{at}/id", f"{linkage['id']!r} is not a key of {target.name}")]
        ) from None
