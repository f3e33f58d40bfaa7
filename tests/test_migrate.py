"""``tablerest db``: a model changes (a column, a table, a rename) and a database that holds
rows follows it through Alembic without losing one, on SQLite and PostgreSQL.

The commands run as a user runs them, in a process of their own, in the project's directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import fresh_database

MODELS_V1 = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
"""

MODELS_V2 = (
    MODELS_V1
    + """
    year: Mapped[int | None]


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
"""
)

RENAME = """
def upgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.alter_column("title", new_column_name="name", existing_type=sa.String(100))


def downgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.alter_column("name", new_column_name="title", existing_type=sa.String(100))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def db(project: Path, url: str, *args: str) -> str:
    env = {**os.environ, "TABLEREST_DATABASE": url, "TABLEREST_MODELS": "models"}
    done = subprocess.run(
        [sys.executable, "-m", "tablerest", "db", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.exec_driver_sql(query)]
    engine.dispose()
    return found


def columns(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    names = [c["name"] for c in sa.inspect(engine).get_columns(table)]
    engine.dispose()
    return names


def test_models_change_and_no_row_is_lost(tmp_path: Path, url: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "models.py").write_text(MODELS_V1)

    db(project, url, "init")
    db(project, url, "revision", "--autogenerate", "-m", "books")
    db(project, url, "upgrade")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO books (title) VALUES ('Dune'), ('Emma'), ('Ulysses')")
    engine.dispose()

    # A column and a table: autogenerate finds both.
    (project / "models.py").write_text(MODELS_V2)
    out = db(project, url, "revision", "--autogenerate", "-m", "year and authors")
    (second,) = list((project / "migrations" / "versions").glob("*year_and_authors.py"))
    script = second.read_text()
    assert "add_column" in script
    assert "create_table('authors'" in script
    assert "Generating" in out
    db(project, url, "upgrade")
    assert columns(url, "books") == ["id", "title", "year"]
    assert rows(url, "SELECT id, title, year FROM books ORDER BY id") == [
        (1, "Dune", None),
        (2, "Emma", None),
        (3, "Ulysses", None),
    ]
    assert rows(url, "SELECT count(*) FROM authors") == [(0,)]

    # A rename is written by hand (autogenerate would see a drop and an add).
    db(project, url, "revision", "-m", "rename title")
    (third,) = list((project / "migrations" / "versions").glob("*rename_title.py"))
    head, _, _ = third.read_text().partition("\ndef upgrade()")
    third.write_text(head + RENAME)
    db(project, url, "upgrade")
    assert rows(url, "SELECT id, name FROM books ORDER BY id") == [
        (1, "Dune"),
        (2, "Emma"),
        (3, "Ulysses"),
    ]

    # And back: one step down restores the name, the rows stay.
    db(project, url, "downgrade")
    assert rows(url, "SELECT title FROM books ORDER BY id") == [("Dune",), ("Emma",), ("Ulysses",)]
    current = db(project, url, "current")
    assert "(head)" not in current
    assert db(project, url, "upgrade").strip().endswith("(head)")


def test_the_commands_say_what_is_missing(tmp_path: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tablerest", "db", *args],
            cwd=tmp_path,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("TABLEREST_")}, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert "--database" in run("upgrade").stderr
    assert "tablerest db init" in run("upgrade", TABLEREST_DATABASE="x.db").stderr
    assert run("init").returncode == 0
    assert "not empty" in run("init").stderr
    no_models = run("revision", "--autogenerate", "-m", "x", TABLEREST_DATABASE="x.db")
    assert "--models" in no_models.stderr
    wrong = run("revision", "--autogenerate", "-m", "x", "--models", "nowhere",
                TABLEREST_DATABASE="x.db")  # fmt: skip
    assert "nowhere" in wrong.stderr
    assert wrong.returncode != 0
    # SQLite creates the file, not its directory: say which one is missing, no traceback.
    for database in ("data/app.db", "sqlite:///data/app.db"):
        lost = run("upgrade", "--database", database)
        assert lost.returncode == 1
        assert "the directory" in lost.stderr
        assert "data does not exist" in lost.stderr
        assert "Traceback" not in lost.stderr
    assert not (tmp_path / "data").exists()
