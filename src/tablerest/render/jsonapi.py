"""Rows -> JSON:API 1.1 documents (``application/vnd.api+json``), and errors -> error objects.

The planner and the plain-JSON renderer do the work (fields, includes, pages); this module
reshapes their output. A row becomes a resource object: its key is ``id`` (text; a composite
key is its values joined with commas, as in URLs), its fields ``attributes`` except the foreign
keys behind a to-one relation, which are ``relationships`` with linkage (``data``) taken from
the row itself. Every relationship has ``self`` and ``related`` links; included rows (the
``include`` parameter) become the compound document's ``included`` and their relationship's
linkage. Links are absolute URLs, as in plain JSON: each document is built for one request
and its ``root`` (scheme, host and mount path: :func:`tablerest.routes.respond.root`).
Given the caller's view, the relationships concealed from them are left out of every
object, as if they did not exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..errors import FieldError, TablerestError
from ..relations import Relation
from ..resource import Catalog, Resource, View, linkage_columns

__all__ = ["JSONAPI", "VERSION", "Renderer", "error_document", "key_text"]

JSONAPI = "application/vnd.api+json"
VERSION = {"version": "1.1"}


def key_text(res: Resource, row: Mapping[str, Any]) -> str:
    """The ``id`` of a row: its key values as text, comma-separated (as in its URL)."""
    return ",".join(str(row[f.name]) for f in res.key_fields)


class Renderer:
    """Builds the documents of one API: what each resource's objects look like."""

    def __init__(self, catalog: Catalog, prefix: str) -> None:
        self.catalog = catalog
        self.prefix = prefix

    #: Here too, for the routes, which import this module only with their first JSON:API answer.
    key_text = staticmethod(key_text)

    def url(self, res: Resource, root: str) -> str:
        """The collection URL of ``res`` for a request whose links start at ``root``."""
        return f"{root}{self.prefix}/{quote(res.path)}"

    def relations(
        self, res: Resource, view: View | None = None
    ) -> list[tuple[str, Relation, Resource]]:
        """The relationships of ``res`` objects (for ``view``'s caller: without those
        concealed from them)."""
        concealed = view.concealed_relations(res, self.catalog) if view is not None else ()
        out = []
        for name, rel in res.relations.items():
            target = self.catalog.target(rel)
            if target is not None and name not in concealed:
                out.append((name, rel, target))
        return out

    def hidden_keys(self, res: Resource, view: View | None = None) -> set[str]:
        """Fields that are not attributes: the key (the ``lookup=`` fields, which are the
        id, and the primary key, which may be named ``id`` itself), and foreign keys behind
        relationships."""
        names = {f.name for f in (*res.key_fields, *res.pk_fields)}
        for _name, rel, target in self.relations(res, view):
            names.update(linkage_columns(res, rel, target) or ())
        return names

    def single(
        self,
        res: Resource,
        row: Mapping[str, Any] | None,
        self_url: str,
        sparse: Mapping[str, set[str]] | None = None,
        view: View | None = None,
        *,
        root: str,
    ) -> dict[str, Any]:
        objects = _Objects(self, root, sparse or {}, view)
        data = None if row is None else objects.of(res, row)
        return self._document(data, objects.included, {"self": self_url}, primary=[data])

    def collection(
        self,
        res: Resource,
        rows: Sequence[Mapping[str, Any]],
        links: Mapping[str, str | None],
        meta: Mapping[str, Any],
        sparse: Mapping[str, set[str]],
        view: View | None = None,
        *,
        root: str,
    ) -> dict[str, Any]:
        objects = _Objects(self, root, sparse, view)
        data = [objects.of(res, row) for row in rows]
        doc = self._document(data, objects.included, {k: v for k, v in links.items() if v}, data)
        doc["meta"] = dict(meta)
        return doc

    def _document(
        self,
        data: Any,
        included: dict[tuple[str, str], Any],
        links: Mapping[str, str],
        primary: Sequence[Any],
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"jsonapi": VERSION, "links": dict(links), "data": data}
        # Primary data is not repeated in ``included``.
        seen = {(o["type"], o["id"]) for o in primary if o is not None}
        extra = [o for k, o in included.items() if k not in seen]
        if extra:
            doc["included"] = extra
        return doc

    def linkage(
        self, res: Resource, rel_name: str, key: str, data: Any, *, root: str
    ) -> dict[str, Any]:
        """A relationship document: ``GET /books/1/relationships/author``."""
        own = f"{self.url(res, root)}/{quote(key, safe=',')}"
        return {"jsonapi": VERSION, "links": _relationship_links(own, rel_name), "data": data}


