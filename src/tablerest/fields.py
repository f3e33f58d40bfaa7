"""A resource's fields: which columns (and SQL expressions) of a table or model it exposes,
and what a client may do with each. Built once, when the resource is declared
(:class:`tablerest.resource.Resource`); every stage reads the result."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.annotation import _deep_deannotate
from sqlalchemy.sql.util import ClauseAdapter

from .viewer import caller_type

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

__all__ = ["ComputedSpec", "Field", "declared_fields", "needs_value_on_insert", "view_condition"]

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
    #: The type of ``caller.id`` in a computed field's expression (:mod:`tablerest.viewer`);
    #: None for a field that does not depend on who asks.
    caller_type: sa.types.TypeEngine[Any] | None = None

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


def declared_fields(
    resource: str,
    table: sa.Table,
    mapper: Mapper[Any] | None,
    model: type[Any] | None,
    *,
    fields: Iterable[str] | None,
    exclude: Iterable[str],
    hidden: Iterable[str],
    read_only: Iterable[str],
    write_only: Iterable[str],
    computed: Mapping[str, ComputedSpec],
) -> dict[str, Field]:
    """The fields ``Api.resource`` options give resource ``resource`` (its name, for the
    messages), by name in the order given: ValueError for options that name no column, or
    contradict each other."""
    columns = _column_names(table, mapper)
    mapped = _mapped_expressions(mapper)
    on = _Model(resource, table, mapper, model)
    expressions = {**mapped, **_computed(on, computed, {**columns, **mapped})}
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
            raise ValueError(f"{resource}: {option} names unknown columns {unknown}")
    not_exposed = set(exclude) | set(hidden)
    read_only_set, write_only_set = set(read_only), set(write_only)
    if read_only_set & write_only_set:
        raise ValueError(f"{resource}: a field cannot be both read-only and write-only")
    if write_only_set & set(expressions):
        raise ValueError(
            f"{resource}: computed fields cannot be write-only: "
            f"{sorted(write_only_set & set(expressions))}"
        )

    primary_key = tuple(table.primary_key.columns)
    auto = table.autoincrement_column if primary_key else None
    version_column = mapper.version_id_col if mapper is not None else None
    built: dict[str, Field] = {}
    for fname in wanted:
        if fname in not_exposed:
            continue
        if fname in expressions:
            built[fname] = _computed_field(on, fname, expressions[fname])
            continue
        col = columns[fname]
        generated = _generated(col) or col is auto or col is version_column
        writable = fname not in read_only_set and not generated
        nullable = bool(col.nullable) and not col.primary_key
        required_create = writable and not nullable and needs_value_on_insert(col)
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
    missing_pk = [c.name for c in primary_key if all(f.column is not c for f in built.values())]
    if missing_pk:
        raise ValueError(f"{resource}: the primary key {missing_pk} cannot be hidden")
    return built


def _has_default(col: sa.Column[Any]) -> bool:
    return col.default is not None or col.server_default is not None


def needs_value_on_insert(col: sa.Column[Any]) -> bool:
    """Whether an INSERT must give ``col`` a value: NOT NULL, and nothing fills it in (a
    default, a server default, a computed or identity column)."""
    return not col.nullable and not _has_default(col) and not _generated(col)


def _generated(col: sa.Column[Any]) -> bool:
    return col.computed is not None or col.identity is not None


def _column_names(table: sa.Table, mapper: Mapper[Any] | None) -> dict[str, sa.Column[Any]]:
    """Field name -> column: the mapped attribute name when there is a model."""
    if mapper is None:
        return {str(c.key): c for c in table.columns}
    out: dict[str, sa.Column[Any]] = {}
    for prop in mapper.column_attrs:
        cols = [c for c in prop.columns if isinstance(c, sa.Column) and c.table is table]
        if cols:
            out[str(prop.key)] = cols[0]
    return out


def _mapped_expressions(mapper: Mapper[Any] | None) -> dict[str, ColumnElement[Any]]:
    """The model's ``column_property`` SQL expressions (not columns of a table), by
    attribute name: read-only fields like columns. ``query_expression()`` attributes,
    empty until a query fills them in, are left out."""
    if mapper is None:
        return {}
    out: dict[str, ColumnElement[Any]] = {}
    for prop in mapper.column_attrs:
        if any(isinstance(c, sa.Column) for c in prop.columns):
            continue
        expr = prop.expression
        inner = expr.element if isinstance(expr, sa.Label) else expr
        if isinstance(inner, sa.Null) or not isinstance(expr, ColumnElement):
            continue
        out[str(prop.key)] = expr
    return out


# -- computed fields (``computed=``) ------------------------------------------------------

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class _Model:
    """What a computed field's expression is checked against: the resource (its name, for
    the messages), its table and its mapped class, if any."""

    resource: str
    table: sa.Table
    mapper: Mapper[Any] | None
    model: type[Any] | None


def _computed(
    on: _Model, computed: Mapping[str, ComputedSpec], taken: Mapping[str, object]
) -> dict[str, ColumnElement[Any]]:
    """``computed=``: field name -> expression, checked (see :func:`_checked`)."""
    out: dict[str, ColumnElement[Any]] = {}
    for fname, spec in computed.items():
        if not isinstance(fname, str) or not _FIELD_NAME.match(fname):
            raise ValueError(
                f"{on.resource}: computed field name {fname!r} must be letters, digits and "
                "underscores, not starting with a digit"
            )
        if fname in taken:
            raise ValueError(
                f"{on.resource}: computed field {fname!r} has the name of a mapped column "
                "or column property"
            )
        expr = _hybrid(on, fname, spec) if isinstance(spec, str) else _clause(spec)
        if expr is None:
            raise ValueError(
                f"{on.resource}: computed field {fname!r} is not a SQL expression "
                f"({type(spec).__name__}); give a column expression such as "
                "sa.func.length(Book.title), or the name of a hybrid property"
            )
        out[fname] = _checked(on, fname, expr)
    return out


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


def _hybrid(on: _Model, fname: str, attr: str) -> ColumnElement[Any]:
    """The SQL side of the model's hybrid property ``attr``."""
    if on.mapper is None or on.model is None:
        raise ValueError(
            f"{on.resource}: computed field {fname!r} names a hybrid property ({attr!r}), "
            "which needs a mapped class; give a SQL expression instead"
        )
    # Imported here: it loads sqlalchemy.orm, which database-first serving never needs.
    from sqlalchemy.ext.hybrid import HybridExtensionType

    descriptor = on.mapper.all_orm_descriptors.get(attr)
    if getattr(descriptor, "extension_type", None) is not HybridExtensionType.HYBRID_PROPERTY:
        raise ValueError(
            f"{on.resource}: computed field {fname!r}: {on.model.__name__} has no hybrid "
            f"property {attr!r}"
        )
    try:
        value = getattr(on.model, attr)
    except Exception as exc:
        raise ValueError(
            f"{on.resource}: computed field {fname!r}: the hybrid property {attr!r} has no "
            f"SQL side (add one with @{attr}.expression): {type(exc).__name__}: {exc}"
        ) from exc
    expr = _clause(value)
    if expr is None:
        raise ValueError(
            f"{on.resource}: computed field {fname!r}: the hybrid property {attr!r} gives "
            f"no SQL expression on the class (add one with @{attr}.expression)"
        )
    return expr


