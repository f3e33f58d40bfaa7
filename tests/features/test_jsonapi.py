"""JSON:API 1.1 on every backend. Every JSON:API document a test receives is checked against
the official JSON:API JSON Schema (tests/data/jsonapi), and every one it sends against the
official request schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from referencing import Registry, Resource

from tests.conftest import AppFactory
from tests.databases import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

JSONAPI = "application/vnd.api+json"
SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "jsonapi"
H = {"Accept": JSONAPI}
SEND = {"Accept": JSONAPI, "Content-Type": JSONAPI}


def _any_name(node: Any) -> Any:
    """The schemas say "any member name" as ``patternProperties: {"": true}``; the Python
    jsonschema library skips an empty pattern when it looks for additional properties, so it
    is given as the equivalent ``"^"``."""
    if isinstance(node, dict):
        return {
            k: ({"^": v[""]} if k == "patternProperties" and list(v) == [""] else _any_name(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_any_name(v) for v in node]
    return node


@cache
def _registry() -> Registry:
    """The request schemas refer to the response schema by its $id: resolve it locally."""
    main = _any_name(json.loads((SCHEMAS / "schema.json").read_text()))
    return Registry().with_resource(main["$id"], Resource.from_contents(main))


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = _any_name(json.loads((SCHEMAS / name).read_text()))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry())  # type: ignore[no-any-return]


def test_the_schema_check_can_fail(backend: str) -> None:
    bad = {"data": {"type": "books", "id": 1, "attributes": {"id": 1}}, "included": 5}
    with pytest.raises(jsonschema.ValidationError):
        validator("schema.json").validate(bad)


class JsonApiClient(FlaskClient):
    """A test client that checks every JSON:API document, both ways."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if body is not None and kwargs.get("headers", {}).get("Content-Type") == JSONAPI:
            kind = "create" if kwargs.get("method", "GET") == "POST" else "update"
            if isinstance(body.get("data"), dict) and "attributes" in body["data"]:
                validator(f"schema_{kind}_resource.json").validate(body)
            kwargs["data"] = json.dumps(kwargs.pop("json"))
        resp = super().open(*args, **kwargs)
        if resp.mimetype == JSONAPI:
            validator("schema.json").validate(resp.get_json())
        return resp


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    app = make_app()
    app.test_client_class = JsonApiClient
    c = app.test_client()
    authors = [{"name": "Ursula Le Guin", "country": "US"}, {"name": "Janet Frame"}]
    assert c.post("/api/authors", json=authors).status_code == 201
    books = [
        {"title": "A Wizard of Earthsea", "year": 1968, "author_id": 1, "price": "9.50"},
        {"title": "The Dispossessed", "year": 1974, "author_id": 1},
        {"title": "Owls Do Cry", "year": 1957, "author_id": 2},
        {"title": "Anonymous", "year": None, "author_id": None},
    ]
    assert c.post("/api/books", json=books).status_code == 201
    return c


def get(client: FlaskClient, url: str, status: int = 200, **headers: str) -> dict[str, Any]:
    resp = client.get(url, headers={**H, **headers})
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == JSONAPI
    return resp.get_json()  # type: ignore[no-any-return]


def test_one_row_is_a_resource_object(client: FlaskClient) -> None:
    doc = get(client, "/api/books/1")
    assert doc["jsonapi"] == {"version": "1.1"}
    assert doc["links"] == {"self": "http://localhost/api/books/1"}
    book = doc["data"]
    assert (book["type"], book["id"]) == ("books", "1")
    assert book["attributes"]["title"] == "A Wizard of Earthsea"
    assert book["attributes"]["price"] == "9.50"
    assert "id" not in book["attributes"]
    assert "author_id" not in book["attributes"]  # a relationship, not an attribute
    assert "secret_note" not in book["attributes"]  # hidden stays hidden
    assert book["relationships"]["author"] == {
        "links": {
            "self": "http://localhost/api/books/1/relationships/author",
            "related": "http://localhost/api/books/1/author",
        },
        "data": {"type": "authors", "id": "1"},
    }
    assert book["links"] == {"self": "http://localhost/api/books/1"}
    assert get(client, "/api/books/4")["data"]["relationships"]["author"]["data"] is None
    author = get(client, "/api/authors/1")["data"]
    assert "data" not in author["relationships"]["books"]  # to-many: links until included


