"""A PostgreSQL server of a test's own: initdb + pg_ctl on a temporary directory and port.

For tests that stop and start the database under a running API (outages), which the shared
server on 5432 must never go through. PostgreSQL refuses to run as root: as root, the cluster
runs as the ``postgres`` system user (``runuser``). Skips, or fails under
``TABLEREST_REQUIRE_SERVICES=1``, when the server binaries are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.databases import services_required

__all__ = ["OwnPostgres"]


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnPostgres:
    """``start()``, ``stop()``, ``url``; ``close()`` stops it and removes its files.

    ``OwnPostgres(replica_of=primary)`` is a streaming replica of a running ``primary``
    (``pg_basebackup -R``: hot standby, read-only).
    """

    def __init__(self, replica_of: OwnPostgres | None = None) -> None:
        bindir = _bin_dir()
        if bindir is None:
            reason = "PostgreSQL server binaries (initdb, pg_ctl) not found"
            if services_required():
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        self.bindir = bindir
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="tablerest-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if self.owner is not None:
            pw = pwd.getpwnam(self.owner)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        if replica_of is None:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C")  # fmt: skip
        else:
            primary = ["-h", "127.0.0.1", "-p", str(replica_of.port), "-U", "postgres"]
            self._run("pg_basebackup", "-D", str(self.data), *primary, "-R", "-X", "stream")

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / tool), *args]
        if self.owner is not None:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "start")  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("own PostgreSQL did not start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
