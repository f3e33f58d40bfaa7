"""The WSGI app the benchmark serves: tablerest over the benchmark database, zero code."""

import os

from tablerest.server import create_app

app = create_app(os.environ["BENCH_DB_URL"], secret_key="bench")
