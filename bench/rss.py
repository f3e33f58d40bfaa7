"""Memory of a serving worker, measured without load: ``tablerest serve`` beside flaskfloor_granian.

The bench harness (``/work/shared/bench/run.py``) reports a system's peak RSS as the largest
VmHWM among the server's child processes after its wrk runs. This probe measures the same
numbers deterministically, without wrk: it starts each server on a fresh copy of the bench's
SQLite data, reads every process's VmRSS/VmHWM and its private and shared memory
(``/proc/PID/smaps_rollup``) once the server answers, then again after ``--requests`` requests
of each kind (R1 one book, R2 a page of 50, R6 a book with its author), one keep-alive
connection::

    python3 bench/rss.py --venvs /tmp/benchwork-rss/.venvs \\
        --data /tmp/benchwork-rss/.data/template-*.sqlite --requests 300 --repeat 3

``--venvs``: the folder of the harness's per-system venvs (``run.py setup`` builds them; the
tablerest venv installs this worktree, editable).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

FLASKFLOOR = "/work/shared/bench/systems/flaskfloor_granian"

#: name -> (argv with {port}, cwd or None, its page size parameter)
SYSTEMS: dict[str, tuple[list[str], str | None, str]] = {
    "tablerest": (
        ["tablerest", "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
        None,
        "page[size]",
    ),
    "flaskfloor_granian": (
        ["granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}",
         "--workers", "1", "--blocking-threads", "1", "--no-ws", "app:app"],
        FLASKFLOOR,
        "limit",
    ),
}  # fmt: skip


def children(pid: int) -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def memory(pid: int) -> dict[str, int]:
    """KiB: VmRSS, VmHWM (status); Pss, private and shared pages (smaps_rollup)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty"):
                out[key] = int(line.split()[1])
    out["Private"] = out.pop("Private_Clean", 0) + out.pop("Private_Dirty", 0)
    out["Shared"] = out.pop("Shared_Clean", 0) + out.pop("Shared_Dirty", 0)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The bench's requests (run.py's R1-R6): method, path ({p}: the API's prefix, {size}: the
#: page size parameter), body.
REQUESTS = {
    "R1": ("GET", "{p}/books/{id}", None),
    "R2": ("GET", "{p}/books?{size}=50", None),
    "R3": ("GET", "{p}/books?genre={genre}&sort=-year&{size}=50", None),
    "R4": ("POST", "{p}/books", '{{"title": "Probe {n}", "genre": "essays", "year": 2024, '
           '"pages": {pages}, "author_id": {author}}}'),
    "R5": ("PATCH", "{p}/books/{id}", '{{"pages": {pages}}}'),
    "R6": ("GET", "{p}/books/{id}?include=author", None),
}  # fmt: skip
GENRES = ("mystery", "essays", "poetry", "fantasy", "drama")


def call(conn: http.client.HTTPConnection, method: str, path: str, body: str | None) -> int:
    headers = {"Host": "127.0.0.1"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def client(port: int, prefix: str, size: str, kinds: list[str], n: int, seed: int) -> None:
    """``n`` rounds of ``kinds`` on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(n):
        k = seed * 100003 + i
        for kind in kinds:
            method, path, body = REQUESTS[kind]
            values = {
                "p": prefix,
                "size": size,
                "id": 1 + (k * 7919) % 100_000,
                "genre": GENRES[k % 5],
                "n": k,
                "pages": 100 + k % 500,
                "author": 1 + k % 1000,
            }
            status = call(
                conn, method, path.format(**values), body.format(**values) if body else None
            )
            if status >= 300:
                raise RuntimeError(f"{method} {path.format(**values)}: {status}")
    conn.close()


def measure(name: str, venvs: str, data: str, requests: int, load: int, connections: int
            ) -> dict[str, Any]:  # fmt: skip
    """Memory at boot, after ``requests`` rounds of R1 R2 R6 on one connection, and after
    ``load`` rounds of R1-R6 on each of ``connections`` connections at once."""
    argv, cwd, size = SYSTEMS[name]
    prefix = "/api" if name == "tablerest" else ""
    port = free_port()
    work = tempfile.mkdtemp(prefix="rss-probe-")
    db = os.path.join(work, "bench.sqlite")
    shutil.copyfile(data, db)
    vbin = os.path.join(venvs, name, "bin")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=vbin + os.pathsep + env.get("PATH", ""),
        VIRTUAL_ENV=os.path.join(venvs, name),
        BENCH_DB_KIND="sqlite",
        BENCH_SQLITE_PATH=db,
        BENCH_DB_URL=f"sqlite:///{db}",
        TABLEREST_DATABASE=f"sqlite:///{db}",
    )
    cmd = [a.replace("{port}", str(port)) for a in argv]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if call(conn, "GET", f"{prefix}/books/1", None) == 200:
                    conn.close()
                    break
            except OSError:
                time.sleep(0.1)
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{name} did not start")
        time.sleep(0.5)
        workers = children(proc.pid)

        def snapshot() -> dict[str, Any]:
            return {"main": memory(proc.pid), "workers": [memory(w) for w in workers]}

        out = {"system": name, "boot": snapshot()}
        client(port, prefix, size, ["R1", "R2", "R6"], requests, 0)
        out["reads"] = snapshot()
        if load:
            threads = [
                threading.Thread(target=client, args=(port, prefix, size, list(REQUESTS), load, c))
                for c in range(1, connections + 1)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out["load"] = snapshot()
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def mib(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--venvs", required=True)
    ap.add_argument("--data", required=True, help="the bench's SQLite template")
    ap.add_argument("--systems", default="tablerest,flaskfloor_granian")
    ap.add_argument("--requests", type=int, default=300, help="rounds of R1 R2 R6, one connection")
    ap.add_argument(
        "--load",
        type=int,
        default=50,
        help="then rounds of R1-R6 on each of --connections at once (0: none)",
    )
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="the raw numbers on stderr too")
    args = ap.parse_args()
    print("MiB: worker VmRSS/VmHWM (private+shared); main: the serving process's VmRSS")
    print(f"{'system':19} | {'main':>5} | {'boot':^17} | {'after reads':^17} | {'after load':^17}")
    for _ in range(args.repeat):
        for name in args.systems.split(","):
            res = measure(name, args.venvs, args.data, args.requests, args.load, args.connections)
            if args.json:
                print(json.dumps(res), file=sys.stderr)
            cells = []
            for phase in ("boot", "reads", "load"):
                if phase in res:
                    w = res[phase]["workers"][0]
                    cells.append(f"{mib(w['VmRSS'])}/{mib(w['VmHWM'])} "
                                 f"({mib(w['Private'])}+{mib(w['Shared'])})")  # fmt: skip
            print(f"{name:19} | {mib(res['boot']['main']['VmRSS']):>5} | {' | '.join(cells)}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
