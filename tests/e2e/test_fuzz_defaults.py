"""``schemathesis run`` as a user runs it: its default checks, no hooks, no settings file,
against ``tablerest serve`` on a demo copy (issue 21 item 4).

Every failure it reports is classified from its machine-readable report (NDJSON), by check
and by cause; only the exceptions the README names (Testing with schemathesis) may appear,
each for its documented reason. A failure of any other kind, such as a schema-valid body
refused with a 422 or a schema-valid value refused with a 400, fails this test.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.fuzz.hooks import one_item_lists

pytestmark = pytest.mark.e2e

SEED = "1"
EXAMPLES = "5"

#: 400s a list answers to a combination of parameters each valid on its own: OpenAPI has no
#: way to say that parameters exclude or need each other (README: Testing with schemathesis).
EXCLUSIVE = re.compile(
    r"Use either |A cursor cannot be combined with |Groups are paged by page\[number\] or "
    r"offset, not cursors$|(fields|include) does not apply to groups$|distinct takes no "
    r"aggregates|Groups sort by their keys or aggregates|is not among the aggregates asked "
    r"for$|is given twice$|Name fields to group by, or aggregates$|An export has every "
    r"matching (row|group): \S+ is for pages$|sorts groups: ask for it with aggregate="
)
#: Limits on one request that depend on how many parameters it has, not on their values.
LIMITS = re.compile(r"^At most \d+ filters$")
#: Cursors are signed values from links.next; any other string is refused.
CURSOR = re.compile(r"^The cursor is not valid for this list and sort$")
#: The include budget: how many rows an include embeds depends on the data.
BUDGET = re.compile(r"^include would embed more than \d+ rows in one response")


@dataclass(frozen=True)
class Failure:
    operation: str
    check: str
    code: str
    status: int | None
    headers: dict[str, str]
    problem: dict[str, Any]
    message: str = ""

    def detail(self) -> str:
        """The problem's detail, plain or JSON:API (one error)."""
        errors = self.problem.get("errors")
        if "jsonapi" in self.problem and errors:
            return str(errors[0].get("detail", ""))
        return str(self.problem.get("detail", ""))

    def explain(self) -> str:
        """One line for a report: the operation, check, status and what the API said."""
        said = self.detail()
        errors = self.problem.get("errors") or []
        if errors and "jsonapi" not in self.problem:  # a 422: say which field and why
            said += f" ({errors[0].get('pointer')}: {errors[0].get('detail')})"
        return f"{self.operation} {self.check} {self.code} {self.status} {said!r}"

    def kind(self) -> str:
        """The problem kind: the end of its type URI, or a JSON:API error's code."""
        errors = self.problem.get("errors")
        if "jsonapi" in self.problem and errors:
            return str(errors[0].get("code", ""))
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]


def classify(f: Failure) -> str | None:
    """The documented exception a failure is, or None: a defect."""
    # An If-Match the generator made up names no version of the row: stale by design.
    if_match = any(name.lower() == "if-match" for name in f.headers)
    if f.code == "ST202" and f.status == 412 and f.kind() == "precondition-failed" and if_match:
        return "stale If-Match (412)"
    if f.code == "ST202" and f.status == 400 and f.kind() == "invalid-parameter":
        if f.operation.startswith("GET ") and EXCLUSIVE.search(f.detail()):
            return "list parameters that exclude or need each other (400)"
        if CURSOR.search(f.detail()):
            return "made-up cursor (400)"
        if BUDGET.search(f.detail()):
            return "include budget (400)"
        if LIMITS.search(f.detail()):
            return "filters per request (400)"
    if f.code == "ST201" and one_item_lists(f.message):
        # filter[id][in]=0 is the list [0] as much as the number 0: the same request.
        return "a one-value list (ST201)"
    if f.code == "ST201" and any(not value.isascii() for value in f.headers.values()):
        # granian hands the app a header value outside ASCII as an empty one: the API
        # answers what it answers to the empty value, which the document allows.
        return "header value outside ASCII, emptied by granian (ST201)"
    return None


