"""The document's examples: what the docs page's Try it out sends when nothing is changed.

Each example is valid against the schema beside it, and each operation, sent the way Swagger
UI sends it (the path key's example, the examples of the parameters, the first media type's
body example), succeeds on an app whose tables hold the rows the example keys name. The demo
is driven in a real browser by tests/e2e/test_docs_try_it_out.py; this replays the same
requests through Flask, over every column type of the fixture schema.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tablerest import cli
from tablerest.http import JSONAPI
from tablerest.server import create_app
from tests import models
from tests.conftest import AppFactory
from tests.features.test_openapi import spec

ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def _examples(doc: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) of every example of the document's operations."""
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = op if method == "parameters" else op.get("parameters", [])
            for p in params:
                if "example" in p:
                    out.append((f"{method} {path} {p['name']}", p["example"], p["schema"]))
            if method == "parameters":
                continue
            for media, entry in op.get("requestBody", {}).get("content", {}).items():
                if "example" in entry:
                    out.append((f"{method} {path} {media}", entry["example"], entry["schema"]))
    return out


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    rebased = json.loads(json.dumps(schema).replace('"#/components/', '"urn:doc#/components/'))
    return Draft202012Validator(rebased, registry=registry)


def _jsonapi_document(app: Flask) -> dict[str, Any]:
    resp = app.test_client().get("/api/openapi.json?format=jsonapi")
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.get_json()
    return doc


@pytest.mark.parametrize("representation", ["default", "jsonapi"])
def test_every_example_is_valid_against_its_schema(app: Flask, representation: str) -> None:
    doc = spec(app) if representation == "default" else _jsonapi_document(app)
    found = _examples(doc)
    wheres = {where for where, _example, _schema in found}
    media = "application/json" if representation == "default" else JSONAPI
    assert {f"post /api/books {media}", "parameters /api/books/{id} id"} <= wheres
    errors = {}
    for where, example, schema in found:
        problems = [e.message for e in _validator(doc, schema).iter_errors(example)]
        if problems:
            errors[where] = (example, problems)
    assert errors == {}, json.dumps(errors, indent=1, default=str)


@pytest.mark.parametrize("args", [[], ["--auth-table", "users"]])
def test_the_demo_s_examples_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("TABLEREST_DEMO_PATH", str(tmp_path / "demo.sqlite3"))
    result = CliRunner().invoke(cli.main, ["openapi", *args])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    found = _examples(doc)
    # Every body has its example, but a refresh's (a refresh token cannot be made up).
    bodies = {
        f"{method} {path} {media}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method != "parameters" and not path.endswith("/auth/refresh")
        for media in op.get("requestBody", {}).get("content", {})
    }
    assert bodies
    assert bodies <= {where for where, _example, _schema in found}
    errors = {}
    for where, example, schema in found:
        problems = [e.message for e in _validator(doc, schema).iter_errors(example)]
        if problems:
            errors[where] = problems
    assert errors == {}


def test_list_parameters_swagger_would_fill_with_a_sample_are_left_empty(app: Flask) -> None:
    doc = spec(app)
    having = next(
        p for p in doc["paths"]["/api/books"]["get"]["parameters"] if p["name"] == "having"
    )
    # An object parameter without an example gets {"additionalProp1": "string"} in Swagger UI.
    assert having["example"] == {}
    # Nothing else optional is filled in: a list asks for the first page, as it is.
    filled = [
        p["name"] for p in doc["paths"]["/api/books"]["get"]["parameters"] if p.get("example")
    ]
    assert filled == []


def _seed(engine: sa.Engine) -> None:
    """The rows the example keys name (the type's first value: 1, "ex", ...): the first
    row of each table (numbered by the database, whose sequences then go on from it)."""
    gadget = uuid.UUID("00000000-0000-4000-8000-000000000001")
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Author.__table__), [{"name": "Le Guin"}])
        conn.execute(sa.insert(models.Book.__table__), [{"title": "A", "author_id": 1}])
        conn.execute(sa.insert(models.Kitchen.__table__), [{"tiny": 1}])
        conn.execute(sa.insert(models.Gadget.__table__), [{"id": gadget, "name": "g"}])
        conn.execute(sa.insert(models.Country.__table__), [{"code": "ex", "name": "Exland"}])
        conn.execute(
            sa.insert(models.Enrollment.__table__), [{"student_id": 1, "course": "example"}]
        )
        conn.execute(
            sa.insert(models.Account.__table__),
            [{"email": "a@example.com", "password": "x", "is_admin": False}],
        )
        conn.execute(sa.insert(models.Person.__table__), [{"name": "Ada"}])


