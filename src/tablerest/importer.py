"""Bulk import: rows from a CSV, JSON or NDJSON file into one resource (``tablerest import``).

Every row goes through the resource's own validation, as a ``POST`` would: CSV values are read
as form fields (text converted to each column's type, an empty value is null), JSON items as
JSON bodies. Valid rows are written in batches, one transaction each. A row that fails is not
written and is reported with where it was in the file and why; it never stops the others. A
batch that breaks a unique or foreign key is written again row by row, each its own
transaction, so that only the clashing rows are turned away.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from .errors import TablerestError
from .execute.store import Database, diagnose_integrity
from .resource import Resource

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
    db: Database,
    resource: Resource,
    path: Path,
    fmt: Format,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> Report:
    """Import ``path`` into ``resource``; ``progress(n)`` is told of every ``n`` rows done."""
    report = Report()
    batch: list[tuple[_Item, dict[str, Any]]] = []
    schema = resource.schema
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
        batch.append((item, {resource.fields[k].column.key: v for k, v in values.items()}))
        if len(batch) >= batch_size:
            _write(db, resource, batch, report)
            progress(len(batch))
            batch = []
    if batch:
        _write(db, resource, batch, report)
        progress(len(batch))
    return report


def _write(
    db: Database,
    resource: Resource,
    batch: list[tuple[_Item, dict[str, Any]]],
    report: Report,
) -> None:
    table = resource.table
    try:
        with db.transaction(table) as conn:
            assert isinstance(conn, sa.Connection)  # no plans given: never a bare DBAPI one
            # One INSERT per set of fields given: a field left out keeps its column default.
            shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
            for _, values in batch:
                shapes.setdefault(frozenset(values), []).append(values)
            for rows in shapes.values():
                conn.execute(sa.insert(table), rows)
        report.imported += len(batch)
        return
    except sa_exc.IntegrityError:
        pass  # rolled back: find the rows at fault, keep the others
    for item, values in batch:
        try:
            with db.transaction(table, statements=1) as conn:
                assert isinstance(conn, sa.Connection)
                conn.execute(sa.insert(table), [values])
            report.imported += 1
        except sa_exc.IntegrityError:
            with db.connection(table) as conn:
                by_column = {table.c[k]: v for k, v in values.items()}
                conflict = diagnose_integrity(conn, resource, [by_column])
            report.rejected.append(Rejected(item.where, _reason(conflict), item.row))


def _reason(exc: TablerestError) -> str:
    if exc.errors:
        return "; ".join(f"{e.pointer.lstrip('/') or '(row)'}: {e.detail}" for e in exc.errors)
    return exc.detail
