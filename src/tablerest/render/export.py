"""Rows -> CSV (``text/csv``) or NDJSON (``application/x-ndjson``), a batch at a time.

An export streams every matching row, so each batch is encoded on its own and nothing holds
more than one batch. Values are written as in plain JSON (decimals and dates as text, binary
as base64); in CSV, NULL is the empty field, booleans are ``true``/``false`` and JSON values
are their JSON text. CSV follows RFC 4180: a header row of field names, CRLF line ends.

CSV is opened by spreadsheets, which run a cell that starts like a formula (``=HYPERLINK(...)``,
``@SUM(...)``, ``+cmd|...``): text a client stored would run on the machine of whoever opens
the export. So, by default, a text cell (header cells too) that starts with one of
:data:`FORMULA_STARTS` is written as OWASP's CSV injection guidance says: prefixed with a
single quote and quoted (``'=1+2`` is shown as the text ``=1+2``). Numbers (integer, float and
decimal values) are never changed: ``-5`` stays a number.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from .json import _default

__all__ = ["CSV", "FORMULA_STARTS", "NDJSON", "CsvEncoder", "ndjson"]

CSV = "text/csv; charset=utf-8"
NDJSON = "application/x-ndjson"

#: The first characters that make a spreadsheet read a cell as a formula: OWASP's list
#: (``= + - @``, TAB, CR), LF, and the full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20),
#: which some spreadsheets fold to ASCII before reading the cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: What makes RFC 4180 quote a field.
_SPECIAL = (",", '"', "\r", "\n")


def ndjson(rows: Iterable[dict[str, Any]]) -> bytes:
    """One JSON object per line."""
    # Appended one by one, each result let go at once: orjson's bytes keep a few KiB of
    # memory however short their text, so a join (which lists them all first) held KiBs per
    # row (400 MiB for 100,000 rows) and took ten times longer.
    out = bytearray()
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for row in rows:
        out += dumps(row, default=_default, option=option)
    return bytes(out)


def _text(value: Any) -> str | None:
    """A value as CSV text; None for numbers, which are written as they are."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list | set | frozenset):  # a set: a MariaDB SET's labels
        return orjson.dumps(value, default=_default).decode()
    return str(_default(value))


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class CsvEncoder:
    """CSV text for one export: the header once, then rows batch by batch.

    ``guard`` (default on): text cells that start like a formula are neutralised (see the
    module's docstring); off, they are written as stored, for programs that read the CSV.
    """

    def __init__(self, names: Sequence[str], *, guard: bool = True) -> None:
        self.names = list(names)
        self.guard = guard

    def _cell(self, value: Any) -> str:
        if value is None:
            return ""
        text = _text(value)
        if text is None:
            return str(value)  # a number: never quoted, never prefixed
        if self.guard and text.startswith(FORMULA_STARTS):
            return _quoted("'" + text)
        if any(c in text for c in _SPECIAL):
            return _quoted(text)
        return text

    def _line(self, values: Iterable[Any]) -> str:
        cells = [self._cell(v) for v in values]
        if cells == [""]:
            return '""\r\n'  # a lone empty field, not a blank line (readers skip those)
        return ",".join(cells) + "\r\n"

    def header(self) -> bytes:
        return self._line(self.names).encode()

    def rows(self, rows: Iterable[dict[str, Any]]) -> bytes:
        return "".join(self._line(row.values()) for row in rows).encode()
