"""Sub-resources scoped to a parent row, served (see :mod:`tablerest.nests`): the parent must be
one the caller reads (404 otherwise), a child row not under it is a 404, a create fills in
its foreign key, and a body that names another parent is a 422. Everything else is the
child's own routes: the same permissions, hooks, representations and answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from ..errors import NotFound
from ..nests import Nest

if TYPE_CHECKING:
    from .endpoint import Endpoint

__all__ = ["collection", "item"]


def collection(
    nest: Nest, request: Request, key: str, parent: Endpoint, child: Endpoint
) -> Response:
    """``GET`` the parent's rows of the child (its relation route), or ``POST`` one."""
    if request.method == "GET":
        return parent.reads.related(request, key, nest.step)
    caller = parent.reads.caller(request)
    fixed = nest.fixed(parent.reads.row(request, key, caller))
    return child.writes.create(request, fixed=fixed)


def item(
    nest: Nest, request: Request, key: str, child_key: str, parent: Endpoint, child: Endpoint
) -> Response:
    """One child row under the parent row ``key``: read, replaced, changed or deleted."""
    caller = parent.reads.caller(request)
    fixed = nest.fixed(parent.reads.row(request, key, caller))
    row = child.reads.row(request, child_key, caller)
    if any(row.get(name) != value for name, value in fixed.items()):
        raise NotFound(f"No {nest.child.name} row {child_key!r} under this {nest.parent.name} row")
    if request.method == "GET":
        return child.reads.read(request, child_key)
    if request.method == "DELETE":
        return child.writes.delete(request, child_key)
    return child.writes.change(request, child_key, replace=request.method == "PUT", fixed=fixed)
