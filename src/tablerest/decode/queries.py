"""Query strings -> typed intents (lists, groups, items). No SQL, no database.

Every parameter a resource does not understand is a 400 that names it, so a typo such as
``page[sise]=5`` is reported rather than silently ignored. Fields are resolved against the
resource declarations here: a hidden or write-only field is reported exactly like one that does
not exist, so errors never confirm that it does. Given the caller's :class:`View`, the fields and
relations concealed from them are unknown the same way, at the same point of the parse (before
any value is read), so that no answer differs from the one for a name that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from ..columns.typeops import aggregates, base_type, check_operator, family, groupable, sortable
from ..errors import InvalidParameter
from ..fields import Field
from ..limits import Limits
from ..names import QUERY_PARAMETERS
from ..relations import Relation
from ..resource import Catalog, CountKind, Resource, View
from .filtergroups import Leaf, RawGroup, filter_segments, read_filter
from .filtervalues import filter_value
from .paging import PAGE_PARAMETERS, count_param, paging, single
from .values import int64_value, value_parser

__all__ = [
    "HAVING_OPS",
    "OPERATORS",
    "PAGE_PARAMETERS",
    "Filter",
    "Group",
    "Include",
    "ListIntent",
    "Path",
    "QueryReader",
    "SortKey",
    "reject_query",
]

OPERATORS = (
    "eq", "ne", "lt", "le", "gt", "ge", "in", "nin",
    "like", "ilike", "contains", "startswith", "endswith", "null",
    "cs", "cd", "ov",  # arrays, ranges, jsonb: see typeops
)  # fmt: skip
#: What a repeated operator means: its values joined into one list (other operators: a 400).
_JOINED = {"eq": "in", "in": "in", "ne": "nin", "nin": "nin"}
#: Operators that, repeated, must each hold (as they always did).
_EACH_HOLDS = frozenset({"like", "ilike", "contains", "startswith", "endswith", "cs", "cd", "ov"})
_RESERVED = QUERY_PARAMETERS
_AGGREGATE = re.compile(r"^(count|sum|avg|min|max)\(([^()]*)\)$")
_HAVING = re.compile(r"^having\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")
HAVING_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
_FIELDS = re.compile(r"^fields(?:\[([^\[\]]+)\])?$")

Step = tuple[Relation, Resource]

#: Spaces and tabs around the items of a comma-separated list are ignored (nothing else is).
_BLANK = " \t"


@dataclass(frozen=True, slots=True)
class Path:
    """A field, possibly through relations: ``author.country`` is (author,) + country."""

    steps: tuple[Step, ...]
    field: Field

    @property
    def dotted(self) -> str:
        return ".".join([*(rel.name for rel, _ in self.steps), self.field.name])


@dataclass(frozen=True, slots=True)
class Filter:
    path: Path
    op: str
    value: Any
    parameter: str


@dataclass(frozen=True, slots=True)
class Group:
    """A filter group: ``or`` holds when any of its ``groups`` (its branches, each an ``and``)
    does; ``and`` when all its ``filters`` and ``groups`` do; ``not`` when that ``and`` does
    not (the complement: a row the ``and`` does not select, NULLs included). ``parameter``
    names it (``filter[or]``, ``filter[or][0][not]``)."""

    kind: Literal["and", "or", "not"]
    filters: tuple[Filter, ...] = ()
    groups: tuple[Group, ...] = ()
    parameter: str = "filter"

    def leaves(self) -> tuple[Filter, ...]:
        """Every condition in the group: its own, then each group's, in order (the order
        in which their values are bound)."""
        return (*self.filters, *(f for g in self.groups for f in g.leaves()))


@dataclass(frozen=True, slots=True)
class SortKey:
    path: Path
    descending: bool


@dataclass(frozen=True, slots=True)
class Include:
    """One included relation, with what to include below it."""

    relation: Relation
    resource: Resource
    children: tuple[Include, ...] = ()


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``fn(field)`` over each group (``count()``: the group's rows); ``name`` is its key in
    the answer (``count``, ``avg_pages``) and ``text`` as the client wrote it."""

    fn: Literal["count", "sum", "avg", "min", "max"]
    field: Field | None
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Having:
    """A condition on an aggregate, applied after grouping."""

    aggregate: Aggregate
    op: str
    value: Any
    parameter: str