def test_includes_make_a_compound_document(client: FlaskClient) -> None:
    doc = get(client, "/api/authors/1?include=books")
    linkage = doc["data"]["relationships"]["books"]["data"]
    assert linkage == [{"type": "books", "id": "1"}, {"type": "books", "id": "2"}]
    included = {(o["type"], o["id"]): o for o in doc["included"]}
    assert set(included) == {("books", "1"), ("books", "2")}
    assert included["books", "1"]["relationships"]["author"]["data"] == {
        "type": "authors",
        "id": "1",
    }
    # An included row appears once, and the primary data is never repeated in included.
    doc = get(client, "/api/books?include=author&sort=id")
    assert [(o["type"], o["id"]) for o in doc["included"]] == [("authors", "1"), ("authors", "2")]
    doc = get(client, "/api/authors/1?include=books.author")
    assert all(o["type"] == "books" for o in doc["included"])


def test_sparse_fieldsets_name_attributes_and_relationships(client: FlaskClient) -> None:
    book = get(client, "/api/books/1?fields[books]=title")["data"]
    assert book["attributes"] == {"title": "A Wizard of Earthsea"}
    assert "relationships" not in book
    book = get(client, "/api/books/1?fields[books]=year,author")["data"]
    assert book["attributes"] == {"year": 1968}
    assert book["relationships"]["author"]["data"] == {"type": "authors", "id": "1"}
    doc = get(client, "/api/books/1?include=author&fields[authors]=name")
    assert doc["included"][0]["attributes"] == {"name": "Ursula Le Guin"}
    assert "relationships" not in doc["included"][0]
    error = get(client, "/api/books/1?fields[books]=nope", 400)["errors"][0]
    assert error["source"] == {"parameter": "fields[books]"}


def test_lists_have_links_and_meta(client: FlaskClient) -> None:
    doc = get(client, "/api/books?page[size]=2&count=true&sort=-year")
    assert [b["id"] for b in doc["data"]] == ["2", "1"]
    assert doc["meta"]["total"] == 4
    assert doc["links"]["next"].endswith("page%5Bnumber%5D=2")
    assert "prev" not in doc["links"]  # no null links
    doc = get(client, "/api/authors/1/books?fields[books]=title")
    assert [b["attributes"] for b in doc["data"]] == [
        {"title": "A Wizard of Earthsea"},
        {"title": "The Dispossessed"},
    ]
    assert get(client, "/api/books/1/author")["data"]["id"] == "1"
    assert get(client, "/api/books/4/author")["data"] is None
    plain = client.get("/api/books?format=jsonapi")  # the format parameter works too
    assert plain.mimetype == JSONAPI


def test_errors_are_error_objects(client: FlaskClient) -> None:
    error = get(client, "/api/books?sort=nope", 400)["errors"][0]
    assert error["status"] == "400"
    assert error["source"] == {"parameter": "sort"}
    assert get(client, "/api/books/99", 404)["errors"][0]["code"] == "not-found"
    resp = client.post(
        "/api/books",
        json={"data": {"type": "books", "attributes": {"title": 5, "year": "x"}}},
        headers=SEND,
    )
    assert resp.status_code == 422
    pointers = {e["source"]["pointer"] for e in resp.get_json()["errors"]}
    assert pointers == {"/data/attributes/title", "/data/attributes/year"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Accept": f'{JSONAPI}; ext="https://example.com/ext"'}, 406),
        ({"Accept": f"{JSONAPI}; charset=utf-8"}, 406),
        ({"Accept": f"{JSONAPI}; foo=1, {JSONAPI}"}, 200),
        ({"Accept": f'{JSONAPI}; profile="https://example.com/p"'}, 200),
        ({"Accept": f"application/json;q=0.5, {JSONAPI}"}, 200),
    ],
)
def test_accept_follows_the_jsonapi_rules(
    client: FlaskClient, headers: dict[str, str], status: int
) -> None:
    resp = client.get("/api/books/1", headers=headers)
    assert resp.status_code == status
    assert resp.mimetype == JSONAPI


def test_body_media_type_parameters_are_415(client: FlaskClient) -> None:
    body = {"data": {"type": "books", "attributes": {"title": "x"}}}
    for ctype in (f"{JSONAPI}; charset=utf-8", f'{JSONAPI}; ext="https://example.com/e"'):
        resp = client.post("/api/books", data=json.dumps(body), headers={"Content-Type": ctype})
        assert resp.status_code == 415
        assert resp.mimetype == JSONAPI
    ok = client.post(
        "/api/books",
        data=json.dumps(body),
        headers={"Content-Type": f'{JSONAPI}; profile="https://example.com/p"'},
    )
    assert ok.status_code == 201


