"""The floor for bench/beyond.py's aggregate: one hand-written Flask route on raw sqlite3 + orjson.

It answers the benchmark's one aggregate URL, ``/api/books?group_by=genre&aggregate=count(),
avg(pages),max(year)`` with an optional ``filter[year][ge]=Y``, with the GROUP BY tablerest runs
(groups in genre order, a page of 20 read as 21 rows to know whether another follows) and the
same group objects, without links or meta: the least a Flask app can do for this request. Served
by bench/worker.py's ``wsgi_server`` in the tablerest venv, like tablerest itself.
"""

from __future__ import annotations

import os
import sqlite3

import orjson
from flask import Flask, Response, request

PAGE = 20
SELECT = "SELECT genre, COUNT(*), AVG(pages), MAX(year) FROM books"
TAIL = " GROUP BY genre ORDER BY genre LIMIT ?"
SQL_ALL = SELECT + TAIL
SQL_SINCE = SELECT + " WHERE year >= ?" + TAIL

app = Flask(__name__)
_con: sqlite3.Connection | None = None


def _db() -> sqlite3.Connection:
    """One connection per worker process, opened after gunicorn forks (as the harness's floor)."""
    global _con
    if _con is None:
        _con = sqlite3.connect(
            os.environ["BENCH_SQLITE_PATH"],
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
    return _con


def _error(message: str) -> Response:
    return Response(orjson.dumps({"error": message}), 400, mimetype="application/json")


@app.get("/api/books")
def genre_groups() -> Response:
    args = request.args
    if args.get("group_by") != "genre" or args.get("aggregate") != "count(),avg(pages),max(year)":
        return _error("only group_by=genre&aggregate=count(),avg(pages),max(year)")
    since = args.get("filter[year][ge]")
    if since is None:
        rows = _db().execute(SQL_ALL, (PAGE + 1,)).fetchall()
    else:
        try:
            year = int(since)
        except ValueError:
            return _error("filter[year][ge] must be an integer")
        rows = _db().execute(SQL_SINCE, (year, PAGE + 1)).fetchall()
    groups = [
        {"genre": genre, "count": count, "avg_pages": avg, "max_year": top}
        for genre, count, avg, top in rows[:PAGE]
    ]
    return Response(orjson.dumps({"data": groups}), mimetype="application/json")