@dataclass(frozen=True, slots=True)
class Grouping:
    """``group_by`` / ``aggregate`` / ``having``: rows become one per group. ``order`` sorts
    groups by a group key (its dotted name) or an aggregate (its name)."""

    keys: tuple[Path, ...]
    aggregates: tuple[Aggregate, ...]
    having: tuple[Having, ...] = ()
    order: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class ListIntent:
    """What a list request asks for."""

    limit: int
    offset: int = 0
    #: The page number when the client paged by number (for links); None otherwise.
    page_number: int | None = None
    #: The parameter the client skipped rows with (``offset`` or ``page[offset]``), which
    #: links to other pages keep using.
    offset_parameter: Literal["offset", "page[offset]"] = "offset"
    #: How to count the rows: ``exact``, ``estimated``, ``capped``, or None (no total).
    count: CountKind | None = None
    #: Conditions that must all hold, together with ``groups`` (OR and NOT groups).
    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = ()
    search: str | None = None
    #: Sparse fieldsets by resource name; a resource not listed shows every readable field.
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    include: tuple[Include, ...] = ()
    #: Aggregation (``group_by``, ``aggregate``, ``having``, ``distinct``): groups, not rows.
    grouping: Grouping | None = None
    #: Keyset paging: the raw cursor and its direction; decoded by the planner.
    cursor: str | None = None
    direction: Literal["after", "before"] | None = None
    groups: tuple[Group, ...] = ()

    def leaves(self) -> tuple[Filter, ...]:
        """Every filter condition, those in groups too (see :meth:`Group.leaves`)."""
        return Group("and", self.filters, self.groups).leaves()


def _unknown_field(parameter: str, name: str) -> InvalidParameter:
    return InvalidParameter(parameter, f"Unknown field {name!r}")


def _items(raw: str) -> list[str]:
    return list(filter(None, (p.strip(_BLANK) for p in raw.split(","))))


def _aggregate_value(agg: Aggregate, raw: str, parameter: str) -> Any:
    """A ``having`` value, read as the aggregate's result type."""
    try:
        if agg.fn == "count":
            return int64_value(raw)
        if agg.fn == "avg":
            return float(raw)
        assert agg.field is not None
        return value_parser(agg.field.column.type)(raw)
    except (ValueError, pydantic.ValidationError):
        raise InvalidParameter(parameter, f"{raw!r} is not a valid value for {agg.text}") from None


#: A query string, as ``MultiDict.to_dict(flat=False)`` gives it.
Args = Mapping[str, list[str]]


@dataclass(frozen=True, slots=True)
class QueryReader:
    """Reads the query strings of one API: names resolve through ``catalog`` (the relations
    to resources it serves) and stay within ``limits``. ``view`` is the caller's (None:
    everything declared readable): what is concealed from them does not exist."""

    catalog: Catalog
    limits: Limits = Limits()

    def list_intent(self, resource: Resource, args: Args, view: View | None = None) -> ListIntent:
        """A list request's query (filters, sort, page, includes, fields, groups)."""
        return _Reading(resource, self.catalog, self.limits, view).list_intent(args)

    def item_intent(self, resource: Resource, args: Args, view: View | None = None) -> ListIntent:
        """An item request's query: ``fields`` and ``include``; anything else is reported."""
        return _Reading(resource, self.catalog, self.limits, view).item_intent(args)


