"""Resource declarations: what one table or model exposes, and how.

A :class:`Resource` is built once, at registration, from a SQLAlchemy ``Table`` (and the mapped
class when there is one) plus the options given to ``Api.resource``. Every later stage reads it;
nothing re-derives it from the model. It imports no stage: only the validators it derives
(:mod:`tablerest.schema`) and the grant values its policy speaks (:mod:`tablerest.grants`).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.annotation import _deep_deannotate
from sqlalchemy.sql.util import ClauseAdapter

from .grants import AccessPolicy
from .schema import ResourceSchema

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper, Session

#: How a list may count its rows: ``COUNT(*)``, the planner's estimate, or up to a cap.
CountKind = Literal["exact", "estimated", "capped"]
COUNT_KINDS: tuple[CountKind, ...] = ("exact", "estimated", "capped")

__all__ = [
    "COUNT_KINDS",
    "HOOK_EVENTS",
    "Catalog",
    "ComputedSpec",
    "CountKind",
    "Field",
    "Hook",
    "Relation",
    "Resource",
    "View",
    "WriteContext",
    "linkage_columns",
]

HOOK_EVENTS = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)
HookEvent = Literal[
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
]
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
    exception rolls everything back.
    """

    resource: Resource
    action: Literal["create", "update", "delete"]
    session: Session
    method: str
    data: dict[str, Any] = field(default_factory=dict)
    key: tuple[Any, ...] | None = None
    row: dict[str, Any] | None = None


Hook = Callable[[WriteContext], None]
Validator = Callable[[Any], Any]
#: What ``computed=`` maps a field name to: a SQL expression over the resource's table (a
#: ``ColumnElement``, or anything with ``__clause_element__`` such as ``Book.title``), or the
#: name of a hybrid property of the model with a SQL side.
ComputedSpec = Any


@dataclass(frozen=True, slots=True)
class Field:
    """One exposed column: its JSON name and what a client may do with it."""

    name: str
    column: sa.Column[Any]
    readable: bool
    writable: bool
    nullable: bool
    primary_key: bool
    #: Required in a create (POST) body: NOT NULL and nothing fills it in.
    required_on_create: bool
    #: Required in a replace (PUT) body: NOT NULL and no Python-side default to reset it to.
    required_on_replace: bool
    #: A computed field's SQL expression over the resource's table (``column`` is then a
    #: stand-in of no table, with the expression's type); None for a column of the table.
    expression: ColumnElement[Any] | None = None

    def on(self, source: FromClause) -> ColumnElement[Any]:
        """The field's value in a statement reading ``source``: the resource's table or an
        alias of it (a computed expression is rewritten onto the alias)."""
        if self.expression is None:
            return source.c[self.column.key]
        if isinstance(source, sa.Table):
            return self.expression
        adapted: ColumnElement[Any] = ClauseAdapter(source).traverse(self.expression)
        return adapted

    def selected(self, source: FromClause) -> ColumnElement[Any]:
        """:meth:`on`, labelled with the field's name when it is computed (a select list)."""
        value = self.on(source)
        return value if self.expression is None else value.label(self.name)


@dataclass(frozen=True, slots=True)
class Relation:
    """A link from this table to rows of another: ``local == remote`` for every pair.

    To-one (``books.author``): local is the foreign key, remote the target's key. To-many
    (``authors.books``): local is this table's key, remote the other table's foreign key.
    """

    name: str
    target: sa.Table
    pairs: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...]
    to_many: bool

    @property
    def local(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[0] for p in self.pairs)

    @property
    def remote(self) -> tuple[sa.Column[Any], ...]:
        return tuple(p[1] for p in self.pairs)


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


#: A foreign key column's name that says which row it points to: ``author_id``,
#: ``Author ID``, ``author-id`` (any case), or camelCase ``SupportRepId`` / ``customerID``
#: (``Id``/``ID`` after a lower-case letter or a digit, so ``VOID`` and ``UUID`` are not).
_ID_SUFFIX = re.compile(r"^(.+?)(?:[ _-][Ii][Dd]|(?<=[a-z0-9])I[Dd])$")


