"""One walk over every operation a client can make, as a caller with a restrictive view
(issue 19, item 2): none of them reaches a row or a field outside that view.

The caller is user 2. They read and write only their own notes and folders (``owner``), never
see a note's ``hush`` / ``hushkey`` fields nor its ``vault_id`` (``hidden_unless``, so the
``vault`` relation is concealed both ways), cannot write its ``status`` (``read_only_unless``),
and may not touch vaults or audits at all. Every value outside that view is a token: a
``SENTINEL-...`` string, or one of ``NAMES`` where a string cannot go (the hidden field and
relation names, the vault keys behind the hidden foreign key, the keys of others' notes).

Each operation of ``WALK`` runs on the seeded database (put back before each step), on SQLite
and PostgreSQL, twice:

- as the restricted caller: the status is the documented one, no token appears in any byte of
  the answer (body and headers) unless the request itself carried it, nothing outside the view
  changed in the database (read back with SQL), and a request naming a hidden field or
  relation is answered exactly as the same request naming one that does not exist;
- as the same person with the admin role, who sees everything: the operation must reach
  outside the restricted view (a token in the answer, a protected value changed, or, for an
  ``oracle`` probe, a status that tells what the restricted caller must not learn). So each
  probe would fail if the protection it checks were removed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask, Request
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.test import TestResponse

from tablerest import Api, ChangeFeed, Identity, owner, role
from tests.databases import fresh_database

JSONAPI = "application/vnd.api+json"
ME = 2
ADMIN = role("admin")
MINE = owner("owner_id") | ADMIN


class Base(DeclarativeBase):
    pass


class Folder(Base):
    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(50))


class Vault(Base):
    __tablename__ = "vaults"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    slug: Mapped[str] = mapped_column(sa.String(50), unique=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    hush: Mapped[str] = mapped_column(sa.String(50), default="SENTINEL-hush-default")
    hushkey: Mapped[str | None] = mapped_column(sa.String(50), unique=True)
    status: Mapped[str] = mapped_column(sa.String(50), default="draft")
    folder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("folders.id"))
    vault_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vaults.id"))


class Audit(Base):
    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("notes.id"))
    text: Mapped[str] = mapped_column(sa.String(50))


VAULTS = (73519246, 73519247)
THEIRS = (61000003, 61000004, 61000005)  # the keys of other people's notes
N3, N4, N5 = THEIRS
V1, V2 = VAULTS


# fmt: off
def _seed(conn: sa.Connection) -> None:
    vaults = [{"id": key, "name": f"SENTINEL-vault-{key}"} for key in VAULTS]
    folders = [{"owner_id": ME, "name": "my folder"}, {"owner_id": 3, "name": "SENTINEL-folder"}]
    mine = [  # keys 1 and 2, from the database; note 2 is in another's folder
        {"owner_id": ME, "slug": f"mine-{n}", "title": f"mine {n}", "status": "draft",
         "folder_id": n, "vault_id": vault, "hush": f"SENTINEL-hush-{n}",
         "hushkey": f"SENTINEL-hushkey-{n}"}
        for n, vault in ((1, V1), (2, V2))
    ]
    theirs = [
        {"id": key, "owner_id": owner_id, "slug": f"SENTINEL-slug-{key}",
         "title": f"SENTINEL-title-{key}", "hush": f"SENTINEL-hush-{key}",
         "hushkey": f"SENTINEL-hushkey-{key}", "status": f"SENTINEL-status-{key}",
         "folder_id": folder, "vault_id": V1}
        for key, owner_id, folder in zip(THEIRS, (3, 3, 4), (2, 1, None), strict=True)
    ]
    audits = [{"note_id": n, "text": f"SENTINEL-audit-{n}"} for n in (1, N3)]
    for model, rows in ((Vault, vaults), (Folder, folders), (Note, mine), (Note, theirs),
                        (Audit, audits)):
        conn.execute(sa.insert(model.__table__), rows)
# fmt: on


#: Writes made through the API before each walk step, so that the change feed has events:
#: on another's note, on a hidden field of the caller's own note, on a vault and a folder.
FEED_SEED = [
    (f"/api/notes/{N3}", {"title": "SENTINEL-title-fed"}),
    ("/api/notes/1", {"hush": "SENTINEL-hush-fed"}),
    ("/api/notes/2", {"title": "mine 2, fed"}),
    (f"/api/vaults/{V1}", {"name": "SENTINEL-vault-fed"}),
    ("/api/folders/2", {"name": "SENTINEL-folder-fed"}),
]

SENTINEL = re.compile(r"SENTINEL-[\w-]+")
CURSOR = re.compile(r"page(?:\[|%5B)(?:after|before)(?:\]|%5D)=([\w-]+)\.")
#: Names and numbers the restricted caller must never meet: hidden fields, the concealed
#: relation, and keys outside their view. Matched as whole words / whole numbers.
NAMES = ("hush", "hushkey", "vault_id", "vault", *map(str, VAULTS + THEIRS))


def _identify(request: Request) -> Identity | None:
    who = request.headers.get("X-Who")
    if who == "restricted":
        return Identity(str(ME))
    # The same person with the admin role: everything they reach is what a missing rule
    # would have let the restricted caller reach.
    return Identity(str(ME), frozenset({"admin"})) if who == "privileged" else None


def _app(engine: sa.Engine) -> Flask:
    app = Flask("view-walk")
    app.config["TESTING"] = True
    api = Api(app, engine, identify=_identify, changes=ChangeFeed(stream_seconds=0))
    api.resource(Folder, permissions=MINE, searchable=["name"])
    api.resource(Vault, permissions=ADMIN)
    api.resource(
        Note,
        permissions=MINE,
        hidden_unless={"hush": ADMIN, "hushkey": ADMIN, "vault_id": ADMIN},
        read_only_unless={"status": ADMIN},
        searchable=["title", "hush"],
    )
    api.resource(Audit, permissions=ADMIN)
    return app


@dataclass
class Served:
    """One database and app per backend; each step starts from the state saved after seeding."""

    engine: sa.Engine
    client: FlaskClient
    saved: dict[sa.Table, list[dict[str, Any]]]

    def restore(self) -> None:
        """Put every table (the change feed's too) back as saved, keys and sequences
        included, so that each step sees the same database."""
        tables = list(self.saved)
        with self.engine.begin() as conn:
            for t in reversed(tables):
                conn.execute(t.delete())
            for t in tables:
                if self.saved[t]:
                    conn.execute(t.insert(), self.saved[t])
                if conn.dialect.name == "postgresql" and "id" in t.c:
                    # Sequences are not put back with the rows: set them past the keys.
                    after = sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0) + 1)
                    sequence = sa.func.pg_get_serial_sequence(t.name, "id")
                    conn.execute(
                        sa.select(sa.func.setval(sequence, after.scalar_subquery(), False))
                    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:  # fmt: skip
    with fresh_database(request.param, tmp_path_factory.mktemp("walk")) as url:
        engine = sa.create_engine(url)  # pooled: a few hundred requests, one connection
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            _seed(conn)
        client = _app(engine).test_client()
        for path, body in FEED_SEED:
            resp = client.patch(path, json=body, headers={"X-Who": "privileged"})
            assert resp.status_code == 200, resp.get_data(as_text=True)
        everything = sa.MetaData()
        everything.reflect(engine)
        with engine.connect() as conn:
            saved = {t: [dict(r._mapping) for r in conn.execute(sa.select(t))]
                     for t in everything.sorted_tables}  # fmt: skip
        yield Served(engine, client, saved)
        engine.dispose()


@pytest.fixture
def served_fresh(served: Served) -> Served:
    served.restore()
    return served


# -- what lies outside the view, read with SQL ------------------------------------------------


@dataclass
class Outside:
    """Everything outside the restricted caller's view: other people's rows whole, vaults and
    audits whole, and on the caller's own rows what they may not see or write."""

    theirs: dict[str, list[tuple[Any, ...]]]
    own_notes: dict[int, tuple[Any, ...]]
    own_folders: set[int]
    links: set[tuple[int, int]]  # own notes -> folders not theirs

    @classmethod
    def read(cls, engine: sa.Engine) -> Outside:
        n, f = Note.__table__.c, Folder.__table__.c
        wheres = {"notes": n.owner_id != ME, "folders": f.owner_id != ME}
        with engine.connect() as conn:
            theirs = {
                t.name: [tuple(r) for r in conn.execute(
                    sa.select(t).where(wheres.get(t.name, sa.true())).order_by(t.c.id))]
                for t in Base.metadata.sorted_tables
            }  # fmt: skip
            protected = (n.id, n.hush, n.hushkey, n.status, n.vault_id, n.folder_id)
            own = conn.execute(sa.select(*protected).where(n.owner_id == ME)).all()
            folders = set(conn.execute(sa.select(f.id).where(f.owner_id == ME)).scalars())
        return cls(
            theirs,
            {r[0]: tuple(r[1:5]) for r in own},
            folders,
            {(r[0], r[5]) for r in own if r[5] is not None and r[5] not in folders},
        )

    def changed_since(self, before: Outside) -> list[str]:
        """What moved outside the view between ``before`` and now (empty: nothing)."""
        out = [f"{name} rows" for name in before.theirs if self.theirs[name] != before.theirs[name]]
        fresh = ("SENTINEL-hush-default", None, "draft", None)
        for key, values in self.own_notes.items():  # an own note may go, or come with defaults
            if values != before.own_notes.get(key, fresh):
                out.append(f"hidden or read-only fields of note {key}: {values}")
        if not self.links <= before.links:
            out.append(f"new references to others' folders: {self.links - before.links}")
        return out


# -- the walk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One request and the status the restricted caller gets. ``body`` is sent as ``kind``
    (json, jsonapi, form); a header value ``ETAG`` is replaced by the tag the privileged
    caller gets from a GET of ``path``; ``follow`` walks ``links.next`` (or ``prev``)."""

    name: str
    method: str
    path: str
    status: int
    body: Any = None
    kind: str = "json"
    headers: dict[str, str] = field(default_factory=dict)
    follow: str | None = None
    oracle: bool = False  # the privileged caller's status itself shows what is outside
    rows: int | None = None  # how many rows (``data``, ``meta.total``) the caller is shown


ETAG = "<etag>"
JA = {"Accept": JSONAPI}


def new(**extra: Any) -> dict[str, Any]:
    """A valid note of the caller's own, with ``extra``."""
    slug = "-".join(["new", *sorted(extra)])
    return {"title": "new", "slug": slug, "owner_id": ME, **extra}


def ja(type_: str, attributes: dict[str, Any], id_: str | None = None, **doc: Any) -> Any:
    """A JSON:API document: ``relationships=`` and ``included=`` go where they belong."""
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_ is not None:
        data["id"] = id_
    if "relationships" in doc:
        data["relationships"] = doc.pop("relationships")
    return {"data": data, **doc}


def batch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"operations": list(operations)}


