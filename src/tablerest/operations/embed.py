"""Rows as the client sees them, with their included relations: the to-one ones joined into
the rows already, the others loaded with one statement per relation path, all within
``Limits.max_included``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ..decode.queries import ListIntent
from ..errors import InvalidParameter
from ..execute.prepared import Prepared, Runner, fetch_all
from ..plan.reads import (
    Shape,
    include_statement,
    include_values,
    padded,
    shape_for,
    shape_signature,
)
from .caller import Scope
from .context import Shared

__all__ = ["materialize"]


class _Budget:
    """``Limits.max_included`` for one response's includes: rows fetched so far (so that no
    statement reads much beyond it), and rows embedded (what the answer would hold)."""

    __slots__ = ("left", "most")

    def __init__(self, most: int) -> None:
        self.most = self.left = most

    def fetched(self, n: int) -> None:
        """Count ``n`` more rows read for includes (each is embedded at least once)."""
        self.left -= n
        if self.left < 0:
            self._refuse()

    def embedded(self, n: int) -> None:
        """``n`` rows are embedded below one level of rows (a part of the answer's total)."""
        if n > self.most:
            self._refuse()

    def _refuse(self) -> None:
        # The whole request is a 400: never an answer cut short without saying so.
        raise InvalidParameter(
            "include",
            f"include would embed more than {self.most} rows in one response: include "
            "fewer relations or ask for a smaller page",
        )


def materialize(
    shared: Shared,
    conn: Runner,
    shape: Shape,
    rows: Sequence[Any],
    intent: ListIntent,
    scope: Scope,
) -> list[dict[str, Any]]:
    """Rows as the client sees them, with included relations.

    The rows embedded in them, counted each time one appears (at every depth: with
    ``books.author.books`` an author's books count once per book of theirs shown), may
    not be more than ``Limits.max_included``: beyond, the request is a 400. Statements
    fetch at most one row more than is left, so such a request is refused without
    reading all it asked for."""
    return _Embedding(shared, conn, intent, scope).rows(shape, rows)[0]


class _Embedding:
    """One answer's rows and what they include: what every level of it shares."""

    def __init__(self, shared: Shared, conn: Runner, intent: ListIntent, scope: Scope) -> None:
        self.shared = shared
        self.conn = conn
        self.intent = intent
        self.scope = scope
        self.budget = _Budget(shared.limits.max_included)

    def rows(self, shape: Shape, rows: Sequence[Any]) -> tuple[list[dict[str, Any]], list[int]]:
        """The rows, and how many rows each one is in the answer (itself and every row
        embedded in it)."""
        shared, budget, intent, scope = self.shared, self.budget, self.intent, self.scope
        out = shared.encoder_for(shape).rows(rows)
        sizes = [1] * len(out)
        for joined in shape.joined:
            name, sub, at = joined.include.relation.name, joined.shape, joined.offset
            probe = at + sub.index(joined.include.relation.remote[0])  # NULL: no row joined
            present = [i for i, r in enumerate(rows) if r[probe] is not None]
            budget.fetched(len(present))
            items, item_sizes = self.rows(sub, [rows[i][at : at + sub.width] for i in present])
            for parent in out:
                parent[name] = None
            for i, item, size in zip(present, items, item_sizes, strict=True):
                out[i][name] = item
                sizes[i] += size
        for inc in shape.include:
            rel = inc.relation
            parent_keys = [shape.values(r, rel.local) for r in rows]
            wanted = sorted({k for k in parent_keys if None not in k}, key=repr)
            child_sig = shape_signature(intent, inc.children)
            child: Shape = shared.plan(
                ("child", shape.resource.name, rel.name, child_sig),
                functools.partial(shape_for, inc.resource, intent, inc.children, rel.remote),
            )
            children: list[Any] = []
            if wanted:
                n = padded(len(wanted))
                limit = shared.limits.include_limit
                stmt: Prepared = shared.plan(
                    ("include", shape.resource.name, rel.name, child_sig, n, scope.sig),
                    lambda: Prepared(include_statement(inc, child, n, limit, scope.rows)),  # noqa: B023
                )
                cap = budget.left + 1
                values = {**include_values(wanted, cap), **scope.values}
                children = fetch_all(self.conn, stmt, values)
                budget.fetched(len(children))
            rendered, rendered_sizes = self.rows(child, children)
            groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], int]]] = {}
            for raw, item, size in zip(children, rendered, rendered_sizes, strict=True):
                groups.setdefault(child.values(raw, rel.remote), []).append((item, size))
            for i, (parent, pkey) in enumerate(zip(out, parent_keys, strict=True)):
                found = groups.get(pkey, [])
                items = [item for item, _ in found]
                parent[rel.name] = items if rel.to_many else (items[0] if items else None)
                sizes[i] += sum(size for _, size in found)
        # A row shared by several parents is in the answer once for each: count it so.
        budget.embedded(sum(sizes) - len(sizes))
        return out, sizes