@dataclass(frozen=True, slots=True)
class _Reading:
    """One query string's parse: the resource it is about and the reader's context."""

    resource: Resource
    catalog: Catalog
    limits: Limits
    view: View | None

    def hidden(self, res: Resource, name: str) -> bool:
        """Whether the field ``name`` of ``res`` is concealed from the caller."""
        return self.view is not None and name in self.view.concealed(res)

    def concealed(self, res: Resource, name: str) -> bool:
        """Whether the relation ``name`` of ``res`` is concealed from the caller."""
        return self.view is not None and name in self.view.concealed_relations(res, self.catalog)

    def path(self, dotted: str, parameter: str) -> Path:
        """Resolve ``author.country`` against the declarations: only readable fields of exposed
        resources, through relations whose targets are exposed (and, with ``view``, neither
        concealed from the caller)."""
        parts = dotted.split(".")
        if len(parts) - 1 > self.limits.max_path_depth:
            raise InvalidParameter(
                parameter,
                f"{dotted!r} goes through more than {self.limits.max_path_depth} relations",
            )
        steps: list[Step] = []
        current = self.resource
        for part in parts[:-1]:
            rel = current.relations.get(part)
            target = self.catalog.target(rel) if rel is not None else None
            if rel is None or target is None or self.concealed(current, part):
                raise _unknown_field(parameter, dotted)
            steps.append((rel, target))
            current = target
        f = current.fields.get(parts[-1])
        if f is None or not f.readable or self.hidden(current, f.name):
            raise _unknown_field(parameter, dotted)
        return Path(tuple(steps), f)

    def include(self, raw: str) -> tuple[Include, ...]:
        tree = _include_tree(raw, self.limits.max_include_depth)

        def build(res: Resource, node: dict[str, Any], prefix: str) -> tuple[Include, ...]:
            out = []
            for name, children in node.items():
                rel = res.relations.get(name)
                target = self.catalog.target(rel) if rel is not None else None
                if rel is None or target is None or self.concealed(res, name):
                    raise InvalidParameter("include", f"Unknown relation {prefix + name!r}")
                out.append(Include(rel, target, build(target, children, f"{prefix}{name}.")))
            return tuple(out)

        return build(self.resource, tree, "")

    def list_intent(self, args: Args) -> ListIntent:
        """Parse a list request's query string (``args`` as ``MultiDict.to_dict(flat=False)``),
        for a caller who sees ``view`` of the resources (None: everything declared readable)."""
        resource, limits = self.resource, self.limits
        asked = paging(args, resource.max_page_size)
        tree = RawGroup("and", "filter")
        filters: list[Filter] = []
        fields: dict[str, tuple[str, ...]] = {}
        include: tuple[Include, ...] = ()
        sort: tuple[SortKey, ...] = ()
        search = None
        grouped = any(n in args for n in ("group_by", "aggregate", "distinct")) or any(
            n.startswith("having[") for n in args
        )
        for name, values in args.items():
            if name in PAGE_PARAMETERS or name in ("count", "format"):  # format: the http layer's
                continue
            if name in ("group_by", "aggregate", "distinct") or _HAVING.match(name):
                continue  # read below, together
            if name == "sort" and grouped:
                continue  # groups sort by their own names (read below)
            if name == "sort":
                sort = self.sort(single(args, name) or "")
            elif name == "include":
                include = self.include(single(args, name) or "")
            elif name == "q":
                if not resource.searchable:
                    raise InvalidParameter("q", f"{resource.name} has no searchable fields")
                if any(self.hidden(resource, f.name) for f in resource.searchable):
                    raise InvalidParameter("q", "Search covers fields you may not read")
                search = single(args, name) or None
            elif (m := _FIELDS.match(name)) is not None:
                self.fields(m.group(1), name, single(args, name) or "", fields)
            elif (segments := filter_segments(name)) is not None and read_filter(
                tree, segments, name, values, self.visible_field, OPERATORS
            ):
                continue  # read below, with the groups
            elif name in resource.parameters:
                # A parameter the resource names (``author=jake``): the filter it stands for.
                dotted, op = resource.parameters[name]
                filters.extend(self.filters(dotted, op, name, values))
            elif name.split(".")[0].split("[")[0] not in _RESERVED and "[" not in name:
                # The shorthand ``genre=fantasy``: equality on a field.
                filters.extend(self.filters(name, "eq", name, values))
            else:
                raise InvalidParameter(name, f"Unknown query parameter {name!r}")
        # Top-level conditions in the order given, shorthand or not, then the groups.
        filters = [*filters, *(f for leaf in tree.leaves for f in self.filters(*_leaf(leaf)))]
        groups = tuple(self.group(g) for g in tree.groups.values())
        leaves = Group("and", tuple(filters), groups).leaves()
        if len(leaves) > limits.max_filters:
            raise InvalidParameter(
                leaves[limits.max_filters].parameter,
                f"At most {limits.max_filters} filters",  # conditions in groups count
            )
        if "sort" not in args and not grouped and resource.sort is not None:
            # The resource's own default (newest first, say), without what the caller may
            # not see: a client's sort= replaces it.
            keys = resource.sort.split(",")
            sort = self.sort(",".join(k for k in keys if not self.hidden(resource, k.lstrip("-"))))
        grouping = None
        if grouped:
            _fits_groups(args, asked.direction)
            grouping = self.grouping(args)
        if grouping is None and resource.list_fields is not None and resource.name not in fields:
            # The resource's own default for lists: the client's fields= overrides it.
            shown = resource.list_fields
            fields[resource.name] = tuple(n for n in shown if not self.hidden(resource, n))
        return ListIntent(
            count=count_param(args, resource.count),
            filters=tuple(filters),
            groups=groups,
            sort=sort,
            search=search,
            fields=fields,
            include=include,
            grouping=grouping,
            **asked.window(resource.page_size),
        )

    def visible_field(self, name: str) -> bool:
        """Whether the resource has a field ``name`` the caller may filter on (a field named
        ``or`` or ``not`` is then no group: see :func:`.filtergroups.is_group`)."""
        f = self.resource.fields.get(name)
        return f is not None and f.readable and not self.hidden(self.resource, name)

    def group(self, raw: RawGroup) -> Group:
        """A group read by :func:`.filtergroups.read_filter`, each condition read as any."""
        filters = tuple(f for leaf in raw.leaves for f in self.filters(*_leaf(leaf)))
        return Group(
            raw.kind, filters, tuple(self.group(g) for g in raw.groups.values()), raw.parameter
        )

    def filters(self, dotted: str, op: str, parameter: str, values: list[str]) -> list[Filter]:
        """The filter of one parameter, given once or repeated. A repeated equality
        (``id=1&id=2``, ``filter[genre]=a&filter[genre]=b``) means any of the values, as
        react-admin's getMany sends it; repeated ``in``/``nin``/``ne`` join their values into
        one ``in``/``nin`` (``ne`` repeated is "none of them", as it always was). Text
        patterns and the array/range/jsonb operators keep their meaning: each must hold
        (``filter[title][contains]=a&filter[title][contains]=b``). A comparison or ``null``
        repeated (two lower bounds?) is a 400 naming the parameter."""
        if op not in OPERATORS:
            raise InvalidParameter(
                parameter, f"Unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
            )
        path = self.path(dotted, parameter)
        col_type = path.field.column.type
        owner = path.steps[-1][1] if path.steps else self.resource
        listed = owner.value_lists.get(path.field.name)
        if listed is not None:
            raise InvalidParameter(
                parameter,
                f"{path.dotted} lists values of the relation {listed.relation}: filter "
                f"through it (filter[{listed.relation}.<field>]=...)",
            )
        check_operator(col_type, op, path.dotted, parameter)

        def value(raw: str) -> Any:
            return filter_value(col_type, path.dotted, op, raw, parameter, self.limits)

        if len(values) == 1 or op in _EACH_HOLDS:
            return [Filter(path, op, value(raw), parameter) for raw in values]
        joined = _JOINED.get(op)
        if joined is None or family(base_type(col_type)) != "scalar":
            raise InvalidParameter(
                parameter,
                f"{parameter} is given more than once: repeated, equality and in mean any of "
                "the values, ne and nin none of them, text and array operators that each "
                f"holds; {op} on {path.dotted} has no such meaning",
            )
        parsed: list[Any] = []
        for raw in values:
            found = value(raw)  # one value, or a list
            parsed.extend(found if op in ("in", "nin") else (found,))
        if len(parsed) > self.limits.max_in_values:
            raise InvalidParameter(
                parameter, f"at most {self.limits.max_in_values} values in a list"
            )
        return [Filter(path, joined, tuple(parsed), parameter)]

    def grouping(self, args: Args) -> Grouping:
        """``group_by=a,b.c``, ``aggregate=count(),avg(f)``, ``having[avg(f)][ge]=3``,
        ``distinct=a`` (``group_by`` without aggregates) and ``sort`` over their names."""
        group_raw, distinct_raw = single(args, "group_by"), single(args, "distinct")
        if group_raw is not None and distinct_raw is not None:
            raise InvalidParameter("distinct", "Use either distinct or group_by")
        parameter = "distinct" if distinct_raw is not None else "group_by"
        keys: list[Path] = []
        for dotted in _items(group_raw if group_raw is not None else distinct_raw or ""):
            path = self.path(dotted, parameter)
            if any(rel.to_many for rel, _ in path.steps):
                raise InvalidParameter(parameter, f"Cannot group by {dotted!r}: a to-many relation")
            if any(k.dotted == path.dotted for k in keys):
                raise InvalidParameter(parameter, f"{dotted!r} is given twice")
            if not groupable(path.field.column.type):
                raise InvalidParameter(parameter, f"Cannot group by {dotted!r}: it has no equality")
            keys.append(path)
        aggregates: list[Aggregate] = []
        if distinct_raw is not None and "aggregate" in args:
            raise InvalidParameter("aggregate", "distinct takes no aggregates: use group_by")
        for text in _items(single(args, "aggregate") or ""):
            agg = self.aggregate(text)
            if any(a.name == agg.name for a in aggregates):
                raise InvalidParameter("aggregate", f"{text!r} is given twice")
            aggregates.append(agg)
        if not keys and not aggregates:
            raise InvalidParameter(parameter, "Name fields to group by, or aggregates")
        by_text = {a.text: a for a in aggregates}
        having = _having(args, by_text)
        return Grouping(tuple(keys), tuple(aggregates), having, _group_order(args, keys, by_text))

    def aggregate(self, text: str) -> Aggregate:
        m = _AGGREGATE.match(text.replace(" ", ""))
        if m is None:
            raise InvalidParameter(
                "aggregate", f"{text!r} is not count(), count(f), sum(f), avg(f), min(f) or max(f)"
            )
        fn, name = m.group(1), m.group(2)
        if not name:
            if fn != "count":
                raise InvalidParameter("aggregate", f"{fn}() needs a field")
            return Aggregate("count", None, "count", "count()")
        resource = self.resource
        f = resource.fields.get(name)
        if f is None or not f.readable or self.hidden(resource, name):
            raise InvalidParameter("aggregate", f"Unknown field {name!r}")
        if fn not in aggregates(f.column.type):
            if fn in ("sum", "avg"):
                raise InvalidParameter("aggregate", f"{fn}() takes a number field; {name!r} is not")
            raise InvalidParameter("aggregate", f"{fn}() cannot compare the values of {name!r}")
        return Aggregate(fn, f, f"{fn}_{name}", f"{fn}({name})")  # type: ignore[arg-type]

    def sort(self, raw: str) -> tuple[SortKey, ...]:
        keys: list[SortKey] = []
        seen: set[str] = set()
        for part in filter(None, (p.strip(_BLANK) for p in raw.split(","))):
            descending = part.startswith("-")
            dotted = part.lstrip("-+")
            if _AGGREGATE.match(dotted.replace(" ", "")):
                raise InvalidParameter(
                    "sort", f"{dotted!r} sorts groups: ask for it with aggregate= (and group_by=)"
                )
            path = self.path(dotted, "sort")
            if any(rel.to_many for rel, _ in path.steps):
                raise InvalidParameter(
                    "sort", f"Cannot sort by {dotted!r}: it goes through a to-many relation"
                )
            if dotted in seen:
                raise InvalidParameter("sort", f"{dotted!r} is given twice")
            if not sortable(path.field.column.type):
                raise InvalidParameter(
                    "sort", f"Cannot sort by {dotted!r}: its values have no order to rely on"
                )
            seen.add(dotted)
            keys.append(SortKey(path, descending))
        return tuple(keys)

    def fields(
        self, type_name: str | None, parameter: str, raw: str, out: dict[str, tuple[str, ...]]
    ) -> None:
        target = self.resource
        if type_name is not None and type_name != target.name:
            target_res = self.catalog.by_name(type_name)
            if target_res is None:
                raise InvalidParameter(parameter, f"Unknown resource {type_name!r}")
            target = target_res
        names = tuple(n.strip(_BLANK) for n in raw.split(",") if n.strip(_BLANK))
        for n in names:
            f = target.fields.get(n)
            # Whether or not the request reads ``target``: a concealed name answers as a
            # missing one.
            if f is None or not f.readable or self.hidden(target, n):
                raise _unknown_field(parameter, n)
        out[target.name] = names

    def item_intent(self, args: Args) -> ListIntent:
        """Item routes take ``fields`` and ``include``; anything else is reported."""
        fields: dict[str, tuple[str, ...]] = {}
        include: tuple[Include, ...] = ()
        for name in args:
            if name == "include":
                include = self.include(single(args, name) or "")
            elif (m := _FIELDS.match(name)) is not None:
                self.fields(m.group(1), name, single(args, name) or "", fields)
            elif name == "format":
                raise InvalidParameter(
                    name, "format (csv, ndjson) applies to lists; one row is JSON"
                )
            else:
                raise InvalidParameter(name, f"Unknown query parameter {name!r}")
        return ListIntent(1, fields=fields, include=include)


