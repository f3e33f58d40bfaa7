"""CRUD through HTTP on every backend: status codes, headers, bodies and what is stored."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.databases import BACKENDS
from tests.helpers import count, problem, rows

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _author(client: FlaskClient, name: str = "Ursula K. Le Guin") -> int:
    resp = client.post("/api/authors", json={"name": name, "country": "US"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return int(resp.get_json()["id"])


def test_create_returns_201_location_and_the_stored_row(
    client: FlaskClient, engine: sa.Engine
) -> None:
    author = _author(client)
    resp = client.post(
        "/api/books",
        json={"title": "A Wizard of Earthsea", "year": 1968, "price": "8.50", "author_id": author},
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert resp.headers["Location"] == f"http://localhost/api/books/{body['id']}"
    assert body == {
        "id": body["id"],
        "title": "A Wizard of Earthsea",
        "year": 1968,
        "pages": 100,
        "isbn": None,
        "price": "8.50",
        "genre": None,
        "created_at": None,
        "author_id": author,
    }
    (stored,) = rows(engine, "books")
    assert stored["title"] == "A Wizard of Earthsea"
    assert stored["pages"] == 100  # the column default applied
    assert str(stored["price"]) == "8.50" or float(stored["price"]) == 8.5


def test_read_one_row_and_missing_row(client: FlaskClient) -> None:
    author = _author(client)
    resp = client.get(f"/api/authors/{author}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"id": author, "name": "Ursula K. Le Guin", "country": "US"}
    body = problem(client.get("/api/authors/999999"), 404)
    assert "999999" in body["detail"]
    problem(client.get("/api/authors/not-a-number"), 404)


def test_list_pages_with_links_and_link_header(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app(authors={"page_size": 2, "max_page_size": 3}).test_client()
    ids = [_author(client, f"author {i}") for i in range(5)]

    first = client.get("/api/authors")
    assert first.status_code == 200
    body = first.get_json()
    assert [a["id"] for a in body["data"]] == ids[:2]
    assert body["meta"]["page"] == {"number": 1, "size": 2}
    assert body["links"]["prev"] is None
    assert body["links"]["next"] == "http://localhost/api/authors?page%5Bnumber%5D=2"
    assert '<http://localhost/api/authors?page%5Bnumber%5D=2>; rel="next"' in first.headers["Link"]

    last = client.get("/api/authors?page[number]=3&count=true").get_json()
    assert [a["id"] for a in last["data"]] == ids[4:]
    assert last["links"]["next"] is None
    assert last["links"]["prev"] == "http://localhost/api/authors?page%5Bnumber%5D=2&count=true"
    assert last["meta"]["total"] == 5

    sized = client.get("/api/authors?page[size]=3&page[number]=2").get_json()
    assert [a["id"] for a in sized["data"]] == ids[3:]
    window = client.get("/api/authors?limit=2&offset=1").get_json()
    assert [a["id"] for a in window["data"]] == ids[1:3]
    assert window["meta"]["page"] == {"offset": 1, "limit": 2}

    body = problem(client.get("/api/authors?page[size]=4"), 400)
    assert body["parameter"] == "page[size]"
    assert count(engine, "authors") == 5


def test_put_replaces_every_writable_field(client: FlaskClient, engine: sa.Engine) -> None:
    author = _author(client)
    created = client.post(
        "/api/books",
        json={"title": "Draft", "year": 1990, "pages": 300, "isbn": "111", "author_id": author},
    ).get_json()
    resp = client.put(f"/api/books/{created['id']}", json={"title": "Final"})
    assert resp.status_code == 200
    body = resp.get_json()
    # Left out of a replace: back to the column default (pages) or null.
    assert (body["title"], body["year"], body["pages"], body["isbn"], body["author_id"]) == (
        "Final",
        None,
        100,
        None,
        None,
    )
    (stored,) = rows(engine, "books")
    assert (stored["title"], stored["year"], stored["pages"]) == ("Final", None, 100)


def test_put_without_a_required_field_is_422_and_changes_nothing(
    client: FlaskClient, engine: sa.Engine
) -> None:
    created = client.post("/api/books", json={"title": "Kept", "year": 2001}).get_json()
    body = problem(client.put(f"/api/books/{created['id']}", json={"year": 2002}), 422)
    assert body["errors"] == [{"pointer": "/title", "detail": "Field required"}]
    assert rows(engine, "books")[0]["year"] == 2001


def test_patch_changes_only_the_given_fields(client: FlaskClient, engine: sa.Engine) -> None:
    created = client.post("/api/books", json={"title": "T", "year": 1999, "pages": 10}).get_json()
    resp = client.patch(f"/api/books/{created['id']}", json={"year": 2000, "isbn": None})
    assert resp.status_code == 200
    assert resp.get_json()["year"] == 2000
    assert resp.get_json()["pages"] == 10
    (stored,) = rows(engine, "books")
    assert (stored["title"], stored["year"], stored["pages"]) == ("T", 2000, 10)


def test_patch_null_on_a_not_null_field_is_422(client: FlaskClient, engine: sa.Engine) -> None:
    created = client.post("/api/books", json={"title": "T"}).get_json()
    body = problem(client.patch(f"/api/books/{created['id']}", json={"title": None}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/title"]
    assert rows(engine, "books")[0]["title"] == "T"


def test_update_and_delete_of_a_missing_row_are_404(client: FlaskClient) -> None:
    problem(client.patch("/api/books/4242", json={"year": 1}), 404)
    problem(client.put("/api/books/4242", json={"title": "x"}), 404)
    problem(client.delete("/api/books/4242"), 404)


def test_delete_is_204_and_removes_the_row(client: FlaskClient, engine: sa.Engine) -> None:
    author = _author(client)
    resp = client.delete(f"/api/authors/{author}")
    assert resp.status_code == 204
    assert resp.data == b""
    assert count(engine, "authors") == 0
    problem(client.get(f"/api/authors/{author}"), 404)


def test_create_many_is_atomic_and_points_at_the_bad_item(
    client: FlaskClient, engine: sa.Engine
) -> None:
    body = problem(
        client.post("/api/books", json=[{"title": "ok"}, {"title": "bad", "year": "1999"}]), 422
    )
    assert body["errors"] == [{"pointer": "/1/year", "detail": "Input should be a valid integer"}]
    assert count(engine, "books") == 0

    resp = client.post("/api/books", json=[{"title": "one"}, {"title": "two", "year": 2}])
    assert resp.status_code == 201
    created = resp.get_json()
    assert [b["title"] for b in created] == ["one", "two"]
    assert "Location" not in resp.headers
    assert [r["title"] for r in rows(engine, "books")] == ["one", "two"]


def test_create_many_rolls_back_when_a_later_item_conflicts(
    client: FlaskClient, engine: sa.Engine
) -> None:
    body = problem(
        client.post(
            "/api/books",
            json=[
                {"title": "a", "isbn": "1"},
                {"title": "b", "isbn": "2"},
                {"title": "c", "isbn": "1"},
            ],
        ),
        409,
    )
    assert body["errors"] == [
        {"pointer": "/2/isbn", "detail": "A row with this value already exists"}
    ]
    assert count(engine, "books") == 0


def test_unique_violation_is_409_naming_the_field(client: FlaskClient, engine: sa.Engine) -> None:
    assert client.post("/api/books", json={"title": "a", "isbn": "978"}).status_code == 201
    body = problem(client.post("/api/books", json={"title": "b", "isbn": "978"}), 409)
    assert body["errors"] == [
        {"pointer": "/isbn", "detail": "A row with this value already exists"}
    ]
    other = client.post("/api/books", json={"title": "c", "isbn": "979"}).get_json()
    body = problem(client.patch(f"/api/books/{other['id']}", json={"isbn": "978"}), 409)
    assert body["errors"][0]["pointer"] == "/isbn"
    assert sorted(r["isbn"] for r in rows(engine, "books")) == ["978", "979"]


def test_foreign_key_violation_is_409_naming_the_field(
    client: FlaskClient, engine: sa.Engine
) -> None:
    body = problem(client.post("/api/books", json={"title": "orphan", "author_id": 77}), 409)
    assert body["errors"] == [
        {"pointer": "/author_id", "detail": "The referenced row does not exist"}
    ]
    assert count(engine, "books") == 0


def test_deleting_a_referenced_row_is_409_and_keeps_it(
    client: FlaskClient, engine: sa.Engine
) -> None:
    author = _author(client)
    client.post("/api/books", json={"title": "child", "author_id": author})
    problem(client.delete(f"/api/authors/{author}"), 409)
    assert count(engine, "authors") == 1


def test_string_primary_key_chosen_by_the_client(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/countries", json={"code": "NZ", "name": "New Zealand"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == "http://localhost/api/countries/NZ"
    assert client.get("/api/countries/NZ").get_json() == {"code": "NZ", "name": "New Zealand"}
    body = problem(client.post("/api/countries", json={"code": "NZ", "name": "again"}), 409)
    assert body["errors"][0]["pointer"] == "/code"
    # The key may be sent back unchanged, but not changed.
    assert (
        client.put("/api/countries/NZ", json={"code": "NZ", "name": "Aotearoa"}).status_code == 200
    )
    body = problem(client.patch("/api/countries/NZ", json={"code": "AU"}), 422)
    assert body["errors"][0]["pointer"] == "/code"
    assert rows(engine, "countries") == [{"code": "NZ", "name": "Aotearoa"}]


def test_uuid_primary_key_generated_by_default(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/gadgets", json={"name": "sprocket"})
    assert resp.status_code == 201
    key = resp.get_json()["id"]
    assert uuid.UUID(key)
    assert resp.headers["Location"] == f"http://localhost/api/gadgets/{key}"
    assert client.get(f"/api/gadgets/{key}").get_json() == {"id": key, "name": "sprocket"}
    assert client.get(f"/api/gadgets/{key.replace('-', '').upper()}").status_code == 200
    problem(client.get("/api/gadgets/not-a-uuid"), 404)
    assert client.delete(f"/api/gadgets/{key}").status_code == 204
    assert count(engine, "gadgets") == 0


def test_composite_primary_key(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/enrollments", json={"student_id": 7, "course": "math", "grade": 3})
    assert resp.status_code == 201
    assert resp.headers["Location"] == "http://localhost/api/enrollments/7,math"
    assert client.get("/api/enrollments/7,math").get_json()["grade"] == 3
    assert client.patch("/api/enrollments/7,math", json={"grade": 5}).get_json()["grade"] == 5
    problem(client.get("/api/enrollments/7"), 404)
    problem(client.get("/api/enrollments/7,art"), 404)
    problem(client.post("/api/enrollments", json={"student_id": 7, "course": "math"}), 409)
    assert rows(engine, "enrollments") == [{"student_id": 7, "course": "math", "grade": 5}]
    assert client.delete("/api/enrollments/7,math").status_code == 204
    assert count(engine, "enrollments") == 0


def test_orm_path_applies_model_validators(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/people", json={"name": "  Ada  "})
    assert resp.status_code == 201
    assert resp.get_json()["name"] == "Ada"  # @validates ran: the write went through the ORM
    key = resp.get_json()["id"]
    assert (
        client.patch(f"/api/people/{key}", json={"name": " Grace "}).get_json()["name"] == "Grace"
    )
    assert rows(engine, "people")[0]["name"] == "Grace"
    assert client.delete(f"/api/people/{key}").status_code == 204
    problem(client.delete(f"/api/people/{key}"), 404)
