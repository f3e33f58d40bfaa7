"""Binary values in requests: base64 text (filters, keys, form fields) and files (multipart).

Binary columns are rendered as standard base64 (RFC 4648 section 4, with padding), so a value a
client read can be sent back as it is: in a filter (``filter[payload]=AP8Q``), in a key, in a
JSON body and in a form field, all read by the same rule (pydantic's). Text that is not base64
is refused, never compared as the bytes of its characters. In a query string, ``+`` must be
percent-encoded (``%2B``): a bare ``+`` means a space there.

A file part of a ``multipart/form-data`` body (:func:`file_value`) is the field's value as
sent: its bytes for a binary or untyped column, its text (UTF-8) for a text column; a file for
any other column is refused. The body size limit applies to files as to every body.
"""

from __future__ import annotations

import pydantic
import sqlalchemy as sa

__all__ = ["file_value", "from_base64"]

#: Text -> bytes as the write validators read a JSON string for a binary column.
_BASE64: pydantic.TypeAdapter[bytes] = pydantic.TypeAdapter(
    bytes, config=pydantic.ConfigDict(val_json_bytes="base64")
)


def from_base64(text: str) -> bytes:
    """The bytes a base64 text stands for, read as JSON bodies read it (padding optional, the
    URL-safe alphabet too); ValueError when it is not base64."""
    try:
        return _BASE64.validate_python(text, strict=False)
    except pydantic.ValidationError as exc:
        why = exc.errors(include_url=False)[0]["msg"]
        hint = "; in a query string, send + as %2B" if " " in text else ""
        raise ValueError(f"must be base64, as binary values are shown ({why}{hint})") from None


def file_value(col_type: sa.types.TypeEngine[object], content: bytes) -> bytes | str:
    """The value a file part gives a column of ``col_type``; ValueError when the column cannot
    take a file."""
    if isinstance(col_type, sa.LargeBinary | sa.types.NullType):
        return content  # an untyped column (SQLite) stores bytes as they are, as BLOB does
    if isinstance(col_type, sa.String) and not isinstance(col_type, sa.Enum):
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("A file for a text field must be UTF-8 text") from None
    raise ValueError("Only binary and text fields take a file; send this one as a form value")
