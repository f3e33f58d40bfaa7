"""JSON:API documents are built for the caller's view on every path: a relationship whose
linking column is hidden from the caller is concealed (tests/security/test_concealment.py),
in the answer to a nested create as in a GET, and a JSON:API ``If-Match`` is compared with
the document that caller's GET gave (its tag), not one showing the concealed relationship."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tablerest.auth.policyfile import load_policy
from tablerest.server import create_app

JSONAPI = "application/vnd.api+json"
HEADERS = {"Accept": JSONAPI, "Content-Type": JSONAPI}
SCHEMA = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE publishers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL,
    author_id INTEGER REFERENCES authors(id), publisher_id INTEGER REFERENCES publishers(id)
);
INSERT INTO authors (name) VALUES ('Ann');
INSERT INTO books (title, author_id) VALUES ('Dune', 1);
"""
#: Anonymous callers do not see who wrote a book: books.author is concealed from them.
POLICY = """
[default]
all = "public"
[tables.books]
all = "public"
hidden_unless = { author_id = "role(admin)" }
"""


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    db = tmp_path / "v.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    app = create_app(str(db), policy=load_policy(policy), secret_key="v" * 40)
    return app.test_client()


def test_a_jsonapi_if_match_holds_with_the_tag_of_the_callers_own_view(
    client: FlaskClient,
) -> None:
    read = client.get("/api/books/1", headers={"Accept": JSONAPI})
    assert "author" not in read.get_json()["data"].get("relationships", {})
    change = {"data": {"type": "books", "id": "1", "attributes": {"title": "Dune!"}}}
    headers = {**HEADERS, "If-Match": read.headers["ETag"]}
    written = client.patch("/api/books/1", json=change, headers=headers)
    assert written.status_code == 200, written.get_json()
    assert written.get_json()["data"]["attributes"] == {"title": "Dune!"}
    stale = client.patch("/api/books/1", json=change, headers=headers)  # the tag moved on
    assert stale.status_code == 412


def test_the_answer_to_a_nested_create_conceals_what_a_get_conceals(
    client: FlaskClient,
) -> None:
    doc = {
        "data": {
            "type": "books",
            "attributes": {"title": "Kim"},
            "relationships": {"publisher": {"data": {"type": "publishers", "lid": "p"}}},
        },
        "included": [{"type": "publishers", "lid": "p", "attributes": {"name": "Ace"}}],
    }
    made = client.post("/api/books", json=doc, headers=HEADERS)
    assert made.status_code == 201, made.get_json()
    book = made.get_json()["data"]
    assert set(book["relationships"]) == {"publisher"}
    got = client.get(made.headers["Location"], headers={"Accept": JSONAPI}).get_json()["data"]
    assert set(got["relationships"]) == set(book["relationships"])
