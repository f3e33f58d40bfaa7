"""The names clients use: a table's and its relations' in URLs (safe path steps, from any
script), and fields' and relations' aliases (``aliases=``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

__all__ = ["QUERY_PARAMETERS", "Aliases", "aliased", "camel", "slug"]

#: What a resource's name keeps of a table's: letters and digits of any script, ``_ . ~ -``
#: (a URL path's unreserved characters; the others would need escaping in every link).
_UNSAFE = re.compile(r"[^\w.~-]+")


def slug(name: str) -> str:
    """A resource name for a table name: letters (of any script: ``Ünïcödé`` stays) and
    digits kept, each run of other characters but ``_ . ~ -`` (spaces, ``/``, ``?``...) made
    one ``_`` (``Order Items`` -> ``Order_Items``). Links percent-encode the letters."""
    s = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip("_")
    # ``.`` and ``..`` are path steps that clients and proxies remove from URLs.
    return s if s.strip(".") else "table"


#: The query language's own parameter names (a resource's ``parameters=`` cannot take them).
QUERY_PARAMETERS = frozenset(
    {"page", "limit", "offset", "count", "sort", "fields", "include", "filter", "q", "format",
     "group_by", "aggregate", "having", "distinct", "on_conflict"}
)  # fmt: skip

#: What ``aliases=`` takes: a function from a field's or relation's name (the model's attribute
#: or the column's) to the name clients use (``pydantic.alias_generators.to_camel``), or a
#: mapping of the names to change.
Aliases = Mapping[str, str] | Callable[[str], str]

#: A name clients use: letters, digits, ``_`` and ``-`` (not first), so that it reads the same
#: in every place the query language puts names (``sort=-a,b``, ``filter[a.b]``, ``count(a)``).
_ALIAS = re.compile(r"[^\W\d]\w*(?:-\w+)*")


def camel(name: str) -> str:
    """``created_at`` -> ``createdAt``: a snake_case name in camelCase (pydantic's
    ``to_camel``); any other name (``First Name``, ``createdAt``) as it is."""
    if not _SNAKE.fullmatch(name) or "_" not in name.strip("_"):
        return name
    from pydantic.alias_generators import to_camel

    return to_camel(name)


_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def aliased(resource: str, names: Iterable[str], aliases: Aliases | None) -> dict[str, str]:
    """Each name -> the name clients use for it; ValueError, naming ``resource``, for a
    mapping that names no such field, an alias that is not a usable name, or two names that
    would have one alias."""
    names = list(names)
    if aliases is None:
        return {n: n for n in names}
    if isinstance(aliases, Mapping):
        unknown = sorted(set(aliases) - set(names))
        if unknown:
            raise ValueError(f"{resource}: aliases names unknown fields or relations {unknown}")
        out = {n: aliases.get(n, n) for n in names}
    else:
        out = {n: aliases(n) for n in names}
    # A name kept as it is stays usable whatever it holds (a database's "First Name").
    bad = sorted(
        str(a)
        for n, a in out.items()
        if a != n and (not isinstance(a, str) or not _ALIAS.fullmatch(a))
    )
    if bad:
        raise ValueError(
            f"{resource}: aliases {bad} are not usable names (letters, digits, '_', and '-' "
            "between them)"
        )
    seen: dict[str, str] = {}
    for name, alias in out.items():
        if alias in seen:
            raise ValueError(f"{resource}: {seen[alias]!r} and {name!r} would both be {alias!r}")
        seen[alias] = name
    return out
