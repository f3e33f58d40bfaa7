"""The README's code-first app runs as written: the Python block under "Code-first: a Flask
extension" is written to ``app.py`` verbatim, started with the block's own command (``flask
--app app run``) as a real process on 127.0.0.1, and every curl beside it is replayed with the
real curl binary.

One rewrite: the port. The command runs with ``FLASK_RUN_PORT`` set to a free port (so the text
stays as written), and the curls' ``127.0.0.1:5000`` becomes that port (in a stated
``Location`` too). A curl's notes state what it must get: a status (``# 201 + Location:
http://127.0.0.1:5000/api/books/1``, as in test_readme_curls), and a JSON object it starts
with (``# {"books": 1}``) is the whole body it must get (with a 2xx).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.databases import services_required
from tests.e2e.test_readme_curls import CURL, Block, Command, _expected, readme_blocks
from tests.helpers import stop_group

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Code-first: a Flask extension"
ADDRESS = r"(?:https?://)?(?:127\.0\.0\.1|localhost):5000(?!\d)"
STARTUP_SECONDS = 60
MARK = "__code_first_status__"


def _section(text: str) -> str:
    """The README's code-first section: from its heading to the next heading."""
    start = text.index(f"\n{HEADING}\n") + 1
    end = re.search(r"^#{1,3} ", text[start + len(HEADING) :], re.MULTILINE)
    assert end is not None
    return text[start : start + len(HEADING) + end.start()]


def _app_source(section: str) -> str:
    """The section's first Python block: the app, as the reader copies it."""
    found = re.search(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert found is not None, f"README.md: no Python block under {HEADING!r}"
    return found[1]


def _shell_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text("utf-8")) if f"### {b.heading}" == HEADING]


def _run_command(blocks: list[Block]) -> list[str]:
    """The command the section runs the app with, as written (``flask ...`` or ``python ...``),
    on this interpreter."""
    runs = [c for b in blocks for c in b.commands if c.argv and c.argv[0] in {"flask", "python"}]
    assert len(runs) == 1, f"README.md: {HEADING!r} should say how to run the app once: {runs}"
    (argv,) = [c.argv for c in runs]
    assert argv is not None
    return [sys.executable, *(["-m", "flask"] if argv[0] == "flask" else []), *argv[1:]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _curl(cmd: Command, base: str) -> tuple[int, int, str, str]:
    """Run one curl as written, to ``base``: (exit code, status, Location, body)."""
    assert cmd.argv is not None, f"{cmd.name}: needs a shell"
    assert cmd.argv[0] == "curl", cmd.name
    argv = [CURL, *(re.sub(ADDRESS, base, a) for a in cmd.argv[1:])]
    assert any(base in a for a in argv), f"{cmd.name}: not addressed to the app (port 5000)"
    argv += ["-sS", "-w", f"\\n{MARK}%{{http_code}} %header{{location}}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    body, _, tail = done.stdout.rpartition(f"\n{MARK}")
    status, _, location = tail.partition(" ")
    return done.returncode, int(status or 0), location.strip(), body


def _stated_body(cmd: Command) -> object | None:
    """The JSON object a note starts with (the rest of the note is prose), or None."""
    for note in cmd.notes:
        if note.startswith("{"):
            return json.JSONDecoder().raw_decode(note)[0]
    return None


def _json_body(raw: str) -> object:
    # With -i the headers come first; the body follows the blank line.
    return json.loads(raw.split("\r\n\r\n", 1)[1] if raw.startswith("HTTP/") else raw)


def test_the_section_has_an_app_a_command_and_curls() -> None:
    blocks = _shell_blocks()
    curls = [c for b in blocks for c in b.curls]

    assert "db.create_all()" in _app_source(_section(README.read_text("utf-8")))
    assert _run_command(blocks)[1:3] == ["-m", "flask"]
    assert len(curls) >= 3
    unstated = [c.name for c in curls if not _expected(c)[0] and _stated_body(c) is None]
    assert not unstated, f"curls here state a status or a body: {unstated}"


def test_the_code_first_app_runs_as_written(tmp_path: Path) -> None:
    if not os.access(CURL, os.X_OK):
        if services_required():
            pytest.fail(f"{CURL} is missing; TABLEREST_REQUIRE_SERVICES=1 requires it")
        pytest.skip(f"{CURL} is missing")
    (tmp_path / "app.py").write_text(_app_source(_section(README.read_text("utf-8"))))
    blocks = _shell_blocks()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TABLEREST_"))}
    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            _run_command(blocks), cwd=tmp_path, env={**env, "FLASK_RUN_PORT": str(port)},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    failures: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"the app exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the app did not start:\n{log.read_text()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        for cmd in (c for b in blocks for c in b.curls):
            code, status, location, body = _curl(cmd, base)
            statuses, want_location = _expected(cmd)
            if want_location is not None:  # links are absolute: the README's address is ours
                want_location = re.sub(ADDRESS, base, want_location)
            want_body = _stated_body(cmd)
            ok = status in statuses if statuses else 200 <= status < 300  # a body: a success
            problems = []
            if code != 0 or not ok:
                wanted = sorted(statuses) or "2xx"
                problems.append(f"curl exit {code}, status {status}, wanted {wanted}")
            if want_location is not None and location != want_location:
                problems.append(f"Location {location!r}, wanted {want_location!r}")
            if want_body is not None and _json_body(body) != want_body:
                problems.append(f"body {body.strip()[:300]}, wanted {want_body}")
            if problems:
                failures.append(f"README.md:{cmd.line}: {cmd.name}\n  " + "\n  ".join(problems))
    finally:
        stop_group(proc)
    assert not failures, "\n".join(failures) + f"\n--- app log ---\n{log.read_text()[-2000:]}"

    # What the curls wrote is in the file the README names (Flask-SQLAlchemy puts a relative
    # SQLite path in the instance folder), hidden column and all.
    with sqlite3.connect(tmp_path / "instance" / "library.db") as conn:
        rows = conn.execute("SELECT id, title, year, notes FROM books").fetchall()
    assert rows == [(1, "Dune", 1965, None)]
