"""Rows -> CSV (``text/csv``) or NDJSON (``application/x-ndjson``), a batch at a time.

An export streams every matching row, so each batch is encoded on its own and nothing holds
more than one batch. Values are written as in plain JSON (decimals and dates as text, binary
as base64); in CSV, NULL is the empty field, booleans are ``true``/``false`` and JSON values
are their JSON text. CSV follows RFC 4180: a header row of field names, CRLF line ends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from .json import _default

__all__ = ["CSV", "NDJSON", "CsvEncoder", "ndjson"]

CSV = "text/csv; charset=utf-8"
NDJSON = "application/x-ndjson"


def ndjson(rows: Iterable[dict[str, Any]]) -> bytes:
    """One JSON object per line."""
    option = orjson.OPT_APPEND_NEWLINE
    return b"".join(orjson.dumps(row, default=_default, option=option) for row in rows)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=_default).decode()
    return _default(value)


class CsvEncoder:
    """CSV text for one export: the header once, then rows batch by batch."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def header(self) -> bytes:
        self._writer.writerow(self.names)
        return self._take()

    def rows(self, rows: Iterable[dict[str, Any]]) -> bytes:
        self._writer.writerows([_cell(v) for v in row.values()] for row in rows)
        return self._take()
