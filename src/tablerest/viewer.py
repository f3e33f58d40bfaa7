"""Fields computed from who asks: ``caller.id`` in a computed field's SQL.

A computed field (``api.resource(..., computed=...)``) may compare a column with
``caller.id``::

    from tablerest import caller

    api.resource(Article, computed={
        "favorited": sa.exists().where(
            Favorite.article_id == Article.id, Favorite.user_id == caller.id
        ),
    })

``caller.id`` is a bind parameter, not a value: the SQL of a statement does not depend on who
asks, so plans stay cached per query shape, and every statement reading such a field is given
the caller's id when it runs (by the authorize stage, :mod:`tablerest.operations.caller`).
The id takes the type of the column it is compared with; an anonymous caller, or an id that
cannot be of that type, is NULL, which no comparison matches: ``favorited`` is false for them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, visitors

__all__ = ["CALLER_KEY", "CallerRef", "caller", "caller_type"]

#: The bind parameter's name in statements (and in the values they are run with).
CALLER_KEY = "tablerest_caller"


class CallerRef:
    """Who asks, as SQL: see :data:`caller`."""

    @property
    def id(self) -> sa.BindParameter[Any]:
        """The caller's id (``Identity.id``), to compare with a column: ``X.user_id ==
        caller.id``."""
        return sa.bindparam(CALLER_KEY)

    def __repr__(self) -> str:
        return "tablerest.caller"


#: Who asks, for computed fields: ``caller.id`` (see the module's docstring).
caller = CallerRef()


def caller_type(where: str, expr: ColumnElement[Any]) -> sa.types.TypeEngine[Any] | None:
    """The type ``caller.id`` takes in ``expr`` (None: it is not there); ValueError, naming
    ``where``, when it is not compared with a column or is compared with columns of two
    types (one id cannot be both)."""
    found: list[sa.types.TypeEngine[Any]] = [
        bind.type
        for bind in visitors.iterate(expr)
        if isinstance(bind, sa.BindParameter) and bind.key == CALLER_KEY
    ]
    if not found:
        return None
    if any(isinstance(t, sa.types.NullType) for t in found):
        raise ValueError(
            f"{where}: caller.id has no type; compare it with a column, as in "
            "Favorite.user_id == caller.id"
        )
    kinds = {type(t) for t in found}
    if len(kinds) > 1:
        raise ValueError(
            f"{where}: caller.id is compared with columns of different types "
            f"({', '.join(sorted(k.__name__ for k in kinds))})"
        )
    return found[0]
