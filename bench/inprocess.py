"""Per-request cost of the benchmark's requests, in process, without the network or wrk.

    .venv/bin/python bench/inprocess.py                   # µs per request, tablerest vs flaskfloor
    .venv/bin/python bench/inprocess.py --profile R1      # where tablerest's time goes (cProfile)
    .venv/bin/python bench/inprocess.py --calls           # Python calls per request (deterministic)
    .venv/bin/python bench/inprocess.py --report bench/results.md   # the gap, by component
    BENCH_DB_URL=postgresql+psycopg://... (and BENCH_PG_*) for PostgreSQL

It calls each WSGI app directly on a copy of the benchmark's SQLite data, so the numbers leave
out gunicorn, the socket and the load generator: what remains is the Python work of one request,
which is what tablerest can change. ``make bench`` is the measurement of record.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import importlib.util
import io
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"

REQUESTS: dict[str, dict[str, tuple[str, str, str | None]]] = {
    "tablerest": {
        "R1": ("GET", "/api/books/{id}", None),
        "R2": ("GET", "/api/books?page[size]=50", None),
        "R3": ("GET", "/api/books?genre=mystery&sort=-year&page[size]=50", None),
        "R6": ("GET", "/api/books/{id}?include=author", None),
        "R4": ("POST", "/api/books", '{"title": "t {n}", "pages": {n}, "author_id": 7}'),
        "R5": ("PATCH", "/api/books/{id}", '{"pages": {n}}'),
    },
    "flaskfloor": {
        "R1": ("GET", "/books/{id}", None),
        "R2": ("GET", "/books?limit=50", None),
        "R3": ("GET", "/books?genre=mystery&sort=-year&limit=50", None),
        "R6": ("GET", "/books/{id}?include=author", None),
        "R4": ("POST", "/books", '{"title": "t {n}", "pages": {n}, "author_id": 7}'),
        "R5": ("PATCH", "/books/{id}", '{"pages": {n}}'),
    },
}


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environ(method: str, url: str, body: str | None) -> dict[str, Any]:
    path, _, query = url.partition("?")
    headers = {"Content-Type": "application/json"} if body else {}
    return EnvironBuilder(
        path=path, query_string=query, method=method, data=body, headers=headers
    ).get_environ()


def _call(app: Callable[..., Any], environ: dict[str, Any]) -> str:
    status: list[str] = []

    def start_response(s: str, h: Any, exc: Any = None) -> None:
        status.append(s)

    for _chunk in app(environ, start_response):
        pass
    return status[0]


def _run(app: Callable[..., Any], spec: tuple[str, str, str | None], n: int) -> float:
    method, url, body = spec
    rng = random.Random(1)
    environs = []
    for _ in range(min(n, 5000)):
        i, k = rng.randint(1, 100_000), rng.randint(1, 900)
        environs.append(
            _environ(
                method,
                url.replace("{id}", str(i)),
                body.replace("{n}", str(k)) if body else None,
            )
        )
    status = _call(app, dict(environs[0]))
    if not status.startswith("2"):
        raise SystemExit(f"{method} {url}: {status}")
    start = time.perf_counter()
    for j in range(n):
        env = dict(environs[j % len(environs)])
        if body:
            env["wsgi.input"] = io.BytesIO(environs[j % len(environs)]["wsgi.input"].getvalue())
        _call(app, env)
    return (time.perf_counter() - start) / n * 1e6


def _calls(app: Callable[..., Any], spec: tuple[str, str, str | None], n: int = 200) -> float:
    """Python function calls per request (cProfile's count: the same on every run)."""
    _run(app, spec, n)  # warm: plans cached, connections open
    prof = cProfile.Profile()
    prof.enable()
    _run(app, spec, n)
    prof.disable()
    return pstats.Stats(prof).total_calls / n  # type: ignore[attr-defined,no-any-return]


#: (substring of a cProfile file name or function, component), first match wins.
COMPONENTS = [
    ("src/tablerest/execute/prepared.py", "driver: compiled SQL on the DBAPI cursor"),
    ("sqlite3", "driver: compiled SQL on the DBAPI cursor"),
    ("site-packages/psycopg", "driver: compiled SQL on the DBAPI cursor"),
    ("site-packages/sqlalchemy/", "SQLAlchemy (connections, pool, rows)"),
    ("site-packages/pydantic", "validation (pydantic)"),
    ("src/tablerest/decode/queries.py", "tablerest: query string parsing"),
    ("src/tablerest/plan/reads.py", "tablerest: read plans (signature, values)"),
    ("src/tablerest/render/", "tablerest: rows to JSON"),
    ("orjson", "orjson"),
    ("src/tablerest/execute/store.py", "tablerest: connections and transactions"),
    ("src/tablerest/http.py", "tablerest: negotiation, ETag, bodies"),
    ("src/tablerest/operations/", "tablerest: operations (reads, writes, the caller's view)"),
    ("src/tablerest/routes/", "tablerest: routes (decode, links, responses)"),
    ("src/tablerest/mount/", "tablerest: view wrappers (errors, security headers)"),
    ("src/tablerest/", "tablerest: other modules"),
    ("systems/flaskfloor", "flaskfloor's hand-written view"),
    ("site-packages/werkzeug/", "Werkzeug (request, response, routing)"),
    ("site-packages/flask/", "Flask (dispatch, contexts)"),
    ("urllib/parse", "stdlib: URL quoting (links, Location)"),
]
OTHER = "other (stdlib, interpreter)"


def _components(
    app: Callable[..., Any], spec: tuple[str, str, str | None], n: int
) -> dict[str, float]:
    """cProfile's own time per component, in µs per request (profiled, so inflated)."""
    prof = cProfile.Profile()
    prof.enable()
    _run(app, spec, n)
    prof.disable()
    out: dict[str, float] = {}
    for (filename, _line, func), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        where = f"{filename} {func}"
        name = next((c for key, c in COMPONENTS if key in where), OTHER)
        out[name] = out.get(name, 0.0) + row[2] / n * 1e6
    return out


def account(apps: dict[str, Any], names: list[str], n: int) -> str:
    """A markdown table: for each request, where tablerest's extra time over flaskfloor goes."""
    measured: dict[str, tuple[float, float]] = {}
    extra: dict[str, dict[str, float]] = {}
    for name in names:
        ff_spec, tr_spec = REQUESTS["flaskfloor"][name], REQUESTS["tablerest"][name]
        ff, tr = _run(apps["flaskfloor"], ff_spec, n), _run(apps["tablerest"], tr_spec, n)
        measured[name] = (ff, tr)
        ffc = _components(apps["flaskfloor"], ff_spec, n)
        trc = _components(apps["tablerest"], tr_spec, n)
        extra[name] = {c: trc.get(c, 0.0) - ffc.get(c, 0.0) for c in {*ffc, *trc}}
    order = [*dict.fromkeys(c for _, c in COMPONENTS), OTHER]
    lines = [
        "",
        "## Where tablerest's time over flaskfloor goes (in process, SQLite)",
        "",
        "`bench/inprocess.py --report`: both WSGI apps called directly on a copy of the data "
        f"({n} requests each, no server or socket): first timed, then profiled. The component "
        "rows are cProfile own time, tablerest minus flaskfloor, in profiled µs (the profiler "
        "roughly doubles Python-heavy parts, so read them as shares of the gap, not as "
        "absolute costs). Writes include SQLite's commit to disk, whose time varies run to "
        "run. gunicorn's share, the same for both, is not in these numbers.",
        "",
        "| µs per request | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| flaskfloor | " + " | ".join(f"{measured[r][0]:.0f}" for r in names) + " |",
        "| tablerest | " + " | ".join(f"{measured[r][1]:.0f}" for r in names) + " |",
        "| **extra** | "
        + " | ".join(f"**{measured[r][1] - measured[r][0]:+.0f}**" for r in names)
        + " |",
    ]
    for comp in order:
        cells = [extra[r].get(comp, 0.0) for r in names]
        if any(abs(c) >= 1 for c in cells):
            lines.append(f"| {comp} | " + " | ".join(f"{c:+.0f}" for c in cells) + " |")
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", default="R1,R2,R3,R6,R4,R5")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--profile", metavar="REQUEST", help="cProfile tablerest on one request")
    parser.add_argument("--report", type=Path, help="append the per-component account here")
    parser.add_argument(
        "--calls", action="store_true", help="Python calls per request (deterministic) instead"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tablerest-inprocess-"))
    if not os.environ.get("BENCH_DB_URL"):
        data = Path(os.environ.get("BENCH_WORK_DIR", HERE)) / ".data"  # the harness's
        (template,) = glob.glob(str(data / "template-*.sqlite"))
        db = work / "bench.sqlite"
        shutil.copy(template, db)
        os.environ.update(
            BENCH_DB_KIND="sqlite", BENCH_SQLITE_PATH=str(db), BENCH_DB_URL=f"sqlite:///{db}"
        )
    sys.path.insert(0, str(SHARED / "systems" / "flaskfloor"))
    apps = {
        "tablerest": _load("tr_app", HERE / "systems" / "tablerest_gunicorn" / "app.py").app,
        "flaskfloor": _load("ff_app", SHARED / "systems" / "flaskfloor" / "app.py").app,
    }
    try:
        if args.profile:
            spec = REQUESTS["tablerest"][args.profile]
            _run(apps["tablerest"], spec, 200)
            prof = cProfile.Profile()
            prof.enable()
            _run(apps["tablerest"], spec, args.n)
            prof.disable()
            stats = pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative"))
            stats.print_stats(45)
            if os.environ.get("CALLERS"):  # e.g. CALLERS=iri_to_uri: who calls it, how often
                stats.print_callers(os.environ["CALLERS"])
            return
        if args.report:
            text = account(apps, args.requests.split(","), args.n)
            print(text)
            with args.report.open("a") as f:
                f.write(text)
            return
        if args.calls:
            print(f"{'request':8} {'flaskfloor calls':>17} {'tablerest calls':>16}")
            for name in args.requests.split(","):
                ff = _calls(apps["flaskfloor"], REQUESTS["flaskfloor"][name])
                tr = _calls(apps["tablerest"], REQUESTS["tablerest"][name])
                print(f"{name:8} {ff:17.0f} {tr:16.0f}")
            return
        print(f"{'request':8} {'flaskfloor µs':>14} {'tablerest µs':>13} {'extra µs':>9}")
        for name in args.requests.split(","):
            ff = _run(apps["flaskfloor"], REQUESTS["flaskfloor"][name], args.n)
            tr = _run(apps["tablerest"], REQUESTS["tablerest"][name], args.n)
            print(f"{name:8} {ff:14.1f} {tr:13.1f} {tr - ff:9.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
