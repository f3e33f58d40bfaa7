"""Rate limits (Flask-Limiter): per address, per user, on sign-in, and shared through Redis."""

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
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest.mount.ratelimit import RateLimits
from tests.databases import REDIS_URL, reachable_redis
from tests.helpers import problem
from tests.security.conftest import AppFactory, login

ROOT = Path(__file__).resolve().parents[2]


def _limited(make_app: AppFactory, **limits: Any) -> FlaskClient:
    options = {"key_prefix": f"test-{uuid.uuid4().hex}", "storage_uri": "memory://", **limits}
    return make_app(api={"rate_limits": RateLimits(**options)}).test_client()


def test_anonymous_callers_are_limited_per_address(make_app: AppFactory) -> None:
    client = _limited(make_app, anonymous="3/minute")
    for remaining in (2, 1, 0):
        resp = client.get("/api/comments")
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == str(remaining)
    over = client.get("/api/comments")
    body = problem(over, 429)
    assert body["type"] == "urn:tablerest:problem:too-many-requests"
    assert 0 < int(over.headers["Retry-After"]) <= 60
    # Another address has its own budget.
    other = client.get("/api/comments", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def test_the_budget_covers_every_route_of_the_api(make_app: AppFactory) -> None:
    client = _limited(make_app, anonymous="2/minute")
    assert client.get("/api/comments").status_code == 200
    assert client.get("/api/comments/1").status_code == 200
    problem(client.get("/api"), 429)


def test_signed_in_users_have_their_own_budget(make_app: AppFactory) -> None:
    client = _limited(make_app, anonymous="1/minute", user="3/minute", sign_in="100/minute")
    bob = login(client, "bob")
    client.get("/api/comments")
    problem(client.get("/api/comments"), 429)
    for _ in range(3):
        assert client.get("/api/comments", headers=bob).status_code == 200
    problem(client.get("/api/comments", headers=bob), 429)
    # From another address bob is still bob: the same spent budget.
    elsewhere = {"REMOTE_ADDR": "10.0.0.9"}
    problem(client.get("/api/comments", headers=bob, environ_base=elsewhere), 429)
    assert client.get("/api/comments", headers=login(client, "cy")).status_code == 200


def test_sign_in_is_limited_per_login_name_from_any_address(make_app: AppFactory) -> None:
    client = _limited(make_app, sign_in="3/minute")
    for i in range(3):
        resp = client.post(
            "/api/auth/token",
            json={"username": "bob", "password": "guess"},
            environ_base={"REMOTE_ADDR": f"10.1.0.{i}"},
        )
        problem(resp, 401)
    blocked = client.post(
        "/api/auth/token",
        json={"username": "BOB", "password": "bob-pw"},
        environ_base={"REMOTE_ADDR": "10.1.0.99"},
    )
    problem(blocked, 429)
    assert "Retry-After" in blocked.headers
    # Other accounts are not locked out by it.
    ok = client.post(
        "/api/auth/token",
        json={"username": "cy", "password": "cy-pw"},
        environ_base={"REMOTE_ADDR": "10.1.0.98"},
    )
    assert ok.status_code == 200


def test_sign_in_is_limited_per_address(make_app: AppFactory) -> None:
    client = _limited(make_app, sign_in="2/minute")
    for name in ("ann", "bob"):
        problem(client.post("/api/auth/token", json={"username": name, "password": "x"}), 401)
    problem(client.post("/api/auth/token", json={"username": "cy", "password": "cy-pw"}), 429)


def test_no_rate_limits_without_the_option(client: FlaskClient) -> None:
    for _ in range(20):
        resp = client.get("/api/comments")
        assert resp.status_code == 200
        assert "X-RateLimit-Limit" not in resp.headers


# -- several processes sharing Redis -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Process:
    """One gunicorn worker serving tests.security.served on 127.0.0.1."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
               "--workers", "1", "tests.security.served:create()"]  # fmt: skip
        with log.open("w") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(log.read_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def call(
        self, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, dict(resp.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), json.loads(err.read() or b"null")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def two_servers(engine: sa.Engine, tmp_path: Path) -> Iterator[tuple[_Process, _Process]]:
    store = reachable_redis()
    prefix = f"tablerest-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "TEST_DB_URL": str(engine.url.render_as_string(hide_password=False)),
        "TEST_LIMIT_PREFIX": prefix,
        "TABLEREST_REDIS_URL": REDIS_URL,
    }
    first = _Process(env, tmp_path / "a.log")
    try:
        second = _Process(env, tmp_path / "b.log")
    except Exception:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
        for key in store.scan_iter(f"{prefix}*"):
            store.delete(key)


@pytest.mark.e2e
def test_limits_and_sessions_hold_across_processes_sharing_redis(
    two_servers: tuple[_Process, _Process],
) -> None:
    a, b = two_servers
    # A session revoked on one process is revoked on the other.
    status, _, pair = a.call("/api/auth/token", {"username": "bob", "password": "bob-pw"})
    assert status == 200
    token = pair["access_token"]
    assert b.call("/api/auth/me", token=token)[0] == 200
    assert a.call("/api/auth/logout", {}, token=token)[0] == 204
    status, headers, _ = b.call("/api/auth/me", token=token)
    assert status == 401  # (a request with a bad token counts against the address)
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    # A refresh token rotated on one process cannot be replayed on the other.
    status, _, pair = b.call("/api/auth/token", {"username": "cy", "password": "cy-pw"})
    assert a.call("/api/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 200
    assert b.call("/api/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 401
    # 6 anonymous requests a minute from this address, whichever process answers: one is
    # spent above, five are left.
    statuses = [(a if i % 2 else b).call("/api/comments")[0] for i in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    status, headers, body = a.call("/api/comments")
    assert status == 429
    assert body["status"] == 429
    assert int(headers["Retry-After"]) > 0
