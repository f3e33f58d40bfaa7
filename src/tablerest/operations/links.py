"""Writes of a row's many-to-many links: the rows of the link table between it and the rows
of the relation's target (JSON:API's ``POST`` / ``PATCH`` / ``DELETE`` of
``/articles/1/relationships/tags``, and the links of a row written with its related rows).

Changing a relationship changes its row: the caller needs ``update`` on it (404 when they
cannot see it, 403 when they can but may not change it), and may link only to rows they can
read (404 for any other, as for a row that does not exist); a row written with its links
needs ``create`` (or ``update``) on it, as its write does. Where the relation allows it
(``get_or_create=``), a row named by a value no row holds is created, through the target's
own operations. A link table served as a resource is written through its own operations, so
its permissions, hooks and change feed apply as to any write of it; one that is not served (a
model's ``secondary=`` table) is written directly. Everything happens in one transaction.

A value list (``value_lists=``, ``"tag_list": ["dragons"]``) written with its row sets the
row's links to the rows holding those values (:func:`set_value_lists`); a value no row holds
(or none the caller may read) is the body's error, a 422 at the value, unless the relation
creates missing rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from ..columns.rowkeys import key_match
from ..errors import Conflict, FieldError, TablerestError, ValidationFailed
from ..relations import Relation
from ..resource import Resource
from .bulk import Bulk
from .caller import Caller
from .context import Shared
from .rowchecks import reach, within
from .writes import Writes

__all__ = ["LinkMode", "Links", "Peer", "relink", "set_links", "set_value_lists"]

#: Add the named rows to the relationship, remove them, or make it exactly them.
LinkMode = Literal["add", "remove", "set"]


class Peer(Protocol):
    """A resource's write operations, as nested writes and links reach them."""

    @property
    def writes(self) -> Writes: ...

    @property
    def bulk(self) -> Bulk: ...


@dataclass(frozen=True, slots=True)
class Links:
    """Which rows of ``target`` a row is to be linked to through ``rel``: those whose
    columns ``by`` (the target's URL key, or another unique key) hold ``values``; missing
    ones are created (with those values) when ``create``. ``at``: where each value is in a
    request body (a missing row is then a 422 there, not a 404)."""

    rel: Relation
    target: Resource
    by: tuple[sa.Column[Any], ...]
    values: Sequence[tuple[Any, ...]]
    create: bool = False
    at: Sequence[str] = ()


def relink(
    shared: Shared,
    peers: Mapping[str, Peer],
    caller: Caller,
    key: Sequence[Any],
    links: Links,
    mode: LinkMode,
) -> None:
    """Change the links of the row ``key`` (a relationship route: ``update`` on it)."""
    res = shared.resource
    grant = caller.require(res, "update")
    with shared.db.atomic() as session:
        if grant is not True:
            reach(shared, session, key, grant, caller, "update")
        set_links(peers, session, caller, _local(shared, session, key, links.rel), links, mode)


def _local(shared: Shared, session: Any, key: Sequence[Any], rel: Relation) -> tuple[Any, ...]:
    """The ``rel.local`` values of the row ``key`` (404 when there is none)."""
    here = session.execute(sa.select(*rel.local).where(shared.statements.key_where(key))).first()
    if here is None:
        raise shared.missing(key)
    return tuple(here)


def set_links(
    peers: Mapping[str, Peer],
    session: Any,
    caller: Caller,
    here: tuple[Any, ...],
    links: Links,
    mode: LinkMode,
) -> None:
    """Change the links of the row whose ``rel.local`` values are ``here``, in the
    transaction of ``session``."""
    rel = links.rel
    link = rel.through
    assert link is not None
    most = peers[links.target.name].writes.shared.limits.max_links
    if len(links.values) > most:  # each value is a query (and maybe a create): bounded
        at = links.at[0].rsplit("/", 1)[0] if links.at else "/data"
        raise ValidationFailed([FieldError(at, f"At most {most} rows can be linked at once")])
    wanted = list(dict.fromkeys(_reached(peers, session, caller, links)))
    served = _peer_of(peers, link)
    near = [r == v for r, v in zip(rel.remote, here, strict=True)]
    far = [n for n, _ in rel.far]
    own_key = served.writes.resource.key if served is not None else tuple(link.primary_key)
    current = {
        tuple(row[: len(far)]): tuple(row[len(far) :])
        for row in session.execute(sa.select(*far, *own_key).where(*near))
    }
    if mode == "remove":
        gone, made = [current[w] for w in wanted if w in current], []
    else:
        made = [w for w in wanted if w not in current]
        gone = [k for w, k in current.items() if w not in wanted] if mode == "set" else []
    rows = [
        {**dict(zip(rel.remote, here, strict=True)), **dict(zip(far, w, strict=True))} for w in made
    ]
    if served is None:
        for k in gone:
            session.execute(sa.delete(link).where(*_equal(own_key, k)))
        if rows:
            session.execute(sa.insert(link), [{c.key: v for c, v in r.items()} for r in rows])
        return
    for k in gone:
        served.writes.delete(caller, k)
    if rows:
        lres = served.writes.resource
        items = [{_field(lres, c): v for c, v in r.items()} for r in rows]
        served.writes.create(caller, items, many=True, returning=False)


