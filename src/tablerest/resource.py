"""Resource declarations: what one table or model exposes, and how.

A :class:`Resource` is built once, at registration, from a SQLAlchemy ``Table`` (and the mapped
class when there is one) plus the options given to ``Api.resource``. Every later stage reads it;
nothing re-derives it from the model. It imports no stage: only its parts, each built in a
module of its own (:mod:`tablerest.fields`, :mod:`tablerest.relations`, the names of
:mod:`tablerest.names`), the checks of its options (:mod:`tablerest.declaring`), the validators
it derives (:mod:`tablerest.schema`) and the grant values its policy speaks
(:mod:`tablerest.grants`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import orjson
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.util import ClauseAdapter

from . import declaring
from .calling import RowCalls
from .declaring import COUNT_KINDS, CountKind, DatetimeFormat
from .envelopes import Envelope
from .errors import ErrorRendererSpec, UniqueViolationMode
from .fields import ComputedSpec, Field, declared_fields, view_condition
from .grants import AccessPolicy
from .names import Aliases, aliased, slug
from .relations import Relation, declared_relations
from .schema import ResourceSchema
from .valuelists import ValueList, declared_value_lists, value_list_field

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper, Session

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

    def link(self, relation: Relation) -> Resource | None:
        """The resource serving the link table of a many-to-many relation, if one does."""


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
        get_or_create: Iterable[str] = (),
        put: Literal["replace", "update"] = "replace",
        sort: str | None = None,
        create_status: Literal[200, 201] = 201,
        path: str | None = None,
        value_lists: Mapping[str, str] | None = None,
    ) -> None:
        self.table = table
        declaring.check_statuses(put, create_status)
        #: What PUT does: replace the row (``replace``: fields left out go back to their
        #: defaults) or, as some specs use it, change the fields sent (``update``, as PATCH).
        self.put: Literal["replace", "update"] = put
        #: The status of a create that made a row: 201, or 200 where a spec says so.
        self.create_status: Literal[200, 201] = create_status
        #: How this resource's routes write error documents (None: as the Api does).
        self.error_renderer = error_renderer
        #: A taken unique value: 409 (``conflict``) or 422 (``validation``); None: as the Api.
        self.unique_violation: UniqueViolationMode | None = declaring.unique_violation_mode(
            unique_violation
        )
        #: Whether writes record change events for ``GET /<name>/changes`` (None: as the Api
        #: says, see ``Api(changes=...)``).
        self.changes = changes
        declaring.check_counting(count, count_cap)
        self.model = model
        self.name = str(name or slug(table.name))
        #: Where the resource is served under the prefix: its name, or ``path=`` (steps as a
        #: spec writes them, ``articles/feed``).
        self.path = self.name if path is None else declaring.served_path(self.name, path)
        #: Where plain JSON rows go in bodies and answers (``{"article": {...}}``); None:
        #: bare rows and ``{"data": [...]}`` pages.
        self.envelope = declaring.envelope_of(self.name, envelope)
        #: How lists count their rows when the client does not say (``count=``); None: no total.
        self.count: CountKind | None = declaring.default_count(count, self.envelope)
        #: Where ``count=capped`` stops counting.
        self.count_cap = count_cap
        self.mapper: Mapper[Any] | None = sa.inspect(model) if model is not None else None
        representation = declaring.check_representation(
            format, datetime_format, page_size, max_page_size
        )
        #: The representation when the client does not name one (``Accept: */*`` or none).
        self.format: Literal["json", "jsonapi"] = representation[0]
        #: How timestamps are written: as read (``iso``), or in UTC with ``Z`` (``utc``, and
        #: ``utc-ms`` to the millisecond).
        self.datetime_format: DatetimeFormat = representation[1]
        #: Whether lists can be exported whole as CSV or NDJSON.
        self.export = export
        #: Whether CSV exports neutralise text cells that a spreadsheet would run as formulas.
        self.csv_formula_guard = csv_formula_guard
        #: PUT, PATCH and DELETE must carry ``If-Match`` (428 without it).
        self.require_if_match = require_if_match
        #: The ``Cache-Control`` header of this resource's reads (none by default).
        self.cache_control = cache_control
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
        self.aliases: dict[str, str] = aliased(
            self.name, [*declared, *relations, *(value_lists or {})], aliases
        )
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
            self.key_fields = declaring.lookup_fields(
                self.name,
                table,
                self.fields,
                self.named,
                (lookup,) if isinstance(lookup, str) else lookup,
            )
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
        self.caller_type = declaring.one_caller_type(self.name, self.readable, self.where)
        self.methods: frozenset[str] = declaring.allowed_methods(
            self.name, methods, keyed=bool(self.primary_key), view=where is not None
        )
        self.searchable: tuple[Field, ...] = declaring.searchable_fields(
            self.name, self.fields, self.named, searchable
        )
        #: Relations by name; only those whose target is a registered resource are reachable.
        self.relations: dict[str, Relation] = declaring.client_relations(
            self.name, relations, self.aliases, self.fields
        )
        #: Many-to-many relations shown as a list of one field of their rows (``tag_list``:
        #: the names of the tags), by field name: fields read and written like any other.
        self.value_lists: dict[str, ValueList] = declared_value_lists(
            self.name, value_lists, self.named, self.relations, self.fields
        )
        if self.value_lists:
            self.fields.update({n: value_list_field(v) for n, v in self.value_lists.items()})
            self.readable = tuple(f for f in self.fields.values() if f.readable)
            self.writable = tuple(f for f in self.fields.values() if f.writable)
        #: The fields a list shows when the client names none (``fields=``); None: all.
        self.list_fields: tuple[str, ...] | None = declaring.list_fields_of(
            self.name, self.fields, self.named, list_fields
        )
        #: Many-to-many relations whose writes create the rows they name by a value no row
        #: holds yet (a tag by its name), rather than answering 404.
        self.get_or_create: frozenset[str] = declaring.link_creating(
            self.name, get_or_create, self.named, self.relations
        )
        #: The sort of lists whose client sends none (``-created_at``: newest first), as the
        #: query language's ``sort=`` spells it in the client's names; None: primary key order.
        self.sort = declaring.default_sort(self.name, self.fields, self.named, sort)
        #: Query parameters of this resource's lists that stand for a filter: name ->
        #: (dotted field path, operator), ``{"author": ("writer.username", "eq")}``.
        self.parameters: dict[str, tuple[str, str]] = declaring.parameters_of(
            self.name, parameters, self.named, self.fields, self.relations
        )
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
                self._use_orm = self.mapper is not None and declaring.mapper_needs_orm(self.mapper)
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
