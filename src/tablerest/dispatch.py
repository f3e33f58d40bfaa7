"""The request pipeline for one resource: negotiate -> parse -> plan -> execute -> render.

This is the only module that ties the stages together. Each handler takes the Flask request
explicitly and returns a Flask response; tablerest's own errors become problem responses here,
and anything else propagates to Flask's error handling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from flask import Request, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from . import http
from .errors import FieldError, NotFound, TablerestError, ValidationFailed
from .query import Statements
from .render.json import RowEncoder, dumps
from .render.problem import problem_response
from .request import ListIntent, parse_item_query, parse_key, parse_list_query
from .resource import Resource, WriteContext
from .schema import Variant
from .store import Database, diagnose_integrity, translate

__all__ = ["Endpoint", "Settings", "handles_errors"]

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Settings:
    """API-wide options, fixed when ``Api`` is created."""

    prefix: str
    max_body_size: int


def handles_errors(
    fn: Callable[..., Response],
) -> Callable[..., Response]:
    """Turn tablerest errors raised inside a handler into problem responses."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except TablerestError as error:
            return problem_response(error)

    return wrapper


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, mimetype=JSON)


class Endpoint:
    """Everything needed to serve one resource, built once at registration."""

    def __init__(self, resource: Resource, db: Database, settings: Settings) -> None:
        self.resource = resource
        self.db = db
        self.settings = settings
        self.statements = Statements(resource)
        self.encoder = RowEncoder(resource, self.statements.keys)
        self.url = f"{settings.prefix}/{quote(resource.name)}"

    # -- reads ----------------------------------------------------------------------------

    def list_rows(self, request: Request) -> Response:
        http.check_accept(request)
        intent = parse_list_query(self.resource, request.args.to_dict(flat=False))
        st = self.statements
        with self.db.reading(self.resource.table) as conn:
            rows = conn.execute(st.select_page(intent)).all()
            total = conn.execute(st.count()).scalar_one() if intent.count else None
        has_next = len(rows) > intent.limit
        data = self.encoder.rows(rows[: intent.limit])
        links = self._links(request, intent, has_next)
        meta: dict[str, Any] = {"page": self._page_meta(intent)}
        if total is not None:
            meta["total"] = total
        resp = _json_response({"data": data, "links": links, "meta": meta})
        link_header = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url)
        if link_header:
            resp.headers["Link"] = link_header
        return resp

    def read(self, request: Request, key: str) -> Response:
        http.check_accept(request)
        parse_item_query(request.args.to_dict(flat=False))
        values = parse_key(self.resource, key)
        row = self._fetch_one(values)
        return _json_response(row)

    def _fetch_one(self, key: Sequence[Any], conn: sa.Connection | Session | None = None) -> Any:
        st = self.statements
        assert st.select_one is not None
        if conn is None:
            with self.db.reading(self.resource.table) as c:
                row = c.execute(st.select_one, st.key_params(key)).first()
        else:
            row = conn.execute(st.select_one, st.key_params(key)).first()
        if row is None:
            raise NotFound(f"No {self.resource.name} row with key {_key_text(key)}")
        return self.encoder.row(row)

    # -- writes ---------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        http.check_accept(request)
        parse_item_query(request.args.to_dict(flat=False))
        body = http.read_body(request, self.settings.max_body_size)
        schema = self.resource.schema
        if body.kind == "json" and body.raw.lstrip()[:1] == b"[":
            items = schema.validate_json_many(body.raw)
            if not items:
                raise ValidationFailed(
                    [FieldError("", "The array is empty")], detail="Nothing to create"
                )
            created = self._write_many(items)
            return _json_response(created, 201)
        data = (
            schema.validate_json(body.raw, "create")
            if body.kind == "json"
            else schema.validate_form(body.form or {}, "create")
        )
        (row,) = self._write_many([data])
        resp = _json_response(row, 201)
        resp.headers["Location"] = self._item_url(row)
        return resp

    def replace(self, request: Request, key: str) -> Response:
        return self._update(request, key, "replace")

    def update(self, request: Request, key: str) -> Response:
        return self._update(request, key, "patch")

    def delete(self, request: Request, key: str) -> Response:
        http.check_accept(request)
        parse_item_query(request.args.to_dict(flat=False))
        values = parse_key(self.resource, key)
        res = self.resource
        try:
            with self.db.writing(self.resource.table) as session:
                ctx = WriteContext(res, "delete", session, "DELETE", key=values)
                self._run_hooks("before_delete", ctx)
                if res.use_orm:
                    obj = session.get(res.model, values)  # type: ignore[arg-type]
                    if obj is None:
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                    session.delete(obj)
                    session.flush()
                else:
                    result = session.execute(self.statements.delete(values))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                self._run_hooks("after_delete", ctx)
        except sa_exc.IntegrityError:
            raise self._diagnose([], key=values, deleting=True) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        resp = Response(status=204)
        del resp.headers["Content-Type"]
        return resp

    def _update(self, request: Request, key: str, variant: Variant) -> Response:
        http.check_accept(request)
        parse_item_query(request.args.to_dict(flat=False))
        values = parse_key(self.resource, key)
        body = http.read_body(request, self.settings.max_body_size)
        schema = self.resource.schema
        data = (
            schema.validate_json(body.raw, variant)
            if body.kind == "json"
            else schema.validate_form(body.form or {}, variant)
        )
        self._check_key_unchanged(data, values)
        if variant == "replace":
            data = self._with_resets(data)
        res = self.resource
        written: dict[sa.Column[Any], Any] = {}
        try:
            with self.db.writing(self.resource.table) as session:
                ctx = WriteContext(res, "update", session, request.method, data=data, key=values)
                self._run_hooks("before_update", ctx)
                written = self.statements.values(ctx.data)
                if res.use_orm:
                    obj = session.get(res.model, values)  # type: ignore[arg-type]
                    if obj is None:
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                    for name, value in ctx.data.items():
                        setattr(obj, self._attr(name), value)
                    session.flush()
                elif ctx.data:
                    result = session.execute(self.statements.update(values, ctx.data))
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        raise NotFound(f"No {res.name} row with key {_key_text(values)}")
                row = self._fetch_one(values, session)
                ctx.row = row
                self._run_hooks("after_update", ctx)
        except sa_exc.IntegrityError:
            raise self._diagnose([written], key=values) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return _json_response(row)

    def _write_many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create every item in one transaction: all are stored, or none."""
        res = self.resource
        st = self.statements
        written: list[dict[sa.Column[Any], Any]] = []
        created: list[dict[str, Any]] = []
        try:
            with self.db.writing(self.resource.table) as session:
                for data in items:
                    ctx = WriteContext(res, "create", session, "POST", data=data)
                    self._run_hooks("before_create", ctx)
                    written.append(st.values(ctx.data))
                    key = self._insert(session, ctx.data)
                    row = self._fetch_one(key, session)
                    ctx.row, ctx.key = row, key
                    self._run_hooks("after_create", ctx)
                    created.append(row)
        except sa_exc.IntegrityError:
            raise self._diagnose(written) from None
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return created

    def _insert(self, session: Session, data: Mapping[str, Any]) -> tuple[Any, ...]:
        res = self.resource
        if res.use_orm:
            assert res.mapper is not None
            assert res.model is not None
            obj = res.model(**{self._attr(k): v for k, v in data.items()})
            session.add(obj)
            session.flush()
            return tuple(res.mapper.primary_key_from_instance(obj))
        result = session.execute(self.statements.insert(data))
        return tuple(result.inserted_primary_key or ())  # type: ignore[attr-defined]

    # -- helpers --------------------------------------------------------------------------

    def _attr(self, name: str) -> str:
        """The mapped attribute for a field or column name (hooks may use either)."""
        mapper = self.resource.mapper
        assert mapper is not None
        if name in mapper.attrs:
            return name
        col = self.statements.values({name: None})
        (column,) = col
        return mapper.get_property_by_column(column).key

    def _run_hooks(self, event: str, ctx: WriteContext) -> None:
        for hook in self.resource.hooks[event]:
            hook(ctx)

    def _check_key_unchanged(self, data: dict[str, Any], key: Sequence[Any]) -> None:
        errors = []
        for f, value in zip(self.resource.pk_fields, key, strict=True):
            if f.name in data:
                if data[f.name] != value:
                    errors.append(
                        FieldError(
                            f"/{f.name}", "The primary key cannot be changed; it must match the URL"
                        )
                    )
                if not f.writable or data[f.name] == value:
                    del data[f.name]
        if errors:
            raise ValidationFailed(errors)

    def _with_resets(self, data: dict[str, Any]) -> dict[str, Any]:
        """PUT replaces: every writable field left out goes back to its default, or null."""
        out = dict(data)
        for f in self.resource.writable:
            if f.name in out or f.primary_key or not f.readable:
                continue  # write-only fields cannot be resent by a client, so PUT keeps them
            default = f.column.default
            if isinstance(default, sa.ColumnDefault) and default.is_scalar:
                out[f.name] = default.arg
            elif isinstance(default, sa.ColumnDefault) and default.is_callable:
                out[f.name] = default.arg(None)
            elif f.nullable:
                out[f.name] = None
        return out

    def _diagnose(
        self,
        written: list[dict[sa.Column[Any], Any]],
        *,
        key: Sequence[Any] | None = None,
        deleting: bool = False,
    ) -> TablerestError:
        try:
            with self.db.reading(self.resource.table) as conn:
                return diagnose_integrity(conn, self.resource, written, key=key, deleting=deleting)
        except TablerestError as error:
            return error

    def _item_url(self, row: Mapping[str, Any]) -> str:
        parts = [quote(str(row[f.name]), safe="") for f in self.resource.pk_fields]
        return f"{self.url}/{','.join(parts)}"

    def _page_meta(self, intent: ListIntent) -> dict[str, int]:
        if intent.page_number is not None:
            return {"number": intent.page_number, "size": intent.limit}
        return {"offset": intent.offset, "limit": intent.limit}

    def _links(self, request: Request, intent: ListIntent, has_next: bool) -> dict[str, str | None]:
        base = request.args.to_dict(flat=False)
        path = request.path

        def at(offset: int) -> str:
            args = dict(base)
            if intent.page_number is not None:
                args["page[number]"] = [str(offset // intent.limit + 1)]
            else:
                args["offset"] = [str(offset)]
            return f"{path}?{urlencode(args, doseq=True)}"

        links: dict[str, str | None] = {
            "self": f"{path}?{urlencode(base, doseq=True)}" if base else path,
            "first": at(0),
            "prev": at(max(intent.offset - intent.limit, 0)) if intent.offset > 0 else None,
            "next": at(intent.offset + intent.limit) if has_next else None,
        }
        return links


def _key_text(key: Sequence[Any]) -> str:
    return ",".join(str(v) for v in key)