def _include_tree(raw: str, max_depth: int) -> dict[str, Any]:
    """``include=a.b,a.c,d`` as a tree of relation names: ``{"a": {"b": {}, "c": {}}, "d": {}}``."""
    tree: dict[str, Any] = {}
    for dotted in filter(None, (p.strip(_BLANK) for p in raw.split(","))):
        parts = dotted.split(".")
        if len(parts) > max_depth:
            raise InvalidParameter("include", f"{dotted!r} is deeper than {max_depth}")
        node = tree
        for part in parts:
            node = node.setdefault(part, {})
    return tree


def _fits_groups(args: Args, direction: str | None) -> None:
    """400 for what a list of groups cannot take: a cursor (``direction``), ``include``,
    ``fields``."""
    if direction is not None:
        raise InvalidParameter(
            f"page[{direction}]", "Groups are paged by page[number] or offset, not cursors"
        )
    for name in ("include", "fields"):
        if name in args or any(n.startswith("fields[") for n in args if name == "fields"):
            raise InvalidParameter(name, f"{name} does not apply to groups")


def _having(args: Args, by_text: Mapping[str, Aggregate]) -> tuple[Having, ...]:
    """``having[avg(f)][ge]=3``: conditions on the aggregates asked for (by their text)."""
    having: list[Having] = []
    for name, values in args.items():
        m = _HAVING.match(name)
        if m is None:
            continue
        text, op = m.group(1).replace(" ", ""), m.group(2) or "eq"
        asked = by_text.get(text)
        if asked is None:
            raise InvalidParameter(name, f"{text!r} is not among the aggregates asked for")
        if op not in HAVING_OPS:
            raise InvalidParameter(name, f"Unknown operator {op!r} ({', '.join(HAVING_OPS)})")
        for raw in values:
            having.append(Having(asked, op, _aggregate_value(asked, raw, name), name))
    return tuple(having)


def _group_order(
    args: Args, keys: list[Path], by_text: Mapping[str, Aggregate]
) -> tuple[tuple[str, bool], ...]:
    """``sort`` over groups: by a group key's dotted name or an aggregate's text."""
    order: list[tuple[str, bool]] = []
    names = {k.dotted for k in keys} | set(by_text)
    for part in _items(single(args, "sort") or ""):
        descending = part.startswith("-")
        name = part.lstrip("-+").replace(" ", "")
        if name not in names:
            raise InvalidParameter("sort", f"Groups sort by their keys or aggregates, not {name!r}")
        order.append((by_text[name].name if name in by_text else name, descending))
    return tuple(order)


def _leaf(leaf: Leaf) -> tuple[str, str, str, list[str]]:
    return leaf.dotted, leaf.op, leaf.parameter, leaf.values


def reject_query(args: Mapping[str, list[str]]) -> None:
    """Write routes take no query parameters."""
    for name in args:
        raise InvalidParameter(name, f"Unknown query parameter {name!r}")
