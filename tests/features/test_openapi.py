"""The OpenAPI 3.1 document: valid, complete, and true to what the API serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from openapi_spec_validator import validate

from tablerest import Api, cli
from tablerest.openapi import operations
from tests import models
from tests.conftest import AppFactory

ITEM_METHODS = {"GET", "PUT", "PATCH", "DELETE"}


def spec(app: Flask, prefix: str = "/api") -> dict[str, Any]:
    resp = app.test_client().get(f"{prefix}/openapi.json")
    assert resp.status_code == 200
    assert resp.content_type == "application/json"
    doc: dict[str, Any] = resp.get_json()
    validate(doc)  # openapi-spec-validator: OpenAPI 3.1 and its JSON Schema dialect
    return doc


def routes(app: Flask, prefix: str = "/api") -> set[tuple[str, str]]:
    """(method, OpenAPI-style path) of every route the app serves under the prefix."""
    out = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith(prefix) or path.endswith(("/openapi.json", "/docs", "<path:asset>")):
            continue
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method, path))
    return out


def as_flask(doc_path: str, doc: dict[str, Any]) -> str:
    """The Flask rule of a documented path: path parameters are <key> / <relation>."""
    parts = doc_path.split("/")
    out = []
    for i, part in enumerate(parts):
        if part.startswith("{"):
            out.append("<key>")
        elif i > 0 and (
            (parts[i - 1].startswith("{") and part != "relationships")
            or parts[i - 1] == "relationships"
        ):
            out.append("<relation>")
        else:
            out.append(part)
    return "/".join(out)


def test_every_route_and_method_is_documented(make_app: AppFactory) -> None:
    app = make_app()
    doc = spec(app)
    served = routes(app)
    documented = {(m, as_flask(p, doc)) for m, p in operations(doc)}
    # Relation routes are one Flask rule for every relation; the document lists each one.
    served_plain = {r for r in served if "<relation>" not in r[1]}
    assert served_plain == {r for r in documented if "<relation>" not in r[1]}
    assert {r for r in documented if "<relation>" in r[1]} <= served | {
        ("GET", "/api/<key>/<key>/<relation>")
    }
    assert "/api/authors/{id}/books" in doc["paths"]
    assert "/api/books/{id}/author" in doc["paths"]
    assert "/api/enrollments/{key}" in doc["paths"]  # composite key


def test_fields_and_types_follow_the_resources(make_app: AppFactory) -> None:
    doc = spec(make_app())
    schemas = doc["components"]["schemas"]
    book = schemas["Books"]["properties"]
    assert "secret_note" not in book  # hidden
    assert "secret_note" not in json.dumps(doc["paths"]["/api/books"])
    assert book["price"]["anyOf"][0]["type"] == "string"  # decimals as text
    assert book["author"] == {"anyOf": [{"$ref": "#/components/schemas/Authors"}, {"type": "null"}]}
    assert schemas["Authors"]["properties"]["books"]["type"] == "array"
    assert "password" not in schemas["Accounts"]["properties"]  # write-only: never returned
    assert "password" in schemas["AccountsCreate"]["properties"]
    assert "is_admin" not in schemas["AccountsCreate"]["properties"]  # read-only
    # The create body (a row that may nest its author; the flat one is not kept unused).
    assert "BooksCreate" not in schemas
    assert "created_at" not in schemas["BooksCreateNested"]["properties"]
    assert schemas["BooksCreateNested"]["required"] == ["title"]
    assert "required" not in schemas["BooksPatch"]
    kitchen = schemas["Kitchen"]["properties"]
    assert kitchen["token"]["anyOf"][0] == {"type": "string", "format": "uuid"}
    assert kitchen["day"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert kitchen["genre"]["anyOf"][0]["enum"] == ["fantasy", "mystery", "poetry"]
    assert kitchen["doc"] == {}  # any JSON value


def test_operations_list_their_parameters_and_errors(make_app: AppFactory) -> None:
    doc = spec(make_app(books={"searchable": ["title"], "require_if_match": True}))
    listing = doc["paths"]["/api/books"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"page[size]", "page[after]", "sort", "fields", "include", "q"} <= names
    assert {"filter[year]", "filter[year][ge]", "filter[year][in]", "filter[year][null]"} <= names
    assert not {n for n in names if n.startswith("filter[secret_note]")}
    # ?format= changes the answer's media type, which a parameter cannot say: not declared.
    assert "format" not in names
    size = next(p for p in listing["parameters"] if p["name"] == "page[size]")
    assert size["schema"]["maximum"] == 100
    # JSON:API's spelling of limit/offset (@orbit/jsonapi), with the same bounds.
    schemas = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert schemas["page[limit]"] == schemas["limit"]
    assert schemas["page[offset]"] == schemas["offset"]
    assert set(listing["responses"]["200"]["content"]) == {
        "application/json",
        "application/vnd.api+json",
        "text/csv",
        "application/x-ndjson",
    }
    patch = doc["paths"]["/api/books/{id}"]["patch"]
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert if_match["required"] is True
    assert {"404", "412", "422", "428"} <= set(patch["responses"])
    for method, path in operations(doc):
        for status, response in doc["paths"][path][method.lower()]["responses"].items():
            if int(status) >= 400 and status != "414":  # 414: gunicorn's, no body
                content = response["content"]
                if "application/problem+json" in content:
                    problem_schema = content["application/problem+json"]["schema"]
                    assert problem_schema == {"$ref": "#/components/schemas/Problem"}
                errors = content["application/vnd.api+json"]["schema"]
                assert errors == {"$ref": "#/components/schemas/JsonApiErrors"}


def test_options_change_the_document(engine: sa.Engine) -> None:
    app = Flask("docs")
    api = Api(app, engine, prefix="/v2", title="Library", version="2.1")
    api.resource(models.Book, methods=["GET"], export=False)
    api.resource(models.Author)
    doc = spec(app, "/v2")
    assert doc["info"]["title"] == "Library"
    assert doc["info"]["version"] == "2.1"
    assert set(doc["paths"]["/v2/books/{id}"]) == {"parameters", "get"}
    assert "post" not in doc["paths"]["/v2/books"]
    assert "text/csv" not in doc["paths"]["/v2/books"]["get"]["responses"]["200"]["content"]


def test_docs_off_and_reserved_names(engine: sa.Engine) -> None:
    app = Flask("nodocs")
    Api(app, engine, docs=False).resource(models.Book)
    assert app.test_client().get("/api/openapi.json").status_code == 404
    api = Api(Flask("clash"), engine)
    with pytest.raises(ValueError, match="docs=False"):
        api.resource(models.Book, name="docs")


def test_the_command_prints_the_document(tmp_path: Path) -> None:
    db = tmp_path / "pets.db"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    eng.dispose()
    result = CliRunner().invoke(cli.main, ["openapi", str(db), "--read-only"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    validate(doc)
    assert set(doc["paths"]["/api/pets"]) == {"get"}
    demo = CliRunner().invoke(cli.main, ["openapi"])
    assert demo.exit_code == 0, demo.output
    assert "/api/books/{id}/author" in json.loads(demo.output)["paths"]
    missing = CliRunner().invoke(cli.main, ["openapi", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output


@pytest.mark.parametrize(
    ("only", "media"), [("json", "application/json"), ("jsonapi", "application/vnd.api+json")]
)
def test_the_command_prints_one_representation(only: str, media: str) -> None:
    # As openapi.json?format=...: the document for code generators.
    printed = CliRunner().invoke(cli.main, ["openapi", "--only", only])
    assert printed.exit_code == 0, printed.output
    doc = json.loads(printed.output)
    validate(doc)
    books = doc["paths"]["/api/books"]
    assert list(books["get"]["responses"]["200"]["content"]) == [media]
    assert list(books["post"]["requestBody"]["content"]) == [media]


def test_parameter_patterns_say_what_the_parser_takes(make_app: AppFactory) -> None:

    client = make_app().test_client()
    doc = spec(make_app())
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/books/{id}"]["get"]["parameters"]}
    include, fields = (
        re.compile(params["include"]["pattern"]),
        re.compile(params["fields"]["pattern"]),
    )
    assert client.post("/api/books", json={"title": "x"}).status_code == 201
    for value in ("", "author", " author ,\tauthor", "author,,", "author.books"):
        assert include.search(value), value
        assert client.get("/api/books/1", query_string={"include": value}).status_code == 200
    for value in ("\x0b", "nope", "author.", "Author"):
        assert not include.search(value), value
        assert client.get("/api/books/1", query_string={"include": value}).status_code == 400
    assert fields.search("title,year")
    assert not fields.search("secret_note")
    listing = {p["name"]: p["schema"] for p in doc["paths"]["/api/books"]["get"]["parameters"]}
    assert re.search(listing["sort"]["pattern"], "-year, author.name")
    assert listing["filter[year]"]["maximum"] == 2**63 - 1
    # group_by, distinct and aggregate: the names the parser takes, at least one.
    group_by = re.compile(listing["group_by"]["pattern"])
    aggregate = re.compile(listing["aggregate"]["pattern"])
    assert listing["distinct"]["pattern"] == group_by.pattern
    for value in ("year", " year ,\ttitle", ",year,", "author.name"):
        assert group_by.search(value), value
        assert client.get("/api/books", query_string={"group_by": value}).status_code == 200
    for value in ("", " , ", "nope", "secret_note", "author."):
        assert not group_by.search(value), value
        assert client.get("/api/books", query_string={"group_by": value}).status_code == 400
    # Every aggregate the pattern takes is taken, every other one refused (each function
    # over each field, the hidden one too); having's names are the same aggregates.
    having = re.compile(listing["having"]["propertyNames"]["pattern"])
    fields = [*doc["components"]["schemas"]["Books"]["properties"], "secret_note"]
    names = ["count()"] + [
        f"{fn}({f})" for f in fields for fn in ("count", "sum", "avg", "min", "max")
    ]
    taken = [name for name in names if aggregate.search(f" {name},")]
    assert {"count()", "count(title)", "sum(year)", "max(title)"} <= set(taken)
    assert not {"sum(title)", "max(secret_note)", "count(secret_note)"} & set(taken)
    for name in names:
        resp = client.get("/api/books", query_string={"aggregate": name})
        assert resp.status_code == (200 if name in taken else 400), (name, resp.get_json())
        assert bool(having.search(f"having[{name}][ge]")) is (name in taken), name
    assert having.search("having[count()]")  # eq without its operator
    assert not having.search("having[count()][like]")
    query = {"aggregate": "count()", "having[count()]": "1"}
    assert client.get("/api/books", query_string=query).status_code == 200
    for value in ("", "sum(title)", "avg()", "count(nope)", "count(secret_note)"):
        assert not aggregate.search(value), value
        assert client.get("/api/books", query_string={"aggregate": value}).status_code == 400
    kitchen = doc["components"]["schemas"]["KitchenCreate"]["properties"]
    number, text, _null = kitchen["amount"]["anyOf"]
    assert number["multipleOf"] == 0.001  # Numeric(6, 3)
    assert number["maximum"] == 999.999
    assert re.search(text["pattern"], "999.999")
    assert not re.search(text["pattern"], "1000")
    assert kitchen["moment"]["anyOf"][0]["format"] == "date-time-local"  # no zone
    shown = doc["components"]["schemas"]["Kitchen"]["properties"]
    assert shown["moment"]["anyOf"][0] == kitchen["moment"]["anyOf"][0]
    # Tools that do not know the registry's formats generate from the patterns: what they
    # match is taken, and what rows show matches them.
    moment = re.compile(kitchen["moment"]["anyOf"][0]["pattern"])
    clock = re.compile(kitchen["clock"]["anyOf"][0]["pattern"])
    for day, valid in (("2024-02-29", True), ("2023-02-29", False), ("2024-04-31", False)):
        value = f"{day}T23:59:59.5"
        assert bool(moment.search(value)) is valid, value
        resp = client.post("/api/kitchen", json={"moment": value, "clock": "23:59:59.25"})
        assert resp.status_code == (201 if valid else 422), resp.get_json()
        if valid:
            assert moment.search(resp.get_json()["moment"]), resp.get_json()
            assert clock.search(resp.get_json()["clock"]), resp.get_json()
    assert not clock.search("24:00:00")
    assert doc["components"]["schemas"]["BooksReplace"]["properties"]["id"]["readOnly"] is True


def test_the_server_url_is_where_the_app_is_mounted(make_app: AppFactory) -> None:
    # Paths start at the API's prefix: the server is the app's own root, "/" or the
    # SCRIPT_NAME it is mounted under behind a proxy (one document kept per mount).
    app = make_app()
    client = app.test_client()
    assert client.get("/api/openapi.json").get_json()["servers"] == [
        {"url": "/", "description": "The server of this document"}
    ]
    mounted = client.get("/api/openapi.json", base_url="http://localhost/library")
    assert mounted.get_json()["servers"][0]["url"] == "/library"
    assert client.get("/api/openapi.json").get_json()["servers"][0]["url"] == "/"
    assert client.get("/api/openapi.json").get_json()["security"] == []  # open: no scheme


def test_filter_groups_pattern_says_what_the_parser_takes(make_app: AppFactory) -> None:
    client = make_app(books={"hidden": ["secret_note"]}).test_client()
    doc = spec(make_app(books={"hidden": ["secret_note"], "changes": True}))
    (groups,) = [
        p for p in doc["paths"]["/api/books"]["get"]["parameters"] if p["name"] == "filter"
    ]
    assert (groups["style"], groups["explode"]) == ("form", True)
    assert groups["x-tablerest-filter-groups"]["max_depth"] == 3
    assert "filter[or][0][year][lt]=1950" in groups["description"]
    names = re.compile(groups["schema"]["propertyNames"]["pattern"])
    taken = [
        "filter[or][0][year][lt]",
        "filter[or][19][title]",
        "filter[not][genre][in]",
        "filter[or][1][not][title][like]",
        "filter[not][or][0][not][year][null]",
    ]
    refused = [
        "filter[or][20][year]",
        "filter[or][a][year]",
        "filter[or][year]",
        "filter[not][secret_note]",  # hidden
        "filter[not][year][like]",  # no text operator on a number
        "filter[not][not][not][not][year]",  # deeper than 3
        "filter[year]",  # no group: the filters above
    ]
    for name in taken:
        assert names.search(name), name
        value = {"[null]": "true", "[in]": "fantasy"}.get(name[name.rfind("[") :], "1")
        assert client.get("/api/books", query_string={name: value}).status_code == 200, name
    for name in refused:
        assert not names.search(name), name
        if name != "filter[year]":
            assert client.get("/api/books", query_string={name: "1"}).status_code == 400, name
    # Filters through relations, in groups or on their own (not the hidden field there).
    for name in (
        "filter[author.name]",
        "filter[or][0][author.name][like]",
        "filter[not][author.id]",
    ):
        assert names.search(name), name
        value = "x%" if name.endswith("[like]") else "1"
        assert client.get("/api/books", query_string={name: value}).status_code == 200, name
    (authors,) = [
        p for p in doc["paths"]["/api/authors"]["get"]["parameters"] if p["name"] == "filter"
    ]
    of_authors = re.compile(authors["schema"]["propertyNames"]["pattern"])
    assert of_authors.search("filter[books.title]")
    assert not of_authors.search("filter[books.secret_note]")  # hidden
    # The change feed takes the groups too, but nothing through a relation (a 400 there).
    (feed,) = [
        p for p in doc["paths"]["/api/books/changes"]["get"]["parameters"] if p["name"] == "filter"
    ]
    on_feed = re.compile(feed["schema"]["propertyNames"]["pattern"])
    assert on_feed.search("filter[or][0][year][lt]")
    assert not on_feed.search("filter[or][0][author.name]")
    assert not on_feed.search("filter[author.name]")
    assert "dotted" not in feed["description"]
