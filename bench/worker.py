"""Servers for the bench scripts, on a fresh copy of the harness's SQLite data (or of another
SQLite file, or on a given database URL), pinned to CPU 1, 127.0.0.1 only. Standard library only.

- :func:`tablerest_server`: the ``tablerest_gunicorn`` system's app, one gunicorn sync worker
  (``wsgi_server`` serves another app, such as a floor, the same way);
- :func:`serve_server`: ``tablerest serve`` as the ``tablerest`` system runs it (granian).

The venvs and the data are the harness's, under ``BENCH_WORK_DIR`` as for the harness
(``make bench`` sets it to ``bench/``).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("BENCH_WORK_DIR", HERE))
VENV = WORK / ".venvs" / "tablerest_gunicorn"
SERVE_VENV = WORK / ".venvs" / "tablerest"


def tablerest_server(port: int) -> AbstractContextManager[tuple[str, int, Path]]:
    """Serve a fresh copy of the benchmark data; yield (base URL, worker pid, scratch dir)."""
    return wsgi_server(port, HERE / "systems" / "tablerest_gunicorn", "app:app")


def wsgi_server(
    port: int, app_dir: Path, app: str
) -> AbstractContextManager[tuple[str, int, Path]]:
    """``app`` (``module:callable`` in ``app_dir``) in the tablerest_gunicorn venv on a fresh
    copy of the benchmark data, in ``bench.sqlite`` of the scratch dir; yield as
    ``tablerest_server``."""
    argv = [str(VENV / "bin" / "gunicorn"), "--workers", "1", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--no-control-socket", app]  # fmt: skip
    return _served(port, argv, app_dir, {})


def serve_server(
    port: int, *options: str, data: Path | str | None = None
) -> AbstractContextManager[tuple[str, int, Path]]:
    """``tablerest serve`` with the ``tablerest`` system's command line (granian, one worker,
    serve's defaults) and ``options`` after it; yield as ``tablerest_server``, the pid being
    granian's worker process (the one that serves). ``data``: a SQLite file to serve a fresh
    copy of instead of the harness's data, or a database URL to serve as it is."""
    argv = [str(SERVE_VENV / "bin" / "tablerest"), "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", *options]  # fmt: skip
    env = {"TABLEREST_DATABASE": "{url}"}
    return _served(port, argv, HERE / "systems" / "tablerest", env, data)


def template_sqlite() -> Path:
    """The harness's SQLite data (1,000 authors, 100,000 books): copy it, never write to it."""
    templates = glob.glob(str(WORK / ".data" / "template-*.sqlite"))
    if not templates:
        raise SystemExit("run the harness first (make bench): it builds the data and the venvs")
    return Path(templates[0])


@contextmanager
def _served(
    port: int,
    argv: list[str],
    cwd: Path,
    extra_env: dict[str, str],
    data: Path | str | None = None,
) -> Iterator[tuple[str, int, Path]]:
    if not Path(argv[0]).exists():
        raise SystemExit("run the harness first (make bench): it builds the data and the venvs")
    with socket.socket() as probe:  # or another server, a harness run's, would be measured
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(f"127.0.0.1:{port} is in use: stop that server first") from None
    work = Path(tempfile.mkdtemp(prefix="tablerest-bench-"))
    if isinstance(data, str):  # a server's database, the caller's to make and drop
        url = data
        kind = "postgres" if url.startswith("postgresql") else url.split(":", 1)[0]
        db_env = {"BENCH_DB_KIND": kind, "BENCH_DB_URL": url}
    else:
        db = work / "bench.sqlite"
        # Never the template itself: a run writes to its database.
        shutil.copy(data if data is not None else template_sqlite(), db)
        url = f"sqlite:///{db}"
        db_env = {"BENCH_DB_KIND": "sqlite", "BENCH_DB_URL": url, "BENCH_SQLITE_PATH": str(db)}
    env = {
        **os.environ,
        **db_env,
        **{k: v.replace("{url}", url) for k, v in extra_env.items()},
    }
    server = subprocess.Popen(
        ["taskset", "-c", "1", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/api", timeout=5).read()
                break
            except urllib.error.HTTPError:  # an answer, whatever its status: the app is up
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"{argv[0]} exited with status {server.returncode}") from None
                time.sleep(0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        yield base, int(children[0]), work
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def peak_rss_mib(pid: int) -> float:
    """The process's resident-set high-water mark (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    (kib,) = re.findall(r"VmHWM:\s+(\d+) kB", status)
    return int(kib) / 1024


def report(text: str, path: Path | None) -> None:
    """Print a bench script's markdown, and append it to ``path`` (``--report``) if given."""
    print(text)
    if path is not None:
        with path.open("a") as f:
            f.write(text)
