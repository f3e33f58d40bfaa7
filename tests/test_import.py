"""``tablerest import FILE --into RESOURCE``: the API's validation, batches in transactions, and
a report of the rows turned away (where and why) instead of stopping at the first one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tablerest import Conflict, cli
from tablerest.execute.store import Database
from tablerest.importer import Report, import_file
from tablerest.limits import Limits
from tablerest.operations.context import Config
from tablerest.operations.registry import Registry
from tablerest.resource import Resource, WriteContext
from tests.databases import fresh_database


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        meta = sa.MetaData()
        sa.Table("authors", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(100), nullable=False))  # fmt: skip
        sa.Table(
            "books",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("title", sa.String(100), nullable=False),
            sa.Column("year", sa.Integer),
            sa.Column("isbn", sa.String(20), unique=True),
            sa.Column("genre", sa.String(20), nullable=False, server_default="unknown"),
            sa.Column("author_id", sa.ForeignKey("authors.id")),
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO authors (id, name) VALUES (1, 'Le Guin')")
            conn.exec_driver_sql("INSERT INTO books (title, isbn) VALUES ('Kept', '111')")
        engine.dispose()
        yield url


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, ["import", *args, "--database", url])
    return result.exit_code, result.output


def books(url: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT title, year, isbn, genre, author_id FROM books ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(r) for r in found]


CSV = """title,year,isbn,author_id
Earthsea,1968,222,1
No year,,333,
Bad year,soon,444,1
,1970,555,1
Taken isbn,1971,111,1
Nobody's,1972,666,99
"Two
lines",1973,777,1
Dup in file,1974,222,1
"""


def test_csv_imports_the_good_rows_and_reports_the_rest(url: str, tmp_path: Path) -> None:
    path = tmp_path / "books.csv"
    path.write_text(CSV)
    rejects = tmp_path / "rejects.ndjson"

    code, out = run(url, str(path), "--into", "books", "--batch-size", "3",
                    "--rejects", str(rejects))  # fmt: skip

    assert code == 1, out
    assert "imported 4 rows into books; rejected 4" in out
    assert sorted(books(url), key=str) == sorted(
        [
            ("Kept", None, "111", "unknown", None),
            ("Earthsea", 1968, "222", "unknown", 1),
            ("No year", None, "333", "unknown", None),  # an empty value is null...
            ("", 1970, "555", "unknown", 1),  # ...except for text, as in a form
            ("Two\nlines", 1973, "777", "unknown", 1),  # a quoted line break is one row
        ],
        key=str,
    )
    reasons = {r["where"]: r["reason"] for r in map(json.loads, rejects.read_text().splitlines())}
    assert set(reasons) == {"line 4", "line 6", "line 7", "line 10"}
    assert reasons["line 4"].startswith("year: ")
    assert reasons["line 6"] == "isbn: A row with this value already exists"
    assert reasons["line 7"] == "author_id: The referenced row does not exist"
    assert reasons["line 10"] == "isbn: A row with this value already exists"
    assert "line 4: year:" in out


def test_ndjson_and_json_arrays_are_read_as_json_bodies(url: str, tmp_path: Path) -> None:
    ndjson = tmp_path / "books.ndjson"
    ndjson.write_text(
        '{"title": "A", "year": 2001}\n'
        "\n"
        '{"title": "B", "year": "2002"}\n'  # JSON is strict: a string is not a year
        "{not json\n"
        '{"title": "C", "genre": "poetry", "pages": 3}\n'  # an unknown field
        '{"title": "D", "genre": "drama"}\n'
    )
    array = tmp_path / "more.json"
    array.write_text(json.dumps([{"title": "E"}, {"year": 1}]))

    code, out = run(url, str(ndjson), "--into", "books")
    assert code == 1
    assert "imported 2 rows into books; rejected 3" in out
    assert "line 3: year: Input should be a valid integer" in out
    assert "line 4: Not valid JSON" in out
    assert "line 5: pages: Unknown field" in out
    code, out = run(url, str(array), "--into", "books")
    assert code == 1
    assert "item 2: title: Field required" in out
    assert {(b[0], b[3]) for b in books(url)} >= {
        ("A", "unknown"),
        ("D", "drama"),
        ("E", "unknown"),
    }


def test_a_clean_file_imports_whole_and_exits_0(url: str, tmp_path: Path) -> None:
    path = tmp_path / "many.ndjson"
    path.write_text("".join(json.dumps({"title": f"t{i}", "year": i}) + "\n" for i in range(1234)))

    code, out = run(url, str(path), "--into", "books", "--batch-size", "500")

    assert code == 0, out
    assert "imported 1234 rows into books; rejected 0" in out
    assert len(books(url)) == 1235


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--into", "nope"], "no table 'nope'; there are: authors, books"),
        (["--into", "books", "--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_mistakes_are_named(url: str, tmp_path: Path, args: list[str], says: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text("title\nA\n")

    code, out = run(url, str(path), *args)

    assert code != 0
    assert says in out


def test_into_takes_a_table_name_or_its_served_resource_name(tmp_path: Path) -> None:
    """A table named like one of the API's own paths is served as ``batch_``; import takes
    that name, and the table's own, as it does for names made URL-safe."""
    path = tmp_path / "odd.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE batch (id INTEGER PRIMARY KEY, name TEXT);"
            'CREATE TABLE "Order Items" (id INTEGER PRIMARY KEY, name TEXT);'
        )
    conn.close()
    rows = tmp_path / "rows.csv"
    rows.write_text("name\nA\n")
    url = f"sqlite:///{path}"
    for into in ("batch_", "batch", "Order_Items", "Order Items"):
        code, out = run(url, str(rows), "--into", into)
        assert code == 0, out
        assert f"imported 1 rows into {into}" in out
    with sqlite3.connect(path) as conn:
        counts = [conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in
                  ("batch", "Order Items")]  # fmt: skip
    conn.close()
    assert counts == [2, 2]


