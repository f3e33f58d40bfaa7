"""Beyond the peers: aggregates and bulk updates, against a floor and against single writes.

    python3 bench/beyond.py [--report bench/results.md] [--duration 10]

Run by ``make bench`` after bench/deep.py, with the same setup: the benchmark's SQLite data
(100,000 books), one gunicorn sync worker pinned to CPU 1, wrk (1 thread, 16 connections)
pinned to CPU 0, everything on 127.0.0.1. It measures

- ``GET /api/books?group_by=genre&aggregate=count(),avg(pages),max(year)``, and the same with
  ``filter[year][ge]=2000``, on tablerest and on its floor (bench/floors/aggregate_app.py: the
  same GROUP BY in one hand-written Flask route on sqlite3 + orjson, served the same way), each
  answer first checked against the groups computed with sqlite3 on the served database file;
- ``PATCH /api/books`` with an array of 10 rows ``{"id", "pages"}`` (random ids and pages per
  request) against ``PATCH /api/books/{id}`` of one row, in rows/s; one bulk request is first
  checked by reading its rows back with sqlite3 (pages changed, nothing else).

wrk runs a Lua script written to the scratch dir; any non-2xx answer fails the run. Only the
standard library is needed; the tablerest venv and the data are the harness's.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker import HERE, peak_rss_mib, report, tablerest_server, wsgi_server

PORT = 8766
BOOKS = 100_000
BULK = 10
AGGREGATE = "group_by=genre&aggregate=count(),avg(pages),max(year)"
SINCE = 2000
CASES = [
    ("all 100,000 books by genre", f"/api/books?{AGGREGATE}", None),
    (f"books from {SINCE} on, by genre", f"/api/books?{AGGREGATE}&filter[year][ge]={SINCE}", SINCE),
]
JSON_HEADERS = {"Content-Type": "application/json"}

# The request() of each load; the rest of the script is shared. Globals: ID_MAX, N, PATH.
LUA_REQUEST = {
    "get": """
function request()
  return req
end""",
    "single": """
function request()
  local body = '{"pages": ' .. math.random(10, 2000) .. '}'
  return wrk.format("PATCH", "/api/books/" .. math.random(ID_MAX), headers, body)
end""",
    "bulk": """
