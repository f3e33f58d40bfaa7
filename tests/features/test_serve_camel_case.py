"""``tablerest serve --camel-case``: a database written by another program (raw SQL, snake_case
and odd column names) served with camelCase names, through the lean path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from tablerest import cli
from tablerest.cli.options import policy_file
from tablerest.server import create_app
from tests.helpers import problem


def _database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, "Home Town" TEXT);
        CREATE TABLE books (
            id INTEGER PRIMARY KEY, title TEXT NOT NULL, page_count INTEGER,
            author_id INTEGER REFERENCES authors(id)
        );
        INSERT INTO authors VALUES (1, 'Ursula Le Guin', 'Berkeley');
        INSERT INTO books VALUES (1, 'Earthsea', 183, 1), (2, 'Lathe', 184, 1);
        """
    )
    db.commit()
    db.close()
    return path


def test_serve_camel_case_renames_snake_case_names_only(tmp_path: Path) -> None:
    path = _database(tmp_path / "lib.sqlite3")
    client = create_app(str(path), camel_case=True).test_client()
    assert client.get("/api/authors/1").get_json() == {
        "id": 1,
        "fullName": "Ursula Le Guin",
        "Home Town": "Berkeley",  # not snake_case: kept
    }
    rows = client.get("/api/books?filter[pageCount][gt]=183&include=author").get_json()["data"]
    assert [(r["id"], r["author"]["fullName"]) for r in rows] == [(2, "Ursula Le Guin")]
    made = client.post("/api/books", json={"title": "Tombs", "pageCount": 9, "authorId": 1})
    assert made.status_code == 201, made.get_data(as_text=True)
    problem(client.get("/api/books?sort=page_count"), 400)
    db = sqlite3.connect(path)
    assert db.execute("SELECT page_count FROM books WHERE title = 'Tombs'").fetchone() == (9,)
    db.close()


def test_the_flag_reaches_the_app(tmp_path: Path) -> None:
    path = _database(tmp_path / "lib.sqlite3")
    result = CliRunner().invoke(cli.main, ["openapi", str(path), "--camel-case"])
    assert result.exit_code == 0, result.output
    assert "pageCount" in result.output
    assert "page_count" not in result.output


def test_privilege_columns_stay_admin_only_under_their_aliases(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, "
        "password_hash TEXT NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT 0)"
    )
    db.close()
    policy = policy_file(None, "users", (), None, None)
    client = create_app(
        str(path), camel_case=True, policy=policy, secret_key="camel-" + "k" * 40
    ).test_client()
    body = {"username": "mallory", "passwordHash": "long enough 1", "isAdmin": True}
    refused = problem(client.post("/api/users", json=body), 422)
    assert refused["errors"] == [{"pointer": "/isAdmin", "detail": "Field is read-only"}]
    made = client.post("/api/users", json={"username": "mallory", "passwordHash": "long enough 1"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert "passwordHash" not in made.get_json()
    db = sqlite3.connect(path)
    assert db.execute("SELECT username, is_admin FROM users").fetchall() == [("mallory", 0)]
    db.close()
