"""Sub-resources scoped to a parent row, as declared: ``api.nest(comments, under=articles,
by="article")`` serves a comment under its article, ``/api/articles/{slug}/comments`` (list,
create) and ``/api/articles/{slug}/comments/{id}`` (read, change, delete); see
:mod:`tablerest.routes.nested`. A declaration, read by the routes and the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .relations import Relation
from .resource import Resource

__all__ = ["Nest", "add_nest"]


@dataclass(frozen=True, slots=True)
class Nest:
    """``child`` rows under a row of ``parent``, through the child's to-one relation ``by``;
    ``step`` is the URL segment after the parent's key (the parent's to-many relation back to
    the child, whose route lists them)."""

    child: Resource
    parent: Resource
    by: Relation
    step: str

    @classmethod
    def of(cls, child: Resource, parent: Resource, by: str) -> Nest:
        """The nest of ``child`` under ``parent`` through ``by``; ValueError when it cannot
        be (no such to-one relation to the parent's table, no relation back)."""
        rel = child.relations.get(child.named(by))
        if rel is None or rel.to_many or rel.target is not parent.table:
            raise ValueError(
                f"nest: {child.name} has no to-one relation {by!r} to {parent.name}'s table"
            )
        back = [
            name
            for name, r in parent.relations.items()
            if r.to_many
            and r.target is child.table
            and set(r.pairs) == {(b, a) for a, b in rel.pairs}
        ]
        if not back:
            raise ValueError(f"nest: {parent.name} has no to-many relation back to {child.name}")
        return cls(child, parent, rel, back[0])

    def fixed(self, parent_row: dict[str, Any]) -> dict[str, Any]:
        """The child's fields a row under ``parent_row`` holds: its foreign key's values."""
        out: dict[str, Any] = {}
        for local, remote in self.by.pairs:
            mine = self.child.field_by_column(local)
            theirs = self.parent.field_by_column(remote)
            if mine is None or theirs is None:
                raise ValueError(f"nest: {self.child.name}.{local.key} is not a field both show")
            out[mine.name] = parent_row[theirs.name]
        return out


def add_nest(
    nests: list[Nest], resources: Mapping[str, Resource], child: Resource, under: Resource, by: str
) -> Nest:
    """Declare a nest (``Api.nest``) among an Api's ``nests``, and return it: ``child`` and
    ``under`` must be among its ``resources``, and the step not nested under ``under`` yet."""
    for res in (child, under):
        if resources.get(res.name) is not res:
            raise ValueError(f"nest: {res.name} is not a resource of this Api")
    found = Nest.of(child, under, by)
    if any(n.parent is under and n.step == found.step for n in nests):
        raise ValueError(f"nest: {found.step} is nested under {under.name} already")
    nests.append(found)
    return found
