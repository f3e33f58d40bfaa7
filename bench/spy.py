"""Where tablerest's worker spends its time under load: a py-spy profile, summarized.

    python3 bench/spy.py [--report bench/results.md] [--requests R1,R2,R6] [--server gunicorn]

Run by ``make bench`` after the harness. Same setup as the harness (the benchmark's SQLite data,
the server pinned to CPU 1, wrk on CPU 0, 127.0.0.1 only): by default ``tablerest serve`` as the
``tablerest`` system runs it (granian, one worker, serve's defaults), with ``--server gunicorn``
the ``tablerest_gunicorn`` system (one sync worker). py-spy samples the worker for 10 s and every
sample is given to the innermost frame of a known component. The table says which share of the
worker's samples each component takes, request by request. On granian only the thread holding
the GIL is sampled (``--gil``): serve runs several threads, and one waiting for the GIL would
otherwise count as busy. py-spy is installed into the server's bench venv (it is not imported,
only run).
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import subprocess
import time
from pathlib import Path

from worker import SERVE_VENV, VENV, serve_server, tablerest_server

PORT = 8766

PATHS = {
    "R1": lambda rng: f"/api/books/{rng.randint(1, 100_000)}",
    "R2": lambda rng: "/api/books?page[size]=50",
    "R3": lambda rng: "/api/books?genre=mystery&sort=-year&page[size]=50",
    "R6": lambda rng: f"/api/books/{rng.randint(1, 100_000)}?include=author",
}

#: granian: its Python wrapper, and its Rust threads when they hold the GIL (no Python frame).
GRANIAN = "granian (environ, response and socket write)"

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
    ("logging/", "the access log (logging)"),
    ("prometheus_client/", "metrics (prometheus-client)"),
    ("tablerest/mount/observe.py", "tablerest: request ids, access log, metrics"),
    ("tablerest/granian_runner.py", "tablerest: serve's wrapper (environ, proxies)"),
    ("tablerest/mount/lean.py", "tablerest: the lean path (matching, hooks in Flask's order)"),
    ("tablerest/", "tablerest: the rest of the pipeline (http, mount)"),
    ("orjson", "orjson"),
    ("werkzeug/", "Werkzeug (request/response objects, routing)"),
    ("flask/", "Flask (dispatch, contexts)"),
    ("gunicorn/", "gunicorn (accept, HTTP parsing, socket writes, close)"),
    ("granian/", GRANIAN),
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
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    args = parser.parse_args()

    granian = args.server == "granian"
    venv = SERVE_VENV if granian else VENV
    if not (venv / "bin" / "py-spy").exists():
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    tables: dict[str, collections.Counter[str]] = {}
    server = serve_server(PORT) if granian else tablerest_server(PORT)
    with server as (_base, pid, work):
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
                [str(venv / "bin" / "py-spy"), "record", "-p", worker, "-d", str(args.seconds),
                 "-r", "500", *(["--gil"] if granian else []), "-f", "raw", "-o", str(raw),
                 "--nonblocking"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            load.wait()
            counts: collections.Counter[str] = collections.Counter()
            for line in raw.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                frames = stack.split(";")
                # On granian, the GIL held with no Python frame is granian's Rust threads'.
                counts[GRANIAN if granian and not any(frames) else _component(frames)] += int(n)
            tables[name] = counts

    names = list(tables)
    order = [c for _, c in COMPONENTS] + ["other (interpreter, stdlib)"]
    lines = [
        "",
        f"## Where tablerest's worker spends its time (SQLite, {args.server}, py-spy)",
        "",
        f"`bench/spy.py`: py-spy samples the worker for {args.seconds} s under the same load "
        "(random ids for R1/R6); each sample goes to the innermost frame of a known component. "
        + (
            "The server is `tablerest serve` (granian, one worker, serve's defaults) and only "
            "the thread holding the GIL is sampled. "
            if granian
            else "The server is gunicorn, one sync worker. "
        )
        + "Shares of all samples:",
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
