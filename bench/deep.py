"""Deep pages: does a page cost the same at row 100,000 as at row 1?

    python3 bench/deep.py [--report bench/results.md] [--duration 10]

Run by ``make bench`` after the side-by-side harness, with the same setup: the benchmark's
SQLite data (100,000 books), tablerest under gunicorn with one sync worker pinned to CPU 1, wrk
(1 thread, 16 connections) pinned to CPU 0, everything on 127.0.0.1. It measures the first
page of 50, keyset page 2,000 of 50 (``page[after]=<cursor>``, the cursor found by walking the
list) and offset page 2,000 (``page[number]=2000``), and appends a table to the report.
Only the standard library is needed; the tablerest venv and the data are the harness's.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def _peak_rss_mib(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    (kib,) = re.findall(r"VmHWM:\s+(\d+) kB", status)
    return int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--report", type=Path, help="append the table to this markdown file")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()

    templates = glob.glob(str(HERE / ".data" / "template-*.sqlite"))
    gunicorn = HERE / ".venvs" / "tablerest" / "bin" / "gunicorn"
    if not templates or not gunicorn.exists():
        raise SystemExit("run the harness first (make bench): it builds the data and the venv")
    work = Path(tempfile.mkdtemp(prefix="tablerest-deep-"))
    db = work / "bench.sqlite"
    shutil.copy(templates[0], db)
    env = {**os.environ, "BENCH_DB_KIND": "sqlite", "BENCH_DB_URL": f"sqlite:///{db}"}
    server = subprocess.Popen(
        ["taskset", "-c", "1", str(gunicorn), "--workers", "1", "--worker-class", "sync",
         "--bind", f"127.0.0.1:{PORT}", "--no-control-socket", "app:app"],
        cwd=HERE / "systems" / "tablerest",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(100):
            try:
                _get(f"{base}/api")
                break
            except OSError:
                time.sleep(0.2)
        cursor = _deep_cursor(base)
        cases = [
            ("first page (keyset)", f"/api/books?page[size]={PAGE}&page[after]="),
            (f"keyset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[after]={cursor}"),
            (f"offset page {DEPTH:,}", f"/api/books?page[size]={PAGE}&page[number]={DEPTH}"),
        ]
        first_ids = [b["id"] for b in _get(base + cases[1][1])["data"]]
        assert first_ids == list(range((DEPTH - 1) * PAGE + 1, DEPTH * PAGE + 1)), first_ids[:3]
        results = [(name, _wrk(base + path, args.duration)) for name, path in cases]
        peak = _peak_rss_mib(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

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
    ]
    text = "\n".join(lines)
    print(text)
    if args.report:
        with args.report.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