def rel(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_}}


WALK = [
    # -- documents about the API
    Op("index", "GET", "/api", 200),
    Op("openapi", "GET", "/api/openapi.json", 200),
    # -- lists, every representation and query feature
    Op("list-json", "GET", "/api/notes", 200, rows=2),
    Op("list-jsonapi", "GET", "/api/notes", 200, headers=JA),
    Op("list-csv", "GET", "/api/notes?format=csv", 200),
    Op("list-ndjson", "GET", "/api/notes", 200, headers={"Accept": "application/x-ndjson"}),
    Op("list-count-exact", "GET", "/api/notes?count=exact&fields=id", 200, rows=2),
    Op("list-count-capped", "GET", "/api/notes?count=capped&fields=id", 200, rows=2),
    Op("list-offset-page", "GET", "/api/notes?page[size]=1&page[number]=3", 200),
    Op("list-keyset-next", "GET", "/api/notes?page[size]=1&page[after]=&sort=title", 200,
       follow="next"),
    Op("list-keyset-prev", "GET", "/api/notes?page[size]=1&page[before]=&sort=-slug", 200,
       follow="prev"),
    Op("list-keyset-jsonapi", "GET", "/api/notes?page[size]=1&page[after]=", 200, headers=JA,
       follow="next"),
    Op("group-by", "GET", "/api/notes?group_by=title&aggregate=count(),min(slug)", 200),
    Op("group-having", "GET",
       "/api/notes?group_by=status&aggregate=count(),max(title)&having[count()][ge]=1", 200),
    Op("group-jsonapi", "GET", "/api/notes?group_by=title&aggregate=count()", 200, headers=JA),
    Op("group-csv", "GET", "/api/notes?group_by=slug&aggregate=count()&format=csv", 200),
    Op("aggregate-all", "GET", "/api/notes?aggregate=count(),max(title),min(status)", 200),
    Op("distinct", "GET", "/api/notes?distinct=title", 200),
    Op("group-hidden", "GET", "/api/notes?group_by=hush&aggregate=count()", 400),
    Op("aggregate-hidden", "GET", "/api/notes?aggregate=max(hush)", 400),
    Op("group-concealed", "GET", "/api/notes?group_by=vault.name&aggregate=count()", 400),
    Op("filter-hidden", "GET", "/api/notes?filter[hush][startswith]=SENTINEL", 400),
    Op("filter-hidden-short", "GET", "/api/notes?hush=SENTINEL-hush-2", 400),
    Op("sort-hidden", "GET", "/api/notes?sort=hush", 400),
    Op("fields-hidden", "GET", "/api/notes?fields=title,hush", 400),
    Op("fields-hidden-by-type", "GET", "/api/notes?fields[notes]=title,hushkey", 400),
    Op("filter-concealed", "GET", "/api/notes?filter[vault.name][startswith]=SENTINEL", 400),
    Op("sort-concealed", "GET", "/api/notes?sort=-vault.name", 400),
    Op("include-concealed", "GET", "/api/notes?include=vault", 400),
    Op("filter-through-readable", "GET",
       "/api/notes?filter[folder.name][startswith]=SENTINEL", 200, rows=0),
    Op("sort-through-readable", "GET", "/api/notes?sort=folder.name", 200),
    Op("filter-to-many", "GET", "/api/folders?filter[notes.title][startswith]=SENTINEL", 200,
       rows=0),
    Op("search", "GET", "/api/folders?q=SENTINEL&count=exact", 200, rows=0),
    Op("search-hidden", "GET", "/api/notes?q=hush-2", 400),
    Op("filter-unreadable", "GET", "/api/notes?filter[audits.text][startswith]=SENTINEL", 403),
    Op("include-unreadable", "GET", "/api/notes?include=audits", 403),
    Op("include-to-one", "GET", "/api/notes?include=folder", 200),
    Op("include-nested", "GET", "/api/folders?include=notes.folder", 200),
    Op("include-jsonapi", "GET", "/api/notes?include=folder.notes", 200, headers=JA),
    Op("list-unreadable", "GET", "/api/vaults", 403),
    Op("list-others-folders", "GET", "/api/folders?format=ndjson", 200),
    # -- items
    Op("read-own", "GET", "/api/notes/1", 200),
    Op("read-own-jsonapi", "GET", "/api/notes/1?include=folder", 200, headers=JA),
    Op("read-own-include-nested", "GET", "/api/notes/1?include=folder.notes", 200),
    Op("read-own-include-unreadable", "GET", "/api/notes/1?include=audits", 403),
    Op("read-own-fields-hidden", "GET", "/api/notes/1?fields=hush", 400),
    Op("read-other", "GET", f"/api/notes/{N3}", 404),
    Op("read-other-jsonapi", "GET", f"/api/notes/{N3}", 404, headers=JA),
    Op("head-other", "HEAD", f"/api/notes/{N4}", 404, oracle=True),
    Op("read-unreadable", "GET", f"/api/vaults/{V1}", 403),
    Op("etag-guess", "GET", "/api/notes/1", 200, headers={"If-None-Match": ETAG}, oracle=True),
    Op("etag-star-other", "GET", f"/api/notes/{N3}", 404, headers={"If-None-Match": "*"},
       oracle=True),
    # -- relation routes
    Op("to-one-own", "GET", "/api/notes/2/folder", 200),  # another's folder: not theirs to see
    Op("to-one-other", "GET", f"/api/notes/{N3}/folder", 404),
    Op("to-many-own", "GET", "/api/folders/1/notes?count=exact", 200, rows=1),
    Op("to-many-own-csv", "GET", "/api/folders/1/notes?format=csv", 200),
    Op("to-many-own-filter-hidden", "GET", f"/api/folders/1/notes?hush=SENTINEL-hush-{N4}", 400),
    Op("to-many-other", "GET", "/api/folders/2/notes", 404),
    Op("to-one-concealed", "GET", "/api/notes/1/vault", 404),
    Op("to-many-concealed", "GET", f"/api/vaults/{V1}/notes", 404),
    Op("to-many-unreadable", "GET", "/api/notes/1/audits", 403),
    Op("relationship-own", "GET", "/api/folders/1/relationships/notes", 200),
    Op("relationship-other", "GET", "/api/folders/2/relationships/notes", 404),
    Op("relationship-concealed", "GET", "/api/notes/1/relationships/vault", 404),
    Op("relationship-set-unreadable", "PATCH", "/api/notes/1/relationships/folder", 409,
       rel("folders", "2"), "jsonapi"),
    Op("relationship-set-concealed", "PATCH", "/api/notes/1/relationships/vault", 404,
       rel("vaults", str(V2)), "jsonapi"),
    Op("relationship-set-other", "PATCH", f"/api/notes/{N4}/relationships/folder", 404,
       rel("folders", "2"), "jsonapi"),
    # -- creates
    Op("create", "POST", "/api/notes", 201, new()),
    Op("create-hidden", "POST", "/api/notes", 422, new(hush="x")),
    Op("create-read-only", "POST", "/api/notes", 422, new(status="published")),
    Op("create-concealed-fk", "POST", "/api/notes", 422, new(vault_id=V2)),
    Op("create-for-another", "POST", "/api/notes", 403, new(owner_id=3)),
    Op("create-fk-unreadable", "POST", "/api/notes", 409, new(folder_id=2)),
    Op("create-array", "POST", "/api/notes", 422, [new(), new(hushkey="x")]),
    Op("create-array-fk", "POST", "/api/notes", 409, [new(), new(folder_id=2)]),
    Op("create-unreadable", "POST", "/api/vaults", 403, {"name": "x"}),
    Op("nested-concealed", "POST", "/api/notes", 422, new(vault={"name": "x"})),
    Op("nested-unreadable", "POST", "/api/notes", 403, new(audits=[{"text": "x"}])),
    Op("nested-parent-other", "POST", "/api/notes", 403,
       new(folder={"name": "x", "owner_id": 3})),
    Op("nested-child-hidden", "POST", "/api/folders", 422,
       {"name": "f", "owner_id": ME, "notes": [new(hush="x")]}),
    Op("jsonapi-create", "POST", "/api/notes", 201, ja("notes", new()), "jsonapi"),
    Op("jsonapi-create-hidden", "POST", "/api/notes", 422, ja("notes", new(hush="x")),
       "jsonapi"),
    Op("jsonapi-create-fk-unreadable", "POST", "/api/notes", 409,
       ja("notes", new(), relationships={"folder": rel("folders", "2")}), "jsonapi"),
    Op("jsonapi-create-concealed", "POST", "/api/notes", 422,
       ja("notes", new(), relationships={"vault": rel("vaults", str(V2))}), "jsonapi"),
    Op("jsonapi-included-other", "POST", "/api/notes", 403,
       ja("notes", new(), relationships={"folder": {"data": {"type": "folders", "lid": "f"}}},
          included=[{"type": "folders", "lid": "f", "attributes": {"name": "x", "owner_id": 3}}]),
       "jsonapi"),
    Op("form-create", "POST", "/api/notes", 201, new(), "form"),
    Op("form-create-hidden", "POST", "/api/notes", 422, new(hush="x"), "form"),
    Op("form-create-read-only", "POST", "/api/notes", 422, new(status="x"), "form"),
    # -- upserts
    Op("upsert-others-key", "POST", "/api/notes?on_conflict=slug", 409,
       new(slug=f"SENTINEL-slug-{N3}")),
    Op("upsert-array-others-key", "POST", "/api/notes?on_conflict=slug", 409,
       [new(), new(slug=f"SENTINEL-slug-{N4}", title="stolen")]),
    Op("upsert-hidden-key", "POST", "/api/notes?on_conflict=hushkey", 400,
       new(hushkey=f"SENTINEL-hushkey-{N3}")),
    Op("upsert-own-read-only", "POST", "/api/notes?on_conflict=slug", 422,
       new(slug="mine-1", status="x")),
    Op("upsert-own-fk-unreadable", "POST", "/api/notes?on_conflict=slug", 409,
       new(slug="mine-1", folder_id=2)),
    # -- updates, replaces, deletes
    Op("bulk-others", "PATCH", "/api/notes", 404,
       [{"id": 1, "title": "a"}, {"id": N3, "title": "b"}]),
    Op("bulk-read-only", "PATCH", "/api/notes", 422, [{"id": 1, "status": "x"}]),
    Op("bulk-fk-unreadable", "PATCH", "/api/notes", 409, [{"id": 1, "folder_id": 2}]),
    Op("patch-other", "PATCH", f"/api/notes/{N3}", 404, {"title": "x"}),
    Op("put-other", "PUT", f"/api/notes/{N3}", 404, new()),
    Op("delete-other", "DELETE", f"/api/notes/{N5}", 404),
    Op("patch-other-if-match", "PATCH", f"/api/notes/{N3}", 404, {"title": "x"},
       headers={"If-Match": ETAG}),
    Op("delete-other-if-match-star", "DELETE", f"/api/notes/{N5}", 404,
       headers={"If-Match": "*"}),
    Op("patch-if-match-guess", "PATCH", "/api/notes/1", 412, {"title": "x"},
       headers={"If-Match": ETAG}, oracle=True),
    Op("jsonapi-if-match-guess", "PATCH", "/api/notes/1", 412, ja("notes", {"title": "x"}, "1"),
       "jsonapi", headers={"If-Match": ETAG}, oracle=True),
    Op("delete-if-match-guess", "DELETE", "/api/notes/2", 412, headers={"If-Match": ETAG},
       oracle=True),
    Op("patch-hidden", "PATCH", "/api/notes/1", 422, {"hush": "x"}),
    Op("patch-read-only", "PATCH", "/api/notes/1", 422, {"status": "x"}),
    Op("patch-concealed-fk", "PATCH", "/api/notes/1", 422, {"vault_id": V2}),
    Op("patch-hand-over", "PATCH", "/api/notes/1", 403, {"owner_id": 3}),
    Op("patch-fk-unreadable", "PATCH", "/api/notes/1", 409, {"folder_id": 2}),
    Op("patch-jsonapi-concealed", "PATCH", "/api/notes/1", 422,
       ja("notes", {}, "1", relationships={"vault": rel("vaults", str(V2))}), "jsonapi"),
    Op("patch-jsonapi-fk-unreadable", "PATCH", "/api/notes/1", 409,
       ja("notes", {}, "1", relationships={"folder": rel("folders", "2")}), "jsonapi"),
    Op("put-own", "PUT", "/api/notes/1", 200, new(slug="mine-1", folder_id=1)),
    Op("put-own-read-only", "PUT", "/api/notes/1", 422, new(slug="mine-1", status="x")),
    Op("form-patch-hidden", "PATCH", "/api/notes/1", 422, {"hush": "x"}, "form"),
    # -- batches
    Op("batch-own", "POST", "/api/batch", 200, batch(
        {"op": "create", "resource": "notes", "ref": "n", "data": new()},
        {"op": "update", "resource": "notes", "key": {"$ref": "n"}, "data": {"title": "y"}})),
    Op("batch-create-hidden", "POST", "/api/batch", 422,
       batch({"op": "create", "resource": "notes", "data": new(hush="x")})),
    Op("batch-ref-hidden-field", "POST", "/api/batch", 422, batch(
        {"op": "create", "resource": "notes", "ref": "n", "data": new()},
        {"op": "create", "resource": "notes",
         "data": new(slug="z", title={"$ref": "n", "field": "hush"})})),
    Op("batch-update-other", "POST", "/api/batch", 404, batch(
        {"op": "create", "resource": "notes", "ref": "n", "data": new()},
        {"op": "update", "resource": "notes", "key": N3,
         "data": {"title": {"$ref": "n", "field": "title"}}})),
    Op("batch-replace-other", "POST", "/api/batch", 404,
       batch({"op": "replace", "resource": "notes", "key": N4, "data": new()})),
    Op("batch-delete-other", "POST", "/api/batch", 404,
       batch({"op": "delete", "resource": "notes", "key": N5})),
    Op("batch-read-only", "POST", "/api/batch", 422,
       batch({"op": "update", "resource": "notes", "key": 1, "data": {"status": "x"}})),
    Op("batch-fk-unreadable", "POST", "/api/batch", 409,
       batch({"op": "create", "resource": "notes", "data": new(folder_id=2)})),
    Op("batch-unreadable", "POST", "/api/batch", 403,
       batch({"op": "update", "resource": "vaults", "key": V1, "data": {"name": "x"}})),
    # -- the change feed
    Op("feed", "GET", "/api/notes/changes", 200, headers={"Last-Event-ID": "0"}),
    Op("feed-filter-hidden", "GET", "/api/notes/changes?filter[hush][startswith]=SENTINEL",
       400, headers={"Last-Event-ID": "0"}),
    Op("feed-others", "GET", "/api/notes/changes?owner_id=3", 200, headers={"Last-Event-ID": "0"}),
    Op("feed-folders", "GET", "/api/folders/changes", 200, headers={"Last-Event-ID": "0"}),
    Op("feed-unreadable", "GET", "/api/vaults/changes", 403, headers={"Last-Event-ID": "0"}),
]  # fmt: skip


