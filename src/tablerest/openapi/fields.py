"""One field's JSON Schema: its value in a row (as the JSON encoder writes it), as a path key,
as a filter value (as the query parser reads it), and what a write body checks beyond
pydantic's own schema.
"""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa

from ..columns.jsonobject import JsonList, JsonObject
from ..columns.sqlite_time import json_schema as stored_time_schema
from ..columns.typeops import STRUCTURED_OPS, base_type, family
from ..decode.queries import OPERATORS
from ..decode.values import INT64
from ..fields import Field
from ..resource import enum_labels


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]} if nullable else schema


def output_schema(f: Field) -> dict[str, Any]:
    """A readable field's value as the JSON encoder writes it."""
    out = value_schema(f.column.type)
    if out and f.nullable:
        return _nullable(out, True)
    return out


def value_schema(col_type: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    """A value of this SQL type as the JSON encoder writes it ({}: any JSON value)."""
    if isinstance(col_type, JsonObject):
        return {
            "type": "object",
            "properties": {n: _nullable(value_schema(t), True) for n, t in col_type.members},
        }
    if isinstance(col_type, JsonList):  # a value list: distinct values, in order
        return {"type": "array", "items": value_schema(col_type.item)}
    t = base_type(col_type)
    labels = enum_labels(t)
    out: dict[str, Any]
    if family(t) in ("array", "set"):
        out = {"type": "array"}  # items: see the write schemas (typeops)
    elif family(t) == "range":
        out = {
            "type": "object",
            "properties": {key: {} for key in ("lower", "upper", "bounds", "empty")},
        }
    elif labels is not None:
        out = {"type": "string", "enum": list(labels)}
    elif isinstance(t, sa.Boolean):
        out = {"type": "boolean"}
    elif isinstance(t, sa.Integer):
        out = {"type": "integer"}
    elif isinstance(t, sa.Float) or (isinstance(t, sa.Numeric) and not t.asdecimal):
        out = {"type": "number"}
    elif isinstance(t, sa.Numeric):
        out = {"type": "string", "description": "A decimal number, as text (no rounding)"}
    elif isinstance(t, sa.String):
        out = {"type": "string"}
    elif isinstance(t, sa.DateTime | sa.Date | sa.Time):
        out = time_schema(t)
    elif isinstance(t, sa.Interval):
        out = {"type": "string", "format": "duration"}
    elif isinstance(t, sa.Uuid):
        out = {"type": "string", "format": "uuid"}
    elif isinstance(t, sa.LargeBinary):
        out = {"type": "string", "contentEncoding": "base64"}
    else:
        out = {}  # JSON columns and types without a JSON counterpart: any value
    return out


def read_schema(f: Field) -> dict[str, Any]:
    """A field in a row: its value, marked read-only when the database computes it."""
    out = output_schema(f)
    if f.expression is not None and not f.writable:  # not a value list
        out = {**out, "readOnly": True, "description": "Computed by the database (read-only)"}
    return out


#: ``YYYY-MM-DD`` of a day that exists (a February 29th only in a leap year), from year 1
#: (Python's first). ECMA-262, JSON Schema's regex dialect, with no look-around.
_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DAY = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    rf"|{_LEAP_YEAR}-02-29)"
)
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
#: What the registry's ``date-time-local`` and ``time-local`` name, spelled out: a tool that
#: does not know those formats (schemathesis, most validators) would otherwise take any
#: string. The values rows show match them too (Python's ``isoformat()``).
LOCAL_PATTERNS = {
    "date-time-local": f"^{_DAY}[Tt ]{_CLOCK}$",
    "time-local": f"^{_CLOCK}$",
}


def time_schema(t: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    """A date or time value: the column's stored format, or ISO 8601."""
    stored = stored_time_schema(t)
    if stored is not None:
        return stored
    fmt = _time_format(t)
    pattern = LOCAL_PATTERNS.get(fmt)
    return {"type": "string", "format": fmt, **({"pattern": pattern} if pattern else {})}


def _time_format(t: sa.types.TypeEngine[Any]) -> str:
    """RFC 3339's formats need an offset; values of columns without a zone have none, which
    the OpenAPI format registry calls ``date-time-local`` / ``time-local``."""
    if isinstance(t, sa.DateTime):
        return "date-time" if t.timezone else "date-time-local"
    if isinstance(t, sa.Time):
        return "time" if t.timezone else "time-local"
    return "date"


def key_schema(f: Field) -> dict[str, Any]:
    """A field's value as a key: its output schema, never null."""
    schema = output_schema(f)
    return schema.get("anyOf", [schema])[0]  # type: ignore[no-any-return]


SCALAR_OPS = tuple(op for op in OPERATORS if op not in STRUCTURED_OPS)


def filter_schema(f: Field) -> dict[str, Any]:
    """A filter value of a field, as the query parser reads it."""
    t = f.column.type
    if family(t) != "scalar":  # an array, range or JSON value written as text: see typeops
        return {"type": "string"}
    if enum_labels(t) is None and isinstance(t, sa.Integer):
        return {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]}
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and t.asdecimal:
        return {"type": "string", "pattern": r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$"}
    if isinstance(t, sa.LargeBinary | sa.JSON | sa.Interval):
        return {"type": "string"}
    return key_schema(f)


def refine_input(f: Field, prop: dict[str, Any]) -> None:
    """Say in a body property's schema what the validator checks beyond pydantic's schema."""
    t = f.column.type
    if f.primary_key and not f.writable:
        # Allowed in an update body only unchanged (a client may send back what it read).
        prop["readOnly"] = True
        prop["description"] = "The primary key: may be sent back, only as in the URL"
    for branch in prop.get("anyOf", [prop]):
        if isinstance(t, sa.DateTime | sa.Time) and "format" in branch:
            del branch["format"]
            branch.update(time_schema(t))
        if (
            isinstance(t, sa.Numeric)
            and not isinstance(t, sa.Float)
            and t.asdecimal
            and t.precision is not None
        ):
            scale = t.scale or 0
            whole = t.precision - scale
            top = decimal.Decimal(10) ** whole - decimal.Decimal(10) ** -scale
            if branch.get("type") == "string":
                fraction = rf"(\.[0-9]{{1,{scale}}})?" if scale else ""
                branch["pattern"] = rf"^-?[0-9]{{1,{max(whole, 1)}}}{fraction}$"
            elif branch.get("type") == "number":
                branch.update(minimum=float(-top), maximum=float(top))
                branch["multipleOf"] = float(decimal.Decimal(10) ** -scale)
