"""Membership toggles, as declared: a caller adding or removing their own link to a row.

``api.toggle("favorite", on=articles, through=favorites, mine="user_id", theirs="article_id")``
serves ``POST /api/articles/{key}/favorite`` (the caller's row of ``favorites`` pointing at
the article is made, unless it is there) and ``DELETE`` (it is removed, if there); see
:mod:`tablerest.routes.toggles`. A declaration, read by the routes and the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .resource import Resource

__all__ = ["Toggle", "add_toggle"]


@dataclass(frozen=True, slots=True)
class Toggle:
    """One membership toggle: the step of its URL under a row of ``on``, the link resource
    ``through``, its field holding the caller's id (``mine``) and the one pointing at the row
    (``theirs``)."""

    name: str
    on: Resource
    through: Resource
    mine: str
    theirs: str

    def __post_init__(self) -> None:
        for option in ("mine", "theirs"):
            given = getattr(self, option)
            named = self.through.named(given)
            f = self.through.fields.get(named)
            if f is None or not f.readable or f.expression is not None:
                raise ValueError(
                    f"toggle {self.name!r}: {option}={given!r} is not a readable column of "
                    f"{self.through.name}"
                )
            object.__setattr__(self, option, named)
        if len(self.on.pk_fields) != 1:
            raise ValueError(f"toggle {self.name!r}: {self.on.name} needs a one-column key")
        if self.name in self.on.relations:
            raise ValueError(f"toggle {self.name!r}: {self.on.name} has a relation of that name")


def add_toggle(
    toggles: list[Toggle],
    resources: Mapping[str, Resource],
    name: str,
    *,
    on: Resource,
    through: Resource,
    mine: str,
    theirs: str,
) -> Toggle:
    """Declare a toggle (``Api.toggle``) among an Api's ``toggles``, and return it: ``on`` and
    ``through`` must be among its ``resources``, and ``on`` have no toggle of that name."""
    for res in (on, through):
        if resources.get(res.name) is not res:
            raise ValueError(f"toggle {name!r}: {res.name} is not a resource of this Api")
    found = Toggle(name, on, through, mine, theirs)
    if any(t.on is on and t.name == name for t in toggles):
        raise ValueError(f"toggle {name!r} of {on.name} is declared already")
    toggles.append(found)
    return found
