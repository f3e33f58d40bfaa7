"""What one document is built from and into: the mounted API, the caller's view of it, and the
paths and component schemas gathered so far. Every builder of the package takes it explicitly.
"""

from __future__ import annotations

from typing import Any

from ..fields import Field
from ..relations import Relation
from ..render.jsonapi import Renderer
from ..resource import Resource, View
from .common import JSONAPI_ERRORS, PROBLEM
from .source import Source


class Context:
    """The document being built for one caller: what they see, and what is written so far."""

    def __init__(self, state: Source, view: View | None = None) -> None:
        self.state = state
        self.view = view
        self.schemas: dict[str, Any] = {"Problem": PROBLEM, "JsonApiErrors": JSONAPI_ERRORS}
        self.paths: dict[str, Any] = {}
        self.prefix = state.api.settings.prefix
        self.jsonapi = Renderer(state, self.prefix)  # what resource objects look like

    # -- what the caller sees -----------------------------------------------------------------

    def concealed(self, res: Resource) -> frozenset[str]:
        return self.view.concealed(res) if self.view is not None else frozenset()

    def readable(self, res: Resource) -> tuple[Field, ...]:
        """The fields of ``res`` the caller may read (``hidden_unless`` ones left out)."""
        hidden = self.concealed(res)
        return tuple(f for f in res.readable if f.name not in hidden) if hidden else res.readable

    def relations(self, res: Resource) -> list[tuple[str, Relation, Resource]]:
        """The relations of ``res`` the caller may follow, with their targets."""
        return self.jsonapi.relations(res, self.view)