def _checked(on: _Model, fname: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """A computed field's expression, if the API can use it: a SQL type (for filter
    values, JSON and the schema) and no table but this one in its FROM (other tables
    are reached with a correlated scalar sub-query)."""
    if isinstance(expr.type, sa.types.NullType):
        raise ValueError(
            f"{on.resource}: computed field {fname!r} has no SQL type; give it one, as in "
            "sa.func.length(Book.title, type_=sa.Integer) or "
            "sa.type_coerce(expression, sa.String)"
        )
    others = sorted(
        str(getattr(f, "name", f)) for f in sa.select(expr).get_final_froms() if f is not on.table
    )
    if others:
        raise ValueError(
            f"{on.resource}: computed field {fname!r} reads {others}, not only "
            f"{on.table.name}; reach other tables with a correlated scalar sub-query "
            "(sa.select(...).where(...).scalar_subquery())"
        )
    return expr


def view_condition(resource: str, table: sa.Table, where: Any) -> ColumnElement[bool]:
    """``where=``: a SQL condition over ``table`` alone (other tables through correlated
    sub-queries, as computed fields reach them); ValueError otherwise."""
    expr = _clause(where)
    if expr is None:
        raise ValueError(f"{resource}: where= is not a SQL condition ({type(where).__name__})")
    others = sorted(
        str(getattr(f, "name", f)) for f in sa.select(expr).get_final_froms() if f is not table
    )
    if others:
        raise ValueError(
            f"{resource}: where= reads {others}, not only {table.name}; reach other tables "
            "with a correlated sub-query (sa.exists().where(...), Table.c.x.in_(sa.select(...)))"
        )
    return expr


def _computed_field(on: _Model, fname: str, expr: ColumnElement[Any]) -> Field:
    expr = _checked(on, fname, expr)
    return Field(
        caller_type=caller_type(f"{on.resource}: computed field {fname!r}", expr),
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
