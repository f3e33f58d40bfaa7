"""Deep pages and whole exports: does cost stay flat as the work goes deeper or grows?

    python3 bench/deep.py [--report bench/results.md] [--duration 10] [--port 8765]

Run by ``make bench`` after the side-by-side harness, with the same setup and what users run:
``tablerest serve`` as the harness's ``tablerest`` system runs it (granian, one worker, serve's
defaults) pinned to CPU 1, wrk (1 thread, 16 connections) pinned to CPU 0, all on 127.0.0.1.

Deep pages, on the harness's SQLite data (100,000 books): the first page of 50, keyset page
2,000 of 50 (``page[after]=<cursor>``, the cursor found by walking the list) and offset page
2,000 (``page[number]=2000``).

Exports of 1,000,000 rows: a copy of the data whose books are grown from 100,000 to 1,000,000
rows with plain SQL (each book again with its id shifted by a multiple of 100,000, same author,
so the foreign keys hold). For CSV, then NDJSON, a fresh worker serves 20 ordinary pages, then
the export of the first 100,000 books, then the export of all 1,000,000, then the export of
their 1,000,000 groups by id (``group_by=id``: groups stream as rows do); the row count and the
last row are checked, and the worker's peak RSS (VmHWM) is read after each step: "flat" means
the peak after 1,000,000 rows is the peak after 100,000. The same on PostgreSQL when
``BENCH_PG_DSN`` names a server (as for the harness, e.g. ``host=127.0.0.1 port=5432
user=postgres``) that holds the harness's PostgreSQL data (``bench_tpl_*``, made by a harness
run with ``--db postgres`` and that DSN): a throwaway database made from it, grown the same way
with psql, dropped at the end.

Only the standard library (and psql for PostgreSQL) is needed; the venv and the data are the
harness's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from worker import peak_rss_mib, report, serve_server, template_sqlite

PAGE = 50
DEPTH = 2000
BOOKS = 100_000  # the harness's data set
GROWN = 1_000_000
PG_DB = "bench_deep_export"


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _deep_cursor(base: str) -> str:
    """The cursor after row (DEPTH - 1) * PAGE, found by walking the list in pages of 100."""
    rows, url = 0, f"{base}/api/books?page[size]=100&page[after]="
    target = (DEPTH - 1) * PAGE
    while rows < target:
        size = min(100, target - rows)
        url = re.sub(r"page%5Bsize%5D=\d+|page\[size\]=\d+", f"page[size]={size}", url)
        body = _get(url)
        rows += len(body["data"])
        url = urllib.parse.urljoin(base, body["links"]["next"])  # absolute links too
    return url.split("page%5Bafter%5D=")[1].split("&")[0]


def _wrk(url: str, duration: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", "-c16", f"-d{duration}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if found is None or non2xx is not None:
        raise SystemExit(f"wrk on {url} failed:\n{out}")
    return float(found.group(1))


def _download(url: str) -> tuple[float, int, int, bytes]:
    """Seconds to the last byte, bytes, lines and last line of one streamed response."""
    started = time.perf_counter()
    size = lines = 0
    tail = b""
    with urllib.request.urlopen(url, timeout=600) as resp:
        while chunk := resp.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-512:]
    return time.perf_counter() - started, size, lines, tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]


def deep_pages(port: int, duration: int) -> tuple[list[tuple[str, float]], float]:
    """req/s of the first, a deep keyset and a deep offset page; the worker's peak RSS."""
    with serve_server(port) as (base, pid, _work):
        cursor = _deep_cursor(base)
        cases = [
            ("first page (keyset)", f"/api/books?page[size]={PAGE}&page[after]="),
            (f"keyset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[after]={cursor}"),
            (f"offset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[number]={DEPTH}"),
        ]
        first_ids = [b["id"] for b in _get(base + cases[1][1])["data"]]
        assert first_ids == list(range((DEPTH - 1) * PAGE + 1, DEPTH * PAGE + 1)), first_ids[:3]
        results = [(name, _wrk(base + path, duration)) for name, path in cases]
        return results, peak_rss_mib(pid)


