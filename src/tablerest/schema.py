"""Column types -> input validators (pydantic v2) and JSON Schema, derived once per resource.

For each resource three validators are built: *create* (POST), *replace* (PUT) and *patch*
(PATCH). They differ only in which fields are required. Each exists in two modes: strict, for
JSON bodies (``"5"`` is not an integer, ``1`` is not a boolean; ``5.0`` is the integer 5, as
JSON Schema counts it; ISO 8601 strings are dates), and lax, for form-encoded bodies where
every value arrives as text.

Validation errors become :class:`~tablerest.errors.ValidationFailed` listing every field error
with a JSON pointer; a body that is not JSON at all becomes
:class:`~tablerest.errors.MalformedBody`.

The validators read a declaration only through :class:`Declared` (what they need of a
resource), so this module sits below :mod:`tablerest.resource`, which builds its schema lazily.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, Protocol, Required

import pydantic
import sqlalchemy as sa
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Strict, TypeAdapter
from pydantic import Field as PField
from typing_extensions import TypedDict

from .columns.binary import file_value
from .columns.jsonobject import JsonList
from .columns.sqlite_time import python_type as stored_time_type
from .columns.typeops import base_type, write_type
from .columns.untyped import UNTYPED
from .errors import FieldError, MalformedBody, ValidationFailed

__all__ = ["Declared", "DeclaredField", "ResourceSchema", "Variant", "python_type"]

Variant = Literal["create", "replace", "patch"]


class DeclaredField(Protocol):
    """What the validators read of one field (:class:`tablerest.resource.Field`)."""

    @property
    def name(self) -> str: ...
    @property
    def column(self) -> sa.Column[Any]: ...
    @property
    def readable(self) -> bool: ...
    @property
    def nullable(self) -> bool: ...
    @property
    def required_on_create(self) -> bool: ...
    @property
    def required_on_replace(self) -> bool: ...


class Declared(Protocol):
    """What the validators read of a resource's declaration
    (:class:`tablerest.resource.Resource`, which builds its schema from itself)."""

    @property
    def name(self) -> str: ...
    @property
    def integer_bits(self) -> int | None: ...
    @property
    def fields(self) -> Mapping[str, DeclaredField]: ...
    @property
    def writable(self) -> Sequence[DeclaredField]: ...
    @property
    def pk_fields(self) -> Sequence[DeclaredField]: ...
    @property
    def filled_on_create(self) -> frozenset[str]: ...
    @property
    def validators(self) -> Mapping[str, Sequence[Callable[[Any], Any]]]: ...
    @property
    def transforms(self) -> Mapping[str, Callable[[Any], Any]]: ...


#: Widths the type's class says.
_INT_BITS = {sa.SmallInteger: 16, sa.BigInteger: 64}


def _int_bits(col_type: sa.Integer) -> int | None:
    # MariaDB's TINYINT and MEDIUMINT subclass plain Integer. Their dialect is imported only
    # if something did (a MariaDB engine): no column is of its types otherwise, and it would
    # cost every app (and serve worker) 1 MiB (see columns.typeops).
    if "sqlalchemy.dialects.mysql" in sys.modules:
        import sqlalchemy.dialects.mysql as mysql

        if isinstance(col_type, mysql.TINYINT):
            return 8
        if isinstance(col_type, mysql.MEDIUMINT):
            return 24
    return next((b for t, b in _INT_BITS.items() if isinstance(col_type, t)), None)


def _int_range(col_type: sa.Integer, default_bits: int | None) -> tuple[int, int]:
    """The values an integer column stores: its width, and MariaDB's ``UNSIGNED``."""
    bits = _int_bits(col_type) or default_bits or 32
    if getattr(col_type, "unsigned", False):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


#: Beyond this a float no longer holds every integer: ``9007199254740993.0`` arrives as
#: ...992.0, so a whole float that large may not be the number the client wrote.
_EXACT_FLOAT_INTS = 2**53


def _whole_number(value: Any) -> Any:
    """An integer field takes a whole number however it is written: JSON Schema (and so the
    OpenAPI document, and every tool generating from it) counts ``5.0`` as an integer, and
    JavaScript clients cannot tell 5.0 from 5. A fraction part (``5.5``) is still refused, by
    the strict check this feeds, as is a whole float too large to be exact."""
    if isinstance(value, float) and value.is_integer():
        if abs(value) > _EXACT_FLOAT_INTS:
            raise ValueError(
                "Input should be an integer written without a fraction part or exponent "
                "(beyond 2^53 a number written with one is not exact)"
            )
        return int(value)
    return value


