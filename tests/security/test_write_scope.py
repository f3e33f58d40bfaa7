"""Writes reach only rows the caller can read (issue 17, items 2, 8, 15 and 22).

The schema of ``conftest`` (users ann 1 admin, bob 2, cy 3) plus a private notebook: ``notes``
are read by their owner and admins only, while any signed-in caller may create, update and
delete them (what a policy file's ``[default] all = "authenticated"`` gives). ``remarks`` on
notes are public to read and their author's to write. ann owns note 1 (``ann-1``), bob note 2
(``bob-1``) with bob's remark 1 on it. Each attack is bob's on ann's note, on every write path,
and each refusal leaves the database as it was (read back with SQL).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tablerest import Api, Auth, authenticated, owner, public, role
from tablerest.auth.policies import Grant, Rows, both
from tablerest.auth.policyfile import load_policy
from tablerest.server import create_app
from tests.helpers import problem
from tests.security.conftest import FAST, PERMISSIONS, SECRET, User, login


class NotesBase(DeclarativeBase):
    pass


class Note(NotesBase):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey(User.__table__.c.id))
    slug: Mapped[str] = mapped_column(sa.String(50), unique=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    secret: Mapped[str] = mapped_column(sa.String(100), default="")


class Remark(NotesBase):
    __tablename__ = "remarks"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("notes.id"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey(User.__table__.c.id))
    text: Mapped[str] = mapped_column(sa.String(200))
    code: Mapped[str | None] = mapped_column(sa.String(20), unique=True)


class Tag(NotesBase):
    """A text key: what an item URL can carry is what a key may be."""

    __tablename__ = "tags"
    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(50), default="")


class Pair(NotesBase):
    """A composite text key: ``/api/pairs/a,b``."""

    __tablename__ = "pairs"
    a: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    b: Mapped[str] = mapped_column(sa.String(50), primary_key=True)


MINE = owner("owner_id") | role("admin")
NOTES: dict[str, Any] = {
    "list": MINE,
    "read": MINE,
    "create": authenticated,
    "update": authenticated,
    "delete": authenticated,
}
REMARKS: dict[str, Any] = {
    "list": public,
    "read": public,
    "create": owner("author_id"),
    "update": owner("author_id"),
    "delete": owner("author_id") | role("admin"),
}
ANNS = "ann's secret plans"


@pytest.fixture(params=["core", "orm"])
def writes(request: pytest.FixtureRequest) -> str:
    """Writes as Core statements (with their fast paths) or through the ORM session."""
    return str(request.param)


@pytest.fixture
def notes(engine: sa.Engine) -> sa.Engine:
    NotesBase.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Note.__table__),
            [
                {"owner_id": 1, "slug": "ann-1", "title": "ann's note", "secret": ANNS},
                {"owner_id": 2, "slug": "bob-1", "title": "bob's note", "secret": "bob's"},
            ],
        )
        conn.execute(sa.insert(Remark.__table__).values(note_id=2, author_id=2, text="mine"))
    return engine


def notes_app(
    engine: sa.Engine,
    writes: str = "core",
    remarks: dict[str, Any] | None = None,
    users: dict[str, Any] | None = None,
    **notes_options: Any,
) -> Flask:
    app = Flask("write-scope")
    app.config["TESTING"] = True
    api = Api(app, engine, auth=Auth("users", secret=SECRET, roles="roles", hasher=FAST))
    orm = writes == "orm"
    api.resource(User, permissions=PERMISSIONS["users"], **(users or {"read_only": ["roles"]}))
    api.resource(Note, permissions=NOTES, orm=orm, **notes_options)
    api.resource(Remark, permissions=remarks or REMARKS, orm=orm)
    api.resource(Tag, orm=orm)
    api.resource(Pair, orm=orm)
    return app


@pytest.fixture
def client(notes: sa.Engine, writes: str) -> FlaskClient:
    return notes_app(notes, writes).test_client()


def stored(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every note and remark, read with SQL."""
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]
            for t in (Note.__table__, Remark.__table__)
        }


def leaks(resp: Any) -> bool:
    """Whether an answer shows anything of ann's note."""
    text = resp.get_data(as_text=True)
    return "ann's" in text or "ann-1" in text


