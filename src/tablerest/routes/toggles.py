"""Membership toggles, served: ``POST`` and ``DELETE {prefix}/{on}/{key}/{name}`` (see
:mod:`tablerest.toggles`). Both are idempotent and answer the row as a ``GET`` of it would,
after the change (its ``favorited`` computed field, say, now true). The link is written
through the link resource's own operations, so its permissions, hooks and change feed apply
as to any write of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..decode.values import value_parser
from ..errors import Conflict, NotFound, Unauthorized
from ..resource import Resource
from ..toggles import Toggle

if TYPE_CHECKING:
    from ..calls import Calls
    from .endpoint import Endpoint

__all__ = ["handle"]


def handle(toggle: Toggle, request: Request, key: str, target: Endpoint, link: Calls) -> Response:
    """Add (POST) or remove (DELETE) the caller's link to the row ``key`` of ``on``; the
    row as the caller's GET shows it, after."""
    caller = target.reads.caller(request)
    who = caller.identity
    if who is None:
        access = caller.access
        raise Unauthorized("Sign in first", scheme=access.scheme if access else "Bearer")
    (pk,) = toggle.on.pk_fields
    row = target.reads.row(request, key, caller)  # 404 unless the caller may read it
    mine = _typed(toggle.through, toggle.mine, who.id)
    values = {toggle.mine: mine, toggle.theirs: row[pk.name]}
    if request.method == "POST":
        try:
            link.create(caller, values)
        except Conflict:
            if not _links(link, caller, values):
                raise  # another clash than the link being there already
    else:
        for found in _links(link, caller, values):
            link.delete(caller, tuple(found[f.name] for f in toggle.through.key_fields))
    return target.reads.read(request, key)


def _typed(res: Resource, field: str, raw: Any) -> Any:
    """The caller's id as the link's field holds it; 401 when it cannot be (a text id for
    an integer column: that caller can have no link)."""
    try:
        return value_parser(res.fields[field].column.type)(str(raw))
    except (TypeError, ValueError):
        raise Unauthorized("This account cannot hold links here") from None


def _links(link: Calls, caller: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The caller's link rows with these values (one, or none)."""
    query = {f"filter[{name}]": str(value) for name, value in values.items()}
    try:
        return list(link.list(caller, query).rows)
    except NotFound:
        return []