def _send(client: FlaskClient, op: Op, who: str) -> list[TestResponse]:
    headers = {"X-Who": who, **op.headers}
    if ETAG in headers.values():
        accept = JSONAPI if op.kind == "jsonapi" else headers.get("Accept", "application/json")
        tag = client.get(op.path, headers={"X-Who": "privileged", "Accept": accept}).headers
        headers = {k: tag["ETag"] if v == ETAG else v for k, v in headers.items()}
    kwargs: dict[str, Any] = {"method": op.method, "headers": headers}
    if op.kind == "form":
        kwargs["data"] = op.body
    elif op.body is not None:
        kwargs["data"] = orjson.dumps(op.body)
        kwargs["content_type"] = JSONAPI if op.kind == "jsonapi" else "application/json"
    answers = [client.open(op.path, **kwargs)]
    while op.follow and answers[-1].status_code == 200 and len(answers) < 10:
        url = orjson.loads(answers[-1].data)["links"].get(op.follow)
        if not url:
            break
        answers.append(client.get(url, headers=headers))
    return answers


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")


def _twin(op: Op) -> tuple[str, Op] | None:
    """The hidden name ``op`` carries, and ``op`` with it replaced by a name that does not
    exist (None when it carries none): the restricted caller must get the same answer."""
    sent = _request_text(op)
    name = next(
        (n for n in ("hushkey", "hush", "vault_id", "vault") if _word(n).search(sent)), None
    )
    if name is None or op.status not in (400, 404, 422):
        return None
    swap = partial(_word(name).sub, "nowhere")
    body = None if op.body is None else orjson.loads(swap(orjson.dumps(op.body).decode()))
    return name, replace(op, path=swap(op.path), body=body)


