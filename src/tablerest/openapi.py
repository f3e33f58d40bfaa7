"""The OpenAPI 3.1 document of an API, derived from the same resources and schemas it serves.

Request bodies use the JSON Schema of the validators themselves (pydantic), so the document
cannot disagree with what a write accepts. Rows are described from the columns as the JSON
encoder writes them (decimals as strings, binary as base64, enums as labels). Every error
response is ``application/problem+json`` with the ``Problem`` schema.

The document describes the API as one caller sees it (their :class:`~tablerest.resource.View`):
fields ``hidden_unless`` hides from them, and relations concealed from them, are not named
anywhere in it, so that the document never confirms what a request could not. Without a view
(``tablerest openapi``, or an API without permissions) it describes every declared field.
"""

from __future__ import annotations

import decimal
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .nested import field_names, nestable
from .render.jsonapi import JSONAPI, Renderer
from .request import INT64, MAX_OFFSET, MAX_PAGE_NUMBER, OPERATORS
from .resource import Field, Relation, Resource, View, enum_labels, linkage_columns, slug
from .schema import Variant
from .selection import reserved_names
from .sqlite_time import json_schema as stored_time_schema
from .store import unique_sets
from .typeops import STRUCTURED_OPS, base_type, family, operators, sortable

if TYPE_CHECKING:
    from .api import _AppState
    from .auth.service import Auth

__all__ = ["document", "view_key"]

OPENAPI_VERSION = "3.1.0"
#: At most this many include paths or sort keys are spelled out in a parameter's pattern.
MAX_LISTED = 200

_PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong and where.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A stable URN per kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "parameter": {"type": "string", "description": "The query parameter at fault"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the body"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}

_STATUS_TEXT = {
    400: "Malformed request or query parameter",
    401: "Sign-in needed, or the token is not valid (WWW-Authenticate says which)",
    403: "Not allowed: a permission the caller lacks (JSON:API: also a client-chosen id where "
    "the database chooses keys)",
    404: "No such row",
    406: "The Accept header rules out every representation",
    409: "Conflicts with stored data (a unique or foreign key)",
    412: "If-Match names a version of the row that is no longer current",
    413: "The body is too large",
    415: "The body is not JSON (or a form)",
    422: "The body's values are invalid; every field error has a JSON pointer",
    428: "This resource requires If-Match on changes",
    429: "Over a rate limit; Retry-After says when to come back",
    503: "The database is not reachable; Retry-After says when to try again",
}


#: gunicorn refuses an over-long request line before the API runs (so no problem body).
_TOO_LONG = {"description": "The request line is too long for the server"}


def _problems(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _STATUS_TEXT[code],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
                JSONAPI: {"schema": {"$ref": "#/components/schemas/JsonApiErrors"}},
            },
        }
        if code == 503:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        if code == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if code == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        out[str(code)] = entry
    return out


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]} if nullable else schema


def _output_schema(f: Field) -> dict[str, Any]:
    """A readable field's value as the JSON encoder writes it."""
    t = base_type(f.column.type)
    labels = enum_labels(t)
    out: dict[str, Any]
    if family(t) in ("array", "set"):
        out = {"type": "array"}  # items: see the write schemas (typeops)
    elif family(t) == "range":
        out = {
            "type": "object",
            "properties": {key: {} for key in ("lower", "upper", "bounds", "empty")},
        }
    elif labels is not None:
        out = {"type": "string", "enum": list(labels)}
    elif isinstance(t, sa.Boolean):
        out = {"type": "boolean"}
    elif isinstance(t, sa.Integer):
        out = {"type": "integer"}
    elif isinstance(t, sa.Float) or (isinstance(t, sa.Numeric) and not t.asdecimal):
        out = {"type": "number"}
    elif isinstance(t, sa.Numeric):
        out = {"type": "string", "description": "A decimal number, as text (no rounding)"}
    elif isinstance(t, sa.String):
        out = {"type": "string"}
    elif isinstance(t, sa.DateTime | sa.Date | sa.Time):
        out = _time_schema(t)
    elif isinstance(t, sa.Interval):
        out = {"type": "string", "format": "duration"}
    elif isinstance(t, sa.Uuid):
        out = {"type": "string", "format": "uuid"}
    elif isinstance(t, sa.LargeBinary):
        out = {"type": "string", "contentEncoding": "base64"}
    else:
        out = {}  # JSON columns and types without a JSON counterpart: any value
    if out and f.nullable:
        return _nullable(out, True)
    return out


def _read_schema(f: Field) -> dict[str, Any]:
    """A field in a row: its value, marked read-only when the database computes it."""
    out = _output_schema(f)
    if f.expression is not None:
        out = {**out, "readOnly": True, "description": "Computed by the database (read-only)"}
    return out