function request()
  local seen, rows = {}, {}
  while #rows < N do
    local id = math.random(ID_MAX)
    if not seen[id] then
      seen[id] = true
      rows[#rows + 1] = '{"id": ' .. id .. ', "pages": ' .. math.random(10, 2000) .. '}'
    end
  end
  return wrk.format("PATCH", "/api/books", headers, "[" .. table.concat(rows, ", ") .. "]")
end""",
}
LUA = """
ID_MAX, N, PATH = {id_max}, {n}, {path}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed({seed})
  headers = {{["Content-Type"] = "application/json"}}
  req = wrk.format("GET", PATH)
  ok, failed = 0, 0
end
{request}

function response(status, hdrs, body)
  if status >= 200 and status < 300 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local o, f = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
  end
  local e = summary.errors
  io.write(string.format('BEYONDJSON {{"ok": %d, "failed": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "socket_errors": %d}}\\n', o, f, summary.duration, latency:percentile(50),
    e.connect + e.read + e.write + e.timeout))
end
"""


def _request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=JSON_HEADERS)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def _wrk(base: str, kind: str, path: str, duration: int, work: Path) -> dict[str, Any]:
    """One wrk run; its counts, req/s of 2xx answers and median latency. Non-2xx fails it."""
    script = work / f"{kind}.lua"
    script.write_text(
        LUA.format(
            id_max=BOOKS, n=BULK, path=json.dumps(path), seed=random.randrange(1, 1 << 30),
            request=LUA_REQUEST[kind],
        )
    )  # fmt: skip
    argv = ["taskset", "-c", "0", "wrk", "-t1", "-c16", f"-d{duration}s", "--timeout", "10s"]
    argv += ["-s", str(script), base]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = re.search(r"^BEYONDJSON (.*)$", out, re.MULTILINE)
    if found is None:
        raise SystemExit(f"wrk ({kind} {path}) printed no summary:\n{out}")
    result: dict[str, Any] = json.loads(found.group(1))
    if result["failed"] or not result["ok"]:
        raise SystemExit(f"wrk ({kind} {path}): {result['failed']} non-2xx answers\n{out}")
    result["rps"] = result["ok"] / (result["duration_us"] / 1e6)
    return result


def _truth(db: Path, since: int | None) -> dict[str | None, tuple[int, float, int]]:
    """genre -> (count, avg pages, max year), computed by sqlite3 on the served file."""
    where, params = ("WHERE year >= ?", (since,)) if since is not None else ("", ())
    with sqlite3.connect(db) as con:
        rows = con.execute(
            f"SELECT genre, COUNT(*), AVG(pages), MAX(year) FROM books {where} GROUP BY genre",
            params,
        ).fetchall()
    return {genre: (count, avg, top) for genre, count, avg, top in rows}


def _check_groups(who: str, base: str, path: str, truth: dict[Any, tuple[int, float, int]]) -> None:
    status, doc = _request(base + path)
    groups = doc["data"]
    if status != 200 or doc.get("links", {}).get("next"):
        raise SystemExit(f"{who} {path}: status {status}, or the groups do not fit one page")
    got = {g["genre"]: (g["count"], g["avg_pages"], g["max_year"]) for g in groups}
    if len(groups) != len(truth) or got.keys() != truth.keys():
        raise SystemExit(f"{who} {path}: groups {sorted(got, key=str)} != {sorted(truth, key=str)}")
    for genre, (count, avg, top) in truth.items():
        g_count, g_avg, g_top = got[genre]
        if g_count != count or g_top != top or not math.isclose(g_avg, avg, rel_tol=1e-9):
            raise SystemExit(f"{who} {path}: {genre!r} is {got[genre]}, not {(count, avg, top)}")


def _rows(db: Path, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(db) as con:
        rows = con.execute(f"SELECT * FROM books WHERE id IN ({marks})", ids).fetchall()
    return {row[0]: row for row in rows}


def _others(db: Path, ids: list[int]) -> tuple[Any, ...]:
    """A fingerprint of every other book: count and sums of its numbers."""
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(db) as con:
        return tuple(
            con.execute(
                "SELECT COUNT(*), SUM(pages), SUM(year), SUM(author_id), SUM(length(title)) "
                f"FROM books WHERE id NOT IN ({marks})",
                ids,
            ).fetchone()
        )


def _check_write(db: Path, ids: list[int], send: Callable[[dict[int, int]], Any]) -> None:
    """Change the pages of ``ids`` through ``send``; then only those pages may have changed."""
    before, others = _rows(db, ids), _others(db, ids)
    pages = {i: before[i][4] % 1990 + 11 for i in ids}  # 10..2000 and never the old value
    answered = send(pages)
    after = _rows(db, ids)
    for i in ids:
        expected = (*before[i][:4], pages[i], *before[i][5:])
        if after[i] != expected:
            raise SystemExit(f"book {i} after the PATCH: {after[i]}, not {expected}")
    if _others(db, ids) != others:
        raise SystemExit("a PATCH changed books it was not given")
    if [row["pages"] for row in answered] != [pages[i] for i in ids]:
        raise SystemExit(f"the PATCH answered {answered}, not the new pages {pages}")


def _bulk(base: str) -> Callable[[dict[int, int]], Any]:
    def send(pages: dict[int, int]) -> Any:
        status, doc = _request(
            f"{base}/api/books", "PATCH", [{"id": i, "pages": p} for i, p in pages.items()]
        )
        if status != 200:
            raise SystemExit(f"bulk PATCH answered {status}")
        return doc

    return send


def _single(base: str) -> Callable[[dict[int, int]], Any]:
    def send(pages: dict[int, int]) -> Any:
        answers = []
        for i, p in pages.items():
            status, doc = _request(f"{base}/api/books/{i}", "PATCH", {"pages": p})
            if status != 200:
                raise SystemExit(f"PATCH /api/books/{i} answered {status}")
            answers.append(doc)
        return answers

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--report", type=Path, help="append the section to this markdown file")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(9)

    aggregates: dict[str, list[dict[str, Any]]] = {}
    with wsgi_server(PORT, HERE / "floors", "aggregate_app:app") as (base, _pid, work):
        db = work / "bench.sqlite"
        for _name, path, since in CASES:
            _check_groups("floor", base, path, _truth(db, since))
        aggregates["floor"] = [_wrk(base, "get", p, args.duration, work) for _, p, _ in CASES]

    with tablerest_server(PORT) as (base, pid, work):
        db = work / "bench.sqlite"
        for _name, path, since in CASES:
            _check_groups("tablerest", base, path, _truth(db, since))
        aggregates["tablerest"] = [_wrk(base, "get", p, args.duration, work) for _, p, _ in CASES]
        _check_write(db, rng.sample(range(1, BOOKS + 1), BULK), _bulk(base))
        _check_write(db, rng.sample(range(1, BOOKS + 1), BULK), _single(base))
        bulk = _wrk(base, "bulk", "/api/books", args.duration, work)
        single = _wrk(base, "single", "/api/books/{id}", args.duration, work)
        peak = peak_rss_mib(pid)

    bulk_rows, single_rows = bulk["rps"] * BULK, single["rps"]
    runs = [*aggregates["floor"], *aggregates["tablerest"], bulk, single]
    socket_errors = sum(r["socket_errors"] for r in runs)
    lines = [
        "",
        "## Beyond the peers: aggregates and bulk updates (SQLite, tablerest)",
        "",
        f"`bench/beyond.py`: wrk 1 thread, 16 connections, {args.duration} s each; every answer "
        "checked first against sqlite3 on the served file. tablerest worker peak RSS over its "
        f"runs: {peak:.0f} MiB.",
        "",
        f"`GET /api/books?{AGGREGATE}`; the floor is the same GROUP BY in one hand-written Flask "
        "route on sqlite3 + orjson (`bench/floors/aggregate_app.py`), served the same way.",
        "",
        "| aggregate | tablerest req/s | floor req/s | tablerest / floor |",
        "|---|---|---|---|",
        *(
            f"| {name} | {tr['rps']:,.0f} | {fl['rps']:,.0f} | {tr['rps'] / fl['rps']:.2f}x |"
            for (name, _, _), tr, fl in zip(
                CASES, aggregates["tablerest"], aggregates["floor"], strict=True
            )
        ),
        "",
        f'`PATCH /api/books` with an array of {BULK} rows `{{"id", "pages"}}` (random ids and '
        "pages, one transaction) against `PATCH /api/books/{id}` of one row (random ids); "
        f"10 rows' time is the server's time per {BULK} rows at that rate.",
        "",
        f"| update | req/s | rows/s | median latency | {BULK} rows' time |",
        "|---|---|---|---|---|",
        f"| bulk, {BULK} rows per request | {bulk['rps']:,.0f} | {bulk_rows:,.0f} "
        f"| {bulk['p50_us'] / 1000:.1f} ms | {BULK / bulk_rows * 1000:.1f} ms |",
        f"| single row per request | {single['rps']:,.0f} | {single_rows:,.0f} "
        f"| {single['p50_us'] / 1000:.1f} ms | {BULK / single_rows * 1000:.1f} ms |",
        "",
        f"Bulk writes {bulk_rows / single_rows:.1f}x the rows per second of single PATCHes.",
        *([f"wrk counted {socket_errors} socket errors over these runs."] if socket_errors else []),
        "",
    ]
    report("\n".join(lines), args.report)


if __name__ == "__main__":
    main()
