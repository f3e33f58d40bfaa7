"""Who is asking and which rows they are granted: the values permissions produce.

The vocabulary the authorize stage hands down the pipeline, kept below every stage so that the
declarations can name it without importing the auth layer: the caller (:class:`Identity`), an
action, a *grant* (``True`` every row, ``False`` nothing, or :class:`Rows`), and
:class:`AccessPolicy`, what the stages ask of a resource's policy. The one policy there is,
:class:`tablerest.auth.policies.Policy`, is built by the auth layer and attached to its
resource at registration; pure: no request, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from sqlalchemy.sql import ColumnElement, FromClause

__all__ = ["ACTIONS", "AccessPolicy", "Action", "Grant", "Identity", "Rows", "both"]

Action = Literal["list", "read", "create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "read", "create", "update", "delete")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: the user's key as text, their roles, and the token's claims."""

    id: str
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rows:
    """A row grant: rows where every field in ``owned`` holds the caller's id, or (``any_of``)
    rows matching any of several such grants."""

    owned: tuple[str, ...] = ()
    any_of: tuple[Rows, ...] = ()

    def fields(self) -> set[str]:
        out = set(self.owned)
        for sub in self.any_of:
            out |= sub.fields()
        return out


Grant: TypeAlias = bool | Rows


def both(first: Grant, second: Grant) -> Grant:
    """The rows two grants both cover (``first AND second``), as one grant.

    A :class:`Rows` is "every ``owned`` field holds the caller's id, and (when there are
    alternatives) one of ``any_of`` matches"; two of them meet by pooling the owned fields
    and, when both have alternatives, distributing one side's over the other's.
    """
    if first is False or second is False:
        return False
    if first is True:
        return second
    if second is True:
        return first
    owned = first.owned + tuple(n for n in second.owned if n not in first.owned)
    if not first.any_of or not second.any_of:
        return Rows(owned=owned, any_of=first.any_of or second.any_of)
    rest = Rows(any_of=second.any_of)
    pairs = tuple(both(alt, rest) for alt in first.any_of)
    return Rows(owned=owned, any_of=tuple(p for p in pairs if isinstance(p, Rows)))


class AccessPolicy(Protocol):
    """What the stages ask of a resource's policy (``Resource.policy``): its grants for a
    caller, and its row grants as SQL conditions and as checks on rows in hand.

    Implemented by :class:`tablerest.auth.policies.Policy`, which documents each method."""

    @property
    def rules(self) -> Mapping[Action, object]:
        """The permission of each action (its ``repr`` is the rule as written)."""

    def grant(self, action: Action, identity: Identity | None) -> Grant:
        """The rows ``action`` may touch for this caller, by the action's rule alone."""

    def concealed(self, identity: Identity | None) -> frozenset[str]:
        """The fields this caller may not see."""

    def locked(self, identity: Identity | None) -> frozenset[str]:
        """The fields this caller may not write."""

    def clause(self, rows: Rows, source: FromClause) -> ColumnElement[bool]:
        """A row grant as a condition on ``source``, with the caller's id as bind values."""

    def values(self, rows: Rows, identity: Identity | None, out: dict[str, Any]) -> bool:
        """Put the bind values of :meth:`clause` into ``out``; False when the caller owns
        no row."""

    def matches(self, rows: Rows, identity: Identity | None, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` is within the row grant, as :meth:`clause` decides in SQL."""

    def owner_values(self, rows: Rows, identity: Identity) -> dict[str, Any]:
        """What a create fills in: the caller's id in the fields the grant owns."""