def _time_schema(t: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    return stored_time_schema(t) or {"type": "string", "format": _time_format(t)}


def _time_format(t: sa.types.TypeEngine[Any]) -> str:
    """RFC 3339's formats need an offset; values of columns without a zone have none, which
    the OpenAPI format registry calls ``date-time-local`` / ``time-local``."""
    if isinstance(t, sa.DateTime):
        return "date-time" if t.timezone else "date-time-local"
    if isinstance(t, sa.Time):
        return "time" if t.timezone else "time-local"
    return "date"


def _key_schema(f: Field) -> dict[str, Any]:
    schema = _output_schema(f)
    return schema.get("anyOf", [schema])[0]  # type: ignore[no-any-return]


_SCALAR_OPS = tuple(op for op in OPERATORS if op not in STRUCTURED_OPS)


def _filter_schema(f: Field) -> dict[str, Any]:
    """A filter value of a field, as the query parser reads it."""
    t = f.column.type
    if family(t) != "scalar":  # an array, range or JSON value written as text: see typeops
        return {"type": "string"}
    if enum_labels(t) is None and isinstance(t, sa.Integer):
        return {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]}
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and t.asdecimal:
        return {"type": "string", "pattern": r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$"}
    if isinstance(t, sa.LargeBinary | sa.JSON | sa.Interval):
        return {"type": "string"}
    return _key_schema(f)


def _refine_input(f: Field, prop: dict[str, Any]) -> None:
    """Say in a body property's schema what the validator checks beyond pydantic's schema."""
    t = f.column.type
    if f.primary_key and not f.writable:
        # Allowed in an update body only unchanged (a client may send back what it read).
        prop["readOnly"] = True
        prop["description"] = "The primary key: may be sent back, only as in the URL"
    for branch in prop.get("anyOf", [prop]):
        if isinstance(t, sa.DateTime | sa.Time) and "format" in branch:
            del branch["format"]
            branch.update(_time_schema(t))
        if (
            isinstance(t, sa.Numeric)
            and not isinstance(t, sa.Float)
            and t.asdecimal
            and t.precision is not None
        ):
            scale = t.scale or 0
            whole = t.precision - scale
            top = decimal.Decimal(10) ** whole - decimal.Decimal(10) ** -scale
            if branch.get("type") == "string":
                fraction = rf"(\.[0-9]{{1,{scale}}})?" if scale else ""
                branch["pattern"] = rf"^-?[0-9]{{1,{max(whole, 1)}}}{fraction}$"
            elif branch.get("type") == "number":
                branch.update(minimum=float(-top), maximum=float(top))
                branch["multipleOf"] = float(decimal.Decimal(10) ** -scale)


def _pattern_escape(text: str) -> str:
    """Text matched literally by an ECMA-262 pattern (JSON Schema's regex dialect)."""
    return re.sub(r"([\\^$.*+?()\[\]{}|/])", r"\\\1", text)


def _list_pattern(items: Iterable[str], sign: str = "") -> str:
    """A comma-separated list of ``items`` (each optionally preceded by ``sign``), as the
    query parser reads it: spaces and tabs around an item and empty items are ignored."""
    one = f"[ \t]*(?:{sign}(?:" + "|".join(_pattern_escape(i) for i in items) + "))?[ \t]*"
    return f"^{one}(?:,{one})*$"


def _schema_name(res: Resource, suffix: str = "") -> str:
    # Component names are ASCII: other letters lose their accents (``Ünï`` -> ``Uni``), and
    # a name that changed gets a digest of itself, so that two never meet (``Ärger``, ``Örger``).
    folded = unicodedata.normalize("NFKD", res.name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", folded)
    if base != res.name:
        base += "_" + hashlib.sha256(res.name.encode()).hexdigest()[:8]
    return base[:1].upper() + base[1:] + suffix


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_JSONAPI_ERRORS = {
    "type": "object",
    "description": "A JSON:API error document: one error object per problem.",
    "required": ["errors"],
    "properties": {
        "jsonapi": {"type": "object"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"},
                    "code": {"type": "string"},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "source": {
                        "type": "object",
                        "properties": {
                            "pointer": {"type": "string"},
                            "parameter": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def _id_schema(res: Resource) -> dict[str, Any]:
    """A resource's JSON:API ``id``: its key as text (composite keys comma-separated)."""
    if len(res.pk_fields) == 1:
        key = _key_schema(res.pk_fields[0])
        if key.get("type") == "integer":  # canonical digits only: one id per row
            return {"type": "string", "pattern": "^(0|-?[1-9][0-9]{0,17})$"}
        return {"type": "string", **{k: v for k, v in key.items() if k in ("format", "enum")}}
    return {"type": "string"}


def _settable_linkage(res: Resource, cols: list[str], target: Resource) -> dict[str, Any]:
    """What a to-one relationship can be set to: an identifier, or null if its keys can."""
    ident = _identifier(target)
    if all(res.fields[c].nullable for c in cols):
        return {"anyOf": [ident, {"type": "null"}]}
    return ident


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An object of exactly these members, those in ``required`` required."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def _identifier(res: Resource) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"const": res.name}, "id": _id_schema(res)},
        "additionalProperties": False,
    }


class _Builder:
    def __init__(self, state: _AppState, view: View | None = None) -> None:
        self.state = state
        self.view = view
        self.schemas: dict[str, Any] = {"Problem": _PROBLEM, "JsonApiErrors": _JSONAPI_ERRORS}
        self.paths: dict[str, Any] = {}
        self.prefix = state.api.settings.prefix
        self.jsonapi = Renderer(state, self.prefix)  # what resource objects look like

    def build(self) -> dict[str, Any]:
        api = self.state.api
        for ep in self.state.endpoints.values():
            self._resource(ep.resource)
        self.paths[self.prefix] = {
            "get": {
                "operationId": "index",
                "summary": "The resources of this API",
                "tags": ["index"],
                "responses": {
                    "200": {
                        "description": "Each resource's name, URL, fields and methods",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
        if api.auth is not None:
            self._auth_paths(api.auth)
        if api.batch:
            self._batch_path()
        guarded = self.state.identify is not None or api.guarded
        for path, item in self.paths.items():
            for method, op in item.items():
                if method == "parameters":
                    continue
                op["responses"].setdefault("414", _TOO_LONG)
                if guarded and path != self.prefix:
                    for code, entry in _problems(401, 403).items():
                        op["responses"].setdefault(code, entry)
                if api.rate_limits is not None:
                    op["responses"].setdefault("429", _problems(429)["429"])
        components: dict[str, Any] = {"schemas": self.schemas}
        if api.auth is not None:
            components["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        return {
            "openapi": OPENAPI_VERSION,
            "info": {"title": api.title, "version": api.version, "description": api.description},
            **({"tags": tags} if (tags := self._renamed_tags()) else {}),
            "paths": self.paths,
            "components": components,
            # Signed in or anonymous: each operation's permissions decide (401/403).
            **({"security": [{"bearerAuth": []}, {}]} if api.auth is not None else {}),
        }

    def _renamed_tags(self) -> list[dict[str, str]]:
        """A tag per resource served under a name other than its table's: which table it is
        (and why, when the API itself serves the table's own name)."""
        api = self.state.api
        reserved = reserved_names(docs=api.docs, batch=api.batch, auth=api.auth is not None)
        out = []
        for ep in self.state.endpoints.values():
            table, name = ep.resource.table.name, ep.resource.name
            if name == slug(table):
                continue
            own = slug(table) in reserved
            why = f" (the API serves its own {self.prefix}/{slug(table)})" if own else ""
            out.append({"name": name, "description": f"The table `{table}`{why}"})
        return out

    def _auth_paths(self, auth: Auth) -> None:
        """The token routes of ``Api(auth=...)``."""
        base = f"{self.prefix}/auth"
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
                    "schema": _closed(
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
            self.paths[f"{base}/{name}"] = {
                "post": {
                    "operationId": f"auth_{name}",
                    "summary": summary,
                    "tags": ["auth"],
                    "security": anonymous,
                    "requestBody": body(schema),
                    "responses": {"200": pair, **_problems(400, 401, 413, 415, 422, 503)},
                }
            }
        self.paths[f"{base}/logout"] = {
            "post": {
                "operationId": "auth_logout",
                "summary": "Sign out: revoke this session's tokens",
                "tags": ["auth"],
                "security": signed_in,
                "responses": {"204": {"description": "Signed out"}, **_problems(401, 503)},
            }
        }
        users = auth.users
        me_schema: dict[str, Any] = (
            {"$ref": f"#/components/schemas/{self._row(users)}"} if users else {"type": "object"}
        )
        self.paths[f"{base}/me"] = {
            "get": {
                "operationId": "auth_me",
                "summary": "The signed-in user's own row",
                "tags": ["auth"],
                "security": signed_in,
                "responses": {
                    "200": _json_ok(me_schema, "The caller's row", etag=True),
                    **_problems(401, 404, 503),
                },
            }
        }

    def _batch_path(self) -> None:
        """``POST {prefix}/batch``: writes on any resources in one transaction."""
        ref = _closed({"$ref": {"type": "string"}, "field": {"type": "string"}}, ["$ref"])
        value: list[dict[str, Any]] = [{"type": "string"}, {"type": "integer"}]
        key = {
            "description": "The row's key: a value, the values of a composite key, or a "
            "reference to a row written earlier",
            "anyOf": [*value, {"type": "array", "items": {"anyOf": value}, "minItems": 1}, ref],
        }
        name = {"type": "string", "description": "A name later operations refer by"}
        variants: list[dict[str, Any]] = []
        for ep in self.state.endpoints.values():
            res = ep.resource
            ops: list[tuple[str, dict[str, Any], list[str]]] = []
            if "POST" in res.methods:
                body = _ref(self._input(res, "create", nested=True))
                ops.append(("create", {"data": body, "ref": name}, ["data"]))
            if res.primary_key:
                changes: tuple[tuple[str, str, Variant], ...] = (
                    ("update", "PATCH", "patch"),
                    ("replace", "PUT", "replace"),
                )
                for op, method, variant in changes:
                    if method in res.methods:
                        body = _ref(self._input(res, variant))
                        ops.append((op, {"key": key, "data": body, "ref": name}, ["key", "data"]))
                if "DELETE" in res.methods:
                    ops.append(("delete", {"key": key}, ["key"]))
            for op, props, required in ops:
                variants.append(
                    _closed(
                        {"op": {"const": op}, "resource": {"const": res.name}, **props},
                        ["op", "resource", *required],
                    )
                )
        if not variants:
            return
        operation = {
            "oneOf": variants,
            "description": "The request an operation stands for: create = POST, update = "
            'PATCH, replace = PUT, delete = DELETE. {"$ref": "<ref>"} in data stands for '
            "the key of the row an earlier operation with that ref wrote "
            '({"$ref": "<ref>", "field": "<name>"} for one of its fields).',
        }
        result = {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "integer"},
                "location": {"type": "string"},
                "data": {"type": "object"},
            },
        }
        limit = self.state.api.settings.limits.max_batch_operations
        body = _closed(
            {"operations": {"type": "array", "items": operation, "minItems": 1, "maxItems": limit}},
            ["operations"],
        )
        self.paths[f"{self.prefix}/batch"] = {
            "post": {
                "operationId": "batch",
                "summary": "Run writes on any resources in one transaction: all or none",
                "description": "Each operation runs as the request it stands for (create = "
                "POST, update = PATCH, replace = PUT, delete = DELETE), with the caller's "
                "permissions. The answer holds each one's status and row; when one fails, "
                "nothing is changed and the problem's pointers start with /operations/<n>.",
                "tags": ["batch"],
                "requestBody": _json_body(body),
                "responses": {
                    "200": _json_ok(
                        _closed({"results": {"type": "array", "items": result}}, ["results"]),
                        "The result of each operation, in order",
                        etag=False,
                    ),
                    **_problems(400, 403, 404, 409, 413, 415, 422, 503),
                },
            }
        }

    # -- what the caller sees -----------------------------------------------------------------

    def _concealed(self, res: Resource) -> frozenset[str]:
        return self.view.concealed(res) if self.view is not None else frozenset()

    def _readable(self, res: Resource) -> tuple[Field, ...]:
        """The fields of ``res`` the caller may read (``hidden_unless`` ones left out)."""
        hidden = self._concealed(res)
        return tuple(f for f in res.readable if f.name not in hidden) if hidden else res.readable

    def _relations(self, res: Resource) -> list[tuple[str, Relation, Resource]]:
        """The relations of ``res`` the caller may follow, with their targets."""
        return self.jsonapi.relations(res, self.view)

    # -- schemas ------------------------------------------------------------------------------

    def _row(self, res: Resource) -> str:
        name = _schema_name(res)
        if name in self.schemas:
            return name
        props: dict[str, Any] = {f.name: _read_schema(f) for f in self._readable(res)}
        self.schemas[name] = {
            "type": "object",
            "description": (
                f"A row of {res.name}. Sparse fieldsets (`fields=`) leave fields out; included "
                "relations (`include=`) add theirs."
            ),
            "properties": props,
        }
        for rel_name, rel, target in self._relations(res):
            target_name = self._row(target)
            props[rel_name] = (
                {"type": "array", "items": _ref(target_name)}
                if rel.to_many
                else {"anyOf": [_ref(target_name), {"type": "null"}]}
            )
        return name

    def _input(
        self,
        res: Resource,
        variant: Variant,
        supplied: frozenset[str] = frozenset(),
        under: Resource | None = None,
        *,
        nested: bool = False,
    ) -> str:
        """The body schema of a write. ``nested``: a plain JSON create, which names the rows
        it may nest (JSON:API and form bodies nest none); ``supplied``: the fields that link
        a row nested under ``under`` (left out)."""
        nested = variant == "create" and (nested or under is not None)
        name = _schema_name(res, variant.capitalize())
        if under is not None:
            name += f"Under{_schema_name(under)}"
        elif nested and nestable(res, self.state):
            name += "Nested"
        else:
            nested = False
        if name not in self.schemas:
            adapter = (
                res.schema.supplied_adapter(supplied) if supplied else res.schema.adapter(variant)
            )
            schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
            self.schemas.update(schema.pop("$defs", {}))
            schema["title"] = name
            props = schema.setdefault("properties", {})
            for field_name in supplied | self._concealed(res):
                props.pop(field_name, None)
            if "required" in schema:
                schema["required"] = [n for n in schema["required"] if n in props]
            for field_name, prop in props.items():
                f = res.fields.get(field_name)
                if f is not None:
                    _refine_input(f, prop)
            self.schemas[name] = schema  # before nesting: relations may lead back here
            if nested:
                self._nested_inputs(res, schema, supplied)
        return name

    def _nested_inputs(
        self, res: Resource, schema: dict[str, Any], supplied: frozenset[str]
    ) -> None:
        """The relations a create may nest rows under (see :mod:`tablerest.nested`)."""
        props = schema["properties"]
        followed = {name for name, _rel, _target in self._relations(res)}
        for rel_name, rel in nestable(res, self.state).items():
            if rel_name not in followed:
                continue  # concealed from the caller: no nesting under it described either
            target = self.state.target(rel)
            assert target is not None
            if rel.to_many:
                back = frozenset(field_names(target, rel.remote) or ())
                item = self._input(target, "create", back, res)
                props[rel_name] = {
                    "type": "array",
                    "items": _ref(item),
                    "description": f"Rows of {target.name} to create after this one, each "
                    f"pointing at it ({', '.join(sorted(back))} filled in)",
                }
                continue
            local = field_names(res, rel.local) or []
            if supplied & set(local):
                continue
            props[rel_name] = {
                **_ref(self._input(target, "create", nested=True)),
                "description": f"A row of {target.name} to create first, for this one to "
                f"point at ({', '.join(local)} filled in; send either)",
            }
            # The row to point at comes nested, or as its key: not both (and one of them
            # where the key is required).
            rules = schema.setdefault("allOf", [])
            rules.extend({"not": {"required": [rel_name, n]}} for n in local)
            required = schema.get("required", [])
            if set(local) <= set(required):
                rules.append({"anyOf": [{"required": [rel_name]}, {"required": local}]})
                schema["required"] = [r for r in required if r not in local]

    def _list(self, res: Resource) -> str:
        name = _schema_name(res, "List")
        if name not in self.schemas:
            link = {"anyOf": [{"type": "string"}, {"type": "null"}]}
            self.schemas[name] = {
                "type": "object",
                "required": ["data", "links", "meta"],
                "properties": {
                    "data": {"type": "array", "items": _ref(self._row(res))},
                    "links": {
                        "type": "object",
                        "properties": dict.fromkeys(("self", "first", "prev", "next"), link),
                    },
                    "meta": {
                        "type": "object",
                        "properties": {
                            "page": {"type": "object"},
                            "total": {"type": "integer", "description": "With count=..."},
                            "total_capped": {
                                "type": "boolean",
                                "description": "count=capped: more rows exist than total says",
                            },
                            "total_estimated": {
                                "type": "boolean",
                                "description": "count=estimated: total is the planner's guess",
                            },
                        },
                    },
                },
            }
        return name

    # -- JSON:API -----------------------------------------------------------------------------

    def _jsonapi_resource(self, res: Resource) -> str:
        name = _schema_name(res, "Resource")
        if name in self.schemas:
            return name
        self.schemas[name] = {}  # placeholder: relations may lead back here
        hidden = self.jsonapi.hidden_keys(res, self.view)
        attributes = {f.name: _read_schema(f) for f in self._readable(res) if f.name not in hidden}
        relationships = {}
        for rel_name, rel, target in self._relations(res):
            ident = _identifier(target)
            data = (
                {"type": "array", "items": ident}
                if rel.to_many
                else {"anyOf": [ident, {"type": "null"}]}
            )
            relationships[rel_name] = {
                "type": "object",
                "properties": {"links": {"type": "object"}, "data": data},
            }
        self.schemas[name] = {
            "type": "object",
            "description": f"A JSON:API resource object of {res.name}",
            "required": ["type", "id"],
            "properties": {
                "type": {"const": res.name},
                "id": _id_schema(res),
                "attributes": {
                    "type": "object",
                    "properties": attributes,
                    "additionalProperties": False,
                },
                "relationships": {
                    "type": "object",
                    "properties": relationships,
                    "additionalProperties": False,
                },
                "links": {"type": "object"},
            },
            "additionalProperties": False,
        }
        return name

    def _jsonapi_document(self, res: Resource, many: bool = False) -> str:
        name = _schema_name(res, "Collection" if many else "Document")
        if name not in self.schemas:
            one = _ref(self._jsonapi_resource(res))
            data = {"type": "array", "items": one} if many else {"anyOf": [one, {"type": "null"}]}
            self.schemas[name] = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "jsonapi": {"type": "object"},
                    "links": {"type": "object"},
                    "meta": {"type": "object"},
                    "data": data,
                    "included": {"type": "array", "items": {"type": "object"}},
                },
            }
        return name

    def _jsonapi_input(self, res: Resource, variant: Variant) -> str:
        """A JSON:API request document: attributes, to-one linkage, the id where it applies."""
        name = _schema_name(res, f"{variant.capitalize()}Document")
        if name in self.schemas:
            return name
        flat = self.schemas[self._input(res, variant)]
        hidden = self.jsonapi.hidden_keys(res, self.view)
        required = set(flat.get("required", ()))
        attributes = {k: v for k, v in flat.get("properties", {}).items() if k not in hidden}
        relationships: dict[str, Any] = {}
        needed_relationships = []
        for rel_name, rel, target in self._relations(res):
            cols = linkage_columns(res, rel, target)
            writable = cols is not None and all(
                c in res.fields and res.fields[c].writable for c in cols
            )
            if rel.to_many or not writable:
                continue
            assert cols is not None
            relationships[rel_name] = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": _settable_linkage(res, cols, target),
                    "links": {"type": "object"},
                    "meta": {"type": "object"},
                },
                "additionalProperties": False,
            }
            if required & set(cols):
                needed_relationships.append(rel_name)
        data_props: dict[str, Any] = {
            "type": {"const": res.name},
            "links": {"type": "object"},
            "meta": {"type": "object"},
        }
        data_required = ["type"]
        if variant != "create":
            data_props["id"] = _id_schema(res)
            data_required.append("id")
        elif all(f.writable for f in res.pk_fields):
            data_props["id"] = _id_schema(res)
        needed_attributes = sorted(required & set(attributes))
        for member, properties, needed in (
            ("attributes", attributes, needed_attributes),
            ("relationships", relationships, needed_relationships),
        ):
            data_props[member] = _closed(properties, needed)
            if needed:
                data_required.append(member)
        self.schemas[name] = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": data_required,
                    "properties": data_props,
                    "additionalProperties": False,
                }
            },
        }
        return name

    # -- operations ---------------------------------------------------------------------------

    def _permissions(self, res: Resource, collection: dict[str, Any], item: dict[str, Any]) -> None:
        """Each operation says who may call it (``x-permission`` and its description)."""
        if res.policy is None:
            return
        actions = (
            (collection, {"get": "list", "post": "create"}),
            (item, {"get": "read", "put": "update", "patch": "update", "delete": "delete"}),
        )
        for ops, by_method in actions:
            for method, action in by_method.items():
                if method in ops:
                    rule = repr(res.policy.rules[action])  # type: ignore[index]
                    ops[method]["x-permission"] = rule
                    ops[method]["description"] = f"Permission ({action}): `{rule}`."

    def _resource(self, res: Resource) -> None:
        url = f"{self.prefix}/{res.name}"
        tag = [res.name]
        collection: dict[str, Any] = {}
        if "GET" in res.methods:
            collection["get"] = self._list_operation(res, f"list_{res.name}", tag)
        if "POST" in res.methods:
            collection["post"] = self._create(res, tag)
        if "PATCH" in res.methods and res.pk_fields:
            patch = self._input(res, "patch")
            keyed = f"{patch}Keyed"
            # The PATCH body with its key required: one item of a bulk update.
            base = self.schemas[patch]
            props = {
                name: {k: v for k, v in prop.items() if k != "readOnly"}
                if name in {f.name for f in res.pk_fields}
                else prop
                for name, prop in base.get("properties", {}).items()
            }
            self.schemas[keyed] = {
                **base,
                "title": keyed,
                "properties": props,
                "required": [f.name for f in res.pk_fields],
            }
            change = _ref(keyed)
            rows = {"type": "array", "items": _ref(self._row(res))}
            collection["patch"] = {
                "operationId": f"update_many_{res.name}",
                "summary": f"Change several rows of {res.name}, each with its key: all or none",
                "tags": tag,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": change, "minItems": 1}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The rows as stored, in the order given",
                        "content": {"application/json": {"schema": rows}},
                    },
                    **_problems(400, 403, 404, 409, 413, 415, 422, 503),
                },
            }
        if collection:
            self.paths[url] = collection
        self._permissions(res, collection, {})
        if res.changes and "GET" in res.methods:
            self.paths[f"{url}/changes"] = {"get": self._changes(res, tag)}
        if not res.pk_fields:
            return
        key_param, key_path = self._key(res)
        item: dict[str, Any] = {"parameters": [key_param]}
        row = _ref(self._row(res))
        if "GET" in res.methods:
            item["get"] = {
                "operationId": f"read_{res.name}",
                "summary": f"Read one row of {res.name}",
                "tags": tag,
                "parameters": self._item_params(res),
                "responses": {
                    "200": _json_ok(
                        row, "The row", etag=True, jsonapi=_ref(self._jsonapi_document(res))
                    ),
                    "304": {"description": "Not modified (If-None-Match)"},
                    **_problems(400, 404, 406, 503),
                },
            }
        if_match = {
            "name": "If-Match",
            "in": "header",
            "required": res.require_if_match,
            "schema": {"type": "string"},
            "description": "The ETag of the row as last read: the change happens only if "
            "the row has not changed since.",
        }
        for method, variant in (("PUT", "replace"), ("PATCH", "patch")):
            if method in res.methods:
                item[method.lower()] = {
                    "operationId": f"{variant}_{res.name}",
                    "summary": (
                        f"Replace one row of {res.name} (every writable field)"
                        if variant == "replace"
                        else f"Change some fields of one row of {res.name}"
                    ),
                    "tags": tag,
                    "parameters": [if_match],
                    "requestBody": _json_body(
                        _ref(self._input(res, variant)),  # type: ignore[arg-type]
                        _ref(self._jsonapi_input(res, variant)),  # type: ignore[arg-type]
                    ),
                    "responses": {
                        "200": _json_ok(
                            row,
                            "The row as stored",
                            etag=True,
                            jsonapi=_ref(self._jsonapi_document(res)),
                        ),
                        **_problems(400, 404, 406, 409, 412, 413, 415, 422, 428, 503),
                    },
                }
        if "DELETE" in res.methods:
            item["delete"] = {
                "operationId": f"delete_{res.name}",
                "summary": f"Delete one row of {res.name}",
                "tags": tag,
                "parameters": [if_match],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_problems(400, 404, 409, 412, 428, 503),
                },
            }
        if len(item) > 1:
            self.paths[f"{url}/{key_path}"] = item
        self._permissions(res, {}, item)
        if "GET" not in res.methods:
            return
        for rel_name, rel, target in self._relations(res):
            path = f"{url}/{key_path}/{rel_name}"
            if rel.to_many:
                op = self._list_operation(target, f"list_{res.name}_{rel_name}", tag)
                op["summary"] = f"The {rel_name} of one row of {res.name}"
                op["responses"].update(_problems(404))
            else:
                op = {
                    "operationId": f"read_{res.name}_{rel_name}",
                    "summary": f"The {rel_name} of one row of {res.name} (null when unset)",
                    "tags": tag,
                    "parameters": self._item_params(target),
                    "responses": {
                        "200": _json_ok(
                            {"anyOf": [_ref(self._row(target)), {"type": "null"}]},
                            "The related row, or null",
                            etag=True,
                            jsonapi=_ref(self._jsonapi_document(target)),
                        ),
                        "304": {"description": "Not modified (If-None-Match)"},
                        **_problems(400, 404, 406, 503),
                    },
                }
            self.paths[path] = {"parameters": [key_param], "get": op}
            self.paths[f"{url}/{key_path}/relationships/{rel_name}"] = self._relationship(
                res, rel_name, rel, target, key_param, if_match, tag
            )

    def _relationship(
        self,
        res: Resource,
        rel_name: str,
        rel: Relation,
        target: Resource,
        key_param: dict[str, Any],
        if_match: dict[str, Any],
        tag: list[str],
    ) -> dict[str, Any]:
        """``/relationships/<name>``: its linkage (GET), a to-one one set with PATCH."""
        ident = _identifier(target)
        data = (
            {"type": "array", "items": ident}
            if rel.to_many
            else {"anyOf": [ident, {"type": "null"}]}
        )
        doc = {
            "type": "object",
            "required": ["data"],
            "properties": {"links": {"type": "object"}, "meta": {"type": "object"}, "data": data},
        }
        jsonapi_only = {JSONAPI: {"schema": doc}}
        item: dict[str, Any] = {
            "parameters": [key_param],
            "get": {
                "operationId": f"linkage_{res.name}_{rel_name}",
                "summary": f"The linkage of {rel_name} of one row of {res.name} (JSON:API)",
                "tags": tag,
                "parameters": self._page_params(target) if rel.to_many else [],
                "responses": {
                    "200": {"description": "The relationship", "content": jsonapi_only},
                    "304": {"description": "Not modified (If-None-Match)"},
                    **_problems(400, 404, 406, 503),
                },
            },
        }
        cols = None if rel.to_many else linkage_columns(res, rel, target)
        if cols is not None and "PATCH" in res.methods:
            body = {
                "type": "object",
                "required": ["data"],
                "properties": {"data": _settable_linkage(res, cols, target)},
            }
            item["patch"] = {
                "operationId": f"relate_{res.name}_{rel_name}",
                "summary": f"Set {rel_name} of one row of {res.name}",
                "tags": tag,
                "parameters": [if_match],
                "requestBody": {"required": True, "content": {JSONAPI: {"schema": body}}},
                "responses": {
                    "204": {"description": "Changed"},
                    **_problems(400, 404, 406, 409, 412, 413, 415, 422, 428, 503),
                },
            }
        elif rel.to_many:
            for method in ("patch", "post", "delete"):
                item[method] = {
                    "operationId": f"{method}_{res.name}_{rel_name}_linkage",
                    "summary": f"Not supported: change {rel_name} on the {target.name} rows",
                    "tags": tag,
                    "requestBody": {"content": {JSONAPI: {"schema": doc}}},
                    "responses": {
                        "403": {
                            "description": "A to-many relationship is changed from the other side",
                            "content": {
                                JSONAPI: {"schema": {"$ref": "#/components/schemas/JsonApiErrors"}}
                            },
                        },
                        **_problems(404, 406, 415),
                    },
                }
        return item

    def _key(self, res: Resource) -> tuple[dict[str, Any], str]:
        if len(res.pk_fields) == 1:
            f = res.pk_fields[0]
            return {
                "name": f.name,
                "in": "path",
                "required": True,
                "schema": _key_schema(f),
                "description": f"The primary key ({f.name})",
            }, f"{{{f.name}}}"
        names = ",".join(f.name for f in res.pk_fields)
        return {
            "name": "key",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": f"The composite key: {names}, comma-separated, in this order",
        }, "{key}"

    def _create(self, res: Resource, tag: list[str]) -> dict[str, Any]:
        one = _ref(self._input(res, "create", nested=True))
        row = _ref(self._row(res))
        keys = []
        hidden = self._concealed(res)
        for cols in unique_sets(res.table):
            found = [res.field_by_column(c) for c in cols]
            if all(
                f is not None and f.readable and f.writable and f.name not in hidden for f in found
            ):
                keys.append(",".join(f.name for f in found if f is not None))
        params = (
            [_query("on_conflict", {"type": "string", "enum": sorted(set(keys))},
                    "Upsert: rows whose value(s) of this unique key exist are changed (the "
                    "fields sent), the others created")]
            if keys
            else []
        )  # fmt: skip
        return {
            "operationId": f"create_{res.name}",
            "summary": f"Create {res.name}: one row, or several (an array) all or none",
            "tags": tag,
            "parameters": params,
            "requestBody": _json_body(
                {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]},
                _ref(self._jsonapi_input(res, "create")),
            ),
            "responses": {
                "201": {
                    "description": "Created: the row (with Location and ETag), or the rows",
                    "headers": {
                        "Location": {"schema": {"type": "string"}},
                        "ETag": {"schema": {"type": "string"}},
                    },
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [row, {"type": "array", "items": row}]}
                        },
                        JSONAPI: {"schema": _ref(self._jsonapi_document(res))},
                    },
                },
                "200": {
                    "description": "on_conflict: the row changed, or the rows (created or changed)",
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [row, {"type": "array", "items": row}]}
                        },
                        JSONAPI: {"schema": _ref(self._jsonapi_document(res))},
                    },
                },
                **_problems(400, 403, 406, 409, 413, 415, 422, 503),
            },
        }

    def _list_operation(self, res: Resource, op_id: str, tag: list[str]) -> dict[str, Any]:
        content: dict[str, Any] = {
            "application/json": {"schema": _ref(self._list(res))},
            JSONAPI: {"schema": _ref(self._jsonapi_document(res, many=True))},
        }
        if res.export:
            text = {"schema": {"type": "string"}}
            content["text/csv"] = text
            content["application/x-ndjson"] = text
        return {
            "operationId": op_id,
            "summary": f"List {res.name}: a page (JSON), or every row (CSV, NDJSON)",
            "tags": tag,
            "parameters": self._list_params(res),
            "responses": {
                "200": {
                    "description": "A page (JSON), or every matching row (CSV, NDJSON)",
                    "headers": {
                        "ETag": {"schema": {"type": "string"}},
                        "Link": {"schema": {"type": "string"}},
                    },
                    "content": content,
                },
                "304": {"description": "Not modified (If-None-Match)"},
                **_problems(400, 406, 503),
            },
        }

    def _changes(self, res: Resource, tag: list[str]) -> dict[str, Any]:
        """The live change feed: Server-Sent Events, filtered like lists."""
        params: list[dict[str, Any]] = [
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
                "description": "Resume after this event id (EventSource sends it on reconnect)",
            }
        ]
        params += [p for p in self._list_params(res) if p["name"].startswith("filter[")]
        op: dict[str, Any] = {
            "operationId": f"changes_{res.name}",
            "summary": f"Follow changes to {res.name} live: Server-Sent Events",
            "description": "Each event: `id` (resume with Last-Event-ID), `event` (create, "
            "update, delete; `reset` when Last-Event-ID is no longer kept) and `data`, JSON "
            '`{"op", "key", "row"}`, the row as a read shows it. Only rows the caller may '
            "list, matching the filters (the resource's own fields).",
            "tags": tag,
            "parameters": params,
            "responses": {
                "200": {
                    "description": "An event stream (text/event-stream)",
                    "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                },
                # 429: over a stream cap (per client address, or in all).
                **_problems(400, 406, 429, 503),
            },
        }
        if res.policy is not None:
            rule = repr(res.policy.rules["list"])
            op["x-permission"] = rule
            op["description"] += f" Permission (list): `{rule}`."
            op["responses"].update(_problems(401, 403))
        return op

    def _list_params(self, res: Resource) -> list[dict[str, Any]]:
        sortable = self._sort_keys(res)
        params = [
            *self._page_params(res),
            _query("sort", {"type": "string", "pattern": _list_pattern(sortable, "-?")},
                   "Comma-separated sort keys, each once, '-' for descending"),
            *self._item_params(res),
        ]  # fmt: skip
        if res.searchable and not {f.name for f in res.searchable} & self._concealed(res):
            names = ", ".join(f.name for f in res.searchable)
            params.append(_query("q", {"type": "string"}, f"Search in {names}"))
        groupable = ", ".join(f.name for f in self._readable(res))
        params += [
            _query("group_by", {"type": "string"},
                   f"Comma-separated fields (own: {groupable}; or through to-one relations, "
                   "dotted) to group by: data then holds one object per group"),
            _query("aggregate", {"type": "string"},
                   "Comma-separated count(), count(f), sum(f), avg(f), min(f), max(f); each "
                   "group gets them as count, count_f, sum_f, avg_f, min_f, max_f"),
            _query("distinct", {"type": "string"},
                   "Comma-separated fields: their distinct combinations (group_by without "
                   "aggregates)"),
            {"name": "having", "in": "query", "required": False, "style": "deepObject",
             "explode": True, "schema": {"type": "object", "additionalProperties": {
                 "type": "string"}},
             "description": "having[avg(f)][ge]=3: conditions on aggregates, after grouping"},
        ]  # fmt: skip
        formats = ["json", "jsonapi", "csv", "ndjson"] if res.export else ["json", "jsonapi"]
        params.append(
            _query(
                "format",
                {"type": "string", "enum": formats},
                "The representation; wins over Accept",
            )
        )
        for f in self._readable(res):
            params.append(
                _query(
                    f"filter[{f.name}]",
                    _filter_schema(f),
                    f"Rows whose {f.name} equals this; filter[{f.name}][op] takes the "
                    f"operators {' '.join(operators(f.column.type, _SCALAR_OPS))}",
                )
            )
        return params

    def _page_params(self, res: Resource) -> list[dict[str, Any]]:
        top = res.max_page_size
        return [
            _query("page[size]", {"type": "integer", "minimum": 1, "maximum": top},
                   f"Rows per page (default {res.page_size})"),
            _query("page[number]", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
                   "Page number, from 1"),
            _query("page[after]", {"type": "string"}, "Keyset page after this cursor ('' for "
                   "the first page); follow links.next. Not with page[number], limit, offset"),
            _query("page[before]", {"type": "string"}, "Keyset page before this cursor ('' "
                   "for the last page); follow links.prev"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": top},
                   "Rows per page (instead of page[size])"),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                   "Rows to skip (instead of page[number])"),
            _query("count", {"type": "string", "enum": ["exact", "estimated", "capped", "true",
                                                       "false", ""]},
                   "Add meta.total: COUNT(*) (exact, true), the planner's estimate "
                   "(estimated; meta.total_estimated), or counted up to a cap (capped; "
                   "meta.total_capped)"),
        ]  # fmt: skip

    def _item_params(self, res: Resource) -> list[dict[str, Any]]:
        names = (f.name for f in self._readable(res))
        fields = {"type": "string", "pattern": _list_pattern(names)}
        params = [_query("fields", fields, "Comma-separated fields to return")]
        paths = self._include_paths(res)
        if paths:
            include = {"type": "string", "pattern": _list_pattern(paths)}
            params.append(_query("include", include, "Comma-separated relations to embed"))
        return params

    def _include_paths(self, res: Resource) -> list[str]:
        """Every relation path ``include`` takes, up to the depth limit (and a sane count)."""
        depth = self.state.api.settings.limits.max_include_depth
        out: list[str] = []

        def walk(r: Resource, prefix: str, level: int) -> None:
            for name, _rel, target in self._relations(r):
                if len(out) >= MAX_LISTED:
                    continue
                out.append(prefix + name)
                if level + 1 < depth:
                    walk(target, f"{prefix}{name}.", level + 1)

        walk(res, "", 0)
        return out

    def _sort_keys(self, res: Resource) -> list[str]:
        """The resource's fields and those of its to-one relations (one level)."""
        keys = [f.name for f in self._readable(res) if sortable(f.column.type)]
        for name, rel, target in self._relations(res):
            if not rel.to_many:
                keys.extend(
                    f"{name}.{f.name}" for f in self._readable(target) if sortable(f.column.type)
                )
        return keys[:MAX_LISTED]