#: Each book of the harness's data again, ``k`` times 100,000 further on (k = 1..9).
GROW_SQLITE = f"""
WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {GROWN // BOOKS - 1})
INSERT INTO books (id, title, genre, year, pages, author_id)
SELECT b.id + k.n * {BOOKS}, b.title, b.genre, b.year, b.pages, b.author_id
FROM books AS b, k WHERE b.id <= {BOOKS}
"""
GROW_PG = f"""
INSERT INTO books (id, title, genre, year, pages, author_id)
SELECT b.id + k * {BOOKS}, b.title, b.genre, b.year, b.pages, b.author_id
FROM books AS b, generate_series(1, {GROWN // BOOKS - 1}) AS k WHERE b.id <= {BOOKS};
SELECT setval(pg_get_serial_sequence('books', 'id'), {GROWN});
ANALYZE books;
"""
CHECK = "SELECT count(*), min(id), max(id), count(DISTINCT author_id) FROM books"


def _checked(found: tuple[int, ...], where: str) -> None:
    if tuple(found[:3]) != (GROWN, 1, GROWN):
        raise SystemExit(f"{where}: books grew to (count, min id, max id) = {found[:3]}")


@contextmanager
def grown_sqlite() -> Iterator[Path]:
    """A copy of the harness's SQLite data with 1,000,000 books; removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="tablerest-deep-"))
    try:
        path = work / "grown.sqlite"
        shutil.copy(template_sqlite(), path)
        con = sqlite3.connect(path)
        try:
            (count,) = con.execute("SELECT count(*) FROM books").fetchone()
            if count != BOOKS:
                raise SystemExit(f"the harness's data has {count} books, not {BOOKS:,}")
            with con:
                con.execute("PRAGMA foreign_keys = ON")
                con.execute(GROW_SQLITE)
            con.execute("ANALYZE")
            _checked(con.execute(CHECK).fetchone(), "SQLite")
            # The file is copied alone for each server: nothing may stay in the WAL.
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        yield path
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _psql(dsn: str, dbname: str, sql: str) -> str:
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    return subprocess.run(
        [*argv, "-d", f"{dsn} dbname={dbname}", "-c", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class NoPostgres(Exception):
    """The server of ``BENCH_PG_DSN`` does not answer, or holds no harness data."""


def pg_template(dsn: str) -> str:
    """The harness's PostgreSQL data on the server of ``dsn``: its template database."""
    try:
        templates = _psql(
            dsn,
            "postgres",
            r"SELECT datname FROM pg_database WHERE datname LIKE 'bench\_tpl\_%' "
            r"AND datname NOT LIKE '%\_tmp' ORDER BY datname",
        ).split()
    except subprocess.CalledProcessError as exc:
        raise NoPostgres(f"no server ({exc.stderr.strip().splitlines()[0]})") from None
    if not templates:
        raise NoPostgres("no harness data (`bench_tpl_*`) there")
    return templates[-1]


