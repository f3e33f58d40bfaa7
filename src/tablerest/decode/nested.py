"""Nested writes, the request stage: a JSON document holding a row together with related rows
to create (``{"title": ..., "author": {...}, "reviews": [{...}]}``) -> a tree of validated rows.

A key of the document that names a relation whose target is served nests rows of that target:
an object for a to-one relation (that row is created first and the new row points at it), an
array of objects for a to-many one (created after the row, each pointing back at it). Through
a link table (many-to-many), each object of the array is a row to link: one holding only the
target's key fields (its primary key, or its ``lookup=``) names a row that exists (or, with
``get_or_create=``, one made if none has that key); any other is a row to create first. Rows
nest to any depth. Every row is validated with its own resource's schema before anything is written,
and every error of the whole document is reported at once, at its pointer
(``/reviews/1/stars``). The fields that link a row to the one it is nested in are filled in by
the write: sending them too is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..errors import FieldError, TablerestError, ValidationFailed
from ..relations import Relation
from ..resource import Catalog, Resource
from .exactjson import dump_exact
from .values import value_parser

__all__ = [
    "Linked",
    "Node",
    "field_names",
    "nestable",
    "parse_document",
    "rows_in",
    "typed_value",
]


@dataclass
class Node:
    """One row to create: its validated fields, where it sits in the body, the rows to
    create before it (to-one) and after it (to-many), and the rows to link it to through a
    link table (many-to-many)."""

    resource: Resource
    data: dict[str, Any]
    at: str
    parents: list[tuple[Relation, Node]] = field(default_factory=list)
    children: list[tuple[Relation, list[Node]]] = field(default_factory=list)
    links: list[Linked] = field(default_factory=list)


@dataclass
class Linked:
    """The rows of ``target`` a nested row links to through the many-to-many ``relation``:
    each named by its key, or made from a nested row, in the order of the document (with
    where each one is in it)."""

    relation: Relation
    target: Resource
    rows: list[tuple[tuple[Any, ...] | Node, str]]


def field_names(res: Resource, columns: Sequence[sa.Column[Any]]) -> list[str] | None:
    """The fields of ``res`` for these columns, or None if one is not a field."""
    by_column = {f.column: f.name for f in res.fields.values()}
    names = [by_column.get(c) for c in columns]
    return None if any(n is None for n in names) else [n for n in names if n is not None]


def nestable(res: Resource, catalog: Catalog) -> dict[str, Relation]:
    """The relations of ``res`` that rows can be nested through: the target is served (and
    takes creates) and the
    linking columns are readable fields on both sides (the row written first gives the values
    the other one points at)."""
    out: dict[str, Relation] = {}
    for name, rel in res.relations.items():
        target = catalog.target(rel)
        if target is not None and rel.through is not None:
            # Rows are linked (or created, then linked) by this row's key.
            if field_names(res, rel.local) is not None:
                out[name] = rel
            continue
        if target is None or "POST" not in target.methods:
            continue
        local, remote = field_names(res, rel.local), field_names(target, rel.remote)
        if local is None or remote is None:
            continue
        if not all(res.fields[n].readable for n in local) or not all(
            target.fields[n].readable for n in remote
        ):
            continue
        out[name] = rel
    return out


def rows_in(
    res: Resource, catalog: Catalog, doc: Any, at: str = ""
) -> dict[str, tuple[Resource, str]]:
    """Each resource a document would write rows of, with where its first row is: so that
    a caller may be refused before anything about the rows is checked."""
    found: dict[str, tuple[Resource, str]] = {}

    def walk(res: Resource, doc: Any, at: str) -> None:
        if not isinstance(doc, dict):
            return
        found.setdefault(res.name, (res, at))
        for name, rel in nestable(res, catalog).items():
            target = catalog.target(rel)
            value = doc.get(name)
            assert target is not None
            if rel.to_many and isinstance(value, list):
                for i, item in enumerate(value):
                    if rel.through is None or not _names_a_row(target, item):
                        walk(target, item, f"{at}/{name}/{i}")
            elif not rel.to_many:
                walk(target, value, f"{at}/{name}")

    for i, item in enumerate(doc) if isinstance(doc, list) else [(None, doc)]:
        walk(res, item, at if i is None else f"{at}/{i}")
    return found


def typed_value(column: sa.Column[Any], value: Any) -> Any:
    """A value of a stored row as rendered (JSON-ready) -> the column's Python value, to be
    written into a row that points at it."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return value_parser(column.type)(str(value))


def parse_document(
    res: Resource, catalog: Catalog, doc: Any, at: str = "", supplied: frozenset[str] = frozenset()
) -> Node:
    """Validate ``doc`` (decoded JSON) as a row of ``res`` with nested rows; raise one
    :class:`ValidationFailed` naming every problem in the document."""
    errors: list[FieldError] = []
    node = _parse(res, catalog, doc, at, supplied, errors)
    if errors:
        raise ValidationFailed(errors)
    assert node is not None
    return node


