"""Deep pages and whole exports: does cost stay flat as the work goes deeper or grows?

    python3 bench/deep.py [--report bench/results.md] [--duration 10]

Run by ``make bench`` after the side-by-side harness, with the same setup: the benchmark's
SQLite data (100,000 books), tablerest under gunicorn with one sync worker pinned to CPU 1, wrk
(1 thread, 16 connections) pinned to CPU 0, everything on 127.0.0.1. It measures the first
page of 50, keyset page 2,000 of 50 (``page[after]=<cursor>``, the cursor found by walking the
list) and offset page 2,000 (``page[number]=2000``); then, on a fresh worker, the CSV and NDJSON
export of all 100,000 books: time to the last byte and the worker's peak RSS before and after.
Only the standard library is needed; the tablerest venv and the data are the harness's.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

from worker import peak_rss_mib, tablerest_server

PORT = 8765
PAGE = 50
DEPTH = 2000


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
        url = base + body["links"]["next"]
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


def _download(url: str) -> tuple[float, int, int]:
    """Seconds to the last byte, bytes and lines of one streamed response."""
    started = time.perf_counter()
    size = lines = 0
    with urllib.request.urlopen(url, timeout=300) as resp:
        while chunk := resp.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--report", type=Path, help="append the table to this markdown file")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()

    with tablerest_server(PORT) as (base, pid, _work):
        cursor = _deep_cursor(base)
        cases = [
            ("first page (keyset)", f"/api/books?page[size]={PAGE}&page[after]="),
            (f"keyset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[after]={cursor}"),
            (f"offset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[number]={DEPTH}"),
        ]
        first_ids = [b["id"] for b in _get(base + cases[1][1])["data"]]
        assert first_ids == list(range((DEPTH - 1) * PAGE + 1, DEPTH * PAGE + 1)), first_ids[:3]
        results = [(name, _wrk(base + path, args.duration)) for name, path in cases]
        peak = peak_rss_mib(pid)

    exports = []
    with tablerest_server(PORT) as (base, pid, _work):
        for _ in range(20):  # the worker's usual footprint: a few ordinary pages first
            _get(f"{base}/api/books?page[size]=100")
        before = peak_rss_mib(pid)
        for fmt in ("csv", "ndjson"):
            seconds, size, lines = _download(f"{base}/api/books?format={fmt}")
            rows = lines - (fmt == "csv")
            if rows != 100_000:
                raise SystemExit(f"the {fmt} export has {rows} rows, not 100,000")
            exports.append((fmt, seconds, size, rows, peak_rss_mib(pid)))

    lines = [
        "",
        "## Deep pages (SQLite, tablerest)",
        "",
        f"`bench/deep.py`: pages of {PAGE} books, wrk 1 thread, 16 connections, "
        f"{args.duration} s each; server peak RSS over the three runs: {peak:.0f} MiB.",
        "",
        "| request | req/s | vs first page |",
        "|---|---|---|",
        *(f"| {name} | {rps:,.0f} | {rps / results[0][1]:.2f}x |" for name, rps in results),
        "",
        "### Export of every book (SQLite, tablerest)",
        "",
        "`GET /api/books?format=csv|ndjson` on a fresh worker, one client, time to the last byte. "
        f"Worker peak RSS after 20 ordinary pages: {before:.0f} MiB.",
        "",
        "| format | rows | MB | seconds | rows/s | worker peak RSS after |",
        "|---|---|---|---|---|---|",
        *(
            f"| {fmt} | {rows:,} | {size / 1e6:.1f} | {sec:.2f} | {rows / sec:,.0f} "
            f"| {rss:.0f} MiB |"
            for fmt, sec, size, rows, rss in exports
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.report:
        with args.report.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
