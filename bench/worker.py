"""A tablerest server for the bench scripts: the harness's SQLite data and venv, one gunicorn
sync worker pinned to CPU 1, 127.0.0.1 only (``wsgi_server`` serves another app, such as a floor,
the same way). Standard library only."""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "tablerest"


def tablerest_server(port: int) -> AbstractContextManager[tuple[str, int, Path]]:
    """Serve a fresh copy of the benchmark data; yield (base URL, worker pid, scratch dir)."""
    return wsgi_server(port, HERE / "systems" / "tablerest", "app:app")


@contextmanager
def wsgi_server(port: int, app_dir: Path, app: str) -> Iterator[tuple[str, int, Path]]:
    """``app`` (``module:callable`` in ``app_dir``) in the tablerest venv on a fresh copy of the
    benchmark data, in ``bench.sqlite`` of the scratch dir; yield as ``tablerest_server``."""
    templates = glob.glob(str(HERE / ".data" / "template-*.sqlite"))
    if not templates or not (VENV / "bin" / "gunicorn").exists():
        raise SystemExit("run the harness first (make bench): it builds the data and the venv")
    work = Path(tempfile.mkdtemp(prefix="tablerest-bench-"))
    db = work / "bench.sqlite"
    shutil.copy(templates[0], db)  # never the template itself: a run writes to its database
    env = {
        **os.environ,
        "BENCH_DB_KIND": "sqlite",
        "BENCH_DB_URL": f"sqlite:///{db}",
        "BENCH_SQLITE_PATH": str(db),
    }
    server = subprocess.Popen(
        ["taskset", "-c", "1", str(VENV / "bin" / "gunicorn"), "--workers", "1",
         "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         app],
        cwd=app_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api", timeout=5).read()
                break
            except urllib.error.HTTPError:  # an answer, whatever its status: the app is up
                break
            except OSError:
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