def test_plain_json_stays_the_default(client: FlaskClient, make_app: AppFactory) -> None:
    assert client.get("/api/books/1").mimetype == "application/json"
    assert client.get("/api/books/1", headers={"Accept": "*/*"}).mimetype == "application/json"
    app = make_app(books={"format": "jsonapi"})
    app.test_client_class = JsonApiClient
    c = app.test_client()
    assert c.get("/api/books/1").mimetype == JSONAPI  # the resource's default
    assert c.get("/api/books/1", headers={"Accept": "*/*"}).mimetype == JSONAPI
    assert c.get("/api/books/1", headers={"Accept": "application/json"}).mimetype == (
        "application/json"
    )
    assert c.get("/api/authors/1").mimetype == "application/json"


def test_create_with_relationship_linkage(client: FlaskClient, engine: sa.Engine) -> None:
    body = {
        "data": {
            "type": "books",
            "attributes": {"title": "Tehanu", "year": 1990},
            "relationships": {"author": {"data": {"type": "authors", "id": "1"}}},
        }
    }
    resp = client.post("/api/books", json=body, headers=SEND)
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert resp.headers["Location"] == f"http://localhost/api/books/{doc['data']['id']}"
    assert doc["data"]["relationships"]["author"]["data"] == {"type": "authors", "id": "1"}
    plain = client.get(resp.headers["Location"]).get_json()
    assert plain["author_id"] == 1
    assert resp.headers["ETag"] == client.get(resp.headers["Location"], headers=H).headers["ETag"]
    # A resource identifier may carry meta (JSON:API), and nothing else.
    body["data"]["relationships"]["author"]["data"]["meta"] = {"why": "x"}  # type: ignore[index]
    assert client.post("/api/books", json=body, headers=SEND).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"data": {"type": "authors", "attributes": {"title": "x"}}}, 409, None),
        ({"data": {"type": "books", "id": "77", "attributes": {"title": "x"}}}, 403, None),
        ({"data": [{"type": "books"}]}, 400, None),
        ({"nodata": {}}, 400, None),
        (
            {
                "data": {
                    "type": "books",
                    "attributes": {"title": "x"},
                    "relationships": {"author": {"data": {"type": "books", "id": "1"}}},
                }
            },
            422,
            "/data/relationships/author/data/type",
        ),
        (
            {
                "data": {
                    "type": "books",
                    "attributes": {"title": "x"},
                    "relationships": {"author": {"data": {"type": "authors", "id": "99"}}},
                }
            },
            409,
            None,
        ),
        (
            {
                "data": {
                    "type": "books",
                    "attributes": {"title": "x"},
                    "relationships": {"nope": {"data": None}},
                }
            },
            422,
            "/data/relationships/nope",
        ),
        (
            {
                "data": {
                    "type": "authors",
                    "attributes": {"name": "x"},
                    "relationships": {"books": {"data": []}},
                }
            },
            403,
            None,
        ),
        # Found by schemathesis: unknown members and non-object meta were let through.
        ({"data": {"type": "books", "attributes": {"title": "x"}, "x-other": 42}}, 400, None),
        ({"data": {"type": "books", "attributes": {"title": "x"}, "meta": [None]}}, 400, None),
        (
            {
                "data": {
                    "type": "books",
                    "attributes": {"title": "x"},
                    "relationships": {"author": {"data": None, "extra": 1}},
                }
            },
            422,
            "/data/relationships/author/extra",
        ),
        # Found by schemathesis from the document's example: a resource identifier holds
        # type, id and meta (JSON:API), nothing else.
        (
            {
                "data": {
                    "type": "books",
                    "attributes": {"title": "x"},
                    "relationships": {
                        "author": {"data": {"type": "authors", "id": "1", "extra": 1}}
                    },
                }
            },
            422,
            "/data/relationships/author/data/extra",
        ),
    ],
)
def test_bad_documents(
    client: FlaskClient, engine: sa.Engine, body: Any, status: int, where: str | None
) -> None:
    # The to-many case goes to authors; every other one to books (the first: a wrong type).
    data = body.get("data")
    to_many = isinstance(data, dict) and "relationships" in data and _type(body) == "authors"
    url = "/api/authors" if to_many else "/api/books"
    resp = client.post(url, data=json.dumps(body), headers=SEND)
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == JSONAPI
    if where is not None:
        assert where in {e["source"]["pointer"] for e in resp.get_json()["errors"]}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM books")).scalar() == 4


def _type(body: Any) -> Any:
    data = body.get("data")
    return data.get("type") if isinstance(data, dict) else None


