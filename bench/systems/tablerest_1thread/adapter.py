"""tablerest serve with one thread: the server configuration of floor_granian and
flaskfloor_granian (granian's default of one blocking thread), so the comparison with Flask's
ceiling on the same server differs in the app alone. serve's default is four threads
(``tablerest`` system): with SQLite they overlap one request's wait for the disk with another's
work, which the one-thread floors cannot."""

import importlib.util
import os

from harness.adapter import Adapter

_path = os.path.join(os.path.dirname(__file__), "..", "tablerest", "adapter.py")
_spec = importlib.util.spec_from_file_location("bench_adapter_tablerest_serve", _path)
_serve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_serve)
SERVE = _serve.ADAPTER

ADAPTER = Adapter(
    name="tablerest_1thread",
    title="tablerest serve, one thread (as the granian floors): granian 1 worker, --threads 1, "
    "JSON access log, database-first, plain JSON",
    server=[*SERVE.server, "--threads", "1"],
    env_hook=SERVE.env_hook,
    requests=SERVE.requests,
    fmt=SERVE.fmt,
    notes=[
        "`tablerest serve --threads 1`: everything else as the `tablerest` system. The floors on "
        "granian run one thread (granian's default), so this is the like-for-like comparison "
        "of the apps; `tablerest` is what serve ships.",
    ],
)