def _iso_date(value: Any) -> Any:
    """Dates as ISO 8601 text only (pydantic would also read ``"0"`` as 1970-01-01)."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # Python's "Invalid isoformat string" tells the client nothing
            raise ValueError("Input should be a valid date (ISO 8601, YYYY-MM-DD)") from None
    return value


def python_type(col_type: sa.types.TypeEngine[Any], integer_bits: int | None = None) -> Any:
    """The annotated Python type that validates values for a column type."""
    col_type = base_type(col_type)  # a domain's values are those of its type
    structured = write_type(col_type, lambda t: python_type(t, integer_bits))
    if structured is not None:
        return structured
    if isinstance(col_type, sa.Enum):
        labels = tuple(col_type.enums)
        return Literal[labels] if labels else str
    if isinstance(col_type, sa.Boolean):
        return Annotated[bool, Strict()]
    if isinstance(col_type, sa.Integer):
        lo, hi = _int_range(col_type, integer_bits)
        return Annotated[int, PField(ge=lo, le=hi), BeforeValidator(_whole_number)]
    if isinstance(col_type, sa.Float):
        return float
    if isinstance(col_type, sa.Numeric):
        if not col_type.asdecimal:
            return float
        p, s = col_type.precision, col_type.scale
        return Annotated[
            decimal.Decimal, PField(max_digits=p, decimal_places=s, allow_inf_nan=False)
        ]
    if isinstance(col_type, sa.String):
        return Annotated[str, PField(max_length=col_type.length)] if col_type.length else str
    if isinstance(col_type, sa.DateTime):
        if (stored := stored_time_type(col_type)) is not None:
            return stored  # a SQLite column holding values with and without offsets
        # A column without a zone holds wall-clock values; one with a zone, instants. Values
        # of the other kind would be stored differently by each backend (dropped or shifted
        # offsets), so they are refused.
        return pydantic.AwareDatetime if col_type.timezone else pydantic.NaiveDatetime
    if isinstance(col_type, sa.Date):
        return Annotated[dt.date, BeforeValidator(_iso_date)]
    if isinstance(col_type, sa.Time):
        return dt.time
    if isinstance(col_type, sa.Interval):
        return dt.timedelta
    if isinstance(col_type, sa.Uuid):
        return uuid.UUID
    if isinstance(col_type, sa.LargeBinary):
        return bytes
    if isinstance(col_type, sa.JSON):
        return pydantic.JsonValue
    if isinstance(col_type, sa.types.NullType):
        return UNTYPED
    try:
        py = col_type.python_type
    except NotImplementedError:
        return pydantic.JsonValue
    return py if py in (str, int, float, bool) else pydantic.JsonValue


def _uuid_as_text(value: uuid.UUID) -> str:
    return str(value)


def _distinct(values: list[Any]) -> list[Any]:
    # A value list is a set of links: a value given twice names its row once.
    return list(dict.fromkeys(values))


def _field_type(resource: Declared, f: DeclaredField) -> Any:
    col_type = f.column.type
    t: Any = python_type(col_type, resource.integer_bits)
    if isinstance(col_type, JsonList):  # a value list: the values of the rows to link to
        item = python_type(col_type.item, resource.integer_bits)
        t = Annotated[list[item], AfterValidator(_distinct)]  # type: ignore[valid-type]
    if isinstance(col_type, sa.Uuid) and not col_type.as_uuid:
        t = Annotated[t, AfterValidator(_uuid_as_text)]
    for fn in resource.validators.get(f.name, ()):
        t = Annotated[t, AfterValidator(fn)]
    transform = resource.transforms.get(f.name)
    if transform is not None:
        t = Annotated[t, AfterValidator(transform)]
    return t | None if f.nullable else t


def _typed_dict(
    resource: Declared, variant: Variant, supplied: frozenset[str] = frozenset()
) -> type:
    fields: dict[str, Any] = {}
    for f in resource.writable:
        t = _field_type(resource, f)
        if f.name in supplied:
            required = False
        elif variant == "create":
            required = f.required_on_create and f.name not in resource.filled_on_create
        elif variant == "replace":
            required = f.required_on_replace
        else:
            required = False
        fields[f.name] = Required[t] if required else NotRequired[t]
    # Primary key fields that are not writable may still appear in an update body when they
    # match the URL (a client PUTs back what it GOT); the dispatcher checks they match.
    if variant != "create":
        for f in resource.pk_fields:
            if f.name not in fields:
                fields[f.name] = NotRequired[_field_type(resource, f)]
    td: type = TypedDict(f"{resource.name}_{variant}", fields, total=False)  # type: ignore[misc]
    td.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
        extra="forbid", val_json_bytes="base64", ser_json_bytes="base64"
    )
    return td


class ResourceSchema:
    """The validators of one resource, built once from its fields."""

    def __init__(self, resource: Declared) -> None:
        self.resource = resource
        self._one: dict[Variant, TypeAdapter[Any]] = {}
        self._many: TypeAdapter[Any] | None = None
        for variant in ("create", "replace", "patch"):
            self._one[variant] = TypeAdapter(_typed_dict(resource, variant))
        many: Any = list[_typed_dict(resource, "create")]  # type: ignore[misc]
        self._many = TypeAdapter(many)
        changes: Any = list[_typed_dict(resource, "patch")]  # type: ignore[misc]
        self._changes = TypeAdapter(changes)
        self._form_fields = {f.name: f for f in resource.writable}
        self._supplied: dict[frozenset[str], TypeAdapter[Any]] = {}

    def adapter(self, variant: Variant) -> TypeAdapter[Any]:
        """The validator of one variant (its ``json_schema()`` describes the body)."""
        return self._one[variant]

    def validate_json(self, body: bytes, variant: Variant) -> dict[str, Any]:
        """Validate one JSON object for ``variant``; raise MalformedBody / ValidationFailed."""
        return self._run(lambda: self._one[variant].validate_json(body, strict=True))  # type: ignore[no-any-return]

    def supplied_adapter(self, supplied: frozenset[str]) -> TypeAdapter[Any]:
        """The create validator where the fields ``supplied`` are not required of the client
        (a nested write fills them in: the keys linking a row to the one it is nested in)."""
        adapter = self._supplied.get(supplied)
        if adapter is None:
            adapter = self._supplied[supplied] = TypeAdapter(
                _typed_dict(self.resource, "create", supplied)
            )
        return adapter

    def validate_json_supplied(self, body: bytes, supplied: frozenset[str]) -> dict[str, Any]:
        """Validate one JSON object to create, ``supplied`` fields not required (see
        :meth:`supplied_adapter`)."""
        adapter = self.supplied_adapter(supplied)
        return self._run(lambda: adapter.validate_json(body, strict=True))  # type: ignore[no-any-return]

    def validate_json_many(self, body: bytes) -> list[dict[str, Any]]:
        """Validate a JSON array of objects to create; errors point at the bad item."""
        assert self._many is not None
        return self._run(lambda: self._many.validate_json(body, strict=True))  # type: ignore[union-attr,no-any-return]

    def validate_json_patch_many(self, body: bytes) -> list[dict[str, Any]]:
        """Validate a JSON array of changes (a bulk PATCH: each with its key); errors point at
        the bad item."""
        return self._run(lambda: self._changes.validate_json(body, strict=True))  # type: ignore[no-any-return]

    def validate_form(
        self,
        form: Mapping[str, str],
        variant: Variant,
        files: Mapping[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Validate a form-encoded body: values are text (binary ones base64, as in JSON), an
        empty value means null; ``files`` are the bytes of a multipart body's file parts (see
        :func:`.binary.file_value`)."""
        data: dict[str, Any] = {}
        refused: list[FieldError] = []
        for key, value in form.items():
            f = self._form_fields.get(key)
            text = f is not None and isinstance(f.column.type, sa.String)
            data[key] = None if value == "" and f is not None and f.nullable and not text else value
        for key, content in (files or {}).items():
            f = self.resource.fields.get(key)  # also a key sent back in an update
            try:
                data[key] = content if f is None else file_value(f.column.type, content)
            except ValueError as exc:
                refused.append(FieldError(_pointer([key]), str(exc)))
        try:
            valid = self._run(lambda: self._one[variant].validate_python(data, strict=False))
        except ValidationFailed as exc:
            if not refused:
                raise
            named = {e.pointer for e in refused}  # a refused field is not also "required"
            raise ValidationFailed(
                [*refused, *(e for e in exc.errors if e.pointer not in named)]
            ) from None
        if refused:
            raise ValidationFailed(refused)
        return valid  # type: ignore[no-any-return]

    def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except pydantic.ValidationError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: pydantic.ValidationError) -> MalformedBody | ValidationFailed:
        errors: list[FieldError] = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            kind = err["type"]
            if kind == "json_invalid":
                return MalformedBody("The request body is not valid JSON")
            loc = [str(p) for p in err["loc"]]
            errors.append(FieldError(_pointer(loc), self._message(kind, err["msg"], loc)))
        return ValidationFailed(errors)

    def _message(self, kind: str, msg: str, loc: list[str]) -> str:
        if kind == "extra_forbidden":
            f = self.resource.fields.get(loc[-1]) if loc else None
            return "Field is read-only" if f is not None and f.readable else "Unknown field"
        if kind == "value_error" and msg.startswith("Value error, "):
            return msg[len("Value error, ") :]
        if kind in ("dict_type", "typed_dict_type"):
            return "Input should be an object"
        if kind == "literal_error":
            return msg.replace("Input should be", "Input should be one of:", 1)
        return msg


def _pointer(loc: list[str]) -> str:
    """RFC 6901 JSON pointer for a pydantic error location."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in loc)
