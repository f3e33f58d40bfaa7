"""Where tablerest's worker spends its time under load: a py-spy profile, summarized.

    python3 bench/spy.py [--report bench/results.md] [--requests R1,R2,R6]

Run by ``make bench`` after the harness. Same setup as the harness (the benchmark's SQLite data,
gunicorn with one sync worker pinned to CPU 1, wrk on CPU 0, 127.0.0.1 only); py-spy samples the
worker for 10 s and every sample is given to the innermost frame of a known component. The
table says which share of the worker's samples each component takes, request by request.
py-spy is installed into the tablerest bench venv (it is not imported, only run).
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import subprocess
import time
from pathlib import Path

from worker import VENV, tablerest_server

PORT = 8766

PATHS = {
    "R1": lambda rng: f"/api/books/{rng.randint(1, 100_000)}",
    "R2": lambda rng: "/api/books?page[size]=50",
    "R3": lambda rng: "/api/books?genre=mystery&sort=-year&page[size]=50",
    "R6": lambda rng: f"/api/books/{rng.randint(1, 100_000)}?include=author",
}

#: (substring of a py-spy frame, component), first match wins, innermost frame first.
COMPONENTS = [
    ("tablerest/execute/prepared.py", "SQL on the DBAPI cursor (sqlite3 inside)"),
    ("sqlalchemy/pool", "SQLAlchemy connection pool"),
    ("sqlalchemy/", "SQLAlchemy (Connection, other)"),
    ("tablerest/decode/queries.py", "tablerest: query string parsing"),
    ("tablerest/plan/reads.py", "tablerest: plan signature and values"),
    ("tablerest/render/", "tablerest: rows to JSON"),
    ("tablerest/execute/store.py", "tablerest: connection handling"),
    ("tablerest/operations/", "tablerest: operations (reads, writes, the caller's view)"),
    ("tablerest/routes/", "tablerest: routes (decode, links, responses)"),
    ("tablerest/", "tablerest: the rest of the pipeline (http, mount)"),
    ("orjson", "orjson"),
    ("werkzeug/", "Werkzeug (request/response objects, routing)"),
    ("flask/", "Flask (dispatch, contexts)"),
    ("gunicorn/", "gunicorn (accept, HTTP parsing, socket writes, close)"),
]


def _component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for key, name in COMPONENTS:
            if key in frame:
                return name
    return "other (interpreter, stdlib)"


def _lua(paths: list[str]) -> str:
    items = ", ".join(f'"{p}"' for p in paths)
    return (
        f"local paths = {{{items}}}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--report", type=Path)
    parser.add_argument("--requests", default="R1,R2,R6")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    if not (VENV / "bin" / "py-spy").exists():
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    tables: dict[str, collections.Counter[str]] = {}
    with tablerest_server(PORT) as (_base, pid, work):
        worker = str(pid)
        rng = random.Random(5)
        for name in args.requests.split(","):
            lua = work / f"{name}.lua"
            lua.write_text(_lua([PATHS[name](rng) for _ in range(2000)]))
            load = subprocess.Popen(
                ["taskset", "-c", "0", "wrk", "-t1", "-c16", f"-d{args.seconds + 4}s",
                 "-s", str(lua), f"http://127.0.0.1:{PORT}"],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(2)
            raw = work / f"{name}.txt"
            subprocess.run(
                [str(VENV / "bin" / "py-spy"), "record", "-p", worker, "-d", str(args.seconds),
                 "-r", "500", "-f", "raw", "-o", str(raw), "--nonblocking"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            load.wait()
            counts: collections.Counter[str] = collections.Counter()
            for line in raw.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                counts[_component(stack.split(";"))] += int(n)
            tables[name] = counts

    names = list(tables)
    order = [c for _, c in COMPONENTS] + ["other (interpreter, stdlib)"]
    lines = [
        "",
        "## Where tablerest's worker spends its time (SQLite, py-spy)",
        "",
        f"`bench/spy.py`: py-spy samples the worker for {args.seconds} s under the same load "
        "(random ids for R1/R6); each sample goes to the innermost frame of a known component. "
        "Shares of all samples:",
        "",
        "| component | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for comp in dict.fromkeys(order):
        cells = []
        for name in names:
            total = sum(tables[name].values()) or 1
            cells.append(f"{tables[name][comp] / total:.0%}")
        if any(c != "0%" for c in cells):
            lines.append(f"| {comp} | " + " | ".join(cells) + " |")
    text = "\n".join([*lines, ""])
    print(text)
    if args.report:
        with args.report.open("a") as f:
            f.write(text)
    if re.search(r"\S", text) is None:
        raise SystemExit("no samples")


if __name__ == "__main__":
    main()
