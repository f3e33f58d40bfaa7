"""tablerest on the harness's gunicorn setup (one sync worker), beside the gunicorn floors.

The app is create_app's, without serve's wrapper and access log: `tablerest` is serve itself."""

from harness.adapter import Adapter, PlainJson, Req, gunicorn_sync

JSON = {"Content-Type": "application/json"}

#: What the app does per request (shared with the `tablerest` system, which is serve itself).
APP_NOTE = (
    "Database-first: `tablerest serve`'s app factory reflects the tables; generated routes "
    "are ordinary Flask routes. Lists are {data, links, meta} pages (no COUNT); R6 is one "
    "statement (the author LEFT JOINed); writes validate with pydantic and are one "
    "INSERT/UPDATE ... RETURNING in its own transaction."
)

ADAPTER = Adapter(
    name="tablerest_gunicorn",
    title="tablerest database-first (reflection, zero code), plain JSON, gunicorn 1 sync worker",
    server=gunicorn_sync("app:app"),
    requests={
        "R1": Req("GET", "/api/books/@ID@"),
        "R2": Req("GET", "/api/books?page[size]=50"),
        "R3": Req("GET", "/api/books?genre=@GENRE@&sort=-year&page[size]=50"),
        "R4": Req(
            "POST",
            "/api/books",
            '{"title": "Bench book @N@", "genre": "essays", "year": 2024, '
            '"pages": @PAGES@, "author_id": @AUTHOR@}',
            JSON,
        ),
        "R5": Req("PATCH", "/api/books/@ID@", '{"pages": @PAGES@}', JSON),
        "R6": Req("GET", "/api/books/@ID@?include=author"),
    },
    fmt=PlainJson(list_key="data"),
    notes=[
        APP_NOTE,
        "The app object of `create_app` under the harness's gunicorn (one sync worker, a "
        "connection per request), as floor and flaskfloor are served: not serve's wrapper, "
        "access log or `--server gunicorn` settings (gthread, keep-alive).",
    ],
)