#: One event of a change stream (``data`` is JSON text: op, key, row).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string", "enum": ["create", "update", "delete", "reset"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer"},
    },
}


def _query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": dict(schema),
            "description": description}  # fmt: skip


def _json_ok(
    schema: Mapping[str, Any],
    description: str,
    *,
    etag: bool,
    jsonapi: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": dict(schema)}}
    if jsonapi is not None:
        content[JSONAPI] = {"schema": dict(jsonapi)}
    out: dict[str, Any] = {"description": description, "content": content}
    if etag:
        out["headers"] = {"ETag": {"schema": {"type": "string"}}}
    return out


def _json_body(
    schema: Mapping[str, Any], jsonapi: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": dict(schema)}}
    if jsonapi is not None:
        content[JSONAPI] = {"schema": dict(jsonapi)}
    return {"required": True, "content": content}


def document(state: _AppState, view: View | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the resources mounted on one app, as the caller whose
    ``view`` it is sees them (None: every declared field and relation)."""
    return _Builder(state, view).build()


def view_key(state: _AppState, view: View | None) -> Any:
    """What about ``view`` changes the document: callers with equal keys get the same one."""
    if view is None:
        return None
    out = []
    for ep in state.endpoints.values():
        res = ep.resource
        out.append((res.name, view.concealed(res), view.concealed_relations(res, state)))
    return tuple(out)


def operations(doc: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(method, path) of every operation in a document."""
    for path, item in doc["paths"].items():
        for method in item:
            if method != "parameters":
                yield method.upper(), path
