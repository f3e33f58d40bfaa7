"""One request's access: the caller, and what each resource's policy grants them.

The authorize stage of the pipeline. Dispatch asks it whether an action is allowed at all
(:meth:`Access.require`: 401 for an anonymous caller, 403 for a signed-in one), and the
planner asks it which rows of a table the caller may see (:meth:`Access.where`), wherever the
statement reads that table: the rows listed, the row read, the parent of a relation route,
included and joined rows, and the rows an ``EXISTS`` filter or a sort sub-query looks at.
The grant of a write to existing rows (:meth:`Access.grant` for ``update`` and ``delete``)
already holds the read rule, so every write path applies it by taking its grant from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from ..errors import Forbidden, Unauthorized
from ..grants import AccessPolicy, Action, Grant, Identity, Rows, both
from ..relations import Relation
from ..resource import Catalog, Resource
from ..valuelists import ValueList

__all__ = ["Access"]

#: The actions that change rows which exist already: they reach only rows the caller can read.
_TOUCHING: frozenset[Action] = frozenset({"update", "delete"})
#: Which rows of a table the caller may read: a condition on it and its bind values, or None
#: for every row (``store.Readable``).
Readable: TypeAlias = Callable[[sa.Table], tuple[ColumnElement[bool], dict[str, Any]] | None]


class Access:
    """The caller and their grants, worked out once per resource and action."""

    __slots__ = ("_fields", "_grants", "_relations", "catalog", "identity", "scheme")

    def __init__(
        self, identity: Identity | None, catalog: Catalog | None = None, scheme: str = "Bearer"
    ) -> None:
        self.identity = identity
        #: The resources served (the targets of value lists); None until the caller's view
        #: is made (:meth:`~tablerest.operations.registry.Registry.caller`).
        self.catalog = catalog
        #: The ``Authorization`` scheme a 401 asks for (``Auth(scheme=...)``).
        self.scheme = scheme
        self._grants: dict[tuple[str, Action], Grant] = {}
        self._fields: dict[tuple[str, str], frozenset[str]] = {}
        self._relations: dict[str, frozenset[str]] = {}

    def concealed(self, resource: Resource) -> frozenset[str]:
        """Fields of ``resource`` this caller may not see: for them, they do not exist.

        A value list (``value_lists=``) is concealed with its relation, and unless the caller
        may list and read every row of its target and see the field it lists: its SQL
        aggregates every linked row, so a caller limited to some rows would learn of others.
        """
        found = self._field_rule(resource, "concealed")
        if not resource.value_lists:
            return found
        key = (resource.name, "concealed lists")
        lists = self._fields.get(key)
        if lists is None:
            lists = self._fields[key] = frozenset(
                n for n, vl in resource.value_lists.items() if self._hides_list(resource, vl)
            )
        return found | lists

    def _hides_list(self, resource: Resource, vl: ValueList) -> bool:
        catalog = self.catalog
        if catalog is None:
            return True  # unknown targets: hidden rather than perhaps shown
        target = catalog.target(vl.rel)
        if target is None or vl.relation in self.concealed_relations(resource, catalog):
            return True
        if not all(self.grant(target, action) is True for action in ("list", "read")):
            return True
        return _hides(target, (vl.column,), self._field_rule(target, "concealed"))

    def concealed_relations(self, resource: Resource, catalog: Catalog) -> frozenset[str]:
        """Relations of ``resource`` this caller may not follow: for them, they do not exist.

        A relation is concealed when one of its linking columns is, on either side: following
        ``notes.vault`` (or ``vaults.notes``) would tell a caller who may not see
        ``notes.vault_id`` what it holds, through the route, an include, a filter or a sort.
        Through a served link table, also when the caller may not list all of its rows, or
        not see its linking columns: each related row would tell them of a link row."""
        found = self._relations.get(resource.name)
        if found is not None:
            return found
        names = set()
        own = self._field_rule(resource, "concealed")  # value lists link no rows
        for name, rel in resource.relations.items():
            target = catalog.target(rel)
            if target is None:
                continue  # not exposed at all
            theirs = self._field_rule(target, "concealed")
            hides = _hides(resource, rel.local, own) or _hides(target, rel.reached, theirs)
            link = catalog.link(rel)
            if hides or (link is not None and self._hides_links(link, rel)):
                names.add(name)
        found = self._relations[resource.name] = frozenset(names)
        return found

    def _hides_links(self, link: Resource, rel: Relation) -> bool:
        """Whether the caller may not read every row of the link table, or its linking
        columns, that a many-to-many relation goes through."""
        whole = all(self.grant(link, action) is True for action in ("list", "read"))
        ends = rel.link_columns
        return not whole or _hides(link, ends, self.concealed(link))

    def locked(self, resource: Resource) -> frozenset[str]:
        """Fields of ``resource`` this caller may not write (422 "Field is read-only")."""
        return self._field_rule(resource, "locked")

    def _field_rule(self, resource: Resource, kind: str) -> frozenset[str]:
        policy: AccessPolicy | None = resource.policy
        if policy is None:
            return frozenset()
        key = (resource.name, kind)
        found = self._fields.get(key)
        if found is None:
            rule = policy.concealed if kind == "concealed" else policy.locked
            found = self._fields[key] = rule(self.identity)
        return found

    def grant(self, resource: Resource, action: Action) -> Grant:
        """The rows ``action`` may touch. For ``update`` and ``delete`` that is what the
        action's rule grants AND what ``read`` grants: a row the caller cannot read does not
        exist for them, so no write reaches it (404 there, as for a GET). Every write path
        takes its scope from here, so none can forget the read rule."""
        policy: AccessPolicy | None = resource.policy
        if policy is None:
            return True
        key = (resource.name, action)
        found = self._grants.get(key)
        if found is None:
            found = policy.grant(action, self.identity)
            if action in _TOUCHING:
                found = both(found, self.grant(resource, "read"))
            if isinstance(found, Rows) and not policy.values(found, self.identity, {}):
                found = False  # an id that cannot own a row of this table owns none
            self._grants[key] = found
        return found

    def require(self, resource: Resource, action: Action) -> Grant:
        """The grant for ``action``; 401 or 403 when it is nothing."""
        found = self.grant(resource, action)
        if found is False:
            verb = {"list": "list", "read": "read", "create": "create rows of"}.get(
                action, f"{action} rows of"
            )
            if self.identity is None:
                raise Unauthorized(f"Sign in to {verb} {resource.name}", scheme=self.scheme)
            raise Forbidden(f"You may not {verb} {resource.name}")
        return found

    def where(
        self, resource: Resource, source: FromClause, many: bool
    ) -> ColumnElement[bool] | None:
        """The condition on ``source`` (``resource``'s table or an alias) that keeps the rows
        the caller may see; ``many`` for rows read as a collection (``list`` applies too).
        None: every row."""
        policy: AccessPolicy | None = resource.policy
        if policy is None:
            return None
        terms = []
        for action in ("read", "list") if many else ("read",):
            got = self.grant(resource, action)
            if got is False:
                return sa.false()
            if isinstance(got, Rows):
                terms.append(policy.clause(got, source))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else terms[0] & terms[1]

    def references(
        self, resource: Resource, reader: Callable[[sa.Table], Resource | None]
    ) -> Readable | None:
        """For a write to ``resource``: which rows of the tables its foreign keys point at
        the caller may read (``reader`` names the resource serving a table, if any), for the
        tables where that is not every row; None when there are none.

        A reference to a row the caller cannot read is answered as if that row did not exist
        (the 409 of a dangling foreign key): otherwise 201-vs-409 would tell them it exists,
        and they could attach rows to others' private ones."""
        guarded: dict[sa.Table, tuple[AccessPolicy, Rows] | None] = {}
        for fk in resource.table.foreign_key_constraints:
            table = fk.referred_table
            target = reader(table)
            if target is None or target.policy is None:
                continue  # not served, or no rules: nothing to hide
            got = self.grant(target, "read")
            if got is not True:
                guarded[table] = (target.policy, got) if isinstance(got, Rows) else None
        if not guarded:
            return None
        identity = self.identity

        def readable(table: sa.Table) -> tuple[ColumnElement[bool], dict[str, Any]] | None:
            if table not in guarded:
                return None
            found = guarded[table]
            if found is None:
                return sa.false(), {}
            policy, rows = found
            params: dict[str, Any] = {}
            policy.values(rows, identity, params)
            return policy.clause(rows, table), params

        return readable

    def scope(self, resources: Iterable[Resource]) -> tuple[Any, dict[str, Any]]:
        """What about these resources' grants changes SQL (plans are cached by it), and the
        bind values their row grants need."""
        sig: list[Any] = []
        values: dict[str, Any] = {}
        for res in resources:
            policy: AccessPolicy | None = res.policy
            if policy is None:
                continue
            read, listed = self.grant(res, "read"), self.grant(res, "list")
            sig.append((res.name, read, listed))
            for got in (read, listed):
                if isinstance(got, Rows):
                    policy.values(got, self.identity, values)
        return tuple(sig), values


def _hides(resource: Resource, columns: Iterable[Any], concealed: frozenset[str]) -> bool:
    """Whether one of these columns of ``resource`` is a field in ``concealed``."""
    if not concealed:
        return False
    for col in columns:
        f = resource.field_by_column(col)
        if f is not None and f.name in concealed:
            return True
    return False
