"""HTTP semantics and errors: negotiation, bodies, limits, routes, and the app around the API."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import Flask, g, jsonify, request
from flask.testing import FlaskClient

from tablerest import Api
from tests import models
from tests.conftest import AppFactory
from tests.helpers import count, problem, rows


def test_index_lists_resources_without_hidden_or_write_only_fields(client: FlaskClient) -> None:
    resp = client.get("/api")
    assert resp.status_code == 200
    resources = {r["name"]: r for r in resp.get_json()["resources"]}
    assert set(resources) == {
        "authors",
        "books",
        "kitchen",
        "gadgets",
        "countries",
        "enrollments",
        "accounts",
        "people",
    }
    books = resources["books"]
    assert books["url"] == "http://localhost/api/books"
    assert "secret_note" not in books["fields"]
    assert "password" not in resources["accounts"]["fields"]
    assert books["methods"] == ["DELETE", "GET", "PATCH", "POST", "PUT"]
    assert resources["enrollments"]["primary_key"] == ["student_id", "course"]
    assert b"secret_note" not in resp.data


def test_malformed_json_is_400(client: FlaskClient, engine: sa.Engine) -> None:
    for raw in (b"{bad", b'{"title": "x",}', b"\xff\xfe", b"   "):
        body = problem(client.post("/api/books", data=raw, content_type="application/json"), 400)
        assert body["type"] == "urn:tablerest:problem:malformed-body"
    assert count(engine, "books") == 0


def test_unsupported_content_type_is_415(client: FlaskClient) -> None:
    problem(client.post("/api/books", data="title=x", content_type="text/plain"), 415)
    problem(client.post("/api/books", data=b'{"title": "x"}'), 415)
    problem(client.patch("/api/books/1", data="<xml/>", content_type="application/xml"), 415)


def test_the_415_lists_every_body_type_that_is_taken(client: FlaskClient) -> None:
    body = problem(client.post("/api/books", data="x", content_type="text/plain"), 415)
    listed = body["detail"].split("; send ")[1].replace(" or ", ", ").split(", ")
    assert set(listed) >= {
        "application/json",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert problem(client.post("/api/books"), 415)["detail"].endswith(body["detail"][-60:])
    # Each type listed is one a write takes (a wildcard: any such type).
    for media in listed:
        media = media.replace("*", "vnd.example")
        if media.endswith("json"):
            data = '{"title": "x"}'
            if media == "application/vnd.api+json":
                data = '{"data": {"type": "books", "attributes": {"title": "x"}}}'
            resp = client.post("/api/books", data=data, content_type=media)
        elif media == "multipart/form-data":
            resp = client.post("/api/books", data={"title": "x"}, content_type=media)
        else:
            resp = client.post("/api/books", data="title=x", content_type=media)
        assert resp.status_code == 201, (media, resp.get_data(as_text=True))


def test_a_trailing_slash_answers_as_the_route_without_it(
    client: FlaskClient, engine: sa.Engine
) -> None:
    """jsonapi-requests adds a slash to every URL: answered (no redirect), the same bytes."""
    made = client.post("/api/authors/", json={"name": "Ann"})
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.headers["Location"] == "/api/authors/1"
    client.post("/api/books", json=[{"title": t, "author_id": 1} for t in ("A", "B", "C")])
    for url in [
        "/api/books?page[size]=2",
        "/api/books/1",
        "/api/books/1/author",
        "/api/authors/1/books?page[size]=2",
        "/api/books/1/relationships/author",
        "/api",
        "/api/openapi.json",
    ]:
        path, _, query = url.partition("?")
        slashed = f"{path}/?{query}" if query else f"{path}/"
        plain, with_slash = client.get(url), client.get(slashed)
        assert with_slash.status_code == 200, (slashed, with_slash.get_data(as_text=True))
        # Links name the route without the slash: one body, one ETag for both URLs.
        assert with_slash.get_data() == plain.get_data(), slashed
        assert with_slash.headers.get("ETag") == plain.headers.get("ETag"), slashed
    jsonapi = {"Accept": "application/vnd.api+json"}
    assert (
        client.get("/api/books/?page[size]=1", headers=jsonapi).get_json()["links"]["next"]
        == "/api/books?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    assert client.patch("/api/books/2/", json={"year": 1999}).get_json()["year"] == 1999
    assert client.delete("/api/books/3/").status_code == 204
    assert [r["year"] for r in rows(engine, "books")] == [None, 1999]
    # Doubled slashes are still Flask's redirect, and a path one step too deep a 404.
    assert client.get("/api/books//").status_code == 308
    problem(client.get("/api/books/1/author/x/"), 404)
    problem(client.delete("/api/books/"), 405)


def test_json_subtypes_are_json(client: FlaskClient) -> None:
    created = client.post(
        "/api/books", data='{"title": "x"}', content_type="application/json; charset=utf-8"
    ).get_json()
    resp = client.patch(
        f"/api/books/{created['id']}",
        data='{"year": 2000}',
        content_type="application/merge-patch+json",
    )
    assert resp.status_code == 200
    assert resp.get_json()["year"] == 2000


def test_body_over_the_limit_is_413(make_app: AppFactory, engine: sa.Engine) -> None:
    client = make_app(api={"max_body_size": 100}).test_client()
    big = {"title": "x" * 150}
    body = problem(client.post("/api/books", json=big), 413)
    assert "100" in body["detail"]
    problem(client.post("/api/books", data={"title": "x" * 150}), 413)
    # Without a Content-Length (chunked), the limit still holds.
    resp = client.post(
        "/api/books",
        input_stream=io.BytesIO(b'{"title": "' + b"x" * 150 + b'"}'),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        # What gunicorn sets for a chunked body, so that the stream can be read to its end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    problem(resp, 413)
    assert client.post("/api/books", json={"title": "small"}).status_code == 201
    assert count(engine, "books") == 1


def test_default_body_limit_is_one_mebibyte(client: FlaskClient) -> None:
    problem(client.post("/api/books", json={"title": "x" * (1024 * 1024)}), 413)


def test_form_encoded_create_and_update(client: FlaskClient, engine: sa.Engine) -> None:
    resp = client.post("/api/books", data={"title": "Form", "year": "1999", "isbn": ""})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert (body["title"], body["year"], body["isbn"]) == ("Form", 1999, "")
    resp = client.patch(
        f"/api/books/{body['id']}", data={"year": ""}, content_type="multipart/form-data"
    )
    assert resp.status_code == 200
    assert resp.get_json()["year"] is None
    assert rows(engine, "books")[0]["year"] is None
    body = problem(client.post("/api/books", data={"title": "x", "year": "soon"}), 422)
    assert body["errors"][0]["pointer"] == "/year"
    body = problem(client.post("/api/kitchen", data={"flag": "maybe"}), 422)
    assert body["errors"][0]["pointer"] == "/flag"
    assert client.post("/api/kitchen", data={"flag": "true"}).get_json()["flag"] is True


def test_repeated_form_field_is_400(client: FlaskClient) -> None:
    problem(
        client.post(
            "/api/books", data="title=a&title=b", content_type="application/x-www-form-urlencoded"
        ),
        400,
    )


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    resp = client.delete("/api/books")
    body = problem(resp, 405)
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH", "POST"}
    assert "POST" in body["detail"]
    resp = client.post("/api/books/1", json={})
    problem(resp, 405)
    assert "PATCH" in resp.headers["Allow"]


def test_methods_option_limits_the_routes(make_app: AppFactory) -> None:
    client = make_app(authors={"methods": ["GET"]}).test_client()
    resp = client.post("/api/authors", json={"name": "x"})
    problem(resp, 405)
    assert "POST" not in resp.headers["Allow"]
    assert client.get("/api/authors").status_code == 200
    problem(client.delete("/api/authors/1"), 405)


def test_unknown_route_under_the_prefix_is_a_problem(client: FlaskClient) -> None:
    body = problem(client.get("/api/nope"), 404)
    assert body["type"] == "urn:tablerest:problem:not-found"
    problem(client.get("/api/books/1/2/3"), 404)


def test_routes_outside_the_prefix_keep_flask_behaviour(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/hello")
    def hello() -> object:
        return jsonify(hi=True)

    client = app.test_client()
    assert client.get("/hello").get_json() == {"hi": True}
    resp = client.get("/nowhere")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"


def test_an_apps_own_error_handler_still_answers_outside_the_prefix(engine: sa.Engine) -> None:
    app = Flask("own-handler")

    @app.errorhandler(404)
    def mine(exc: Exception) -> object:
        return jsonify(mine=True), 404

    api = Api(app, engine)
    api.resource(models.Author)
    client = app.test_client()
    assert client.get("/elsewhere").get_json() == {"mine": True}
    # The app's handler for 404 is more specific than tablerest's; it wins everywhere.
    assert client.get("/api/nope").get_json() == {"mine": True}


def test_not_acceptable_is_406(client: FlaskClient) -> None:
    problem(client.get("/api/books", headers={"Accept": "text/html"}), 406)
    problem(client.get("/api/books/1", headers={"Accept": "application/xml"}), 406)
    assert client.get("/api/books", headers={"Accept": "text/html, */*;q=0.1"}).status_code == 200
    assert client.get("/api/books", headers={"Accept": "application/*"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("bogus=1", "bogus"),
        ("page[size]=abc", "page[size]"),
        ("page[size]=0", "page[size]"),
        ("page[size]=101", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=1&page[number]=2", "page[number]"),
        ("limit=-1", "limit"),
        ("offset=x", "offset"),
        ("page[size]=5&offset=5", "offset"),
        ("count=maybe", "count"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(
    client: FlaskClient, query: str, parameter: str
) -> None:
    body = problem(client.get(f"/api/books?{query}"), 400)
    assert body["parameter"] == parameter
    assert body["type"] == "urn:tablerest:problem:invalid-parameter"


def test_item_routes_reject_query_parameters(client: FlaskClient) -> None:
    created = client.post("/api/authors", json={"name": "a"}).get_json()
    body = problem(client.get(f"/api/authors/{created['id']}?verbose=1"), 400)
    assert body["parameter"] == "verbose"


def test_head_and_options(client: FlaskClient) -> None:
    created = client.post("/api/authors", json={"name": "a"}).get_json()
    head = client.head(f"/api/authors/{created['id']}")
    assert head.status_code == 200
    assert head.data == b""
    assert client.head("/api/authors").status_code == 200
    opts = client.options("/api/authors")
    assert opts.status_code == 200
    assert set(opts.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH", "POST"}


def test_unexpected_error_is_500_without_trace_or_sql(
    make_app: AppFactory, engine: sa.Engine
) -> None:
    app = make_app()
    app.config["TESTING"] = False
    api = app.extensions["tablerest_api"]

    @api.resources["authors"].hook("before_create")
    def explode(ctx: object) -> None:
        raise RuntimeError("secret internals: SELECT * FROM authors")

    resp = app.test_client().post("/api/authors", json={"name": "x"})
    body = problem(resp, 500)
    text = resp.get_data(as_text=True)
    assert "secret" not in text
    assert "Traceback" not in text
    assert "SELECT" not in text
    assert body["detail"] == "Internal server error"
    assert count(engine, "authors") == 0


def test_database_down_is_503_with_retry_after() -> None:
    # Nothing listens on port 1: every connection attempt is refused.
    dead = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    app = Flask("down")
    Api(app, dead).resource(models.Author)
    client = app.test_client()
    resp = client.get("/api/authors")
    body = problem(resp, 503)
    assert resp.headers["Retry-After"].isdigit()
    assert "127.0.0.1" not in body["detail"]
    problem(client.post("/api/authors", json={"name": "x"}), 503)


def test_app_hooks_and_custom_routes_apply_beside_generated_ones(
    make_app: AppFactory,
) -> None:
    app = make_app()
    seen: list[str] = []

    @app.before_request
    def remember() -> None:
        g.tag = "seen"
        seen.append(request.path)

    @app.after_request
    def stamp(resp: object) -> object:
        resp.headers["X-Served-By"] = g.tag  # type: ignore[attr-defined]
        return resp

    @app.get("/api/stats")
    def stats() -> object:
        return jsonify(ok=True)

    client = app.test_client()
    assert client.get("/api/stats").get_json() == {"ok": True}
    resp = client.get("/api/books")
    assert resp.headers["X-Served-By"] == "seen"
    assert problem(client.get("/api/books/99"), 404)
    assert seen == ["/api/stats", "/api/books", "/api/books/99"]


def test_api_under_another_prefix(engine: sa.Engine) -> None:
    app = Flask("prefixed")
    api = Api(app, engine, prefix="/v2")
    api.resource(models.Author, name="writers")
    client = app.test_client()
    resp = client.post("/v2/writers", json={"name": "a"})
    assert resp.status_code == 201
    assert resp.headers["Location"].startswith("http://localhost/v2/writers/")
    assert client.get("/api/writers").status_code == 404
    problem(client.get("/v2/nothing"), 404)


def test_tablerest_errors_raised_in_the_apps_own_routes_are_problems(
    make_app: AppFactory,
) -> None:
    from tablerest import Conflict, NotFound

    app = make_app()

    @app.get("/api/custom/<int:n>")
    def custom(n: int) -> object:
        if n == 0:
            raise NotFound("No custom thing 0")
        raise Conflict("busy")

    client = app.test_client()
    assert problem(client.get("/api/custom/0"), 404)["detail"] == "No custom thing 0"
    problem(client.get("/api/custom/1"), 409)
