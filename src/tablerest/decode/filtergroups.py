"""The syntax of ``filter[...]`` parameters, OR and NOT groups included. No SQL, no fields.

A filter parameter is ``filter`` followed by bracketed segments, as the JS ``qs`` library and
Strapi write nested objects::

    filter[genre]=fantasy                        a condition (a "leaf"): field, then operator
    filter[or][0][year][lt]=1950                 any branch of the OR holds; a branch ANDs
    filter[or][1][genre]=fantasy                 the conditions under its index
    filter[not][genre]=fantasy                   NOT (the AND of the conditions under it)
    filter[or][0][not][genre]=x                  groups nest, up to MAX_GROUP_DEPTH

This module only reads that structure into a tree of :class:`Leaf` conditions; what a leaf
means (its field, operator and value) is read by the same code as any other filter
(:mod:`.queries`). A field may itself be named ``or`` or ``not`` (database-first tables can
have them); :func:`is_group` says when the word is the field instead of a group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InvalidParameter

__all__ = [
    "MAX_BRANCH",
    "MAX_GROUP_DEPTH",
    "Leaf",
    "RawGroup",
    "filter_segments",
    "is_group",
    "read_filter",
]

#: How many groups (``or``, ``not``) a condition may be nested in.
MAX_GROUP_DEPTH = 3
#: Branch indexes of an ``or`` are 0 to MAX_BRANCH - 1 (they need not be contiguous).
MAX_BRANCH = 20

_NAME = re.compile(r"^filter((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"^[0-9]{1,2}$")

GroupKind = Literal["and", "or", "not"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """One condition as written: ``filter[...][dotted][op]=values``."""

    dotted: str
    op: str
    parameter: str
    values: list[str]


@dataclass(slots=True)
class RawGroup:
    """Conditions read so far, grouped as written. An ``and`` node (the top level, a branch of
    an ``or``) and a ``not`` node hold leaves and groups; an ``or`` holds branches (``and``
    nodes) by index. ``parameter`` is the prefix that names the group (``filter[or]``)."""

    kind: GroupKind
    parameter: str
    leaves: list[Leaf] = field(default_factory=list)
    groups: dict[str, RawGroup] = field(default_factory=dict)


def filter_segments(name: str) -> list[str] | None:
    """``filter[a][b]`` -> ``["a", "b"]``; None when ``name`` is no ``filter[...]``."""
    m = _NAME.match(name)
    return None if m is None else _SEGMENT.findall(m.group(1))


def is_group(
    segments: list[str], has_field: Callable[[str], bool], operators: Container[str]
) -> bool:
    """Whether ``segments`` start with a group rather than a field. ``or`` and ``not`` are
    groups, except for a resource with a field of that name (that the caller may see):
    ``or`` is then the field unless a branch index follows it (``filter[or][0]...``), and
    ``not`` is the field when nothing or an operator follows it (``filter[not][eq]=x``)."""
    word = segments[0]
    if word not in ("or", "not") or not has_field(word):
        return word in ("or", "not")
    rest = segments[1:]
    if word == "or":
        return bool(rest) and _INDEX.match(rest[0]) is not None
    return not (not rest or (len(rest) == 1 and rest[0] in operators))


def _prefix(segments: list[str]) -> str:
    return "filter" + "".join(f"[{s}]" for s in segments)


def read_filter(
    root: RawGroup,
    segments: list[str],
    parameter: str,
    values: list[str],
    has_field: Callable[[str], bool],
    operators: Container[str],
) -> bool:
    """Add the condition of one ``filter[...]`` parameter to the tree under ``root``. False
    for a name that is no condition and no group (``filter[a][b][c]``, ``filter[]``): the
    caller reports it as an unknown parameter. A malformed group is a 400 naming it."""
    node, depth, at = root, 0, 0
    while at < len(segments) and is_group(segments[at:], has_field, operators):
        word = segments[at]
        depth += 1
        if depth > MAX_GROUP_DEPTH:
            raise InvalidParameter(
                parameter, f"Filter groups (or, not) nest at most {MAX_GROUP_DEPTH} deep"
            )
        if word == "not":
            at += 1
            node = node.groups.setdefault("not", RawGroup("not", _prefix(segments[:at])))
            continue
        group = node.groups.setdefault("or", RawGroup("or", _prefix(segments[: at + 1])))
        if at + 1 == len(segments):
            raise InvalidParameter(
                parameter,
                f"{parameter} needs a branch index and a condition: {parameter}[0][field]=value",
            )
        index = segments[at + 1]
        if _INDEX.match(index) is None or int(index) >= MAX_BRANCH:
            raise InvalidParameter(
                parameter,
                f"The branches of {group.parameter} are numbered 0 to {MAX_BRANCH - 1}, "
                f"not {index!r}",
            )
        at += 2
        key = str(int(index))  # [01] and [1] are one branch
        node = group.groups.setdefault(key, RawGroup("and", _prefix(segments[:at])))
    rest = segments[at:]
    if not rest or any(not s for s in rest) or len(rest) > 2:
        if depth == 0:
            return False  # as any other unknown parameter
        raise InvalidParameter(
            parameter,
            f"{parameter} is no condition: write {_prefix(segments[:at])}[field]=value "
            f"or {_prefix(segments[:at])}[field][operator]=value",
        )
    node.leaves.append(Leaf(rest[0], rest[1] if len(rest) == 2 else "eq", parameter, values))
    return True