def test_client_chosen_ids(client: FlaskClient) -> None:
    body = {"data": {"type": "countries", "id": "NZ", "attributes": {"name": "New Zealand"}}}
    resp = client.post("/api/countries", json=body, headers=SEND)
    assert resp.status_code == 201
    assert resp.get_json()["data"]["id"] == "NZ"
    assert resp.headers["Location"] == "http://localhost/api/countries/NZ"
    body = {"data": {"type": "enrollments", "id": "7,math", "attributes": {"grade": 5}}}
    resp = client.post("/api/enrollments", json=body, headers=SEND)
    assert resp.status_code == 201, resp.get_json()
    enrollment = get(client, "/api/enrollments/7,math")["data"]
    assert enrollment["id"] == "7,math"
    assert enrollment["attributes"] == {"grade": 5}  # the key is the id, not attributes


def test_update_checks_type_and_id(client: FlaskClient) -> None:
    def patch(body: Any) -> Any:
        return client.patch("/api/books/1", data=json.dumps(body), headers=SEND)

    ok = patch({"data": {"type": "books", "id": "1", "attributes": {"year": 1969}}})
    assert ok.status_code == 200
    assert ok.get_json()["data"]["attributes"]["year"] == 1969
    assert patch({"data": {"type": "books", "id": "2", "attributes": {}}}).status_code == 409
    assert patch({"data": {"type": "authors", "id": "1", "attributes": {}}}).status_code == 409
    assert patch({"data": {"type": "books", "attributes": {}}}).status_code == 400
    unlinked = patch(
        {"data": {"type": "books", "id": "1", "relationships": {"author": {"data": None}}}}
    )
    assert unlinked.status_code == 200
    assert unlinked.get_json()["data"]["relationships"]["author"]["data"] is None


def test_relationship_endpoints(client: FlaskClient) -> None:
    doc = get(client, "/api/books/1/relationships/author")
    assert doc["data"] == {"type": "authors", "id": "1"}
    assert doc["links"]["related"] == "http://localhost/api/books/1/author"
    doc = get(client, "/api/authors/1/relationships/books?page[size]=1")
    assert doc["data"] == [{"type": "books", "id": "1"}]
    assert doc["links"]["next"]
    get(client, "/api/books/99/relationships/author", 404)
    get(client, "/api/books/1/relationships/nope", 404)

    resp = client.patch(
        "/api/books/1/relationships/author",
        json={"data": {"type": "authors", "id": "2"}},
        headers=SEND,
    )
    assert resp.status_code == 204
    assert get(client, "/api/books/1/relationships/author")["data"]["id"] == "2"
    resp = client.patch("/api/books/1/relationships/author", json={"data": None}, headers=SEND)
    assert resp.status_code == 204
    assert get(client, "/api/books/1/relationships/author")["data"] is None
    resp = client.patch(
        "/api/books/1/relationships/author",
        json={"data": {"type": "authors", "id": "99"}},
        headers=SEND,
    )
    assert resp.status_code == 409  # no such author: the foreign key says so
    resp = client.patch("/api/authors/1/relationships/books", json={"data": []}, headers=SEND)
    assert resp.status_code == 403
    resp = client.post("/api/books/1/relationships/author", json={"data": None}, headers=SEND)
    assert resp.status_code == 405


def test_if_match_uses_the_jsonapi_etag(client: FlaskClient) -> None:
    tag = client.get("/api/books/2", headers=H).headers["ETag"]
    plain_tag = client.get("/api/books/2").headers["ETag"]
    assert tag != plain_tag
    body = {"data": {"type": "books", "id": "2", "attributes": {"year": 1975}}}
    stale = client.patch(
        "/api/books/2", data=json.dumps(body), headers={**SEND, "If-Match": plain_tag}
    )
    assert stale.status_code == 412
    resp = client.patch("/api/books/2", data=json.dumps(body), headers={**SEND, "If-Match": tag})
    assert resp.status_code == 200
    assert (
        client.get("/api/books/2", headers={**H, "If-None-Match": resp.headers["ETag"]}).status_code
        == 304
    )


def test_routing_errors_answer_jsonapi_clients_in_kind(client: FlaskClient) -> None:
    missing = client.get("/api/nope", headers=H)
    assert missing.status_code == 404
    assert missing.get_json()["errors"][0]["status"] == "404"
    wrong = client.post("/api/books/1", json={"data": None}, headers=SEND)
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["Allow"]
    assert wrong.mimetype == JSONAPI
    assert client.get("/api/nope").mimetype == "application/problem+json"
