"""bench/targets.py reads issue 20's ratios off the harness's raw results correctly."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "targets.py"


def _targets() -> Any:
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))  # as when run as a script: its sibling modules
    spec = importlib.util.spec_from_file_location("bench_targets", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rec(system: str, request: str, rps: float, **extra: Any) -> dict[str, Any]:
    return {"system": system, "db": "sqlite", "request": request, "rps": rps, "status": "ok",
            "check_ok": True, "non2xx": 0, "worker_hwm_kb": extra.pop("hwm", 40 * 1024),
            **extra}  # fmt: skip


def test_ratios_are_medians_of_the_same_run_and_failed_cells_do_not_count(tmp_path: Path) -> None:
    results = [
        _rec("tablerest", "R1", 900), _rec("tablerest", "R1", 1000), _rec("tablerest", "R1", 5000),
        _rec("flaskfloor_granian", "R1", 1000, hwm=40 * 1024),
        _rec("tablerest", "R3", 90, hwm=70 * 1024), _rec("flaskfloor_granian", "R3", 100),
        _rec("seedstyle", "R1", 200), _rec("fastapi", "R1", 400),
        _rec("tablerest_1thread", "R1", 850),
        # A failed check never makes a system look faster (or slower).
        _rec("fastapi", "R1", 99_999, check_ok=False),
    ]  # fmt: skip
    raw = tmp_path / "run.json"
    raw.write_text(json.dumps({"results": results}))

    text = _targets().table([raw])

    r1 = next(line for line in text.splitlines() if line.startswith("| sqlite | R1 |"))
    assert "| 1,000 | 1,000 | 1.00x met (0.90) | 1.00x **not met** |" in r1  # median 1000
    assert "400 (fastapi) | 2.50x **not met** |" in r1
    r3 = next(line for line in text.splitlines() if line.startswith("| sqlite | R3 |"))
    assert "0.90x **not met** (0.95)" in r3  # R3's ceiling is 0.95
    assert "| sqlite | 70 MiB | 40 MiB | 1.75x **not met** |" in text
    assert "| sqlite | R1 | 850 | 1,000 | 0.85x **not met** |" in text  # like for like