def _role(column: str) -> str | None:
    """What a foreign key column names the row it points to: ``support_rep_id`` ->
    ``support_rep``, ``SupportRepId`` -> ``SupportRep``; None for a name without that
    ending (``ReportsTo``)."""
    m = _ID_SUFFIX.match(column)
    return m.group(1) if m else None


def _relation_slug(name: str) -> str:
    # Relation names are steps of dotted paths (``author.name``): no dots in them.
    return slug(name).replace(".", "_")


def _fk_relations(table: sa.Table) -> dict[str, Relation]:
    """Relations from foreign keys alone (database-first, or a plain ``Table``).

    A foreign key gives this table a to-one relation named after its column without the
    ending that says "id" (``author_id`` -> ``author``, ``SupportRepId`` -> ``SupportRep``),
    else after the target table (``ReportsTo`` -> ``Employee``). It gives the target table a
    to-many relation named after this table (``books``), unless this table has several foreign
    keys to it or is the target itself (a self-reference): then after the column's role,
    with ``_of`` (``ReportsTo_of``, ``parent_of``: the rows whose ``parent_id`` is this row).
    A name that is a column's (or another relation's) becomes ``<target>_<column>`` (to-one)
    or ``<table>_by_<column>`` (to-many), then gets ``_2``, ``_3``...: a relation never
    shadows a field.
    """
    out: dict[str, Relation] = {}

    def taken(name: str) -> bool:
        return name in out or name in table.c

    def add(name: str, fallback: str, rel: Relation) -> None:
        chosen = _relation_slug(name)
        if taken(chosen):
            chosen = _relation_slug(fallback)
        base, n = chosen, 2
        while taken(chosen):
            chosen, n = f"{base}_{n}", n + 1
        out[chosen] = dataclasses.replace(rel, name=chosen)

    for fk in sorted(
        table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]
    ):
        cols = [e.parent for e in fk.elements]
        target = fk.elements[0].column.table
        role = _role(cols[0].name) if len(cols) == 1 else None
        pairs = tuple((e.parent, e.column) for e in fk.elements)
        rel = Relation("", target, pairs, to_many=False)
        add(role or target.name, f"{target.name}_{cols[0].name}", rel)
    for other in sorted(table.metadata.tables.values(), key=lambda t: t.name):
        here = [fk for fk in other.foreign_key_constraints if fk.elements[0].column.table is table]
        for fk in sorted(here, key=lambda c: [e.parent.name for e in c.elements]):
            column = fk.elements[0].parent.name
            alone = len(here) == 1 and other is not table
            name = other.name if alone else f"{_role(column) or column}_of"
            pairs = tuple((e.column, e.parent) for e in fk.elements)
            add(name, f"{other.name}_by_{column}", Relation("", other, pairs, to_many=True))
    return out


def _mapper_relations(mapper: Mapper[Any], table: sa.Table) -> dict[str, Relation]:
    """Relations as the model declares them (``relationship()``), many-to-many left out."""
    out: dict[str, Relation] = {}
    for rel in mapper.relationships:
        if rel.secondary is not None:
            continue
        pairs = tuple(
            (loc, rem)
            for loc, rem in rel.local_remote_pairs or ()
            if isinstance(loc, sa.Column) and isinstance(rem, sa.Column)
        )
        target = rel.mapper.local_table
        if not pairs or not isinstance(target, sa.Table):
            continue
        out[str(rel.key)] = Relation(str(rel.key), target, pairs, to_many=bool(rel.uselist))
    return out


def _has_default(col: sa.Column[Any]) -> bool:
    return col.default is not None or col.server_default is not None


def _generated(col: sa.Column[Any]) -> bool:
    return col.computed is not None or col.identity is not None


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _clause(value: Any) -> ColumnElement[Any] | None:
    """``value`` as a SQL column expression (``Book.title`` and hybrids give theirs), or
    None when it is something else.

    The ORM's annotations are removed: with them, a hybrid's expression is compiled as the
    model's attribute, which a statement reading an alias of the table (a join, a relation
    filter) would not rewrite onto the alias."""
    clause = getattr(value, "__clause_element__", None)
    if clause is not None:
        try:
            value = clause()
        except sa.exc.SQLAlchemyError:
            return None  # a hybrid giving a Python value on the class
    if not isinstance(value, ColumnElement):
        return None
    plain: ColumnElement[Any] = _deep_deannotate(value)
    return plain


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


