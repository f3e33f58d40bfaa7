"""What the client tests share: a real ``tablerest serve`` of a new copy of the demo database,
one per test module (a module that needs other options defines its own ``server``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    demo = tmp_path_factory.mktemp("clients") / "demo.sqlite3"
    served = Server([], {**os.environ, "TABLEREST_DEMO_PATH": str(demo)})
    yield served
    served.stop()