def _reached(
    peers: Mapping[str, Peer], session: Any, caller: Caller, links: Links
) -> list[tuple[Any, ...]]:
    """The ``rel.reached`` values of the rows ``links`` names, each of which the caller must
    be able to read (404 otherwise: to them it does not exist), made first if missing and
    ``links.create``."""
    target = peers[links.target.name].writes
    # A row is made from the values that name it only where a write may set them (a tag's
    # name, not an id the database gives).
    shown = [links.target.field_by_column(c) for c in links.by]
    creates = links.create and all(f is not None and f.writable for f in shown)
    out = []
    for i, values in enumerate(links.values):
        found = _find(target.shared, session, caller, links, values)
        at = links.at[i] if links.at else None
        if found is None and creates:
            data = {_field(links.target, c): v for c, v in zip(links.by, values, strict=True)}
            refused: TablerestError | None = None
            try:
                target.create(caller, [data])
            except (ValidationFailed, Conflict) as exc:
                refused = exc
            # Made meanwhile by another request (a taken unique value): that row is the one.
            found = _find(target.shared, session, caller, links, values)
            if found is None and refused is not None:  # any other refusal stands
                raise refused.under(at) if at is not None else refused
        if found is None:
            if at is None:
                raise target.shared.missing(values)
            named = ", ".join(
                f"{_field(links.target, c)} {v!r}" for c, v in zip(links.by, values, strict=True)
            )
            raise ValidationFailed([FieldError(at, f"No {links.target.name} row with {named}")])
        out.append(found)
    return out


def set_value_lists(
    peers: Mapping[str, Peer],
    res: Resource,
    session: Any,
    caller: Caller,
    key: Sequence[Any],
    lists: Mapping[str, Sequence[Any]],
    at: str,
) -> None:
    """Set the links of the row ``key`` of ``res`` to the rows its value lists ``lists``
    name (field name -> values), in the write's transaction; ``at``: the pointer of the
    row in the body."""
    shared = peers[res.name].writes.shared
    for name, values in lists.items():
        vl = res.value_lists[name]
        served = _peer_of(peers, vl.rel.target)
        if served is None:  # its rows have no rules to write them by: shown, not written
            detail = f"Read-only: {vl.rel.target.name} rows are not served here"
            raise ValidationFailed([FieldError(f"{at}/{name}", detail)])
        links = Links(
            vl.rel,
            served.writes.resource,
            (vl.column,),
            [(v,) for v in values],
            create=vl.relation in res.get_or_create,
            at=[f"{at}/{name}/{i}" for i in range(len(values))],
        )
        set_links(peers, session, caller, _local(shared, session, key, vl.rel), links, "set")


def _find(
    shared: Shared, session: Any, caller: Caller, links: Links, values: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """The ``rel.reached`` values of the target row named by ``values``, if the caller may
    read it."""
    res = shared.resource
    stmt = sa.select(*links.rel.reached).where(
        *(key_match(c, sa.literal(v, c.type)) for c, v in zip(links.by, values, strict=True))
    )
    readable = within(res, stmt, caller.grant(res, "read"), caller)
    found = session.execute(*readable).first() if readable is not None else None
    return None if found is None else tuple(found)


def _peer_of(peers: Mapping[str, Peer], table: sa.Table) -> Peer | None:
    """The operations of the resource that serves the rows of ``table`` (not a view of
    it), if one does."""
    for peer in peers.values():
        res = peer.writes.resource
        if res.table is table and res.where is None:
            return peer
    return None


def _field(res: Resource, col: sa.Column[Any]) -> str:
    f = res.field_by_column(col)
    assert f is not None  # a link table that hides a linking column serves no relation
    return f.name


def _equal(cols: Sequence[sa.Column[Any]], values: Sequence[Any]) -> list[sa.ColumnElement[bool]]:
    return [c == v for c, v in zip(cols, values, strict=True)]
