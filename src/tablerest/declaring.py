"""Declaration parts: the options of ``Api.resource`` checked, and what is derived from them.

Each function takes the pieces of a declaration it needs (the resource's name, its table, its
fields by the names clients use, ...) and returns the checked value, or raises ``ValueError``
saying which option is wrong and why. :class:`tablerest.resource.Resource` calls them once, when
it is declared; they sit below it (they never see a ``Resource``), so that the class keeps to
what a declaration is and does, and an option's rules read in one place.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from .envelopes import Envelope
from .fields import Field
from .names import QUERY_PARAMETERS, slug
from .relations import Relation, unique_sets
from .viewer import caller_type

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

__all__ = [
    "ALL_METHODS",
    "COUNT_KINDS",
    "DATETIME_FORMATS",
    "CountKind",
    "DatetimeFormat",
    "allowed_methods",
    "check_counting",
    "check_representation",
    "client_relations",
    "default_count",
    "envelope_of",
    "list_fields_of",
    "lookup_fields",
    "mapper_needs_orm",
    "one_caller_type",
    "parameters_of",
    "searchable_fields",
    "unique_violation_mode",
]

#: How a list may count its rows: ``COUNT(*)``, the planner's estimate, or up to a cap.
CountKind = Literal["exact", "estimated", "capped"]
COUNT_KINDS: tuple[CountKind, ...] = ("exact", "estimated", "capped")
#: How rows write timestamps: as read, or in UTC with ``Z`` (to the microsecond, or the ms).
DatetimeFormat = Literal["iso", "utc", "utc-ms"]
DATETIME_FORMATS: tuple[DatetimeFormat, ...] = ("iso", "utc", "utc-ms")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: ``parameters=`` values: a dotted field path, with an operator (``writer.username``,
#: ``created_at[ge]``); and the names such parameters may take.
_PARAMETER = re.compile(r"([^\[\],]+)(?:\[([a-z]+)\])?")
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

#: The name clients use for a field or relation, given that name or the model's.
Named = Callable[[str], str]


def unique_violation_mode(given: Any) -> Literal["conflict", "validation"] | None:
    """``unique_violation=`` checked (None: as the Api says)."""
    if given not in (None, "conflict", "validation"):
        raise ValueError("unique_violation must be 'conflict' or 'validation'")
    return cast('Literal["conflict", "validation"] | None', given)


def check_counting(count: Any, count_cap: int) -> None:
    """``count=`` and ``count_cap=`` checked."""
    if count is not None and count not in COUNT_KINDS:
        raise ValueError(f"count must be one of {', '.join(COUNT_KINDS)} or None")
    if count_cap < 1:
        raise ValueError("count_cap must be at least 1")


def envelope_of(resource: str, given: Envelope | str | None) -> Envelope | None:
    """``envelope=`` as an :class:`Envelope` whose list member is filled in (a string is the
    item member's name)."""
    if isinstance(given, str):
        given = Envelope(given)
    return given.named(resource) if given is not None else None


def default_count(count: CountKind | None, envelope: Envelope | None) -> CountKind | None:
    """How lists count their rows when the client does not say: an envelope's count member
    is in every list, so it counts exactly unless ``count=`` says how."""
    if count is None and envelope is not None and envelope.count is not None:
        return "exact"
    return count


def check_representation(
    format: str, datetime_format: str, page_size: int, max_page_size: int
) -> tuple[Literal["json", "jsonapi"], DatetimeFormat]:
    """``format=`` and ``datetime_format=`` checked (and returned typed), and the page sizes."""
    if format not in ("json", "jsonapi"):
        raise ValueError("format must be 'json' or 'jsonapi'")
    if datetime_format not in DATETIME_FORMATS:
        raise ValueError(f"datetime_format must be one of {', '.join(DATETIME_FORMATS)}")
    if page_size < 1 or max_page_size < page_size:
        raise ValueError("need 1 <= page_size <= max_page_size")
    return cast('Literal["json", "jsonapi"]', format), datetime_format


def lookup_fields(
    resource: str,
    table: sa.Table,
    fields: Mapping[str, Field],
    named: Named,
    names: Sequence[str],
) -> tuple[Field, ...]:
    """The fields ``lookup=`` names, checked: readable stored columns that together are
    unique (the primary key, a unique constraint or a unique index) and never null."""
    found = []
    for name in names:
        f = fields.get(named(name))
        if f is None or not f.readable or f.expression is not None:
            raise ValueError(
                f"{resource}: lookup names {name!r}, not a readable stored field (a hidden, "
                "write-only or computed field cannot name rows in URLs)"
            )
        if f.column.nullable and not f.column.primary_key:
            raise ValueError(
                f"{resource}: lookup field {f.name!r} is nullable: a row without a value "
                "could have no URL (declare the column NOT NULL)"
            )
        found.append(f)
    if not found or len({f.name for f in found}) != len(found):
        raise ValueError(f"{resource}: lookup must name one or more distinct fields")
    wanted = {f.column for f in found}
    if wanted not in [set(u) for u in unique_sets(table)]:
        raise ValueError(
            f"{resource}: lookup {[f.name for f in found]} is not unique: declare a unique "
            "constraint or index on exactly these columns"
        )
    return tuple(found)


def one_caller_type(
    resource: str, fields: Iterable[Field], where: ColumnElement[bool] | None
) -> sa.types.TypeEngine[Any] | None:
    """The one type ``caller.id`` has in these fields and ``where``: one id is bound for all."""
    types = [f.caller_type for f in fields if f.caller_type is not None]
    if where is not None:
        found = caller_type(f"{resource}: where", where)
        types += [found] if found is not None else []
    if len({type(t) for t in types}) > 1:
        raise ValueError(
            f"{resource}: caller.id is compared with columns of different types in its "
            "computed fields"
        )
    return types[0] if types else None


def allowed_methods(
    resource: str, methods: Iterable[str] | None, *, keyed: bool, view: bool
) -> frozenset[str]:
    """``methods=`` checked against what the resource can do: a table without a primary key
    (``keyed``), or a view of one (``where=``), is only read."""
    if not keyed or view:
        # A view of the table (where=) is read: a write through it could make or change
        # rows it does not show.
        allowed: tuple[str, ...] = ("GET",)
    else:
        allowed = ALL_METHODS
    chosen = tuple(m.upper() for m in (methods or allowed))
    bad = sorted(set(chosen) - set(allowed))
    if bad:
        raise ValueError(f"{resource}: methods {bad} not possible here (allowed: {allowed})")
    return frozenset(chosen)


def searchable_fields(
    resource: str, fields: Mapping[str, Field], named: Named, names: Iterable[str]
) -> tuple[Field, ...]:
    """The fields ``searchable=`` names, checked: readable text."""
    searchable = [named(n) for n in names]
    not_text = [
        n
        for n in searchable
        if n not in fields
        or not fields[n].readable
        or not isinstance(fields[n].column.type, sa.String)
    ]
    if not_text:
        raise ValueError(f"{resource}: searchable fields must be readable text: {not_text}")
    return tuple(fields[n] for n in searchable)


def list_fields_of(
    resource: str, fields: Mapping[str, Field], named: Named, names: Iterable[str] | None
) -> tuple[str, ...] | None:
    """``list_fields=`` checked: one or more readable fields (None: lists show all)."""
    if names is None:
        return None
    shown = tuple(named(n) for n in names)
    bad = [n for n in shown if n not in fields or not fields[n].readable]
    if bad or not shown:
        raise ValueError(f"{resource}: list_fields must name readable fields: {bad}")
    return shown


def client_relations(
    resource: str,
    relations: Mapping[str, Relation],
    aliases: Mapping[str, str],
    fields: Mapping[str, Field],
) -> dict[str, Relation]:
    """The relations under the names clients use, none of them a field's name."""
    renamed = {aliases[n]: dataclasses.replace(r, name=aliases[n]) for n, r in relations.items()}
    clash = sorted(set(renamed) & set(fields))
    if clash:
        raise ValueError(
            f"{resource}: relations {clash} have the names of fields (a relation from a "
            "foreign key is named after it: declare a relationship() of another name on "
            "the model, or give the field another name)"
        )
    return renamed


def link_creating(
    resource: str, names: Iterable[str], named: Named, relations: Mapping[str, Relation]
) -> frozenset[str]:
    """``get_or_create=`` checked: many-to-many relations, under the names clients use."""
    out = frozenset(named(n) for n in ([names] if isinstance(names, str) else names))
    bad = sorted(n for n in out if n not in relations or relations[n].through is None)
    if bad:
        raise ValueError(f"{resource}: get_or_create names no many-to-many relation: {bad}")
    return out


def parameters_of(
    resource: str,
    specs: Mapping[str, str] | None,
    named: Named,
    fields: Mapping[str, Field],
    relations: Mapping[str, Relation],
) -> dict[str, tuple[str, str]]:
    """``parameters=`` checked: name -> (dotted field path, operator)."""
    return {
        name: _parameter(resource, name, spec, named, fields, relations)
        for name, spec in (specs or {}).items()
    }


def _parameter(
    resource: str,
    name: str,
    spec: str,
    named: Named,
    fields: Mapping[str, Field],
    relations: Mapping[str, Relation],
) -> tuple[str, str]:
    """A ``parameters=`` entry checked: a new name, and a field path (its first step a field
    or relation of the resource; the rest is checked by the first list that uses it) with an
    optional ``[op]``."""
    m = _PARAMETER.fullmatch(spec) if isinstance(spec, str) else None
    if m is None:
        raise ValueError(f"{resource}: parameters[{name!r}] is not 'field.path' or 'path[op]'")
    dotted, op = m.group(1), m.group(2) or "eq"
    first = named(dotted.split(".")[0])
    # A field's name may be taken: the parameter wins over the shorthand ``field=value``
    # (``filter[field]`` still filters on the field).
    if not _PARAMETER_NAME.fullmatch(name) or name in QUERY_PARAMETERS:
        raise ValueError(
            f"{resource}: parameters[{name!r}]: the name is taken (a parameter of the "
            "query language) or not a plain name"
        )
    if first not in fields and first not in relations:
        raise ValueError(f"{resource}: parameters[{name!r}] names no field {first!r}")
    return ".".join([first, *dotted.split(".")[1:]]), op


_MAPPER_EVENTS = (
    "before_insert",
    "after_insert",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)


#: Listeners SQLAlchemy registers itself on every mapped class (module, name).
_OWN_LISTENERS = {("sqlalchemy.orm.mapper", "_event_on_init")}


def _listened(listeners: Any) -> bool:
    """Whether the application listens (SQLAlchemy's own listeners do not count)."""
    return any(
        (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)) not in _OWN_LISTENERS
        for fn in listeners
    )


