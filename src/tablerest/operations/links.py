"""Writes of a row's many-to-many links: the rows of the link table between it and the rows
of the relation's target (JSON:API's ``POST`` / ``PATCH`` / ``DELETE`` of
``/articles/1/relationships/tags``).

Changing a relationship changes its row: the caller needs ``update`` on it (404 when they
cannot see it, 403 when they can but may not change it), and may link only to rows they can
read (404 for any other, as for a row that does not exist). A link table served as a resource
is written through its own operations, so its permissions, hooks and change feed apply as to
any write of it; one that is not served (a model's ``secondary=`` table) is written directly.
Everything happens in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa

from ..relations import Relation
from ..resource import Resource
from .caller import Caller
from .context import Shared
from .nesting import Peer
from .rowchecks import matches, reach

__all__ = ["LinkMode", "relink"]

#: Add the named rows to the relationship, remove them, or make it exactly them.
LinkMode = Literal["add", "remove", "set"]


def relink(
    shared: Shared,
    peers: Mapping[str, Peer],
    caller: Caller,
    key: Sequence[Any],
    rel: Relation,
    target: Resource,
    keys: Sequence[tuple[Any, ...]],
    mode: LinkMode,
) -> None:
    """Change the links of the row ``key`` through ``rel`` to the ``target`` rows ``keys``."""
    assert rel.through is not None
    res, link = shared.resource, rel.through
    grant = caller.require(res, "update")
    served = _link_peer(peers, link)
    with shared.db.atomic() as session:
        if grant is not True:
            reach(shared, session, key, grant, caller, "update")
        here = session.execute(
            sa.select(*rel.local).where(shared.statements.key_where(key))
        ).first()
        if here is None:
            raise shared.missing(key)
        wanted = _reached(peers[target.name].writes.shared, session, caller, rel, keys)
        near = sa.and_(*(r == v for r, v in zip(rel.remote, here, strict=True)))
        far_cols = [n for n, _ in rel.far]
        lookup = (
            served.writes.shared.resource.key if served is not None else tuple(link.primary_key)
        )
        current = {
            tuple(row[: len(far_cols)]): tuple(row[len(far_cols) :])
            for row in session.execute(sa.select(*far_cols, *lookup).where(near))
        }
        wanted = list(dict.fromkeys(wanted))
        if mode == "remove":
            gone, made = [current[w] for w in wanted if w in current], []
        elif mode == "add":
            gone, made = [], [w for w in wanted if w not in current]
        else:
            gone = [k for w, k in current.items() if w not in wanted]
            made = [w for w in wanted if w not in current]
        rows = [
            {**dict(zip(rel.remote, here, strict=True)), **dict(zip(far_cols, w, strict=True))}
            for w in made
        ]
        if served is None:
            for k in gone:
                session.execute(sa.delete(link).where(*_equal(tuple(link.primary_key), k)))
            if rows:
                session.execute(sa.insert(link), [{c.key: v for c, v in r.items()} for r in rows])
            return
        for k in gone:
            served.writes.delete(caller, k)
        if rows:
            lres = served.writes.shared.resource
            items = [{_field(lres, c): v for c, v in r.items()} for r in rows]
            served.writes.create(caller, items, many=True, returning=False)


def _reached(
    target: Shared,
    session: Any,
    caller: Caller,
    rel: Relation,
    keys: Sequence[tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """The ``rel.reached`` values of the target rows ``keys``, each of which the caller must
    be able to read (404 otherwise: to them it does not exist)."""
    res = target.resource
    grant = caller.grant(res, "read")
    out = []
    for k in keys:
        found = None
        if matches(target, session, k, grant, caller):
            stmt = sa.select(*rel.reached).where(target.statements.key_where(k))
            found = session.execute(stmt).first()
        if found is None:
            raise target.missing(k)
        out.append(tuple(found))
    return out


def _link_peer(peers: Mapping[str, Peer], link: sa.Table) -> Peer | None:
    """The operations of the resource serving the link table, if one does (not a view)."""
    for peer in peers.values():
        res = peer.writes.resource
        if res.table is link and res.where is None:
            return peer
    return None


def _field(res: Resource, col: sa.Column[Any]) -> str:
    f = res.field_by_column(col)
    assert f is not None  # a link table that hides a linking column serves no relation
    return f.name


def _equal(cols: Sequence[sa.Column[Any]], values: Sequence[Any]) -> list[sa.ColumnElement[bool]]:
    return [c == v for c, v in zip(cols, values, strict=True)]