def test_unknown_extension_needs_a_format(url: str, tmp_path: Path) -> None:
    path = tmp_path / "books.txt"
    path.write_text("title\nA\n")

    assert "pass --format" in run(url, str(path), "--into", "books")[1]
    assert run(url, str(path), "--into", "books", "--format", "csv")[0] == 0


def _books_table(**defaults: object) -> sa.Table:
    """The fixture's books table as a code-first app declares it (``defaults``: Python-side
    column defaults, which the database does not know of)."""
    return sa.Table(
        "books",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("year", sa.Integer, default=defaults.get("year")),
        sa.Column("isbn", sa.String(20), unique=True),
        sa.Column(
            "genre",
            sa.String(20),
            nullable=False,
            server_default="unknown",
            default=defaults.get("genre"),
        ),
        sa.Column("author_id", sa.Integer),
    )


def _import(url: str, resource: Resource, path: Path, fmt: Literal["csv", "ndjson"]) -> Report:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    registry = Registry(Database(engine), Config(Limits(), b"k" * 32))
    ops = registry.add(resource)
    try:
        return import_file(ops, registry.caller(None), path, fmt, batch_size=10)
    finally:
        engine.dispose()


def test_rows_go_through_the_create_operation_and_its_hooks(url: str, tmp_path: Path) -> None:
    """An import is the resource's create operation: a code-first resource's hooks run for
    every row, and a row its hook refuses is reported while the rest of its batch is kept."""
    books_resource = Resource(_books_table())

    @books_resource.hook("before_create")
    def stamp(ctx: WriteContext) -> None:
        if ctx.data["title"] == "Banned":
            raise Conflict("This title is not taken")
        ctx.data["genre"] = "imported"

    path = tmp_path / "books.csv"
    path.write_text("title,isbn\nFirst,900\nBanned,901\nThird,902\n")

    report = _import(url, books_resource, path, "csv")

    assert report.imported == 2
    assert [(r.where, r.reason) for r in report.rejected] == [("line 3", "This title is not taken")]
    assert sorted((b[0], b[3]) for b in books(url)) == [
        ("First", "imported"),
        ("Kept", "unknown"),
        ("Third", "imported"),
    ]


def test_fields_left_out_keep_the_column_defaults_of_a_code_first_table(
    url: str, tmp_path: Path
) -> None:
    """Without hooks the rows go as one INSERT per set of fields given, for a whole batch:
    each set still gets the defaults of the fields it leaves out, Python-side ones too."""
    resource = Resource(_books_table(year=1999, genre=lambda: "python"))
    path = tmp_path / "books.ndjson"
    path.write_text(
        '{"title": "A"}\n{"title": "B", "year": 2001}\n{"title": "C", "genre": "drama"}\n'
        '{"title": "D", "year": 2002, "genre": "poetry"}\n{"title": "E"}\n'
    )

    report = _import(url, resource, path, "ndjson")

    assert (report.imported, report.rejected) == (5, [])
    assert sorted((b[0], b[3], b[1]) for b in books(url)) == [
        ("A", "python", 1999),
        ("B", "python", 2001),
        ("C", "drama", 1999),
        ("D", "poetry", 2002),
        ("E", "python", 1999),
        ("Kept", "unknown", None),
    ]