def readme_settings() -> dict[str, Any]:
    """The ``schemathesis.toml`` the README gives users for these exceptions."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"a `schemathesis.toml` where you run it:\n\n```toml\n(.*?)```", readme, re.S)
    assert block is not None, "README: the schemathesis.toml block is gone"
    return tomllib.loads(block.group(1))


def accepted_by(settings: dict[str, Any], method: str, operation_id: str, status: int) -> bool:
    """Whether those settings tell schemathesis to expect ``status`` for valid data there."""
    statuses = settings["checks"]["positive_data_acceptance"]["expected-statuses"]
    for rule in settings.get("operations", []):
        if rule.get("include-method", method) == method and re.search(
            rule.get("include-operation-id-regex", ""), operation_id
        ):
            statuses = rule["checks"]["positive_data_acceptance"]["expected-statuses"]
    return status in statuses or f"{str(status)[0]}xx" in statuses


def failures(report: Path) -> Iterator[Failure]:
    """Every failed check of a schemathesis NDJSON report."""
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                info = check["failure_info"]["failure"]
                case = recorder["cases"][case_id]["value"]
                response = (recorder["interactions"].get(case_id) or {}).get("response") or {}
                yield Failure(
                    operation=info.get("operation") or recorder["label"],
                    check=check["name"],
                    code=info.get("code", ""),
                    status=response.get("status_code"),
                    headers=case.get("headers") or {},
                    problem=_json(response.get("content")),
                    message=str(info.get("message", "")),
                )


def _json(content: Any) -> dict[str, Any]:
    if isinstance(content, dict) and "$base64" in content:
        try:
            value = json.loads(base64.b64decode(content["$base64"]))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


@pytest.fixture
def demo_server(env: dict[str, str]) -> Iterator[Server]:
    """The demo as ``tablerest serve`` runs it, its change streams ending after 0.02 s so that
    each fuzzed request to one ends (they stay open for 5 minutes by default)."""
    server = Server([], {**env, "TABLEREST_CHANGES_STREAM_SECONDS": "0.02"})
    yield server
    server.stop()


def test_schemathesis_with_its_defaults_finds_only_the_documented_exceptions(
    demo_server: Server, tmp_path: Path
) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        pytest.fail("schemathesis is not installed in the test environment", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    cmd = [
        str(cli),
        "run",
        f"{demo_server.base}/api/openapi.json",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        # As by default, each phase stops an operation at its first failure, so a documented
        # exception can hide a defect behind it in that phase (the three phases make three
        # tries); --continue-on-failure sees everything, in 40 s more, too slow for make test.
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(tmp_path / "report.ndjson"),
    ]
    # Run where no schemathesis.toml is, so that only its defaults apply.
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode in (0, 1), out[-5000:]
    assert "Errors:" not in out, out[-5000:]  # a crash of schemathesis, not a finding
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", out)
    assert selected is not None, out[-5000:]
    assert len(set(selected.groups())) == 1, selected.group(0)

    found = list(failures(tmp_path / "report.ndjson"))
    kinds = Counter(classify(f) for f in found)
    defects = [f for f in found if classify(f) is None]
    assert not defects, "\n".join(f.explain() for f in defects[:30])
    # The README's schemathesis.toml expects each of the ST202s found (ST201 has no setting:
    # the README says so).
    with urllib.request.urlopen(f"{demo_server.base}/api/openapi.json", timeout=10) as resp:
        paths = json.load(resp)["paths"]
    settings = readme_settings()
    for f in found:
        if f.code == "ST202":
            method, path = f.operation.split(" ", 1)
            operation_id = paths[path][method.lower()]["operationId"]
            assert f.status is not None
            assert accepted_by(settings, method, operation_id, f.status), (f, operation_id)
    print(dict(kinds))  # the kinds seen (with -s)