def _request_text(op: Op) -> str:
    return f"{op.path} {orjson.dumps(op.body).decode()} {op.headers}"


def _found(resp: TestResponse, op: Op) -> set[str]:
    """The tokens in ``resp`` (status line aside, page cursors decoded) that the request did
    not carry itself."""
    text = "\n".join(f"{k}: {v}" for k, v in resp.headers.items()) + "\n" + resp.text
    for cursor in CURSOR.findall(text):  # sort values of a row, in base64
        text += "\n" + base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    sent = _request_text(op)
    hits = set(SENTINEL.findall(text)) - set(SENTINEL.findall(sent))
    for name in NAMES:
        word = _word(name)
        if word.search(text) and not word.search(sent):
            hits.add(name)
    return hits


@pytest.mark.parametrize("who", ["restricted", "privileged"])
@pytest.mark.parametrize("op", WALK, ids=[op.name for op in WALK])
def test_walk(served_fresh: Served, op: Op, who: str) -> None:
    engine = served_fresh.engine
    before = Outside.read(engine)

    answers = _send(served_fresh.client, op, who)

    found = set().union(*(_found(a, op) for a in answers))
    changed = Outside.read(engine).changed_since(before)
    first = answers[0]
    if who == "restricted":
        assert first.status_code == op.status, first.text
        assert all(a.status_code == 200 for a in answers[1:])
        assert not found, f"outside the view: {sorted(found)} in {first.text}"
        assert not changed, changed
        twin = _twin(op)
        if twin is not None:  # a concealed name is answered as one that does not exist
            name, other = twin[0], _send(served_fresh.client, twin[1], who)[0]
            assert (first.status_code, first.text) == (
                other.status_code,
                _word("nowhere").sub(name, other.text),
            )
        if op.rows is not None:
            body = orjson.loads(first.data)
            assert (len(body["data"]), body["meta"].get("total", op.rows)) == (op.rows, op.rows)
    else:  # non-vacuity: without the rules, the same request reaches outside the view
        told = op.oracle and first.status_code != op.status
        assert found or changed or told, (first.status_code, first.text)
