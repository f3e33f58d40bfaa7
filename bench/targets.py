"""Issue 20's targets, read off the side-by-side harness's raw results.

    python3 bench/targets.py [--report bench/results.md] [RAW.json ...]

The harness's report gives every ratio against ``floor`` (gunicorn); the targets compare
tablerest as ``serve`` ships it with other systems of the same run:

- ``tablerest`` >= 0.90x ``flaskfloor_granian`` on R1, R2, R6, R4, R5 and >= 0.95x on R3
  (Flask's own ceiling on the same server), and >= 1.5x on R1 and R6 (the lean path's stretch);
- ``tablerest`` >= 3x the best Python peer (``seedstyle``, ``fastapi``, as their docs deploy them);
- the serving worker's peak RSS <= 1.5x ``flaskfloor_granian``'s.

Medians over every round of the given files (default: the newest file in ``bench/raw``, or
``$BENCH_WORK_DIR/raw``). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

from worker import report

HERE = Path(__file__).resolve().parent
ORDER = ["R1", "R2", "R3", "R6", "R4", "R5"]
CEILING = {"R3": 0.95}  # else 0.90
STRETCH = {"R1": 1.5, "R6": 1.5}
PEERS = ["seedstyle", "fastapi"]
OURS, FLASK = "tablerest", "flaskfloor_granian"
#: serve with one thread, as the granian floors run: the same server settings, the app alone.
ONE_THREAD = "tablerest_1thread"


def _newest() -> list[Path]:
    work = Path(os.environ.get("BENCH_WORK_DIR", HERE))
    found = sorted((work / "raw").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no raw results in {work / 'raw'}: run the harness first (make bench)")
    return found[-1:]


def _load(
    files: list[Path],
) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], int]]:
    rps: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    rss: dict[tuple[str, str], int] = defaultdict(int)
    for path in files:
        for rec in json.loads(path.read_text())["results"]:
            if rec.get("status") != "ok" or not rec.get("check_ok") or rec.get("non2xx"):
                continue
            key = (rec["db"], rec["system"], rec["request"])
            rps[key].append(rec["rps"])
            rss[rec["db"], rec["system"]] = max(rss[rec["db"], rec["system"]], rec["worker_hwm_kb"])
    return {k: statistics.median(v) for k, v in rps.items()}, rss


def _mark(value: float, target: float) -> str:
    return f"{value:.2f}x {'met' if value >= target else '**not met**'}"


def table(files: list[Path]) -> str:
    rps, rss = _load(files)
    dbs = sorted({db for db, _s, _r in rps}, key=lambda d: (d != "sqlite", d))
    out = [
        "",
        "## Issue 20 targets (tablerest as `serve` ships it)",
        "",
        f"`bench/targets.py` over {', '.join(p.name for p in files)}: median req/s of every "
        f"round; each ratio is tablerest's over the other system's, in the same run.",
        "",
        "| db | request | tablerest | flaskfloor_granian | x flaskfloor_granian (target) "
        "| x 1.5 stretch | best peer | x best peer (target 3x) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for db in dbs:
        for req in ORDER:
            ours, flask = rps.get((db, OURS, req)), rps.get((db, FLASK, req))
            if ours is None:
                continue
            peers = [(rps[db, p, req], p) for p in PEERS if (db, p, req) in rps]
            best = max(peers, default=None)
            ceiling = CEILING.get(req, 0.90)
            vs_flask = f"{_mark(ours / flask, ceiling)} ({ceiling:.2f})" if flask else "-"
            stretch = _mark(ours / flask, STRETCH[req]) if flask and req in STRETCH else ""
            vs_peer = _mark(ours / best[0], 3.0) if best else "-"
            out.append(
                f"| {db} | {req} | {ours:,.0f} | {flask or 0:,.0f} | {vs_flask} | {stretch} "
                f"| {f'{best[0]:,.0f} ({best[1]})' if best else '-'} | {vs_peer} |"
            )
    same = [
        f"| {db} | {req} | {rps[db, ONE_THREAD, req]:,.0f} | {rps[db, FLASK, req]:,.0f} "
        f"| {_mark(rps[db, ONE_THREAD, req] / rps[db, FLASK, req], CEILING.get(req, 0.90))} |"
        for db in dbs
        for req in ORDER
        if (db, ONE_THREAD, req) in rps and (db, FLASK, req) in rps
    ]
    if same:
        out += [
            "",
            "Like for like: `tablerest serve --threads 1` (the floors' one thread) over "
            "flaskfloor_granian.",
            "",
            "| db | request | tablerest_1thread | flaskfloor_granian | ratio |",
            "|---|---|---|---|---|",
            *same,
        ]
    out += [
        "",
        "| db | tablerest worker peak RSS | flaskfloor_granian's | ratio (target <= 1.5x) |",
        "|---|---|---|---|",
    ]
    for db in dbs:
        ours_kb, flask_kb = rss.get((db, OURS)), rss.get((db, FLASK))
        if ours_kb and flask_kb:
            ratio = ours_kb / flask_kb
            verdict = "met" if ratio <= 1.5 else "**not met**"
            out.append(
                f"| {db} | {ours_kb / 1024:.0f} MiB | {flask_kb / 1024:.0f} MiB "
                f"| {ratio:.2f}x {verdict} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="*", type=Path, help="raw result files of the harness")
    parser.add_argument("--report", type=Path, help="append the tables to this markdown file")
    args = parser.parse_args()
    report(table(args.files or _newest()), args.report)


if __name__ == "__main__":
    main()