# -- item 2: every write path applies the read scope ---------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {}),
        ("PATCH", {"title": "bob was here"}),
        ("PUT", {"slug": "ann-1", "title": "bob was here", "owner_id": 1}),
        ("DELETE", None),
    ],
)
def test_a_write_to_a_row_the_caller_cannot_read_is_404(
    client: FlaskClient, notes: sa.Engine, method: str, body: Any
) -> None:
    bob = login(client, "bob")
    before = stored(notes)
    assert client.get("/api/notes/1", headers=bob).status_code == 404

    resp = client.open("/api/notes/1", method=method, json=body, headers=bob)

    assert problem(resp, 404)["detail"] == "No notes row with key 1"
    assert not leaks(resp)
    assert stored(notes) == before


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_conditional_write_to_a_row_the_caller_cannot_read_is_404_not_412(
    client: FlaskClient, notes: sa.Engine, method: str
) -> None:
    before = stored(notes)
    headers = login(client, "bob")
    for tag in ("*", '"guess"'):
        resp = client.open(
            "/api/notes/1",
            method=method,
            json={} if method == "PATCH" else None,
            headers={**headers, "If-Match": tag},
        )
        problem(resp, 404)
    assert stored(notes) == before


def test_jsonapi_writes_to_a_row_the_caller_cannot_read_are_404(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob = {**login(client, "bob"), "Content-Type": "application/vnd.api+json"}
    before = stored(notes)

    patched = client.patch(
        "/api/notes/1",
        json={"data": {"type": "notes", "id": "1", "attributes": {"title": "x"}}},
        headers=bob,
    )
    linked = client.patch(
        "/api/notes/1/relationships/owner", json={"data": {"type": "users", "id": "2"}}, headers=bob
    )

    for resp in (patched, linked):
        assert resp.status_code == 404, resp.get_data(as_text=True)
        assert resp.mimetype == "application/vnd.api+json"
        assert not leaks(resp)
    assert stored(notes) == before


def test_a_bulk_update_touching_a_row_the_caller_cannot_read_is_404_and_changes_nothing(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob = login(client, "bob")
    before = stored(notes)

    resp = client.patch(
        "/api/notes", json=[{"id": 2, "title": "mine"}, {"id": 1, "title": "mine too"}], headers=bob
    )

    assert problem(resp, 404)["errors"] == [{"pointer": "/1", "detail": "No notes row with key 1"}]
    assert not leaks(resp)
    assert stored(notes) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "update", "resource": "notes", "key": 1, "data": {}},
        {"op": "update", "resource": "notes", "key": 1, "data": {"title": "x"}},
        {
            "op": "replace",
            "resource": "notes",
            "key": 1,
            "data": {"slug": "s", "title": "x", "owner_id": 2},
        },
        {"op": "delete", "resource": "notes", "key": 1},
    ],
)
def test_a_batch_operation_on_a_row_the_caller_cannot_read_is_404_and_changes_nothing(
    client: FlaskClient, notes: sa.Engine, operation: dict[str, Any]
) -> None:
    bob = login(client, "bob")
    before = stored(notes)
    first = {"op": "update", "resource": "notes", "key": 2, "data": {"title": "kept?"}}

    resp = client.post("/api/batch", json={"operations": [first, operation]}, headers=bob)

    body = problem(resp, 404)
    assert body["errors"] == [{"pointer": "/operations/1/key", "detail": "No notes row with key 1"}]
    assert not leaks(resp)
    assert stored(notes) == before


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "ann-1", "title": "bob was here", "owner_id": 2},
        [
            {"slug": "bob-2", "title": "new", "owner_id": 2},
            {"slug": "ann-1", "title": "bob was here", "owner_id": 2},
        ],
        # A nested upsert: the top row is upserted, the remark under it created.
        {"slug": "ann-1", "title": "bob was here", "owner_id": 2, "remarks": [{"text": "hi"}]},
    ],
    ids=["one", "array", "nested"],
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_upsert_onto_a_row_the_caller_cannot_read_is_409_and_changes_nothing(
    client: FlaskClient, notes: sa.Engine, body: Any
) -> None:
    bob = login(client, "bob")
    before = stored(notes)

    resp = client.post("/api/notes?on_conflict=slug", json=body, headers=bob)

    at = "/1" if isinstance(body, list) else ""
    assert problem(resp, 409)["errors"] == [
        {"pointer": f"{at}/slug", "detail": "A row you may not change has this value"}
    ]
    assert not leaks(resp)
    assert stored(notes) == before


