"""Columns without a declared type (SQLite's ``CREATE TABLE t (x)``): what a write may store.

SQLite lets such a column hold any one value: an integer (64-bit), a float, text or bytes.
A JSON body may give it any JSON scalar: a string, a number (an integer within 64 bits, as
SQLite stores integers) or a boolean (SQLite stores ``true`` as ``1``, so it reads back as
``1``). An object or an array is a 422: storing it as JSON text would read back as a string,
not as what was sent, and a client that wants the text can send it as a string.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

__all__ = ["UNTYPED", "untyped_value"]

_INT64 = (-(2**63), 2**63 - 1)


def untyped_value(value: Any) -> Any:
    """A value for an untyped column: a JSON scalar, integers within 64 bits; ValueError
    otherwise (pydantic makes it a field error)."""
    if isinstance(value, dict | list):
        raise ValueError(
            "Input should be a string, a number or a boolean: a column without a declared "
            "type holds one value (send JSON as a string to store it as text)"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError("Input should be an integer within 64 bits (-2^63 to 2^63-1)")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    elif not isinstance(value, str | float | bool | bytes):  # bytes: from a form's file part
        raise ValueError("Input should be a string, a number or a boolean")
    return value


#: The validated type of an untyped column's value.
UNTYPED = Annotated[
    Any,
    PlainValidator(untyped_value),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
