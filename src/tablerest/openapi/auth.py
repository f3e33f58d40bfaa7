"""The token routes of ``Api(auth=...)``: sign in, refresh, sign out, and the caller's own row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..schema import Variant
from .common import closed, json_ok, problems, ref
from .context import Context
from .schemas import enveloped, input_schema, row_schema

if TYPE_CHECKING:
    from ..auth.service import Auth


def auth_paths(ctx: Context, auth: Auth) -> None:
    """The token routes of ``Api(auth=...)``, at their paths (``Auth(paths=...)``)."""
    at = {name: ctx.prefix + path for name, path in auth.paths.items()}
    users = auth.users
    login = [*dict.fromkeys(["username", *auth.login_fields])]
    credentials: dict[str, Any] = {
        "type": "object",
        "required": ["password"],
        "properties": {
            **{n: {"type": "string"} for n in login},
            "password": {"type": "string", "format": "password"},
        },
        "description": f"The password and one of {', '.join(login)}",
    }
    refresh = {
        "type": "object",
        "required": ["refresh_token"],
        "properties": {"refresh_token": {"type": "string"}},
    }
    pair = {
        "description": "A new token pair (Cache-Control: no-store)",
        "content": {
            "application/json": {
                "schema": closed(
                    {
                        "access_token": {"type": "string"},
                        "token_type": {"const": auth.scheme},
                        "expires_in": {"type": "integer"},
                        "refresh_token": {"type": "string"},
                    },
                    ["access_token", "token_type", "expires_in", "refresh_token"],
                )
            }
        },
    }
    me_schema: dict[str, Any] = {"type": "object"}
    if users is not None:
        row: dict[str, Any] = {"$ref": f"#/components/schemas/{row_schema(ctx, users)}"}
        if auth.token_field:
            # The row, with the access token in it.
            token = {"type": "object", "required": [auth.token_field],
                     "properties": {auth.token_field: {"type": "string"}}}  # fmt: skip
            row = {"allOf": [row, token]}
            pair = {
                "description": "The user's row, with an access token (Cache-Control: no-store)",
                "content": {"application/json": {"schema": enveloped(users, row)}},
            }
            credentials = enveloped(users, credentials)
        me_schema = enveloped(users, row)

    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }

    anonymous: list[dict[str, Any]] = [{}]
    signed_in: list[dict[str, Any]] = [{"bearerAuth": []}]
    for name, summary, schema in (
        ("token", "Sign in with credentials", credentials),
        ("refresh", "A new token pair for a refresh token (which is then retired)", refresh),
    ):
        answer = pair if name == "token" else {**pair, "description": "A new token pair"}
        if name == "refresh" and auth.token_field:
            answer = {"description": "A new token pair", "content": {}}
        ctx.paths[at[name]] = {
            "post": {
                "operationId": f"auth_{name}",
                "summary": summary,
                "tags": ["auth"],
                "security": anonymous,
                "requestBody": body(schema),
                "responses": {"200": answer, **problems(400, 401, 413, 415, 422, 503)},
            }
        }
    ctx.paths[at["logout"]] = {
        "post": {
            "operationId": "auth_logout",
            "summary": "Sign out: revoke this session's tokens",
            "tags": ["auth"],
            "security": signed_in,
            "responses": {"204": {"description": "Signed out"}, **problems(401, 503)},
        }
    }
    me: dict[str, Any] = {
        "get": {
            "operationId": "auth_me",
            "summary": "The signed-in user's own row",
            "tags": ["auth"],
            "security": signed_in,
            "responses": {
                "200": json_ok(me_schema, "The caller's row", etag=True),
                **problems(401, 404, 503),
            },
        }
    }
    variants: tuple[tuple[str, Variant], ...] = (("PUT", "replace"), ("PATCH", "patch"))
    for method, op in variants:
        if users is not None and method in users.methods:
            variant: Variant = "patch" if method == "PUT" and users.put == "update" else op
            me[method.lower()] = {
                "operationId": f"auth_me_{op}",
                "summary": "Change the signed-in user's own row",
                "tags": ["auth"],
                "security": signed_in,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": enveloped(users, ref(input_schema(ctx, users, variant)))
                        }
                    },
                },
                "responses": {
                    "200": json_ok(me_schema, "The caller's row as stored", etag=True),
                    **problems(400, 401, 403, 409, 413, 415, 422, 503),
                },
            }
    ctx.paths[at["me"]] = me