def test_the_callers_own_rows_and_an_admins_stay_writable_on_every_path(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob, ann = login(client, "bob"), login(client, "ann")

    assert client.patch("/api/notes/2", json={"title": "b1"}, headers=bob).status_code == 200
    assert (
        client.put(
            "/api/notes/2", json={"slug": "bob-1", "title": "b2", "owner_id": 2}, headers=bob
        ).status_code
        == 200
    )
    bulk = client.patch("/api/notes", json=[{"id": 2, "title": "b3"}], headers=bob)
    assert bulk.status_code == 200
    upsert = client.post(
        "/api/notes?on_conflict=slug",
        json={"slug": "bob-1", "title": "b4", "owner_id": 2},
        headers=bob,
    )
    assert upsert.status_code == 200, upsert.get_json()
    assert client.patch("/api/notes/2", json={"title": "a1"}, headers=ann).status_code == 200
    assert client.patch("/api/notes/1", json={"title": "a2"}, headers=ann).status_code == 200
    batch = client.post(
        "/api/batch",
        json={"operations": [{"op": "update", "resource": "notes", "key": 1, "data": {}}]},
        headers=ann,
    )
    assert batch.status_code == 200
    assert client.delete("/api/remarks/1", headers=bob).status_code == 204
    assert client.delete("/api/notes/2", headers=bob).status_code == 204
    assert [(r[0], r[3]) for r in stored(notes)["notes"]] == [(1, "a2")]


def test_a_change_that_moves_the_row_out_of_the_callers_read_scope_is_403(
    client: FlaskClient, notes: sa.Engine
) -> None:
    """The rows a write may touch are the same before and after it: a row cannot be handed
    to someone else by a caller who could then no longer read it."""
    before = stored(notes)
    resp = client.patch("/api/notes/2", json={"owner_id": 1}, headers=login(client, "bob"))
    problem(resp, 403)
    assert stored(notes) == before


def test_writes_to_a_resource_the_caller_may_not_read_at_all_are_refused_like_its_get(
    notes: sa.Engine, writes: str
) -> None:
    admins = role("admin")
    rules = {**REMARKS, "list": admins, "read": admins, "update": authenticated}
    client = notes_app(notes, writes, remarks=rules).test_client()
    bob = login(client, "bob")
    before = stored(notes)

    assert problem(client.get("/api/remarks/1", headers=bob), 403)
    assert problem(client.patch("/api/remarks/1", json={"text": "x"}, headers=bob), 403)
    assert problem(client.patch("/api/remarks/1", json={"text": "x"}), 401)
    assert stored(notes) == before
    ann = login(client, "ann")
    assert client.patch("/api/remarks/1", json={"text": "x"}, headers=ann).status_code == 200


def test_anonymous_writes_are_401_before_any_row_is_looked_at(
    client: FlaskClient, notes: sa.Engine
) -> None:
    before = stored(notes)
    for key in (1, 2, 99):
        problem(client.patch(f"/api/notes/{key}", json={}), 401)
        problem(client.delete(f"/api/notes/{key}"), 401)
    assert stored(notes) == before


def _holds(grant: Grant, row: dict[str, int]) -> bool:
    """A grant on a row whose fields hold user ids, for the caller with id 1 (as its SQL)."""
    if isinstance(grant, bool):
        return grant
    return all(row[n] == 1 for n in grant.owned) and (
        not grant.any_of or any(_holds(sub, row) for sub in grant.any_of)
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (True, True),
        (True, Rows(("a",))),
        (False, Rows(("a",))),
        (Rows(("a",)), Rows(("b",))),
        (Rows(any_of=(Rows(("a",)), Rows(("b",)))), Rows(("c",))),
        (Rows(("a",)), Rows(any_of=(Rows(("b",)), Rows(("c",))))),
        (Rows(any_of=(Rows(("a",)), Rows(("b",)))), Rows(any_of=(Rows(("c",)), Rows(("d",))))),
        (
            Rows(("a",), any_of=(Rows(("b",)), Rows(("c",), any_of=(Rows(("d",)),)))),
            Rows(any_of=(Rows(("a",)), Rows(("d",)))),
        ),
    ],
)
def test_the_write_scope_is_exactly_the_rows_both_grants_cover(first: Grant, second: Grant) -> None:
    """``both`` is how Access meets the write grant with the read grant: checked on every
    row of four owner fields, each the caller's or not."""
    combined = both(first, second)
    for bits in range(16):
        row = {name: 1 if bits >> i & 1 else 2 for i, name in enumerate("abcd")}
        assert _holds(combined, row) == (_holds(first, row) and _holds(second, row)), row


