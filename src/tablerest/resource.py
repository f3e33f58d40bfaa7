"""Resource declarations: what one table or model exposes, and how.

A :class:`Resource` is built once, at registration, from a SQLAlchemy ``Table`` (and the mapped
class when there is one) plus the options given to ``Api.resource``. Every later stage reads it;
nothing re-derives it from the model. It imports no stage: only its parts, each built in a
module of its own (:mod:`tablerest.fields`, :mod:`tablerest.relations`, the names of
:mod:`tablerest.names`), the validators it derives (:mod:`tablerest.schema`) and the grant
values its policy speaks (:mod:`tablerest.grants`).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import orjson
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.util import ClauseAdapter

from .calling import RowCalls
from .envelopes import Envelope
from .errors import ErrorRendererSpec, UniqueViolationMode
from .fields import ComputedSpec, Field, declared_fields, view_condition
from .grants import AccessPolicy
from .names import QUERY_PARAMETERS, Aliases, aliased, slug
from .relations import Relation, declared_relations
from .schema import ResourceSchema
from .viewer import caller_type

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper, Session

#: How a list may count its rows: ``COUNT(*)``, the planner's estimate, or up to a cap.
CountKind = Literal["exact", "estimated", "capped"]
COUNT_KINDS: tuple[CountKind, ...] = ("exact", "estimated", "capped")
#: ``parameters=`` values: a dotted field path, with an operator (``writer.username``,
#: ``created_at[ge]``); and the names such parameters may take.
_PARAMETER = re.compile(r"([^\[\],]+)(?:\[([a-z]+)\])?")
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: How rows write timestamps: as read, or in UTC with ``Z`` (to the microsecond, or the ms).
DatetimeFormat = Literal["iso", "utc", "utc-ms"]
DATETIME_FORMATS: tuple[DatetimeFormat, ...] = ("iso", "utc", "utc-ms")

__all__ = [
    "COUNT_KINDS",
    "HOOK_EVENTS",
    "Catalog",
    "CountKind",
    "Hook",
    "Resource",
    "View",
    "WriteContext",
    "linkage_columns",
]

HookEvent = Literal[
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
]
HOOK_EVENTS: tuple[HookEvent, ...] = get_args(HookEvent)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class WriteContext:
    """What a hook sees: the resource, the action and the data of one write.

    ``data`` is the validated input (field name -> Python value) and may be changed by
    ``before_*`` hooks; on PUT it also holds the defaults (or nulls) that fields left out are
    reset to. ``method`` is the HTTP method (``PUT`` or ``PATCH`` tell a replace from a partial
    update). ``row`` is the row as the client will see it (``after_*`` hooks);
    ``key`` is the primary key as a tuple (update and delete); ``session`` is the SQLAlchemy
    session of the request's transaction: hooks can write through it, and raising any
    exception rolls everything back. ``identity`` is who the write is for (what
    ``api.identity()`` returns for the request, or an application call's ``identity=``;
    None when anonymous, or for a trusted call made for no one).
    """

    resource: Resource
    action: Literal["create", "update", "delete"]
    session: Session
    method: str
    data: dict[str, Any] = field(default_factory=dict)
    key: tuple[Any, ...] | None = None
    row: dict[str, Any] | None = None
    identity: Any = None


Hook = Callable[[WriteContext], None]
Validator = Callable[[Any], Any]


class Catalog(Protocol):
    """The registered resources, as the stages that follow relations need them."""

    def target(self, relation: Relation) -> Resource | None:
        """The resource serving a relation's target table, or None if it is not exposed."""

    def by_name(self, name: str) -> Resource | None:
        """The resource registered under ``name``."""


class View(Protocol):
    """What one caller may see of the declarations, worked out once per request by the
    authorize stage (:class:`tablerest.auth.access.Access`). For that caller, a concealed field
    or relation does not exist: the parser reports it as unknown, rows and documents leave it
    out, its routes are 404s."""

    def concealed(self, resource: Resource) -> frozenset[str]:
        """Field names of ``resource`` hidden from the caller (``hidden_unless``)."""

    def concealed_relations(self, resource: Resource, catalog: Catalog) -> frozenset[str]:
        """Relation names of ``resource`` the caller may not follow."""


