"""Bounds on what one request may ask for, in one place: the parsers, the body decoders and
the batch endpoint read them; beyond them a request is a 400 rather than a slow query."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_OFFSET", "MAX_PAGE_NUMBER", "Limits"]

# Bounds that keep every OFFSET a database can bind (64 bits) far out of reach.
MAX_PAGE_NUMBER = 10**9
MAX_OFFSET = 10**12


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one request may ask for: beyond them, a 400 rather than a slow query."""

    max_filters: int = 20
    max_in_values: int = 100
    max_path_depth: int = 3
    max_include_depth: int = 3
    #: Items of an included to-many relation shown per parent row.
    include_limit: int = 50
    #: Rows ``include`` embeds in one response, every relation and depth together.
    max_included: int = 1000
    #: Nesting of JSON request bodies (objects and arrays), e.g. in JSON columns.
    max_json_depth: int = 32
    #: Operations in one ``POST {prefix}/batch``.
    max_batch_operations: int = 100
    #: Rows one write links a row to through a many-to-many relation (a relationship
    #: request's linkage, a nested array, a value list): each is looked up on its own.
    max_links: int = 1000
    #: Characters in one ``like``/``ilike`` pattern, and wildcards (``%``, ``_``) in it: each
    #: change-feed event is matched against it in Python, the list's SQL runs it per row.
    max_like_length: int = 200
    max_like_wildcards: int = 20
