"""Creates with related rows nested in them (see :mod:`tablerest.decode.nested`): every row is
validated first, then all are written in one transaction, each through its own resource's
write operations (permissions, field rules, hooks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc as sa_exc

from ..decode.nested import Linked, Node, field_names, parse_document, rows_in, typed_value
from ..errors import FieldError, TablerestError, ValidationFailed
from ..execute.store import translate
from .caller import Caller
from .context import Shared
from .links import Links, Peer, set_links

__all__ = ["Nested", "create_nested"]

#: A nested row as stored, as answered (the caller's view of it, with the rows nested in it),
#: and whether it was created (an upsert may change it instead).
Nested = tuple[dict[str, Any], dict[str, Any], bool]


def create_nested(
    shared: Shared,
    peers: Mapping[str, Peer],
    caller: Caller,
    doc: Any,
    upsert: list[str] | None = None,
) -> list[Nested]:
    """Create the rows of a nested document (an object, or an array of them) of ``shared``'s
    resource; with ``upsert`` (unique field names), the top rows are upserted."""
    top = shared.resource
    seen = caller.catalog
    if caller.access is not None:  # refused outright before the rows are looked at
        for res, at in rows_in(top, seen, doc).values():
            if upsert is not None and res is top:
                continue  # an upsert may only change rows: its grants come per row
            try:
                caller.require(res, "create")
            except TablerestError as exc:
                raise exc.under(at) from None
    many = isinstance(doc, list)
    nodes: list[Node] = []
    errors: list[FieldError] = []
    for i, item in enumerate(doc if many else [doc]):
        try:
            nodes.append(parse_document(top, seen, item, f"/{i}" if many else ""))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    try:
        with shared.db.atomic():
            return [_store(peers, node, caller, upsert) for node in nodes]
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc) from exc


def _store(
    peers: Mapping[str, Peer], node: Node, caller: Caller, upsert: list[str] | None = None
) -> Nested:
    """Write one row of a nested document with the rows it links to (upserting it on
    ``upsert``'s key)."""
    res = node.resource
    nested: dict[str, Any] = {}
    for rel, parent in node.parents:
        stored, nested[rel.name], _made = _store(peers, parent, caller)
        names = field_names(parent.resource, rel.remote) or []
        for local, column, name in zip(
            field_names(res, rel.local) or [], rel.remote, names, strict=True
        ):
            node.data[local] = typed_value(column, stored[name])
    ops = peers[res.name]
    try:
        if upsert is not None:
            row, made = ops.bulk.upsert_one(caller, node.data, upsert)
        else:
            (row,), made = ops.writes.create(caller, [node.data]), True
    except TablerestError as exc:
        raise exc.under(node.at) from None
    for rel, children in node.children:
        target = children[0].resource if children else None
        rows = []
        for child in children:
            assert target is not None
            pairs = zip(
                field_names(target, rel.remote) or [],
                rel.local,
                field_names(res, rel.local) or [],
                strict=True,
            )
            for remote, column, local in pairs:
                child.data[remote] = typed_value(column, row[local])
            rows.append(_store(peers, child, caller)[1])
        nested[rel.name] = rows
    for linked in node.links:
        nested[linked.relation.name] = _link(peers, node, row, linked, caller)
    if node.links and res.value_lists:
        # The row as it is now its links are written (its value lists show them).
        shared = ops.writes.shared
        key = tuple(typed_value(f.column, row[f.name]) for f in res.key_fields)
        with shared.db.atomic() as session:
            row = shared.fetch_one(key, session, caller)
    return row, {**caller.visible(res, row), **nested}, made


def _link(
    peers: Mapping[str, Peer], node: Node, row: dict[str, Any], linked: Linked, caller: Caller
) -> list[dict[str, Any]]:
    """Link the row just written to the rows ``linked`` names (creating the nested ones
    first); those rows, as the caller sees them."""
    res, rel, target = node.resource, linked.relation, linked.target
    keys, at = [], []
    for entry, where in linked.rows:
        if isinstance(entry, Node):
            stored = _store(peers, entry, caller)[0]
            entry_key = tuple(typed_value(f.column, stored[f.name]) for f in target.key_fields)
            keys.append(entry_key)
        else:
            keys.append(entry)
        at.append(where)
    here = tuple(
        typed_value(col, row[name])
        for col, name in zip(rel.local, field_names(res, rel.local) or [], strict=True)
    )
    links = Links(rel, target, target.key, keys, rel.name in res.get_or_create, tuple(at))
    shared = peers[target.name].writes.shared
    with shared.db.atomic() as session:
        set_links(peers, session, caller, here, links, "add")
        shown = [shared.fetch_one(k, session, caller) for k in dict.fromkeys(keys)]
    return [caller.visible(target, r) for r in shown]
