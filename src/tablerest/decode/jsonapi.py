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

from ..errors import (
    Conflict,
    FieldError,
    Forbidden,
    MalformedBody,
    NotFound,
    ValidationFailed,
)
from ..relations import Relation
from ..resource import Catalog, Resource, linkage_columns
from .exactjson import dump_exact, load_exact
from .urlkeys import parse_key

__all__ = ["Decoded", "decode", "decode_linkage", "decode_nested", "document_data"]

#: The members a resource object may have (JSON:API 1.1); ``lid``, links and meta are ignored.
_RESOURCE_MEMBERS = frozenset({"type", "id", "lid", "attributes", "relationships", "links", "meta"})
#: The members of a resource identifier object (linkage).
_IDENTIFIER_MEMBERS = frozenset({"type", "id", "meta"})


@dataclass
class Decoded:
    """A flat JSON object for the validators, and flat pointer -> document pointer."""

    raw: bytes
    pointers: dict[str, str] = field(default_factory=dict)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _load(body: bytes) -> Any:
    try:
        return load_exact(body)
    except ValueError:
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
    for f in res.key_fields:
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
        if all(f.writable for f in res.key_fields):
            # A key the client writes is the id, never an attribute; a replace requires it:
            # the id's values (the URL's).
            flat.update(_created_key(data, res, "/data", errors))
    else:
        flat.update(_created_key(data, res, "/data", errors))

    attributes, relationships = _sections(data)
    for name, value in attributes.items():
        flat[name] = value
        pointers[f"/{_escape(name)}"] = f"/data/attributes/{_escape(name)}"

    for name, member in relationships.items():
        at = f"/data/relationships/{_escape(name)}"
        found = _relation(res, catalog, name, at, errors)
        if found is None:
            continue
        rel, target = found
        cols = linkage_columns(res, rel, target)
        if rel.through is not None:
            raise Forbidden(
                f"{res.name}.{name} is changed with POST, PATCH or DELETE at the row's "
                f"relationships/{name}, not in its document"
            )
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
    return Decoded(dump_exact(flat), pointers)


def _created_key(
    obj: dict[str, Any], res: Resource, at: str, errors: list[FieldError]
) -> dict[str, Any]:
    """The key fields of a row to create, from the ``id`` the client chose (none without)."""
    if "id" not in obj:
        return {}
    if not all(f.writable for f in res.key_fields):
        raise Forbidden(f"The database chooses the keys of {res.name}: send no id to create one")
    ident = obj["id"]
    try:
        if not isinstance(ident, str):
            raise NotFound(str(ident))
        values = parse_key(res, ident)
    except NotFound:
        errors.append(FieldError(f"{at}/id", f"{ident!r} is not a valid key of {res.name}"))
        return {}
    return {f.name: value for f, value in zip(res.key_fields, values, strict=True)}