def _parse(
    res: Resource,
    catalog: Catalog,
    doc: Any,
    at: str,
    supplied: frozenset[str],
    errors: list[FieldError],
) -> Node | None:
    if not isinstance(doc, dict):
        errors.append(FieldError(at, "Input should be an object"))
        return None
    relations = nestable(res, catalog)
    plain = {k: v for k, v in doc.items() if k not in relations}
    for name in supplied & plain.keys():
        errors.append(FieldError(f"{at}/{name}", "Set by the nesting: leave it out"))
    node = Node(res, {}, at)
    linked = set(supplied)
    for name, rel in relations.items():
        if name not in doc:
            continue
        target = catalog.target(rel)
        assert target is not None
        value, where = doc[name], f"{at}/{name}"
        if rel.through is not None:
            found = _links(rel, target, catalog, value, where, errors)
            if found is not None:
                node.links.append(found)
        elif rel.to_many:
            if not isinstance(value, list):
                errors.append(FieldError(where, "Input should be an array of rows to create"))
                continue
            back = frozenset(field_names(target, rel.remote) or ())
            if not _writable(target, back, where, errors):
                continue
            kids = [
                _parse(target, catalog, item, f"{where}/{i}", back, errors)
                for i, item in enumerate(value)
            ]
            node.children.append((rel, [k for k in kids if k is not None]))
        else:
            local = field_names(res, rel.local) or []
            if supplied & set(local):
                errors.append(FieldError(where, "Set by the nesting: leave it out"))
                continue
            if not _writable(res, local, where, errors):
                continue
            for n in local:
                if n in plain:
                    errors.append(FieldError(f"{at}/{n}", f"Given twice: also set by {where}"))
            parent = _parse(target, catalog, value, where, frozenset(), errors)
            if parent is not None:
                node.parents.append((rel, parent))
            linked |= set(local)
    for vl in res.value_lists.values():  # one relation's links, set one way
        if vl.relation in doc and vl.name in doc:
            errors.append(
                FieldError(f"{at}/{vl.name}", f"Given twice: also set by {at}/{vl.relation}")
            )
    try:
        raw = dump_exact(plain)
        node.data = res.schema.validate_json_supplied(raw, frozenset(linked))
    except TablerestError as exc:
        errors.extend(exc.under(at).errors or [FieldError(at, exc.detail)])
    return node


def _links(
    rel: Relation,
    target: Resource,
    catalog: Catalog,
    value: Any,
    at: str,
    errors: list[FieldError],
) -> Linked | None:
    """The rows a many-to-many relation's array names or nests (see the module's doc)."""
    if not isinstance(value, list):
        errors.append(FieldError(at, "Input should be an array of rows to link"))
        return None
    names = [f.name for f in target.key_fields]
    rows: list[tuple[tuple[Any, ...] | Node, str]] = []
    for i, item in enumerate(value):
        where = f"{at}/{i}"
        if _names_a_row(target, item):
            key = _key(target, item, where, errors)
            if key is not None:
                rows.append((key, where))
        elif isinstance(item, dict) and "POST" not in target.methods:
            errors.append(
                FieldError(where, f"Name a {target.name} row by {', '.join(names)} alone")
            )
        else:
            made = _parse(target, catalog, item, where, frozenset(), errors)
            if made is not None:
                rows.append((made, where))
    return Linked(rel, target, rows)


def _names_a_row(target: Resource, item: Any) -> bool:
    """Whether an item of a many-to-many array names a row that exists (its key fields
    alone) rather than holding one to create."""
    return isinstance(item, dict) and set(item) == {f.name for f in target.key_fields}


def _key(
    res: Resource, item: dict[str, Any], at: str, errors: list[FieldError]
) -> tuple[Any, ...] | None:
    """The key values an object names a row by (``{"id": 3}``, ``{"name": "dragons"}``)."""
    out = []
    for f in res.key_fields:
        try:
            if item[f.name] is None:
                raise ValueError("null")
            out.append(typed_value(f.column, item[f.name]))
        except (TypeError, ValueError):
            errors.append(FieldError(f"{at}/{f.name}", f"Not a key of {res.name}"))
            return None
    return tuple(out)


def _writable(res: Resource, names: Any, at: str, errors: list[FieldError]) -> bool:
    """Whether the fields a nesting fills in may be written at all."""
    fixed = sorted(n for n in names if not res.fields[n].writable)
    if fixed:
        errors.append(
            FieldError(at, f"Rows cannot be nested here: {', '.join(fixed)} is read-only")
        )
    return not fixed
