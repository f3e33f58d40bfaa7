"""Bulk import: rows from a CSV, JSON or NDJSON file into one resource (``tablerest import``).

Every row goes through the resource's own validation, as a ``POST`` would: CSV values are read
as form fields (text converted to each column's type, an empty value is null), JSON items as
JSON bodies. Valid rows are written in batches, one transaction each, through the resource's
create operation (:meth:`tablerest.operations.writes.Writes.create`): the same checks, hooks,
change recording and diagnosis of conflicts as the API's own writes. A row that fails is not
written and is reported with where it was in the file and why; it never stops the others. A
batch that the database or the operation refuses (a unique or foreign key broken) is written
again row by row, each its own transaction, so that only the rows at fault are turned away.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from .errors import TablerestError
from .operations.caller import Caller
from .operations.service import Operations

__all__ = ["FORMATS", "Rejected", "Report", "import_file", "read_items"]

Format = Literal["csv", "json", "ndjson"]
FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


@dataclass(frozen=True)
class Rejected:
    """A row that was not imported: where it is in the file (``line 7``, ``item 3``), why,
    and the row as read."""

    where: str
    reason: str
    row: Any


@dataclass
class Report:
    imported: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class _Item:
    where: str
    row: Any
    kind: Literal["form", "json"]


def read_items(path: Path, fmt: Format) -> Iterator[_Item | Rejected]:
    """The file's rows, one at a time (a JSON array is read whole); unreadable ones rejected."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            start = reader.line_num + 2  # the header is line 1
            for record in reader:
                if None in record:
                    yield Rejected(f"line {start}", "More values than the header has", record)
                else:
                    yield _Item(f"line {start}", record, "form")
                start = reader.line_num + 1
        return
    if fmt == "ndjson":
        with path.open("rb") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield _Item(f"line {number}", orjson.loads(line), "json")
                except orjson.JSONDecodeError:
                    yield Rejected(
                        f"line {number}", "Not valid JSON", line.decode(errors="replace")
                    )
        return
    try:
        items = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError(f"{path} must hold a JSON array of objects")
    for number, item in enumerate(items, start=1):
        yield _Item(f"item {number}", item, "json")


def import_file(
    ops: Operations,
    caller: Caller,
    path: Path,
    fmt: Format,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> Report:
    """Import ``path`` into the resource of ``ops``, as ``caller`` creates rows (the command
    line's is the trusted one, ``registry.caller(None)``); ``progress(n)`` is told of every
    ``n`` rows done."""
    report = Report()
    batch: list[tuple[_Item, dict[str, Any]]] = []
    schema = ops.resource.schema
    for item in read_items(path, fmt):
        if isinstance(item, Rejected):
            report.rejected.append(item)
            progress(1)
            continue
        try:
            if item.kind == "form":
                values = schema.validate_form(item.row, "create")
            else:
                values = schema.validate_json(orjson.dumps(item.row), "create")
        except TablerestError as exc:
            report.rejected.append(Rejected(item.where, _reason(exc), item.row))
            progress(1)
            continue
        batch.append((item, values))
        if len(batch) >= batch_size:
            _write(ops, caller, batch, report)
            progress(len(batch))
            batch = []
    if batch:
        _write(ops, caller, batch, report)
        progress(len(batch))
    return report


def _write(
    ops: Operations, caller: Caller, batch: list[tuple[_Item, dict[str, Any]]], report: Report
) -> None:
    try:
        ops.writes.create(caller, [values for _, values in batch], many=True, returning=False)
        report.imported += len(batch)
        return
    except TablerestError as exc:
        if exc.status >= 500:  # the database went away: no row would fare better
            raise
    # Nothing of the batch was written: find the rows at fault, keep the others.
    for item, values in batch:
        try:
            ops.writes.create(caller, [values], many=False, returning=False)
            report.imported += 1
        except TablerestError as exc:
            if exc.status >= 500:
                raise
            report.rejected.append(Rejected(item.where, _reason(exc), item.row))


def _reason(exc: TablerestError) -> str:
    if exc.errors:
        return "; ".join(f"{e.pointer.lstrip('/') or '(row)'}: {e.detail}" for e in exc.errors)
    return exc.detail