class Resource:
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
    ) -> None:
        self.table = table
        #: Whether writes record change events for ``GET /<name>/changes`` (None: as the Api
        #: says, see ``Api(changes=...)``).
        self.changes = changes
        if count is not None and count not in COUNT_KINDS:
            raise ValueError(f"count must be one of {', '.join(COUNT_KINDS)} or None")
        if count_cap < 1:
            raise ValueError("count_cap must be at least 1")
        #: How lists count their rows when the client does not say (``count=``); None: no total.
        self.count: CountKind | None = count
        #: Where ``count=capped`` stops counting.
        self.count_cap = count_cap
        if format not in ("json", "jsonapi"):
            raise ValueError("format must be 'json' or 'jsonapi'")
        #: The representation when the client does not name one (``Accept: */*`` or none).
        self.format: Literal["json", "jsonapi"] = format  # type: ignore[assignment]
        #: Whether lists can be exported whole as CSV or NDJSON.
        self.export = export
        #: Whether CSV exports neutralise text cells that a spreadsheet would run as formulas.
        self.csv_formula_guard = csv_formula_guard
        #: PUT, PATCH and DELETE must carry ``If-Match`` (428 without it).
        self.require_if_match = require_if_match
        #: The ``Cache-Control`` header of this resource's reads (none by default).
        self.cache_control = cache_control
        self.model = model
        self.name = str(name or slug(table.name))
        self.mapper: Mapper[Any] | None = sa.inspect(model) if model is not None else None
        if page_size < 1 or max_page_size < page_size:
            raise ValueError("need 1 <= page_size <= max_page_size")
        self.page_size = page_size
        self.max_page_size = max_page_size
        #: SQLite stores every INTEGER in 64 bits; reflection uses this to widen ``Integer``.
        self.integer_bits = integer_bits

        columns = self._column_names()
        mapped = self._mapped_expressions()
        expressions = {**mapped, **self._computed(computed or {}, {**columns, **mapped})}
        names: dict[str, object] = {**columns, **expressions}
        wanted = list(names) if fields is None else list(fields)
        options = {
            "fields": wanted,
            "exclude": exclude,
            "hidden": hidden,
            "read_only": read_only,
            "write_only": write_only,
        }
        for option, listed in options.items():
            unknown = sorted(set(listed) - set(names))
            if unknown:
                raise ValueError(f"{self.name}: {option} names unknown columns {unknown}")
        not_exposed = set(exclude) | set(hidden)
        read_only_set, write_only_set = set(read_only), set(write_only)
        if read_only_set & write_only_set:
            raise ValueError(f"{self.name}: a field cannot be both read-only and write-only")
        if write_only_set & set(expressions):
            raise ValueError(
                f"{self.name}: computed fields cannot be write-only: "
                f"{sorted(write_only_set & set(expressions))}"
            )

        self.primary_key: tuple[sa.Column[Any], ...] = tuple(table.primary_key.columns)
        auto = table.autoincrement_column if self.primary_key else None
        #: The mapper's version counter (``version_id_col``): the ORM sets it on every write.
        self.version_column: sa.Column[Any] | None = (
            self.mapper.version_id_col if self.mapper is not None else None
        )
        built: dict[str, Field] = {}
        for fname in wanted:
            if fname in not_exposed:
                continue
            if fname in expressions:
                built[fname] = self._computed_field(fname, expressions[fname])
                continue
            col = columns[fname]
            generated = _generated(col) or col is auto or col is self.version_column
            writable = fname not in read_only_set and not generated
            nullable = bool(col.nullable) and not col.primary_key
            required_create = writable and not nullable and not _has_default(col)
            python_default = col.default is not None
            built[fname] = Field(
                name=fname,
                column=col,
                readable=fname not in write_only_set,
                writable=writable,
                nullable=nullable,
                primary_key=bool(col.primary_key),
                required_on_create=required_create,
                # A write-only field cannot be read back to be resent, so PUT keeps it.
                required_on_replace=(
                    writable and not nullable and not python_default and fname not in write_only_set
                ),
            )
        self.fields: dict[str, Field] = built
        missing_pk = [c.name for c in self.primary_key if self._field_of(c) is None]
        if missing_pk:
            raise ValueError(f"{self.name}: the primary key {missing_pk} cannot be hidden")
        self.readable: tuple[Field, ...] = tuple(f for f in built.values() if f.readable)
        self.writable: tuple[Field, ...] = tuple(f for f in built.values() if f.writable)
        self.pk_fields: tuple[Field, ...] = tuple(
            f for c in self.primary_key if (f := self._field_of(c)) is not None
        )

        if not self.primary_key:
            allowed: tuple[str, ...] = ("GET",)
        else:
            allowed = ALL_METHODS
        chosen = tuple(m.upper() for m in (methods or allowed))
        bad = sorted(set(chosen) - set(allowed))
        if bad:
            raise ValueError(f"{self.name}: methods {bad} not possible here (allowed: {allowed})")
        self.methods: frozenset[str] = frozenset(chosen)

        searchable = list(searchable)
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
        #: Relations by name; only those whose target is a registered resource are reachable.
        self.relations: dict[str, Relation] = _fk_relations(table)
        if self.mapper is not None:
            # The model's own relationship() names win; foreign keys it does not cover stay.
            declared = _mapper_relations(self.mapper, table)
            covered = {frozenset(r.pairs) for r in declared.values()}
            for rel_name, rel in self.relations.items():
                if frozenset(rel.pairs) not in covered and rel_name not in declared:
                    declared[rel_name] = rel
            self.relations = declared
        clash = sorted(set(self.relations) & set(self.fields))
        if clash:
            raise ValueError(f"{self.name}: relations {clash} have the names of fields")

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

    def validator(self, field_name: str) -> Callable[[Validator], Validator]:
        """Decorator adding ``fn(value) -> value`` to a field's validation.

        Raise ``ValueError`` with a message to reject the value: the client gets a 422 with
        that message at the field's pointer. Validators run after type checks, on create,
        replace and update.
        """
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
        f = self.fields[field_name]
        if f.primary_key:
            raise ValueError(f"{self.name}: the primary key {field_name!r} cannot be write-only")
        self.fields[field_name] = dataclasses.replace(f, readable=False, required_on_replace=False)
        self.readable = tuple(x for x in self.fields.values() if x.readable)
        self.writable = tuple(x for x in self.fields.values() if x.writable)
        self._schema = None

    def transform(self, field_name: str, fn: Validator) -> None:
        """Store ``fn(value)`` instead of a field's validated value (after every validator)."""
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

    def field_by_column(self, col: sa.Column[Any]) -> Field | None:
        return self._field_of(col)

    # -- helpers -------------------------------------------------------------------------

    def _column_names(self) -> dict[str, sa.Column[Any]]:
        """Field name -> column: the mapped attribute name when there is a model."""
        if self.mapper is None:
            return {str(c.key): c for c in self.table.columns}
        out: dict[str, sa.Column[Any]] = {}
        for prop in self.mapper.column_attrs:
            cols = [c for c in prop.columns if isinstance(c, sa.Column) and c.table is self.table]
            if cols:
                out[str(prop.key)] = cols[0]
        return out

    def _mapped_expressions(self) -> dict[str, ColumnElement[Any]]:
        """The model's ``column_property`` SQL expressions (not columns of a table), by
        attribute name: read-only fields like columns. ``query_expression()`` attributes,
        empty until a query fills them in, are left out."""
        if self.mapper is None:
            return {}
        out: dict[str, ColumnElement[Any]] = {}
        for prop in self.mapper.column_attrs:
            if any(isinstance(c, sa.Column) for c in prop.columns):
                continue
            expr = prop.expression
            inner = expr.element if isinstance(expr, sa.Label) else expr
            if isinstance(inner, sa.Null) or not isinstance(expr, ColumnElement):
                continue
            out[str(prop.key)] = expr
        return out

    def _computed(
        self, computed: Mapping[str, ComputedSpec], taken: Mapping[str, object]
    ) -> dict[str, ColumnElement[Any]]:
        """``computed=``: field name -> expression, checked (see :meth:`_computed_field`)."""
        out: dict[str, ColumnElement[Any]] = {}
        for fname, spec in computed.items():
            if not isinstance(fname, str) or not _FIELD_NAME.match(fname):
                raise ValueError(
                    f"{self.name}: computed field name {fname!r} must be letters, digits and "
                    "underscores, not starting with a digit"
                )
            if fname in taken:
                raise ValueError(
                    f"{self.name}: computed field {fname!r} has the name of a mapped column "
                    "or column property"
                )
            expr = self._hybrid(fname, spec) if isinstance(spec, str) else _clause(spec)
            if expr is None:
                raise ValueError(
                    f"{self.name}: computed field {fname!r} is not a SQL expression "
                    f"({type(spec).__name__}); give a column expression such as "
                    "sa.func.length(Book.title), or the name of a hybrid property"
                )
            out[fname] = self._checked(fname, expr)
        return out

    def _hybrid(self, fname: str, attr: str) -> ColumnElement[Any]:
        """The SQL side of the model's hybrid property ``attr``."""
        if self.mapper is None or self.model is None:
            raise ValueError(
                f"{self.name}: computed field {fname!r} names a hybrid property ({attr!r}), "
                "which needs a mapped class; give a SQL expression instead"
            )
        # Imported here: it loads sqlalchemy.orm, which database-first serving never needs.
        from sqlalchemy.ext.hybrid import HybridExtensionType

        descriptor = self.mapper.all_orm_descriptors.get(attr)
        if getattr(descriptor, "extension_type", None) is not HybridExtensionType.HYBRID_PROPERTY:
            raise ValueError(
                f"{self.name}: computed field {fname!r}: {self.model.__name__} has no hybrid "
                f"property {attr!r}"
            )
        try:
            value = getattr(self.model, attr)
        except Exception as exc:
            raise ValueError(
                f"{self.name}: computed field {fname!r}: the hybrid property {attr!r} has no "
                f"SQL side (add one with @{attr}.expression): {type(exc).__name__}: {exc}"
            ) from exc
        expr = _clause(value)
        if expr is None:
            raise ValueError(
                f"{self.name}: computed field {fname!r}: the hybrid property {attr!r} gives "
                f"no SQL expression on the class (add one with @{attr}.expression)"
            )
        return expr

    def _checked(self, fname: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A computed field's expression, if the API can use it: a SQL type (for filter
        values, JSON and the schema) and no table but this one in its FROM (other tables
        are reached with a correlated scalar sub-query)."""
        if isinstance(expr.type, sa.types.NullType):
            raise ValueError(
                f"{self.name}: computed field {fname!r} has no SQL type; give it one, as in "
                "sa.func.length(Book.title, type_=sa.Integer) or "
                "sa.type_coerce(expression, sa.String)"
            )
        others = sorted(
            str(getattr(f, "name", f))
            for f in sa.select(expr).get_final_froms()
            if f is not self.table
        )
        if others:
            raise ValueError(
                f"{self.name}: computed field {fname!r} reads {others}, not only "
                f"{self.table.name}; reach other tables with a correlated scalar sub-query "
                "(sa.select(...).where(...).scalar_subquery())"
            )
        return expr

    def _computed_field(self, fname: str, expr: ColumnElement[Any]) -> Field:
        expr = self._checked(fname, expr)
        return Field(
            name=fname,
            # A stand-in column: the field's name and type, no table (see Field.on).
            column=sa.Column(fname, expr.type, key=fname, nullable=True),
            readable=True,
            writable=False,
            nullable=True,
            primary_key=False,
            required_on_create=False,
            required_on_replace=False,
            expression=expr,
        )

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


def linkage_columns(res: Resource, rel: Relation, target: Resource) -> list[str] | None:
    """The fields of ``res`` that hold a to-one relation's target key, in the target key's
    order; None when the relation does not point at the target's primary key."""
    if rel.to_many:
        return None
    by_remote = {remote.key: local for local, remote in rel.pairs}
    names = []
    for col in target.primary_key:
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
