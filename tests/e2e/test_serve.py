"""End to end: ``tablerest serve`` as a real process on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import Headers

from tests.e2e.conftest import SERVERS, Server
from tests.e2e.conftest import call as _call

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("demo_server", SERVERS, indirect=True)
def test_newcomer_walkthrough_on_the_demo(demo_server: Server) -> None:
    api = demo_server.base + "/api"
    status, _, index = _call("GET", api)
    assert status == 200
    assert {r["name"] for r in index["resources"]} == {
        "authors",
        "books",
        "users",
        "cohorts",
        "students",
    }

    status, headers, book = _call(
        "POST", f"{api}/books", {"title": "My Book", "year": 2024, "author_id": 1}
    )
    assert status == 201
    location = headers["Location"]
    assert location == f"{api}/books/{book['id']}"  # absolute, as the client reached it
    status, _, fetched = _call("GET", location)
    assert (status, fetched["title"]) == (200, "My Book")
    status, _, patched = _call("PATCH", location, {"pages": 321})
    assert (status, patched["pages"], patched["title"]) == (200, 321, "My Book")
    status, _, _ = _call("DELETE", location)
    assert status == 204
    status, headers, problem = _call("GET", location)
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"

    status, headers, problem = _call("POST", f"{api}/books", {"title": "", "year": "soon"})
    assert status == 422
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers == {"/year", "/author_id"}

    status, _, created = _call("POST", f"{api}/authors", form="name=Form+Author&country=NZ")
    assert (status, created["name"], created["country"]) == (201, "Form Author", "NZ")

    status, headers, page = _call("GET", f"{api}/books?page[size]=5&page[number]=2")
    assert status == 200
    assert [b["id"] for b in page["data"]] == [6, 7, 8, 9, 10]
    assert 'rel="next"' in headers["Link"]
    output = demo_server.stop()
    assert f"http://127.0.0.1:{demo_server.port}/api" in output


def test_serve_a_sqlite_file_read_only(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "mine.db"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE "Pets" (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
        conn.execute("INSERT INTO \"Pets\" (name) VALUES ('Rex')")
        conn.executemany('INSERT INTO "Pets" (name) VALUES (?)', [(f"pet {i}",) for i in range(30)])
    conn.close()
    server = Server([str(path), "--read-only", "--workers", "2"], env)
    try:
        status, _, body = _call("GET", f"{server.base}/api/Pets?page[size]=1")
        assert (status, body["data"]) == (200, [{"id": 1, "name": "Rex"}])
        # Keyset pages over a real server (the workers share one cursor key: test_cli.py).
        url: str | None = f"{server.base}/api/Pets?page%5Bsize%5D=2&page%5Bafter%5D="
        seen = []
        while url:
            assert url.startswith(f"{server.base}/api/Pets?"), url  # links are absolute
            status, _, body = _call("GET", url)
            assert status == 200, body
            seen += [p["id"] for p in body["data"]]
            url = body["links"]["next"]
        assert seen == list(range(1, 32))
        status, headers, _ = _call("POST", f"{server.base}/api/Pets", {"name": "Tom"})
        assert status == 405
        assert "POST" not in headers["Allow"]
    finally:
        server.stop()


def test_serve_refuses_a_missing_file(tmp_path: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tablerest", "serve", str(tmp_path / "nope.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "no database file" in result.stderr


@pytest.mark.parametrize("server_name", SERVERS)
def test_metrics_and_logs_of_several_workers(
    tmp_path: Path, env: dict[str, str], server_name: str
) -> None:
    path = tmp_path / "pets.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.close()
    env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    server = Server([str(path), "--workers", "3", "--threads", "1", "--server", server_name], env)
    try:
        assert _call("GET", f"{server.base}/healthz")[0] == 200
        assert _call("GET", f"{server.base}/readyz")[0] == 200
        for i in range(30):
            req = urllib.request.Request(
                f"{server.base}/api/pets", headers={"X-Request-ID": f"e2e-{i}"}
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.headers["X-Request-ID"] == f"e2e-{i}"
        # Whichever worker answers the scrape, it sums every worker's counts.
        for _ in range(3):
            with urllib.request.urlopen(f"{server.base}/metrics", timeout=10) as resp:
                text = resp.read().decode()
            line = next(
                x
                for x in text.splitlines()
                if x.startswith("tablerest_requests_total")
                and 'route="/api/pets"' in x
                and 'method="GET"' in x
            )
            assert float(line.rsplit(" ", 1)[1]) == 30
    finally:
        log = server.stop()
    access = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    assert sorted(a["request_id"] for a in access if a["route"] == "/api/pets") == sorted(
        f"e2e-{i}" for i in range(30)
    )
    assert {a["status"] for a in access} == {200}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PKCS#8, which granian requires), as PEM."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("server_name", SERVERS)
def test_serve_over_tls(tmp_path: Path, env: dict[str, str], server_name: str) -> None:
    import http.client
    import ssl

    path = tmp_path / "pets.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.execute("INSERT INTO pets (name) VALUES ('Rex')")
    conn.close()
    cert, key = _self_signed(tmp_path)
    args = [str(path), "--server", server_name, "--ssl-certfile", str(cert)]
    server = Server([*args, "--ssl-keyfile", str(key)], env)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        conn.request("GET", "/api/pets/1")
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())) == (200, {"id": 1, "name": "Rex"})
        conn.close()
    finally:
        server.stop()


def test_a_replaced_workers_gauges_leave_the_metrics(tmp_path: Path, env: dict[str, str]) -> None:
    import os
    import signal
    import time

    path = tmp_path / "pets.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.close()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    server = Server([str(path), "--workers", "2", "--threads", "1"], env)
    try:

        def workers() -> list[int]:
            children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
            return [int(p) for p in children.read_text().split()]

        for _ in range(40):
            assert _call("GET", f"{server.base}/api/pets")[0] == 200
        measured = [  # a worker that has answered requests: it has gauges and counts
            p
            for p in workers()
            if (metrics / f"gauge_livesum_{p}.db").exists()
            and (metrics / f"counter_{p}.db").exists()
        ]
        assert measured, sorted(f.name for f in metrics.iterdir())
        victim = measured[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (victim in workers() or len(workers()) < 2):
            time.sleep(0.2)
        assert victim not in workers()
        assert len(workers()) == 2  # granian started another in its place
        # As gunicorn's child_exit hook did: the dead worker's gauges are gone, its counts kept.
        assert not (metrics / f"gauge_livesum_{victim}.db").exists()
        assert (metrics / f"counter_{victim}.db").exists(), sorted(
            f.name for f in metrics.iterdir()
        )
        with urllib.request.urlopen(f"{server.base}/metrics", timeout=10) as resp:
            assert "tablerest_db_connections_in_use" in resp.read().decode()
    finally:
        server.stop()


def _pets(tmp_path: Path) -> Path:
    path = tmp_path / "pets.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.executemany("INSERT INTO pets (name) VALUES (?)", [(f"pet {i}",) for i in range(3)])
    conn.close()
    return path


def _send(
    base: str, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Headers, Any]:
    """One request with headers of our choosing: (status, headers, JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers = {"Content-Type": "application/json", **headers}
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, Headers(resp.getheaders()), json.loads(raw) if raw else None
    finally:
        conn.close()


JSONAPI = "application/vnd.api+json"
APP = "https://app.example"


@pytest.mark.parametrize("server_name", SERVERS)
def test_serve_format_jsonapi_and_cors_for_a_browser_app(
    tmp_path: Path, env: dict[str, str], server_name: str
) -> None:
    args = [str(_pets(tmp_path)), "--server", server_name, "--format", "jsonapi", "--cors", APP]
    server = Server(args, env)
    try:
        base = server.base
        # No Accept: JSON:API, with links a JSON:API client can follow as they are.
        status, headers, page = _send(base, "GET", "/api/pets?page[size]=2", {})
        assert (status, headers["Content-Type"]) == (200, JSONAPI)
        assert page["links"]["next"] == f"{base}/api/pets?page%5Bsize%5D=2&page%5Bnumber%5D=2"
        assert page["data"][0]["links"]["self"] == f"{base}/api/pets/1"
        status, _, after = _call("GET", page["links"]["next"])
        assert (status, [p["id"] for p in after["data"]]) == (200, ["3"])

        # A browser app on another origin: the preflight, then its GET and POST.
        preflight = {
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        status, headers, _ = _send(base, "OPTIONS", "/api/pets", preflight)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == APP
        assert "POST" in headers["Access-Control-Allow-Methods"]
        assert "content-type" in headers["Access-Control-Allow-Headers"].lower()
        status, headers, _ = _send(base, "GET", "/api/pets", {"Origin": APP})
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, APP)
        exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
        assert {"Link", "ETag", "Location"} <= exposed
        status, headers, made = _send(base, "POST", "/api/pets", {"Origin": APP}, {"name": "Tom"})
        assert (status, headers["Access-Control-Allow-Origin"]) == (201, APP), made
        assert headers["Location"] == f"{base}/api/pets/4"
        # Another site's page may not write (no auth: its browser would send it for the user).
        evil = {"Origin": "https://evil.example"}
        status, headers, problem = _send(base, "POST", "/api/pets", evil, {"name": "Eve"})
        assert status == 403, problem
        assert "Access-Control-Allow-Origin" not in headers
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "pets.db") as conn:
        assert conn.execute("SELECT name FROM pets WHERE id > 3").fetchall() == [("Tom",)]
    conn.close()


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pets.example"}


@pytest.mark.parametrize("server_name", SERVERS)
def test_serve_links_name_a_trusted_proxys_public_url_only(
    tmp_path: Path, env: dict[str, str], server_name: str
) -> None:
    pets = str(_pets(tmp_path))
    common = [pets, "--server", server_name, "--allowed-host", "pets.example"]
    trusted = Server([*common, "--forwarded-allow-ips", "127.0.0.1"], env)
    try:
        status, headers, page = _send(trusted.base, "GET", "/api/pets?page[size]=2", FORWARDED)
        assert status == 200, page
        assert page["links"]["next"].startswith("https://pets.example/api/pets?")
        assert "<https://pets.example/api/pets?" in headers["Link"]
    finally:
        trusted.stop()
    # The same headers from a peer that is not the trusted proxy change nothing.
    untrusted = Server([*common, "--forwarded-allow-ips", "192.0.2.1"], env)
    try:
        status, headers, page = _send(untrusted.base, "GET", "/api/pets?page[size]=2", FORWARDED)
        assert status == 200, page
        assert page["links"]["next"].startswith(f"{untrusted.base}/api/pets?")
        assert "pets.example" not in headers["Link"]
    finally:
        untrusted.stop()
