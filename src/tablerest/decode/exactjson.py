"""JSON that keeps every number as it was sent: request bodies are read, and stored JSON
values written back, without turning a large integer into a float."""

from __future__ import annotations

from typing import Any

import pydantic_core

__all__ = ["dump_exact", "load_exact"]


def load_exact(raw: bytes) -> Any:
    """JSON -> Python with every number kept as sent: integers of any size stay integers
    (orjson reads those beyond 64 bits as floats, which would change them). ValueError when
    it is not JSON."""
    return pydantic_core.from_json(raw)


def dump_exact(value: Any) -> bytes:
    """Python -> JSON for values :func:`load_exact` read (and decimals, dates, UUIDs)."""
    return pydantic_core.to_json(value, fallback=str)