def mapper_needs_orm(mapper: Mapper[Any]) -> bool:
    """Whether writes to the mapped class must go through the ORM session: it has
    ``@validates`` methods, mapper events, a version counter or delete cascades."""
    if mapper.validators or mapper.version_id_col is not None:
        return True
    if any(_listened(getattr(mapper.dispatch, ev)) for ev in _MAPPER_EVENTS):
        return True
    if _listened(mapper.class_manager.dispatch.init):
        return True
    return any(rel.cascade.delete or rel.cascade.delete_orphan for rel in mapper.relationships)


def check_statuses(put: str, create_status: int) -> None:
    """``put=`` and ``create_status=`` checked."""
    if put not in ("replace", "update"):
        raise ValueError("put must be 'replace' or 'update'")
    if create_status not in (200, 201):
        raise ValueError("create_status must be 201 or 200")


def default_sort(
    resource: str, fields: Mapping[str, Field], named: Named, spec: str | None
) -> str | None:
    """``sort=`` checked: readable fields, ``-`` for descending, in the names clients use
    (the model's are taken too)."""
    if spec is None:
        return None
    keys = []
    for part in spec.split(","):
        desc = part.strip().startswith("-")
        name = named(part.strip().lstrip("-"))
        f = fields.get(name)
        if f is None or not f.readable:
            raise ValueError(f"{resource}: sort names no readable field {name!r}")
        keys.append(("-" if desc else "") + name)
    return ",".join(keys)


def served_path(name: str, path: str) -> str:
    """``path=`` checked: steps of letters, digits and ``_ . ~ -`` between ``/``, none of them
    ``.`` or ``..`` (which clients and proxies remove from URLs)."""
    steps = path.split("/") if isinstance(path, str) else [""]
    if any(not s or slug(s) != s or not s.strip(".") for s in steps):
        raise ValueError(
            f"{name}: path={path!r} is not steps of letters, digits and '_.~-' between '/'"
        )
    return path
