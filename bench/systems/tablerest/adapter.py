"""tablerest as ``tablerest serve`` ships it: serve's own command on its default server (granian).

The harness's ``granian_wsgi`` runs the granian command line on an app object; serve instead runs
granian's Server in process with settings of its own (HTTP/1 only, a header read timeout,
respawn, four blocking threads) around ``ServedApp`` (X-Forwarded-* from trusted proxies only,
the server's environment kept out of each request) and an app built with serve's options (JSON
access log, allowed hosts, connect timeout). Rebuilding that here would measure a copy; running
``tablerest serve`` measures what users run.
"""

import importlib.util
import os

from harness.adapter import Adapter

_path = os.path.join(os.path.dirname(__file__), "..", "tablerest_gunicorn", "adapter.py")
_spec = importlib.util.spec_from_file_location("bench_adapter_tablerest_gunicorn_base", _path)
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)
BASE = _base.ADAPTER

ADAPTER = Adapter(
    name="tablerest",
    title="tablerest serve as shipped: granian 1 worker, serve's defaults (4 threads, JSON access "
    "log), database-first, plain JSON",
    # Only what the bench fixes is given (loopback, its port, one worker): the rest is serve's
    # default, so the numbers follow when a default changes. The database is TABLEREST_DATABASE.
    server=["tablerest", "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
    env_hook=lambda db: {"TABLEREST_DATABASE": db["BENCH_DB_URL"]},
    requests=BASE.requests,
    fmt=BASE.fmt,
    notes=[
        "Served by `tablerest serve` itself (the harness's `granian_wsgi` cannot express serve's "
        "settings and wrapper): granian, one worker, serve's defaults (4 blocking threads, "
        "HTTP/1.1 keep-alive, 5 s header timeout, the JSON access log on stderr, X-Forwarded-* "
        "from loopback trusted). Compare with floor_granian and flaskfloor_granian (one thread, "
        "no log). The serving process also holds an app (serve builds one before starting the "
        "worker, to fail early): worker RSS is the worker's alone.",
        _base.APP_NOTE,
    ],
)
