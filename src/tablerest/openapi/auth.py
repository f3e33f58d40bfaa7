"""The token routes of ``Api(auth=...)``: sign in, refresh, sign out, and the caller's own row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import closed, json_ok, problems
from .context import Context
from .schemas import enveloped, row_schema

if TYPE_CHECKING:
    from ..auth.service import Auth


def auth_paths(ctx: Context, auth: Auth) -> None:
    """The token routes of ``Api(auth=...)``."""
    base = f"{ctx.prefix}/auth"
    login = [*dict.fromkeys(["username", *auth.login_fields])]
    credentials = {
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
        ("token", "Sign in: credentials for a token pair", credentials),
        ("refresh", "A new token pair for a refresh token (which is then retired)", refresh),
    ):
        ctx.paths[f"{base}/{name}"] = {
            "post": {
                "operationId": f"auth_{name}",
                "summary": summary,
                "tags": ["auth"],
                "security": anonymous,
                "requestBody": body(schema),
                "responses": {"200": pair, **problems(400, 401, 413, 415, 422, 503)},
            }
        }
    ctx.paths[f"{base}/logout"] = {
        "post": {
            "operationId": "auth_logout",
            "summary": "Sign out: revoke this session's tokens",
            "tags": ["auth"],
            "security": signed_in,
            "responses": {"204": {"description": "Signed out"}, **problems(401, 503)},
        }
    }
    users = auth.users
    me_schema: dict[str, Any] = (
        enveloped(users, {"$ref": f"#/components/schemas/{row_schema(ctx, users)}"})
        if users
        else {"type": "object"}
    )
    ctx.paths[f"{base}/me"] = {
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
