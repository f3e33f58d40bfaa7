"""Security headers on API responses, and CORS when it is turned on."""

from __future__ import annotations

from flask.testing import FlaskClient

from tablerest.mount.cors import CORS_EXPOSED
from tests.security.conftest import AppFactory, login


def test_api_responses_carry_security_headers(client: FlaskClient) -> None:
    responses = [
        client.get("/api/comments"),  # 200
        client.get("/api/posts"),  # 401 from tablerest
        client.get("/api/nope"),  # 404 from routing
        client.delete("/api/comments"),  # 405 from routing
        client.get("/api/openapi.json"),
        # Flask's automatic answers to OPTIONS (no view of the API runs)
        client.options("/api/comments"),
        client.options("/api/comments/1"),
        client.options("/api"),
        client.options("/api/docs"),
    ]
    for resp in responses:
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert (
            resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        )
    docs = client.get("/api/docs")
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]


def test_the_apps_own_routes_are_left_alone(make_app: AppFactory) -> None:
    app = make_app()
    app.add_url_rule("/hello", "hello", lambda: "hi")
    resp = app.test_client().get("/hello")
    assert "Content-Security-Policy" not in resp.headers


def test_security_headers_can_be_turned_off(make_app: AppFactory) -> None:
    client = make_app(api={"security_headers": False}).test_client()
    assert "Content-Security-Policy" not in client.get("/api/comments").headers


def test_no_cors_headers_unless_asked(client: FlaskClient) -> None:
    resp = client.get("/api/comments", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_false_is_no_cors(make_app: AppFactory) -> None:
    client = make_app(api={"cors": False}).test_client()
    resp = client.get("/api/comments", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_for_listed_origins_with_preflight(make_app: AppFactory) -> None:
    client = make_app(api={"cors": {"origins": ["https://app.example"]}}).test_client()
    pre = client.options(
        "/api/posts/1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Authorization, If-Match, Content-Type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
    allowed = pre.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "if-match", "content-type"} <= {h.strip() for h in allowed.split(",")}
    resp = client.get(
        "/api/comments", headers={**login(client, "bob"), "Origin": "https://app.example"}
    )
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert set(CORS_EXPOSED) <= exposed
    other = client.get("/api/comments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_true_allows_any_origin_without_credentials(make_app: AppFactory) -> None:
    client = make_app(api={"cors": True}).test_client()
    resp = client.get("/api/comments", headers={"Origin": "https://any.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_openapi_documents_the_token_routes_and_the_security_scheme(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"/api/auth/token", "/api/auth/refresh", "/api/auth/logout", "/api/auth/me"} <= set(
        doc["paths"]
    )
    listed = doc["paths"]["/api/posts"]["get"]["responses"]
    assert {"401", "403"} <= set(listed)


def test_openapi_lists_429_when_rate_limited(make_app: AppFactory) -> None:
    from tablerest import RateLimits

    client = make_app(api={"rate_limits": RateLimits(storage_uri="memory://")}).test_client()
    doc = client.get("/api/openapi.json").get_json()
    assert "429" in doc["paths"]["/api/comments"]["get"]["responses"]
    assert "429" in doc["paths"]["/api/auth/token"]["post"]["responses"]
    assert (
        "429"
        not in make_app()
        .test_client()
        .get("/api/openapi.json")
        .get_json()["paths"]["/api/comments"]["get"]["responses"]
    )


def test_openapi_says_who_may_call_each_operation(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()

    comments = doc["paths"]["/api/comments"]
    comment = doc["paths"]["/api/comments/{id}"]
    assert comments["get"]["x-permission"] == "public"
    assert comments["post"]["x-permission"] == "owner('author_id')"
    assert comment["delete"]["x-permission"] == "owner('author_id') | role('admin')"
    assert comment["delete"]["description"] == (
        "Permission (delete): `owner('author_id') | role('admin')`."
    )
    assert doc["paths"]["/api/posts/{id}"]["get"]["x-permission"] == (
        "owner('owner_id') | role('admin')"
    )