@contextmanager
def grown_postgres(dsn: str, template: str) -> Iterator[str]:
    """The URL of a throwaway copy of ``template`` with 1,000,000 books, dropped afterwards."""
    _psql(dsn, "postgres", f'DROP DATABASE IF EXISTS "{PG_DB}"')
    _psql(dsn, "postgres", f'CREATE DATABASE "{PG_DB}" TEMPLATE "{template}"')
    try:
        _psql(dsn, PG_DB, GROW_PG)
        _checked(tuple(int(v) for v in _psql(dsn, PG_DB, CHECK).split("|")), "PostgreSQL")
        _psql(dsn, "postgres", "CHECKPOINT")  # its writes are not the export's to wait for
        parts = dict(p.split("=", 1) for p in shlex.split(dsn))
        password = parts.get("password")
        auth = parts.get("user", "postgres")
        if password:
            auth += ":" + urllib.parse.quote(password, safe="")
        host, port = parts.get("host", "127.0.0.1"), parts.get("port", "5432")
        yield f"postgresql+psycopg://{auth}@{host}:{port}/{PG_DB}"
    finally:
        _psql(dsn, "postgres", f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


#: (database, format, step, rows, bytes, seconds, worker peak RSS MiB after the step)
Step = tuple[str, str, str, int, int, float, float]


def exports(port: int, database: str, data: Path | str) -> list[Step]:
    """For each format, on a fresh worker: 20 pages, an export of 100,000 rows, of all, of
    all the groups by id."""
    steps: list[Step] = []
    for fmt in ("csv", "ndjson"):
        with serve_server(port, data=data) as (base, pid, _work):
            started = time.perf_counter()
            for _ in range(20):  # the worker's usual footprint: a few ordinary pages first
                _get(f"{base}/api/books?page[size]=100")
            seconds = time.perf_counter() - started
            steps.append((database, fmt, "20 pages of 100", 2000, 0, seconds, peak_rss_mib(pid)))
            for step, rows, query in (
                ("export", BOOKS, f"&filter[id][le]={BOOKS}"),
                ("export", GROWN, ""),
                ("export of groups", GROWN, "&group_by=id&aggregate=count()"),
            ):
                seconds, size, lines, last = _download(f"{base}/api/books?format={fmt}{query}")
                found = lines - (fmt == "csv")  # the header
                if found != rows:
                    raise SystemExit(f"{database} {fmt} export has {found:,} rows, not {rows:,}")
                last_id = re.match(rb'\{"id":(\d+),|(\d+),', last)
                if last_id is None or int(last_id.group(1) or last_id.group(2)) != rows:
                    raise SystemExit(f"{database} {fmt} export ends with {last[:80]!r}")
                steps.append((database, fmt, step, rows, size, seconds, peak_rss_mib(pid)))
    return steps


def export_table(steps: list[Step], pg_note: str) -> list[str]:
    out = [
        "### Export of 1,000,000 books (tablerest serve)",
        "",
        f"The harness's books grown from {BOOKS:,} to {GROWN:,} rows with SQL. For each database "
        "and format a fresh granian worker serves 20 ordinary pages, then "
        f"`GET /api/books?format=csv|ndjson&filter[id][le]={BOOKS}`, then the whole "
        "`GET /api/books?format=csv|ndjson`, then its groups by id "
        "(`&group_by=id&aggregate=count()`, one group per book): one client, time to the last "
        "byte, row count and last row checked, the worker's peak RSS (VmHWM) after each step "
        f"(in brackets: the change from the step before). Flat memory: the peak after {GROWN:,} "
        f"rows (or groups) is the peak after {BOOKS:,}. {pg_note}",
        "",
        "| database | format | step | rows | MB | seconds | rows/s | worker peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    before = 0.0
    for database, fmt, step, rows, size, seconds, rss in steps:
        growth = f" ({round(rss - before):+d})" if size else ""
        before = rss
        mb, speed = (f"{size / 1e6:.1f}", f"{rows / seconds:,.0f}") if size else ("", "")
        out.append(
            f"| {database} | {fmt} | {step} | {rows:,} | {mb} | {seconds:.2f} | {speed} "
            f"| {rss:.0f} MiB{growth} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--report", type=Path, help="append the tables to this markdown file")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    results, peak = deep_pages(args.port, args.duration)
    with grown_sqlite() as path:
        steps = exports(args.port, "SQLite", path)
    dsn = os.environ.get("BENCH_PG_DSN")
    if not dsn:
        pg_note = "PostgreSQL: not run (no `BENCH_PG_DSN`)."
    else:
        try:
            template = pg_template(dsn)
        except NoPostgres as exc:
            pg_note = f"PostgreSQL: not run, `{dsn}`: {exc}."
        else:
            with grown_postgres(dsn, template) as url:
                steps += exports(args.port, "PostgreSQL", url)
            pg_note = f"PostgreSQL: `{dsn}`."

    lines = [
        "",
        "## Deep pages (SQLite, tablerest serve)",
        "",
        f"`bench/deep.py`: pages of {PAGE} books, wrk 1 thread, 16 connections, "
        f"{args.duration} s each, `tablerest serve` (granian, one worker); worker peak RSS over "
        f"the three runs: {peak:.0f} MiB.",
        "",
        "| request | req/s | vs first page |",
        "|---|---|---|",
        *(f"| {name} | {rps:,.0f} | {rps / results[0][1]:.2f}x |" for name, rps in results),
        "",
        *export_table(steps, pg_note),
        "",
    ]
    report("\n".join(lines), args.report)


if __name__ == "__main__":
    main()
