"""Schemathesis against a live demo server: every check, positive and negative data.

``make test`` runs it with a fixed seed (the same cases each run, so CI stays reproducible);
``make fuzz`` runs it with a fresh seed and more examples to look further. The settings and
hooks it loads are in tests/e2e/fuzz/. Each failure it finds becomes a regression test in
tests/features/ before it is fixed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

FUZZ = Path(__file__).parent / "fuzz"
SEED = os.environ.get("TABLEREST_FUZZ_SEED", "20261125")
#: make test's run is a regression check (a fixed seed: the same cases each run), after the
#: coverage phase's boundary values; make fuzz looks further (300 cases, a fresh seed). The
#: document grew (every operator filter a parameter, filter groups): 100 took ~200 s of the
#: suite's 15 minutes, 50 half of its generated part.
EXAMPLES = os.environ.get("TABLEREST_FUZZ_EXAMPLES", "50")


@pytest.fixture
def demo_server(env: dict[str, str]) -> Iterator[Server]:
    """The demo server, whose change streams (on for the demo) end after 0.02 s: each fuzzed
    request to one gets its events and an end, instead of waiting out the timeout. Any time
    above 0 runs the live path (the stream slot, one wait on the hub) that a fuzzed stream can
    reach; every second of it is spent asleep once per case (~500 cases over five feeds)."""
    server = Server([], {**env, "TABLEREST_CHANGES_STREAM_SECONDS": "0.02"})
    yield server
    server.stop()


def test_schemathesis_finds_nothing(demo_server: Server, tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        pytest.fail("schemathesis is not installed in the test environment", pytrace=False)
    env = {**os.environ, "PYTHONPATH": str(FUZZ), "SCHEMATHESIS_HOOKS": "hooks"}
    cmd = [
        str(cli),
        "--config-file",
        str(FUZZ / "schemathesis.toml"),
        "run",
        f"{demo_server.base}/api/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-20000:]
    # Every operation was tested and every generated case passed.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", out)
    assert selected is not None, out[-5000:]
    assert len(set(selected.groups())) == 1, selected.group(0)
    assert re.search(r"(\d+) generated, \1 passed", out), out[-5000:]