def test_two_alternatives_joined_with_and_grant_the_rows_both_cover(
    notes: sa.Engine, writes: str
) -> None:
    """``(a | b) & (c | d)`` used to grant ``a | b | c | d``. Here: remarks bob wrote or on
    note 2, that are also his or remark 2 (owner rules compare a field with the caller's id)."""
    with notes.begin() as conn:
        conn.execute(
            sa.insert(Remark.__table__),
            [
                {"note_id": 1, "author_id": 2, "text": "bob on ann's note"},
                {"note_id": 2, "author_id": 3, "text": "cy on bob's note"},
            ],
        )
    rule = (owner("author_id") | owner("note_id")) & (owner("author_id") | owner("id"))
    client = notes_app(notes, writes, remarks={**REMARKS, "list": rule, "read": rule}).test_client()
    bob = login(client, "bob")

    assert [r["id"] for r in client.get("/api/remarks", headers=bob).get_json()["data"]] == [1, 2]
    assert client.get("/api/remarks/3", headers=bob).status_code == 404
    assert client.patch("/api/remarks/3", json={"text": "x"}, headers=bob).status_code == 404


# -- item 2 with tablerest serve and a policy file -----------------------------------------

SERVE_POLICY = """
[auth]
table = "users"
login = ["username"]
roles = "roles"

[default]
all = "authenticated"

[tables.notes]
list = "owner(owner_id) | role(admin)"
read = "owner(owner_id) | role(admin)"

[tables.users]
all = "owner(id) | role(admin)"
create = "public"
"""