def _sections(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A resource object's attributes and relationships (objects, or absent)."""
    attributes = obj.get("attributes", {})
    if not isinstance(attributes, dict):
        raise MalformedBody('"attributes" must be an object')
    relationships = obj.get("relationships", {})
    if not isinstance(relationships, dict):
        raise MalformedBody('"relationships" must be an object')
    return attributes, relationships


def _relation(
    res: Resource, catalog: Catalog, name: str, at: str, errors: list[FieldError]
) -> tuple[Relation, Resource] | None:
    """The relation a relationship names and the resource it leads to (or an error)."""
    rel = res.relations.get(name)
    target = catalog.target(rel) if rel is not None else None
    if rel is None or target is None:
        errors.append(FieldError(at, "Unknown relationship"))
        return None
    return rel, target


def decode_linkage(linkage: Any, target: Resource, at: str) -> tuple[Any, ...]:
    """The key values a to-one linkage names (``{"type", "id"}``), or NULLs for ``null``."""
    if linkage is None:
        return (None,) * len(target.key_fields)
    if not isinstance(linkage, dict) or not isinstance(linkage.get("id"), str):
        raise ValidationFailed([FieldError(at, 'Linkage is null or {"type": ..., "id": "..."}')])
    if linkage.get("type") != target.name:
        raise ValidationFailed(
            [FieldError(f"{at}/type", f"This relationship holds {target.name!r} objects")]
        )
    extra = sorted(set(linkage) - _IDENTIFIER_MEMBERS)
    if extra:  # a resource identifier holds type, id and meta (JSON:API), nothing else
        raise ValidationFailed([FieldError(f"{at}/{_escape(extra[0])}", "Unknown member")])
    if not isinstance(linkage.get("meta", {}), dict):
        raise ValidationFailed([FieldError(f"{at}/meta", "meta is an object")])
    try:
        return parse_key(target, linkage["id"])
    except NotFound:
        raise ValidationFailed(
            [FieldError(f"{at}/id", f"{linkage['id']!r} is not a key of {target.name}")]
        ) from None


def decode_linkages(linkage: Any, target: Resource, at: str) -> list[tuple[Any, ...]]:
    """The key values of the rows a to-many linkage names (``[{"type", "id"}, ...]``)."""
    if not isinstance(linkage, list):
        raise ValidationFailed([FieldError(at, 'Linkage is an array of {"type", "id"}')])
    out = []
    for i, item in enumerate(linkage):
        if item is None:
            raise ValidationFailed([FieldError(f"{at}/{i}", 'Linkage is {"type", "id"}')])
        out.append(decode_linkage(item, target, f"{at}/{i}"))
    return out


def _links(res: Resource, catalog: Catalog, data: Any) -> bool:
    """Whether a create document links its row to others through a link table."""
    members = data.get("relationships") if isinstance(data, dict) else None
    if not isinstance(members, dict):
        return False
    for name in members:
        rel = res.relations.get(name)
        if rel is not None and rel.through is not None and catalog.target(rel) is not None:
            return True
    return False


def decode_nested(
    body: bytes, res: Resource, catalog: Catalog
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A create document with rows to create beside it in ``included`` (each with a ``lid``
    that a relationship's linkage names: ``{"type": "authors", "lid": "a1"}``) -> the nested
    JSON of :mod:`tablerest.decode.nested`, and nested pointer -> document pointer; None when the
    document includes nothing (a plain create)."""
    doc = _load(body)
    data = _data(doc)
    if not isinstance(doc, dict) or ("included" not in doc and not _links(res, catalog, data)):
        return None
    included = doc.get("included", [])
    if not isinstance(included, list):
        raise MalformedBody('"included" must be an array of resource objects')
    by_lid: dict[tuple[str, str], int] = {}
    for i, obj in enumerate(included):
        if not isinstance(obj, dict) or not isinstance(obj.get("lid"), str) or "id" in obj:
            raise MalformedBody(
                f'Included resource object {i} needs a "lid" (and no "id"): it is a row to create'
            )
        by_lid[(str(obj.get("type")), obj["lid"])] = i
    if not isinstance(data, dict):
        raise MalformedBody('"data" must be one resource object')
    if data.get("type") != res.name:
        raise Conflict(
            f"This endpoint takes {res.name!r} resource objects, not {data.get('type')!r}"
        )
    pointers: dict[str, str] = {}
    used: set[int] = set()
    errors: list[FieldError] = []

    def row(res: Resource, obj: dict[str, Any], at: str, where: str) -> dict[str, Any]:
        if obj.get("type") != res.name:
            errors.append(FieldError(f"{at}/type", f"Expected a {res.name!r} resource object"))
        unknown = sorted(set(obj) - _RESOURCE_MEMBERS)
        if unknown:
            raise MalformedBody(f"A resource object has no member {unknown[0]!r}")
        _objects_only(obj, "a resource object")
        pointers[where] = at
        for f in res.fields.values():
            pointers[f"{where}/{_escape(f.name)}"] = f"{at}/attributes/{_escape(f.name)}"
        attributes, relationships = _sections(obj)
        out = dict(attributes)
        for name, value in _created_key(obj, res, at, errors).items():  # primary data only
            out[name] = value
            pointers[f"{where}/{_escape(name)}"] = f"{at}/id"
        for name, member in relationships.items():
            rel_at = f"{at}/relationships/{_escape(name)}"
            rel_where = f"{where}/{_escape(name)}"
            found = _relation(res, catalog, name, rel_at, errors)
            if found is None:
                continue
            rel, target = found
            if not isinstance(member, dict) or "data" not in member:
                errors.append(FieldError(rel_at, 'A relationship needs a "data" member'))
                continue
            pointers[rel_where] = rel_at
            linkage = member["data"]
            items = linkage if isinstance(linkage, list) else [linkage]
            if rel.through is not None and isinstance(linkage, list):
                # Many-to-many: rows that exist by their id, rows to create by their lid.
                linked = []
                for n, ident in enumerate(items):
                    ident_at, child_where = f"{rel_at}/data/{n}", f"{rel_where}/{n}"
                    if isinstance(ident, dict) and "lid" in ident:
                        made = lid_row(target, ident, rel_at, child_where)
                        if made is not None:
                            linked.append(made)
                        continue
                    try:
                        values = decode_linkage(ident, target, ident_at)
                    except ValidationFailed as exc:
                        errors.extend(exc.errors)
                        continue
                    linked.append(
                        {f.name: v for f, v in zip(target.key_fields, values, strict=True)}
                    )
                    pointers[child_where] = ident_at
                out[name] = linked
                continue
            if rel.to_many != isinstance(linkage, list) or not all(
                isinstance(x, dict) and "lid" in x for x in items
            ):
                cols = linkage_columns(res, rel, target)
                if rel.to_many or cols is None:
                    errors.append(
                        FieldError(
                            f"{rel_at}/data",
                            'Name rows to create from "included" by {"type", "lid"}',
                        )
                    )
                    continue
                try:  # a to-one link to a row that exists: its key
                    values = decode_linkage(linkage, target, f"{rel_at}/data")
                except ValidationFailed as exc:
                    errors.extend(exc.errors)
                    continue
                for col, value in zip(cols, values, strict=True):
                    out[col] = value
                    pointers[f"{where}/{_escape(col)}"] = rel_at
                continue
            nested = []
            for n, ident in enumerate(items):
                child_where = f"{rel_where}/{n}" if rel.to_many else rel_where
                made = lid_row(target, ident, rel_at, child_where)
                if made is not None:
                    nested.append(made)
            out[name] = nested if rel.to_many else (nested[0] if nested else None)
        return out

    def lid_row(
        target: Resource, ident: dict[str, Any], rel_at: str, where: str
    ) -> dict[str, Any] | None:
        """The included row a linkage names by its ``lid``."""
        i = by_lid.get((str(ident.get("type")), str(ident.get("lid"))))
        if i is None:
            errors.append(
                FieldError(f"{rel_at}/data", f"No included {ident.get('type')!r} object "
                           f"has the lid {ident.get('lid')!r}")
            )  # fmt: skip
            return None
        if i in used:
            errors.append(FieldError(f"/included/{i}", "Named by more than one linkage"))
            return None
        used.add(i)
        return row(target, included[i], f"/included/{i}", where)

    top = row(res, data, "/data", "")
    for i in range(len(included)):
        if i not in used:
            errors.append(FieldError(f"/included/{i}", "Not named by any relationship's linkage"))
    if errors:
        raise ValidationFailed(errors)
    return top, pointers
