"""The authorize stage: one caller's view of every resource, worked out once per request.

A :class:`Caller` is made once for a request (or once for an application's call into the
operations) from the caller's :class:`~tablerest.auth.access.Access`, and every operation takes
what it may touch from it: the row scope of a read (:meth:`Caller.guard`), the grant of each
write (:meth:`Caller.require`), the fields the caller may not see (:meth:`Caller.visible`,
:meth:`Caller.concealed`) or write (:meth:`Caller.check_writable`), the relations concealed from
them (:attr:`Caller.catalog`), and the referenced rows they may not point at
(:meth:`Caller.references`). Each answer is computed on first use and kept for the rest of the
request, so the list, the include, the nested write and the batch operation after it all see
the same view.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from ..auth.access import Access
from ..decode.queries import Include, ListIntent
from ..decode.values import value_parser
from ..errors import FieldError, NotFound, ValidationFailed
from ..execute.store import Readable
from ..grants import Action, Grant
from ..relations import Relation
from ..resource import Catalog, Resource
from ..viewer import CALLER_KEY

__all__ = ["OPEN_SCOPE", "Caller", "Scope", "Served"]


class Served(Catalog, Protocol):
    """The resources of one API, as the authorize stage needs them."""

    def owner(self, table: sa.Table) -> Resource | None:
        """The resource registered for ``table`` (whatever its methods), if any."""

    def reader(self, table: sa.Table) -> Resource | None:
        """The resource that serves reads of ``table``, if any."""

    @property
    def per_caller(self) -> bool:
        """Whether a resource has a field computed from who asks."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a read may see, for planning: ``sig`` is part of every plan's cache key (the
    grants that change the SQL), ``values`` the caller's id for the row grants' parameters."""

    sig: Any = None
    values: Mapping[str, Any] = field(default_factory=dict)
    rows: Access | None = None
    #: The fields and relations that do not exist for the caller (None: no permissions).
    view: Access | None = None


OPEN_SCOPE = Scope()


class Caller:
    """Who is asking and what they may see and change, for one request.

    ``access`` is None when the API has no permissions and no authentication, and for the
    application's own trusted calls: every check passes and every row and field is theirs.
    A trusted call may still be made for someone (``acting_for``): hooks see who."""

    __slots__ = ("_acting_for", "_references", "_seen", "_served", "access")

    def __init__(self, access: Access | None, served: Served, acting_for: Any = None) -> None:
        self.access = access
        self._served = served
        self._acting_for = acting_for
        self._seen: Catalog | None = None
        self._references: dict[str, Readable | None] = {}

    @property
    def identity(self) -> Any:
        """Who the request or call is for (None: anonymous, or no one)."""
        return self.access.identity if self.access is not None else self._acting_for

    @property
    def catalog(self) -> Catalog:
        """The resources as this caller sees them: a relation concealed from them leads
        nowhere, so a write body naming it gets the answer of a name that does not exist."""
        if self.access is None:
            return self._served
        if self._seen is None:
            self._seen = _SeenCatalog(self._served, self.access)
        return self._seen

    # -- actions ------------------------------------------------------------------------------

    def require(self, res: Resource, action: Action) -> Grant:
        """The rows ``action`` may touch; 401 or 403 when none."""
        return self.access.require(res, action) if self.access is not None else True

    def grant(self, res: Resource, action: Action) -> Grant:
        """The rows ``action`` may touch (``False``: none), without refusing."""
        return self.access.grant(res, action) if self.access is not None else True

    # -- fields and relations -----------------------------------------------------------------

    def concealed(self, res: Resource) -> frozenset[str]:
        """The fields of ``res`` that do not exist for this caller."""
        return self.access.concealed(res) if self.access is not None else frozenset()

    def locked(self, res: Resource) -> frozenset[str]:
        """The fields of ``res`` this caller may not write."""
        return self.access.locked(res) if self.access is not None else frozenset()

    def concealed_relations(self, res: Resource) -> frozenset[str]:
        if self.access is None:
            return frozenset()
        return self.access.concealed_relations(res, self._served)

    def relation(self, res: Resource, name: str, missing: str) -> tuple[Relation, Resource]:
        """The relation ``name`` of ``res`` and its target, as the caller sees them: one whose
        target is not served, or that is concealed from them, is a 404 saying ``missing``."""
        rel = res.relations.get(name)
        target = self._served.target(rel) if rel is not None else None
        if rel is None or target is None or name in self.concealed_relations(res):
            raise NotFound(missing)
        return rel, target

    def visible(self, res: Resource, row: dict[str, Any]) -> dict[str, Any]:
        """A row as this caller may see it."""
        hidden = self.concealed(res)
        return {k: v for k, v in row.items() if k not in hidden} if hidden else row

    def check_writable(self, res: Resource, data: Mapping[str, Any], at: str = "") -> None:
        """422 for fields the caller may not write (``read_only_unless``) or see."""
        if self.access is None:
            return
        locked, hidden = self.locked(res), self.concealed(res)
        errors = [
            FieldError(f"{at}/{n}", "Unknown field" if n in hidden else "Field is read-only")
            for n in data
            if n in locked or n in hidden
        ]
        if errors:
            raise ValidationFailed(errors)

    def references(self, res: Resource) -> Readable | None:
        """For a write to ``res``: which referenced rows the caller may read, where not all
        (see :meth:`Access.references`); None when nothing is hidden from them, and the fast
        paths, which do not check references, may run."""
        if self.access is None:
            return None
        if res.name not in self._references:
            self._references[res.name] = self.access.references(res, self._served.reader)
        return self._references[res.name]

    # -- reads --------------------------------------------------------------------------------

    def guard(self, res: Resource, intent: ListIntent, *also: Resource) -> tuple[ListIntent, Scope]:
        """A read of ``res`` as this caller may make it: the intent without the fields hidden
        from them, and the row scope of every resource it touches (and of ``also``: a
        relation's owner). Reaching a resource the caller may not read at all (a filter, sort
        or include through it) is a 401 or 403, not an empty answer. The intent was parsed
        with the caller's view: the fields and relations concealed from them are not in it."""
        access = self.access
        if access is None:
            if not self._served.per_caller:
                return intent, OPEN_SCOPE
            bound = self.bound([*_involved(res, intent), *also])
            return intent, Scope(values=bound) if bound else OPEN_SCOPE
        involved = _involved(res, intent)
        bound = self.bound([*involved, *also]) if self._served.per_caller else {}
        for other in involved[1:]:
            access.require(other, "read")
        intent = _restrict(access, intent, involved)
        sig, values = access.scope([*involved, *also])
        if sig:
            return intent, Scope(sig, {**values, **bound}, access, access)
        return intent, Scope(values=bound, view=access)

    def bound(self, resources: Iterable[Resource]) -> dict[str, Any]:
        """The caller's id for the computed fields of these resources that depend on who
        asks (:mod:`tablerest.viewer`), as the type it is compared with; {} when none does.
        Anonymous, or an id that cannot be of that type: None, which matches nothing."""
        typed = next((r.caller_type for r in resources if r.caller_type is not None), None)
        if typed is None:
            return {}
        who, value = self.identity, None
        if who is not None:
            with contextlib.suppress(TypeError, ValueError):
                value = value_parser(typed)(str(who.id))
        return {CALLER_KEY: value}