def _request(
    path: str, op: dict[str, Any], shared: list[dict[str, Any]], media: str
) -> dict[str, Any]:
    """The request Swagger UI sends for ``op`` when nothing but the body's media type (to
    ``media``, where the operation takes it) is changed."""
    url, query, headers = path, [], {}
    for p in [*shared, *op.get("parameters", [])]:
        value = p.get("example")
        if value is None or value in ({}, [], ""):
            continue  # Swagger UI sends nothing for an empty value
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query":
            query.append((p["name"], str(value)))
        else:
            headers[p["name"]] = str(value)
    out: dict[str, Any] = {"path": url, "query_string": query, "headers": headers}
    content = op.get("requestBody", {}).get("content", {})
    if content:
        if media not in content:
            media = next(iter(content))  # the one Swagger UI shows first
        entry = content[media]
        if "example" in entry:
            out["data"] = json.dumps(entry["example"])
            out["content_type"] = media
    return out


@pytest.mark.parametrize(
    ("backend", "media"),
    [
        ("sqlite", "application/json"),  # what Swagger UI offers first
        ("postgresql", "application/json"),
        ("sqlite", JSONAPI),  # the other choice in its list
    ],
    indirect=["backend"],
)
def test_each_operation_s_example_request_succeeds(
    make_app: AppFactory, engine: sa.Engine, backend: str, media: str
) -> None:
    app = make_app(api={"batch": True})
    _seed(engine)
    # The JSON:API bodies are in the JSON:API document (the default one has JSON's).
    doc = spec(app) if media != JSONAPI else _jsonapi_document(app)
    # Reads, creates, replacements, changes, then deletes: of the rows that point at others
    # first (books before their authors), as a user would clean up.
    ops = [
        (
            (ORDER[method], -n if method == "delete" else n),
            method,
            path,
            op,
            item.get("parameters", []),
        )
        for n, (path, item) in enumerate(doc["paths"].items())
        for method, op in item.items()
        if method != "parameters" and not path.endswith("/changes")
    ]
    client = app.test_client()
    failed = {}
    for _order, method, path, op, shared in sorted(ops, key=lambda o: o[0]):
        req = _request(path, op, shared, media)
        resp = client.open(method=method.upper(), **req)
        documented = {int(c) for c in op["responses"] if c.isdigit()}
        ok = {c for c in documented if c < 300} or {min(documented)}
        if resp.status_code not in ok:
            failed[f"{method.upper()} {path}"] = (resp.status_code, resp.get_data(as_text=True))
    assert failed == {}, json.dumps(failed, indent=1)
    with engine.connect() as conn:
        # What the examples wrote: the create (and the batch's), the kitchen's every type.
        names = conn.execute(sa.select(models.Author.name).order_by(models.Author.id)).scalars()
        assert list(names) == ["example", "example"]  # author 1 deleted, after its book
        kitchen = conn.execute(sa.select(models.Kitchen).where(models.Kitchen.id == 2)).one()
        assert kitchen.label == "examp"  # within the column's length
        assert conn.scalar(sa.select(sa.func.count()).select_from(models.Book)) == 1


@pytest.mark.parametrize("lean", [False, True], ids=["flask", "lean"])
def test_a_jsonapi_replace_of_a_client_chosen_key_takes_it_from_the_id(
    tmp_path: Path, lean: bool
) -> None:
    # Found by the replay above: the key is the id, never an attribute (the document says
    # so), and a replace requires the key fields it may write: they are the id's values. It
    # was a 422 at /data/id, whatever was sent.
    db = tmp_path / "natural.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL);"
            "INSERT INTO countries VALUES ('NZ', 'Aotearoa');"
        )
    conn.close()
    app = create_app(str(db), lean=lean, allowed_hosts=["localhost"])
    body = {"data": {"type": "countries", "id": "NZ", "attributes": {"name": "New Zealand"}}}
    resp = app.test_client().put(
        "/api/countries/NZ", json=body, headers={"Content-Type": JSONAPI, "Accept": JSONAPI}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT code, name FROM countries").fetchall()
    conn.close()
    assert stored == [("NZ", "New Zealand")]