def _relationship_links(own: str, name: str) -> dict[str, str]:
    """The links of relationship ``name`` of the object at ``own``."""
    return {"self": f"{own}/relationships/{quote(name)}", "related": f"{own}/{quote(name)}"}


@dataclasses.dataclass
class _Objects:
    """The resource objects of one document, as they are built: ``included`` gathers the
    rows embedded on the way (by type and id), each shown with the ``sparse`` fieldsets to
    the caller who sees ``view``; their links start at ``root``."""

    renderer: Renderer
    root: str
    sparse: Mapping[str, set[str]]
    view: View | None
    included: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)

    def of(self, res: Resource, row: Mapping[str, Any]) -> dict[str, Any]:
        """The resource object of ``row``, its embedded rows added to ``included``."""
        ident = key_text(res, row)
        own = f"{self.renderer.url(res, self.root)}/{quote(ident, safe=',')}"
        not_attributes = self.renderer.hidden_keys(res, self.view)
        relations = self.renderer.relations(res, self.view)
        names = {name for name, _rel, _target in relations}
        wanted = self.sparse.get(res.name)
        attributes = {
            k: v
            for k, v in row.items()
            if k not in not_attributes and k not in names and (wanted is None or k in wanted)
        }
        relationships: dict[str, Any] = {}
        for name, rel, target in relations:
            if wanted is not None and name not in wanted:
                continue
            entry: dict[str, Any] = {"links": _relationship_links(own, name)}
            if name in row:  # included: the rows are here
                value = row[name]
                if rel.to_many:
                    entry["data"] = [self._include(target, child) for child in value]
                else:
                    entry["data"] = None if value is None else self._include(target, value)
            else:
                cols = linkage_columns(res, rel, target)
                if cols is not None and all(c in row for c in cols):
                    values = [row[c] for c in cols]
                    entry["data"] = (
                        None
                        if any(v is None for v in values)
                        else {"type": target.name, "id": ",".join(str(v) for v in values)}
                    )
            relationships[name] = entry
        out: dict[str, Any] = {"type": res.name, "id": ident}
        if attributes:
            out["attributes"] = attributes
        if relationships:
            out["relationships"] = relationships
        out["links"] = {"self": own}
        return out

    def _include(self, res: Resource, row: Mapping[str, Any]) -> dict[str, str]:
        ident = {"type": res.name, "id": key_text(res, row)}
        key = (ident["type"], ident["id"])
        if key not in self.included:
            self.included[key] = None  # reserve the place first: a cycle must not recurse forever
            self.included[key] = self.of(res, row)
        return ident


def _moved(pointer: str, pointers: Mapping[str, str]) -> str:
    """Where ``pointer`` is in the request document: its own entry, or inside its attribute's
    (an item of an array: ``/tag_list/1`` -> ``/data/attributes/tag_list/1``)."""
    head, rest = pointer, ""
    while head:
        found = pointers.get(head)
        if found is not None:
            return found + rest if not rest or "/attributes/" in found else pointer
        head, _, last = head.rpartition("/")
        rest = f"/{last}{rest}"
    return pointer


def _source(error: TablerestError, field: FieldError | None, pointers: Mapping[str, str]) -> Any:
    if field is not None:
        return {"pointer": _moved(field.pointer, pointers)}
    if error.parameter is not None:
        return {"parameter": error.parameter}
    return None


def error_document(
    error: TablerestError, pointers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A JSON:API error document: one error object per field error, or one for the whole."""
    pointers = pointers or {}
    items: Sequence[FieldError | None] = error.errors or (None,)
    out = []
    for field in items:
        obj: dict[str, Any] = {
            "status": str(error.status),
            "code": error.code,
            "title": error.title,
            "detail": field.detail if field is not None else error.detail,
        }
        source = _source(error, field, pointers)
        if source is not None:
            obj["source"] = source
        out.append(obj)
    return {"jsonapi": VERSION, "errors": out}