class _SeenCatalog:
    """The resources as one caller sees them (:attr:`Caller.catalog`): ``target`` of a
    relation concealed from the caller is None, as for a relation to a table not served."""

    __slots__ = ("_access", "_served")

    def __init__(self, served: Served, access: Access) -> None:
        self._served = served
        self._access = access

    def target(self, relation: Relation) -> Resource | None:
        found = self._served.target(relation)
        owner = self._served.owner(relation.pairs[0][0].table) if relation.pairs else None
        if found is None or owner is None:
            return found
        concealed = self._access.concealed_relations(owner, self._served)
        return None if relation.name in concealed else found

    def by_name(self, name: str) -> Resource | None:
        return self._served.by_name(name)

    def link(self, relation: Relation) -> Resource | None:
        return self._served.link(relation)


def _involved(res: Resource, intent: ListIntent) -> list[Resource]:
    """The resources a read of ``res`` touches: itself, those its filters and sorts go
    through, and those it includes."""
    out = {res.name: res}
    grouped = intent.grouping.keys if intent.grouping is not None else ()
    for path in [*(f.path for f in intent.leaves()), *(k.path for k in intent.sort), *grouped]:
        for _rel, through in path.steps:
            out.setdefault(through.name, through)

    def walk(includes: Sequence[Include]) -> None:
        for inc in includes:
            out.setdefault(inc.resource.name, inc.resource)
            walk(inc.children)

    walk(intent.include)
    return list(out.values())


def _restrict(access: Access, intent: ListIntent, involved: list[Resource]) -> ListIntent:
    """The intent without the fields the caller may not see (``hidden_unless``), so that rows
    leave them out. (Naming one anywhere was an unknown field already, in the parse.)"""
    fields = dict(intent.fields)
    narrowed = False
    for resource in involved:
        names = access.concealed(resource)
        if names and resource.name not in fields:
            fields[resource.name] = tuple(f.name for f in resource.readable if f.name not in names)
            narrowed = True
    return dataclasses.replace(intent, fields=fields) if narrowed else intent