@pytest.fixture
def served_db(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(
            """
            CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL,
                                password TEXT NOT NULL, roles TEXT NOT NULL DEFAULT '');
            CREATE TABLE notes (id INTEGER PRIMARY KEY, slug TEXT UNIQUE NOT NULL,
                                text TEXT NOT NULL,
                                owner_id INTEGER NOT NULL REFERENCES users(id));
            """
        )
        conn.executemany(
            "INSERT INTO users (username, password, roles) VALUES (?, ?, ?)",
            [("ann", FAST.hash("ann-pw"), "admin"), ("bob", FAST.hash("bob-pw"), "")],
        )
        conn.executemany(
            "INSERT INTO notes (slug, text, owner_id) VALUES (?, ?, ?)",
            [("ann-1", "ann's private note", 1), ("bob-1", "bob's note", 2)],
        )
    conn.close()
    return path


def _served_notes(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
    finally:
        conn.close()


def test_serve_with_a_policy_file_keeps_every_write_path_in_the_read_scope(
    served_db: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(SERVE_POLICY)
    app = create_app(str(served_db), policy=load_policy(policy), secret_key=SECRET + "serve")
    app.config["TESTING"] = True
    client = app.test_client()
    token = client.post("/api/auth/token", data={"username": "bob", "password": "bob-pw"})
    bob = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    before = _served_notes(served_db)
    assert client.get("/api/notes/1", headers=bob).status_code == 404

    attempts = {
        "PATCH {}": client.patch("/api/notes/1", json={}, headers=bob),
        "PATCH": client.patch("/api/notes/1", json={"text": "bob was here"}, headers=bob),
        "PUT": client.put(
            "/api/notes/1", json={"slug": "x", "text": "x", "owner_id": 2}, headers=bob
        ),
        "DELETE": client.delete("/api/notes/1", headers=bob),
        "bulk": client.patch("/api/notes", json=[{"id": 1, "text": "x"}], headers=bob),
        "batch": client.post(
            "/api/batch",
            json={"operations": [{"op": "delete", "resource": "notes", "key": 1}]},
            headers=bob,
        ),
        "relationship": client.patch(
            "/api/notes/1/relationships/owner",
            json={"data": {"type": "users", "id": "2"}},
            headers={**bob, "Content-Type": "application/vnd.api+json"},
        ),
        "upsert": client.post(
            "/api/notes?on_conflict=slug",
            json={"slug": "ann-1", "text": "bob was here", "owner_id": 2},
            headers=bob,
        ),
    }

    statuses = {name: resp.status_code for name, resp in attempts.items()}
    assert statuses == {name: 409 if name == "upsert" else 404 for name in attempts}
    assert not any(leaks(resp) for resp in attempts.values())
    assert _served_notes(served_db) == before
    # Item 15: ann's user row is not bob's to read, so he cannot hand a note to her.
    hers, nobodys = (
        client.post("/api/notes", json={"slug": "s", "text": "t", "owner_id": who}, headers=bob)
        for who in (1, 99)
    )
    assert same_answers(hers, nobodys)["errors"] == [
        {"pointer": "/owner_id", "detail": "The referenced row does not exist"}
    ]
    assert _served_notes(served_db) == before
    assert client.patch("/api/notes/2", json={"text": "mine"}, headers=bob).status_code == 200


# -- item 8: If-Match compares the representation the caller would GET ----------------------

HIDDEN = {"hidden_unless": {"secret": role("admin")}}
JSONAPI = "application/vnd.api+json"


@pytest.fixture
def hidden_client(notes: sa.Engine, writes: str) -> FlaskClient:
    """notes whose ``secret`` only admins see."""
    return notes_app(notes, writes, **HIDDEN).test_client()


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_if_match_with_the_etag_the_caller_was_given_succeeds_despite_hidden_fields(
    hidden_client: FlaskClient, notes: sa.Engine, method: str
) -> None:
    client = hidden_client
    with notes.begin() as conn:  # bob's remark would keep his note from being deleted
        conn.execute(sa.delete(Remark.__table__))
    bob = login(client, "bob")
    read = client.get("/api/notes/2", headers=bob)
    assert "secret" not in read.get_json()
    body = {"slug": "bob-1", "title": "changed", "owner_id": 2}

    resp = client.open(
        "/api/notes/2",
        method=method,
        json=None if method == "DELETE" else body,
        headers={**bob, "If-Match": read.headers["ETag"]},
    )

    assert resp.status_code == (204 if method == "DELETE" else 200), resp.get_json()
    titles = [r[3] for r in stored(notes)["notes"]]
    assert titles == (["ann's note"] if method == "DELETE" else ["ann's note", "changed"])


def test_if_match_in_jsonapi_compares_the_callers_jsonapi_document(
    hidden_client: FlaskClient, notes: sa.Engine
) -> None:
    client = hidden_client
    bob = login(client, "bob")
    read = client.get("/api/notes/2", headers={**bob, "Accept": JSONAPI})
    assert "secret" not in read.get_json()["data"]["attributes"]
    doc = {"data": {"type": "notes", "id": "2", "attributes": {"title": "changed"}}}

    resp = client.patch(
        "/api/notes/2",
        json=doc,
        headers={**bob, "Content-Type": JSONAPI, "If-Match": read.headers["ETag"]},
    )
    stale = client.patch(
        "/api/notes/2",
        json=doc,
        headers={**bob, "Content-Type": JSONAPI, "If-Match": read.headers["ETag"]},
    )

    assert resp.status_code == 200, resp.get_json()
    assert stale.status_code == 412  # the first change moved the tag on
    assert stored(notes)["notes"][1][3] == "changed"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_guessed_etag_over_a_hidden_value_is_412_like_any_stale_tag(
    hidden_client: FlaskClient, notes: sa.Engine, method: str
) -> None:
    """Without the rule, 200-vs-412 told a caller whether a guessed hidden value was right:
    here the guess is right (the admin's tag of the very same row, secret included)."""
    client = hidden_client
    bob = login(client, "bob")
    right = client.get("/api/notes/2", headers=login(client, "ann")).headers["ETag"]
    assert right != client.get("/api/notes/2", headers=bob).headers["ETag"]
    before = stored(notes)

    answers = [
        client.open(
            "/api/notes/2",
            method=method,
            json={"title": "x"} if method == "PATCH" else None,
            headers={**bob, "If-Match": tag},
        )
        for tag in (right, '"a-wrong-guess"')
    ]

    guessed, wrong = (problem(resp, 412) for resp in answers)
    assert guessed == wrong
    assert stored(notes) == before


# -- item 15: a reference to a row the caller cannot read is a reference to no row ----------


def same_answers(hidden: Any, missing: Any) -> dict[str, Any]:
    """Assert two refusals are the same 409, word for word; return it."""
    body = problem(hidden, 409)
    assert body == problem(missing, 409)
    assert hidden.headers.get("Content-Type") == missing.headers.get("Content-Type")
    return body


DANGLING = [{"pointer": "/note_id", "detail": "The referenced row does not exist"}]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_a_create_referring_to_an_unreadable_row_is_the_409_of_a_missing_one(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob = login(client, "bob")
    before = stored(notes)

    hidden = client.post("/api/remarks", json={"note_id": 1, "text": "hi ann"}, headers=bob)
    missing = client.post("/api/remarks", json={"note_id": 99, "text": "hi"}, headers=bob)

    assert same_answers(hidden, missing)["errors"] == DANGLING
    assert stored(notes) == before
    ok = client.post("/api/remarks", json={"note_id": 2, "text": "on my own"}, headers=bob)
    assert ok.status_code == 201
    admin = client.post(
        "/api/remarks",
        json={"note_id": 2, "author_id": 1, "text": "hi bob"},
        headers=login(client, "ann"),
    )
    assert admin.status_code == 201, admin.get_json()


def test_an_array_create_or_a_nested_one_points_at_the_item(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob = login(client, "bob")
    before = stored(notes)

    def many(note: int) -> Any:
        body = [{"note_id": 2, "text": "fine"}, {"note_id": note, "text": "x"}]
        return client.post("/api/remarks", json=body, headers=bob)

    def nested(owner_id: int) -> Any:
        # users are read by themselves and admins: cy's row is not bob's to point at.
        body = {"slug": "n", "title": "t", "owner_id": owner_id, "remarks": [{"text": "x"}]}
        return client.post("/api/notes", json=body, headers=bob)

    body = same_answers(many(1), many(99))
    assert body["errors"] == [
        {"pointer": "/1/note_id", "detail": "The referenced row does not exist"}
    ]
    # The first item refused: the answer is a diagnosis of every item, so the unreadable
    # note 1 and a missing note 98 look the same beside a missing 99.
    first = [{"note_id": 1, "text": "x"}, {"note_id": 99, "text": "y"}]
    body = same_answers(
        client.post("/api/remarks", json=first, headers=bob),
        client.post("/api/remarks", json=[{**first[0], "note_id": 98}, first[1]], headers=bob),
    )
    assert [e["pointer"] for e in body["errors"]] == ["/0/note_id", "/1/note_id"]
    body = same_answers(nested(3), nested(99))
    assert body["errors"] == [
        {"pointer": "/owner_id", "detail": "The referenced row does not exist"}
    ]
    assert stored(notes) == before


def test_an_update_bulk_update_or_batch_referring_to_an_unreadable_row_is_a_missing_one(
    client: FlaskClient, notes: sa.Engine
) -> None:
    bob = login(client, "bob")
    before = stored(notes)

    def patch(note: int) -> Any:
        return client.patch("/api/remarks/1", json={"note_id": note}, headers=bob)

    def bulk(note: int) -> Any:
        return client.patch("/api/remarks", json=[{"id": 1, "note_id": note}], headers=bob)

    def put(note: int) -> Any:
        body = {"note_id": note, "author_id": 2, "text": "t"}
        return client.put("/api/remarks/1", json=body, headers=bob)

    def batch(note: int) -> Any:
        ops = [
            {"op": "create", "resource": "remarks", "data": {"note_id": 2, "text": "fine"}},
            {"op": "create", "resource": "remarks", "data": {"note_id": note, "text": "x"}},
        ]
        return client.post("/api/batch", json={"operations": ops}, headers=bob)

    assert same_answers(patch(1), patch(99))["errors"] == DANGLING
    assert same_answers(put(1), put(99))["errors"] == DANGLING
    assert same_answers(bulk(1), bulk(99))["errors"] == [
        {"pointer": "/0/note_id", "detail": "The referenced row does not exist"}
    ]
    assert same_answers(batch(1), batch(99))["errors"] == [
        {"pointer": "/operations/1/data/note_id", "detail": "The referenced row does not exist"}
    ]
    assert stored(notes) == before


def test_a_jsonapi_relationship_update_to_an_unreadable_row_is_a_missing_one(
    client: FlaskClient, notes: sa.Engine
) -> None:
    headers = {**login(client, "bob"), "Content-Type": JSONAPI}
    before = stored(notes)

    def link(note: str) -> Any:
        doc = {"data": {"type": "notes", "id": note}}
        return client.patch("/api/remarks/1/relationships/note", json=doc, headers=headers)

    hidden, missing = link("1"), link("99")

    assert hidden.status_code == missing.status_code == 409
    assert hidden.mimetype == JSONAPI
    assert hidden.get_json() == missing.get_json()
    assert stored(notes) == before
    assert link("2").status_code == 204


def test_an_upsert_open_to_everyone_still_refers_only_to_readable_rows(
    notes: sa.Engine, writes: str
) -> None:
    """Remarks anyone may create and change would take the one-statement upsert; a reference
    into notes, which have a row rule, sends them through the checked path."""
    client = notes_app(notes, writes, remarks=dict.fromkeys(REMARKS, public)).test_client()
    bob = login(client, "bob")
    before = stored(notes)

    def upsert(note: int) -> Any:
        body = [{"code": "c1", "note_id": 2, "author_id": 2, "text": "x"}]
        body.append({"code": "c2", "note_id": note, "author_id": 2, "text": "y"})
        return client.post("/api/remarks?on_conflict=code", json=body, headers=bob)

    assert same_answers(upsert(1), upsert(99))["errors"] == [
        {"pointer": "/1/note_id", "detail": "The referenced row does not exist"}
    ]
    assert stored(notes) == before
    assert upsert(2).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_row_leaving_the_callers_reach_during_the_write_is_checked_in_its_transaction(
    client: FlaskClient, notes: sa.Engine
) -> None:
    """ann takes bob's note over in a transaction still open while bob remarks on it: bob's
    check waits for it (``FOR SHARE``) and sees the note as it is at his commit."""
    bob = login(client, "bob")
    answers: list[Any] = []
    with notes.connect() as conn:
        conn.execute(sa.update(Note.__table__).where(Note.id == 2).values(owner_id=1))
        thread = threading.Thread(
            target=lambda: answers.append(
                client.post("/api/remarks", json={"note_id": 2, "text": "x"}, headers=bob)
            )
        )
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), "bob's write did not wait for the row it refers to"
        conn.commit()
    thread.join(10)
    problem(answers[0], 409)
    assert [r[1] for r in stored(notes)["remarks"]] == [2]


# -- item 22: nested pointers, keys no URL can name, upserts onto rows not the caller's -------

LOCKED_USERS = {
    "read_only_unless": {"roles": role("admin")},
    "hidden_unless": {"email": role("admin")},
}


def test_nested_write_errors_point_once_at_the_nested_row(notes: sa.Engine, writes: str) -> None:
    client = notes_app(notes, writes, users=LOCKED_USERS).test_client()
    bob = login(client, "bob")
    before = stored(notes)
    dan = {"username": "dan", "password": "dan-pw-dan-pw", "roles": "admin", "email": "d@x.org"}
    one = {"slug": "n", "title": "t", "owner": dan}

    single = client.post("/api/notes", json=one, headers=bob)
    array = client.post(
        "/api/notes", json=[{"slug": "m", "title": "t", "owner_id": 2}, one], headers=bob
    )

    assert sorted(problem(single, 422)["errors"], key=str) == [
        {"pointer": "/owner/email", "detail": "Unknown field"},
        {"pointer": "/owner/roles", "detail": "Field is read-only"},
    ]
    assert sorted(e["pointer"] for e in problem(array, 422)["errors"]) == [
        "/1/owner/email",
        "/1/owner/roles",
    ]
    assert stored(notes) == before


@pytest.mark.parametrize("name", ["a/b", "/", "a/", "", ".", ".."])
def test_a_text_key_no_item_url_can_name_is_refused_on_every_create_path(
    client: FlaskClient, notes: sa.Engine, name: str
) -> None:
    tags = sa.select(Tag.__table__)

    single = client.post("/api/tags", json={"name": name})
    array = client.post("/api/tags", json=[{"name": "fine"}, {"name": name}])
    upsert = client.post("/api/tags?on_conflict=name", json={"name": name})
    batch = client.post(
        "/api/batch",
        json={"operations": [{"op": "create", "resource": "tags", "data": {"name": name}}]},
    )
    jsonapi = client.post(
        "/api/tags",
        json={"data": {"type": "tags", "attributes": {"name": name}}},
        headers={"Content-Type": JSONAPI},
    )

    assert [e["pointer"] for e in problem(single, 422)["errors"]] == ["/name"]
    assert [e["pointer"] for e in problem(array, 422)["errors"]] == ["/1/name"]
    assert [e["pointer"] for e in problem(upsert, 422)["errors"]] == ["/name"]
    assert [e["pointer"] for e in problem(batch, 422)["errors"]] == ["/operations/0/data/name"]
    assert jsonapi.status_code == 422
    assert [e["source"]["pointer"] for e in jsonapi.get_json()["errors"]] == [
        "/data/attributes/name"
    ]
    with notes.connect() as conn:
        assert conn.execute(tags).all() == []


def test_a_comma_is_refused_only_where_it_splits_a_composite_key(client: FlaskClient) -> None:
    pair = client.post("/api/pairs", json={"a": "x,y", "b": "z"})
    assert problem(pair, 422)["errors"] == [
        {
            "pointer": "/a",
            "detail": "A part of a composite key cannot contain ',': it separates them",
        }
    ]
    # A single key may hold one, and any other character: its URL names it.
    for name in ("x,y", "a b?#%&+", "ünï", "~"):
        made = client.post("/api/tags", json={"name": name})
        assert made.status_code == 201, made.get_json()
        assert client.get(made.headers["Location"]).get_json()["name"] == name
    made = client.post("/api/pairs", json={"a": "x y", "b": "?"})
    assert client.get(made.headers["Location"]).get_json() == {"a": "x y", "b": "?"}


def test_an_upsert_onto_a_row_the_caller_may_not_change_is_409_whether_they_see_it_or_not(
    notes: sa.Engine, writes: str
) -> None:
    """bob may read remarks he wrote or that are on note 2 (an owner rule on note_id: its
    value compared with his id), and change only those he wrote."""
    with notes.begin() as conn:
        conn.execute(
            sa.insert(Remark.__table__),
            [
                {"note_id": 2, "author_id": 3, "text": "cy's, seen by bob", "code": "seen"},
                {"note_id": 1, "author_id": 3, "text": "cy's, not seen", "code": "unseen"},
            ],
        )
    seen = owner("author_id") | owner("note_id")
    rules = {**REMARKS, "list": seen, "read": seen}
    client = notes_app(notes, writes, remarks=rules).test_client()
    bob = login(client, "bob")
    assert client.get("/api/remarks/2", headers=bob).status_code == 200
    assert client.get("/api/remarks/3", headers=bob).status_code == 404
    before = stored(notes)

    def upsert(code: str) -> Any:
        body = {"code": code, "note_id": 2, "text": "bob was here"}
        return client.post("/api/remarks?on_conflict=code", json=body, headers=bob)

    visible, hidden = upsert("seen"), upsert("unseen")

    body = same_answers(visible, hidden)
    assert body["errors"] == [
        {"pointer": "/code", "detail": "A row you may not change has this value"}
    ]
    assert stored(notes) == before
    assert upsert("new").status_code == 201
