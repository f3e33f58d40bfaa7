"""A real ``tablerest serve`` process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import Headers

STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, args: list[str], env: dict[str, str], port: int | None = None) -> None:
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Output goes to a file, not a pipe, so a chatty server can never block on it.
        self.log = Path(env["TABLEREST_DEMO_PATH"]).with_suffix(f".{self.port}.log")
        cmd = [sys.executable, "-m", "tablerest", "serve", "--port", str(self.port), *args]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start in time")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text()


def call(
    method: str, url: str, body: Any = None, form: str | None = None
) -> tuple[int, Headers, Any]:
    """One HTTP request: (status, headers, parsed JSON body or None). Header names are
    case-insensitive, as in HTTP (granian sends them in lower case, gunicorn as the app did)."""
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    elif form is not None:
        data, headers = form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, Headers(resp.headers.items()), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, Headers(err.headers.items()), json.loads(raw) if raw else None


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TABLEREST_DEMO_PATH": str(tmp_path / "demo.sqlite3")}


#: The servers ``tablerest serve`` runs on: every e2e test runs on the default (granian), a
#: smaller set on gunicorn too (``@pytest.mark.parametrize("server", SERVERS)``).
SERVERS = ["granian", "gunicorn"]


@pytest.fixture
def demo_server(env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[Server]:
    """The demo on the default server, or on ``request.param`` (parametrized indirectly)."""
    chosen = getattr(request, "param", None)
    server = Server(["--server", chosen] if chosen else [], env)
    yield server
    server.stop()