class Resource(RowCalls):
    """What one table exposes through the API. Built by ``Api.resource``; read by every stage.

    Hooks and validators can be attached after registration::

        books = api.resource(Book, hidden=["secret"])

        @books.hook("before_create")
        def stamp(ctx):
            ctx.data["created_by"] = current_user()

        @books.validator("title")
        def no_shouting(value):
            if value.isupper():
                raise ValueError("title must not be all upper case")
            return value
    """

    def __init__(
        self,
        table: sa.Table,
        *,
        model: type[Any] | None = None,
        name: str | None = None,
        fields: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        hidden: Iterable[str] = (),
        read_only: Iterable[str] = (),
        write_only: Iterable[str] = (),
        methods: Iterable[str] | None = None,
        page_size: int = 20,
        max_page_size: int = 100,
        orm: bool | None = None,
        searchable: Iterable[str] = (),
        integer_bits: int | None = None,
        export: bool = True,
        csv_formula_guard: bool = True,
        require_if_match: bool = False,
        cache_control: str | None = None,
        format: str = "json",
        count: CountKind | None = None,
        count_cap: int = 10_000,
        computed: Mapping[str, ComputedSpec] | None = None,
        changes: bool | None = None,
        aliases: Aliases | None = None,
        envelope: Envelope | str | None = None,
        list_fields: Iterable[str] | None = None,
        datetime_format: DatetimeFormat = "iso",
        parameters: Mapping[str, str] | None = None,
        where: Any = None,
        lookup: str | Sequence[str] | None = None,
        error_renderer: ErrorRendererSpec | None = None,
        unique_violation: UniqueViolationMode | None = None,
        put: Literal["replace", "update"] = "replace",
        sort: str | None = None,
        create_status: Literal[200, 201] = 201,
        path: str | None = None,
    ) -> None:
        self.table = table
        if put not in ("replace", "update"):
            raise ValueError("put must be 'replace' or 'update'")
        #: What PUT does: replace the row (``replace``: fields left out go back to their
        #: defaults) or, as some specs use it, change the fields sent (``update``, as PATCH).
        self.put: Literal["replace", "update"] = put
        if create_status not in (200, 201):
            raise ValueError("create_status must be 201 or 200")
        #: The status of a create that made a row: 201, or 200 where a spec says so.
        self.create_status: Literal[200, 201] = create_status
        #: How this resource's routes write error documents (None: as the Api does).
        self.error_renderer = error_renderer
        if unique_violation not in (None, "conflict", "validation"):
            raise ValueError("unique_violation must be 'conflict' or 'validation'")
        #: A taken unique value: 409 (``conflict``) or 422 (``validation``); None: as the Api.
        self.unique_violation: UniqueViolationMode | None = unique_violation
        #: Whether writes record change events for ``GET /<name>/changes`` (None: as the Api
        #: says, see ``Api(changes=...)``).
        self.changes = changes
        if count is not None and count not in COUNT_KINDS:
            raise ValueError(f"count must be one of {', '.join(COUNT_KINDS)} or None")
        if count_cap < 1:
            raise ValueError("count_cap must be at least 1")
        self.model = model
        self.name = str(name or slug(table.name))
        #: Where the resource is served under the prefix: its name, or ``path=`` (steps as a
        #: spec writes them, ``articles/feed``).
        self.path = self.name if path is None else _path(self.name, path)
        if isinstance(envelope, str):
            envelope = Envelope(envelope)
        #: Where plain JSON rows go in bodies and answers (``{"article": {...}}``); None:
        #: bare rows and ``{"data": [...]}`` pages.
        self.envelope = envelope.named(self.name) if envelope is not None else None
        if count is None and self.envelope is not None and self.envelope.count is not None:
            count = "exact"  # the envelope's count member is in every list
        #: How lists count their rows when the client does not say (``count=``); None: no total.
        self.count: CountKind | None = count
        #: Where ``count=capped`` stops counting.
        self.count_cap = count_cap
        if format not in ("json", "jsonapi"):
            raise ValueError("format must be 'json' or 'jsonapi'")
        #: The representation when the client does not name one (``Accept: */*`` or none).
        self.format: Literal["json", "jsonapi"] = format  # type: ignore[assignment]
        if datetime_format not in DATETIME_FORMATS:
            raise ValueError(f"datetime_format must be one of {', '.join(DATETIME_FORMATS)}")
        #: How timestamps are written: as read (``iso``), or in UTC with ``Z`` (``utc``, and
        #: ``utc-ms`` to the millisecond).
        self.datetime_format: DatetimeFormat = datetime_format
        #: Whether lists can be exported whole as CSV or NDJSON.
        self.export = export
        #: Whether CSV exports neutralise text cells that a spreadsheet would run as formulas.
        self.csv_formula_guard = csv_formula_guard
        #: PUT, PATCH and DELETE must carry ``If-Match`` (428 without it).
        self.require_if_match = require_if_match
        #: The ``Cache-Control`` header of this resource's reads (none by default).
        self.cache_control = cache_control
        self.mapper: Mapper[Any] | None = sa.inspect(model) if model is not None else None
        if page_size < 1 or max_page_size < page_size:
            raise ValueError("need 1 <= page_size <= max_page_size")
        self.page_size = page_size
        self.max_page_size = max_page_size
        #: SQLite stores every INTEGER in 64 bits; reflection uses this to widen ``Integer``.
        self.integer_bits = integer_bits

        #: The mapper's version counter (``version_id_col``): the ORM sets it on every write.
        self.version_column: sa.Column[Any] | None = (
            self.mapper.version_id_col if self.mapper is not None else None
        )
        self.primary_key: tuple[sa.Column[Any], ...] = tuple(table.primary_key.columns)
        declared = declared_fields(
            self.name,
            table,
            self.mapper,
            model,
            fields=fields,
            exclude=exclude,
            hidden=hidden,
            read_only=read_only,
            write_only=write_only,
            computed=computed or {},
        )
        relations = declared_relations(table, self.mapper)
        #: The model's (or table's) name of each field and relation -> the name clients use.
        self.aliases: dict[str, str] = aliased(self.name, [*declared, *relations], aliases)
        self.fields: dict[str, Field] = {
            self.aliases[n]: dataclasses.replace(f, name=self.aliases[n])
            for n, f in declared.items()
        }
        self.readable: tuple[Field, ...] = tuple(f for f in self.fields.values() if f.readable)
        self.writable: tuple[Field, ...] = tuple(f for f in self.fields.values() if f.writable)
        self.pk_fields: tuple[Field, ...] = tuple(
            f for c in self.primary_key if (f := self._field_of(c)) is not None
        )
        #: The fields that name a row in its URL (``/articles/{slug}``), in links, ETags,
        #: JSON:API ids, batch keys and change events: the primary key, or ``lookup=``.
        self.key_fields: tuple[Field, ...] = self.pk_fields
        if lookup is not None:
            self.key_fields = _lookup_fields(self, (lookup,) if isinstance(lookup, str) else lookup)
        #: The columns of :attr:`key_fields`: every stage that finds a row by its URL key
        #: compares these.
        self.key: tuple[sa.Column[Any], ...] = tuple(f.column for f in self.key_fields)
        #: The rows this resource serves, when it is a view of its table (``where=``): a SQL
        #: condition over the table, every read's; None: every row.
        self.where: ColumnElement[bool] | None = (
            None if where is None else view_condition(self.name, table, where)
        )
        #: The type of ``caller.id`` in the computed fields (and ``where``) that depend on
        #: who asks (see :mod:`tablerest.viewer`); None when none does.
        self.caller_type = _one_caller_type(self.name, self.readable, self.where)

        if not self.primary_key or where is not None:
            # A view of the table (where=) is read: a write through it could make or change
            # rows it does not show.
            allowed: tuple[str, ...] = ("GET",)
        else:
            allowed = ALL_METHODS
        chosen = tuple(m.upper() for m in (methods or allowed))
        bad = sorted(set(chosen) - set(allowed))
        if bad:
            raise ValueError(f"{self.name}: methods {bad} not possible here (allowed: {allowed})")
        self.methods: frozenset[str] = frozenset(chosen)

        searchable = [self.named(n) for n in searchable]
        not_text = [
            n
            for n in searchable
            if n not in self.fields
            or not self.fields[n].readable
            or not isinstance(self.fields[n].column.type, sa.String)
        ]
        if not_text:
            raise ValueError(f"{self.name}: searchable fields must be readable text: {not_text}")
        self.searchable: tuple[Field, ...] = tuple(self.fields[n] for n in searchable)
        #: The fields a list shows when the client names none (``fields=``); None: all.
        self.list_fields: tuple[str, ...] | None = None
        if list_fields is not None:
            shown = tuple(self.named(n) for n in list_fields)
            bad = [n for n in shown if n not in self.fields or not self.fields[n].readable]
            if bad or not shown:
                raise ValueError(f"{self.name}: list_fields must name readable fields: {bad}")
            self.list_fields = shown
        #: Relations by name; only those whose target is a registered resource are reachable.
        self.relations: dict[str, Relation] = {
            self.aliases[n]: dataclasses.replace(r, name=self.aliases[n])
            for n, r in relations.items()
        }
        clash = sorted(set(self.relations) & set(self.fields))
        if clash:
            raise ValueError(
                f"{self.name}: relations {clash} have the names of fields (a relation from a "
                "foreign key is named after it: declare a relationship() of another name on "
                "the model, or give the field another name)"
            )

        #: The sort of lists whose client sends none (``-created_at``: newest first), as the
        #: query language's ``sort=`` spells it in the client's names; None: primary key order.
        self.sort = None if sort is None else _sort(self, sort)
        #: Query parameters of this resource's lists that stand for a filter: name ->
        #: (dotted field path, operator), ``{"author": ("writer.username", "eq")}``.
        self.parameters: dict[str, tuple[str, str]] = {
            name: self._parameter(name, spec) for name, spec in (parameters or {}).items()
        }
        self.hooks: dict[str, list[Hook]] = {event: [] for event in HOOK_EVENTS}
        self.validators: dict[str, list[Validator]] = {}
        #: Applied to a field's value after every validator (a password's hashing).
        self.transforms: dict[str, Validator] = {}
        #: Who may do what to which rows (``permissions=`` on ``Api.resource``, an
        #: :class:`tablerest.auth.policies.Policy`); None: anyone.
        self.policy: AccessPolicy | None = None
        #: Fields a create may leave out although they are required: something else fills
        #: them in (an owner rule, with the caller's id).
        self.filled_on_create: frozenset[str] = frozenset()
        self._orm_choice = orm
        self._use_orm: bool | None = None
        self._schema: ResourceSchema | None = None

    # -- registration-time API ---------------------------------------------------------

    def hook(self, event: HookEvent) -> Callable[[Hook], Hook]:
        """Decorator attaching ``fn(ctx: WriteContext)`` to a write event (see HOOK_EVENTS)."""
        if event not in self.hooks:
            raise ValueError(f"unknown hook event {event!r}; choose from {HOOK_EVENTS}")

        def register(fn: Hook) -> Hook:
            self.hooks[event].append(fn)
            return fn

        return register

    def _parameter(self, name: str, spec: str) -> tuple[str, str]:
        """A ``parameters=`` entry checked: a new name, and a field path (its first step this
        resource's field or relation; the rest is checked by the first list that uses it)
        with an optional ``[op]``."""
        m = _PARAMETER.fullmatch(spec) if isinstance(spec, str) else None
        if m is None:
            raise ValueError(f"{self.name}: parameters[{name!r}] is not 'field.path' or 'path[op]'")
        dotted, op = m.group(1), m.group(2) or "eq"
        first = self.named(dotted.split(".")[0])
        # A field's name may be taken: the parameter wins over the shorthand ``field=value``
        # (``filter[field]`` still filters on the field).
        if not _PARAMETER_NAME.fullmatch(name) or name in QUERY_PARAMETERS:
            raise ValueError(
                f"{self.name}: parameters[{name!r}]: the name is taken (a parameter of the "
                "query language) or not a plain name"
            )
        if first not in self.fields and first not in self.relations:
            raise ValueError(f"{self.name}: parameters[{name!r}] names no field {first!r}")
        return ".".join([first, *dotted.split(".")[1:]]), op

    def where_on(self, source: FromClause) -> ColumnElement[bool]:
        """``where`` on ``source``: the table, or an alias of it."""
        assert self.where is not None
        if isinstance(source, sa.Table):
            return self.where
        adapted: ColumnElement[bool] = ClauseAdapter(source).traverse(self.where)
        return adapted

    def named(self, name: str) -> str:
        """The name clients use for a field or relation, given that name or the model's
        (the model's wins: with ``aliases={"a": "b"}``, ``"b"`` names ``b`` if the model has
        one). Every option naming fields takes either."""
        return self.aliases.get(name, name)

    def validator(self, field_name: str) -> Callable[[Validator], Validator]:
        """Decorator adding ``fn(value) -> value`` to a field's validation.

        Raise ``ValueError`` with a message to reject the value: the client gets a 422 with
        that message at the field's pointer. Validators run after type checks, on create,
        replace and update.
        """
        field_name = self.named(field_name)
        f = self.fields.get(field_name)
        if f is None or not f.writable:
            raise ValueError(f"{self.name}: {field_name!r} is not a writable field")

        def register(fn: Validator) -> Validator:
            self.validators.setdefault(field_name, []).append(fn)
            self._schema = None  # rebuilt once, on next use
            return fn

        return register

    def conceal(self, field_name: str) -> None:
        """Make a field write-only: never read back, filtered or sorted on (a password)."""
        field_name = self.named(field_name)
        f = self.fields[field_name]
        if f.primary_key:
            raise ValueError(f"{self.name}: the primary key {field_name!r} cannot be write-only")
        if any(k.name == field_name for k in self.key_fields):
            raise ValueError(f"{self.name}: the lookup field {field_name!r} cannot be write-only")
        self.fields[field_name] = dataclasses.replace(f, readable=False, required_on_replace=False)
        self.readable = tuple(x for x in self.fields.values() if x.readable)
        self.writable = tuple(x for x in self.fields.values() if x.writable)
        self._schema = None

    def transform(self, field_name: str, fn: Validator) -> None:
        """Store ``fn(value)`` instead of a field's validated value (after every validator)."""
        field_name = self.named(field_name)
        f = self.fields.get(field_name)
        if f is None or not f.writable:
            raise ValueError(f"{self.name}: {field_name!r} is not a writable field")
        self.transforms[field_name] = fn
        self._schema = None

    def validate(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        """Check ``data`` (parsed JSON) as a create body, or with ``partial`` a PATCH body.

        The same checks as the generated routes: types, unknown and read-only fields,
        required fields, validators and transforms (a password comes back hashed). Returns
        the values to store; raises ``ValidationFailed`` (422) with a pointer per bad field.
        For the application's own routes, whose bodies take another shape.
        """
        return self.schema.validate_json(orjson.dumps(data), "patch" if partial else "create")

    # -- derived, read by the stages -----------------------------------------------------

    @property
    def schema(self) -> ResourceSchema:
        """Input validators and converters, derived from the fields once (and after changes)."""
        if self._schema is None:
            self._schema = ResourceSchema(self)
        return self._schema

    @property
    def use_orm(self) -> bool:
        """Whether writes must go through the ORM session rather than Core statements.

        Decided once, on first use (after the app's event listeners are registered).

        They must when the model has ``@validates`` methods, mapper events, a version counter
        or relationships with delete cascades; ``orm=True/False`` on the resource overrides
        the detection (except that a version counter always needs the ORM, which keeps it).
        """
        if self._use_orm is None:
            if self.version_column is not None:
                self._use_orm = True
            elif self._orm_choice is not None:
                self._use_orm = self._orm_choice and self.mapper is not None
            else:
                self._use_orm = self.mapper is not None and _mapper_needs_orm(self.mapper)
        return self._use_orm

    @property
    def looked_up(self) -> bool:
        """Whether URLs name rows by a ``lookup=`` other than the primary key."""
        return self.key != self.primary_key

    def field_by_column(self, col: sa.Column[Any]) -> Field | None:
        return self._field_of(col)

    # -- helpers -------------------------------------------------------------------------

    def _field_of(self, col: sa.Column[Any]) -> Field | None:
        for f in self.fields.values():
            if f.column is col:
                return f
        return None

    def __repr__(self) -> str:
        return f"<Resource {self.name} on {self.table.name}>"


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


def _mapper_needs_orm(mapper: Mapper[Any]) -> bool:
    if mapper.validators or mapper.version_id_col is not None:
        return True
    if any(_listened(getattr(mapper.dispatch, ev)) for ev in _MAPPER_EVENTS):
        return True
    if _listened(mapper.class_manager.dispatch.init):
        return True
    return any(rel.cascade.delete or rel.cascade.delete_orphan for rel in mapper.relationships)


def _sort(res: Resource, spec: str) -> str:
    """``sort=`` checked: readable fields of ``res``, ``-`` for descending, in the names
    clients use (the model's are taken too)."""
    keys = []
    for part in spec.split(","):
        desc = part.strip().startswith("-")
        name = res.named(part.strip().lstrip("-"))
        f = res.fields.get(name)
        if f is None or not f.readable:
            raise ValueError(f"{res.name}: sort names no readable field {name!r}")
        keys.append(("-" if desc else "") + name)
    return ",".join(keys)


def _path(name: str, path: str) -> str:
    """``path=`` checked: steps of letters, digits and ``_ . ~ -`` between ``/``, none of them
    ``.`` or ``..`` (which clients and proxies remove from URLs)."""
    steps = path.split("/") if isinstance(path, str) else [""]
    if any(not s or slug(s) != s or not s.strip(".") for s in steps):
        raise ValueError(
            f"{name}: path={path!r} is not steps of letters, digits and '_.~-' between '/'"
        )
    return path


def _lookup_fields(res: Resource, names: Sequence[str]) -> tuple[Field, ...]:
    """The fields ``lookup=`` names, checked: readable stored columns that together are
    unique (the primary key, a unique constraint or a unique index) and never null."""
    fields = []
    for name in names:
        f = res.fields.get(res.named(name))
        if f is None or not f.readable or f.expression is not None:
            raise ValueError(
                f"{res.name}: lookup names {name!r}, not a readable stored field (a hidden, "
                "write-only or computed field cannot name rows in URLs)"
            )
        if f.column.nullable and not f.column.primary_key:
            raise ValueError(
                f"{res.name}: lookup field {f.name!r} is nullable: a row without a value "
                "could have no URL (declare the column NOT NULL)"
            )
        fields.append(f)
    if not fields or len({f.name for f in fields}) != len(fields):
        raise ValueError(f"{res.name}: lookup must name one or more distinct fields")
    wanted = {f.column for f in fields}
    table = res.table
    unique_sets = [set(table.primary_key.columns)]
    unique_sets += [set(c.columns) for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    unique_sets += [set(i.columns) for i in table.indexes if i.unique]
    unique_sets += [{c} for c in table.columns if c.unique]
    if wanted not in unique_sets:
        raise ValueError(
            f"{res.name}: lookup {[f.name for f in fields]} is not unique: declare a unique "
            "constraint or index on exactly these columns"
        )
    return tuple(fields)


def linkage_columns(res: Resource, rel: Relation, target: Resource) -> list[str] | None:
    """The fields of ``res`` that hold a to-one relation's target key, in the target key's
    order; None when the relation does not point at the target's URL key (its primary key,
    or its ``lookup=``)."""
    if rel.to_many:
        return None
    by_remote = {remote.key: local for local, remote in rel.pairs}
    names = []
    for col in target.key:
        local = by_remote.get(col.key)
        field = res.field_by_column(local) if local is not None else None
        if field is None or not field.readable:
            return None
        names.append(field.name)
    return names if len(names) == len(rel.pairs) else None


def enum_labels(col_type: sa.types.TypeEngine[Any]) -> Sequence[str] | None:
    """The labels an ``Enum`` column accepts, as stored in the database."""
    if isinstance(col_type, sa.Enum):
        return list(col_type.enums)
    return None


def enum_to_label(col_type: sa.Enum) -> Callable[[Any], Any]:
    """Convert what Core returns for an Enum column (member or label) to its label."""
    members = getattr(col_type, "_valid_lookup", {})

    def convert(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return members.get(value, value.name)
        return value

    return convert


def _one_caller_type(
    name: str, fields: Iterable[Field], where: ColumnElement[bool] | None
) -> sa.types.TypeEngine[Any] | None:
    """The one type ``caller.id`` has in these fields and ``where``: one id is bound for all."""
    types = [f.caller_type for f in fields if f.caller_type is not None]
    if where is not None:
        found = caller_type(f"{name}: where", where)
        types += [found] if found is not None else []
    if len({type(t) for t in types}) > 1:
        raise ValueError(
            f"{name}: caller.id is compared with columns of different types in its computed fields"
        )
    return types[0] if types else None
