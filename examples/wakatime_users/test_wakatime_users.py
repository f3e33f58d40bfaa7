"""Replays tutorial 000's requests (list users, PUT a new username) and checks the password.

The password is the point of this example: it is accepted, stored only as an argon2 hash, and
appears in no response. The database is read back with ``sqlite3``, not through tablerest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from flask import Flask
from flask.testing import FlaskClient

from examples.testing import pointers, problem, sql
from examples.wakatime_users.app import create_app, db

PASSWORD = "correct horse battery"
# argon2's defaults cost about 0.1 s per hash, by design; these keep the suite fast and still
# produce (and verify) real argon2id hashes.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wakatime_users.db"


@pytest.fixture
def app(db_path: Path) -> Iterator[Flask]:
    app = create_app(f"sqlite:///{db_path}", password_hasher=FAST)
    app.config["TESTING"] = True
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored_user(db_path: Path, user_id: str) -> tuple[str, str | None]:
    """(username, password column) of one user; SQLite keeps a UUID as 32 hex digits."""
    ((username, password),) = sql(
        db_path, "SELECT username, password FROM users WHERE id = ?", uuid.UUID(user_id).hex
    )
    return username, password


def verifies(stored: str | None, password: str) -> bool:
    assert stored is not None
    try:
        # verify() reads the parameters from the hash itself, so any hasher checks any hash.
        return FAST.verify(stored, password)
    except VerifyMismatchError:
        return False


def create(client: FlaskClient, username: str = "zzzeek", password: str = PASSWORD) -> str:
    resp = client.post("/api/users", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    user_id: str = resp.get_json()["id"]
    return user_id


def test_create_generates_a_uuid_and_stores_only_an_argon2_hash(
    client: FlaskClient, db_path: Path
) -> None:
    resp = client.post("/api/users", json={"username": "zzzeek", "password": PASSWORD})

    assert resp.status_code == 201
    body = resp.get_json()
    assert set(body) == {"id", "username"}
    assert body["username"] == "zzzeek"
    user_id = uuid.UUID(body["id"])
    assert user_id.version == 4
    assert resp.headers["Location"] == f"http://localhost/api/users/{user_id}"

    username, stored = stored_user(db_path, body["id"])
    assert username == "zzzeek"
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verifies(stored, PASSWORD)


def test_default_hasher_uses_argon2_recommended_parameters(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'default.db'}")
    user_id = create(app.test_client())

    _, stored = stored_user(tmp_path / "default.db", user_id)

    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verifies(stored, PASSWORD)
    with app.app_context():
        db.engine.dispose()


def test_list_users_looks_like_the_tutorial_output(client: FlaskClient) -> None:
    # The tutorial shows [{"id": "488345de-...", "username": "zzzeek"}]; tablerest wraps the
    # list in {"data": ...} and leaves the password out just as `_hidden_fields` did.
    user_id = create(client)

    resp = client.get("/api/users")

    assert resp.status_code == 200
    assert resp.get_json()["data"] == [{"id": user_id, "username": "zzzeek"}]


def test_put_a_new_username_as_in_the_tutorial_keeps_the_password(
    client: FlaskClient, db_path: Path
) -> None:
    user_id = create(client)
    _, hash_before = stored_user(db_path, user_id)

    resp = client.put(f"/api/users/{user_id}", json={"username": "zoe"})

    assert resp.status_code == 200
    assert resp.get_json() == {"id": user_id, "username": "zoe"}
    username, hash_after = stored_user(db_path, user_id)
    assert username == "zoe"
    assert hash_after == hash_before


def test_put_may_send_back_the_id_it_read(client: FlaskClient, db_path: Path) -> None:
    user_id = create(client)
    user = client.get(f"/api/users/{user_id}").get_json()

    resp = client.put(f"/api/users/{user_id}", json={**user, "username": "zoe"})

    assert resp.status_code == 200
    assert stored_user(db_path, user_id)[0] == "zoe"


def test_patch_changes_the_password(client: FlaskClient, db_path: Path) -> None:
    user_id = create(client)

    resp = client.patch(f"/api/users/{user_id}", json={"password": "a brand new secret"})

    assert resp.status_code == 200
    assert resp.get_json() == {"id": user_id, "username": "zzzeek"}
    _, stored = stored_user(db_path, user_id)
    assert verifies(stored, "a brand new secret")
    assert not verifies(stored, PASSWORD)


def test_form_encoded_create_is_hashed_too(client: FlaskClient, db_path: Path) -> None:
    resp = client.post(
        "/api/users",
        data=f"username=alan&password={PASSWORD.replace(' ', '+')}",
        content_type="application/x-www-form-urlencoded",
    )

    assert resp.status_code == 201
    _, stored = stored_user(db_path, resp.get_json()["id"])
    assert verifies(stored, PASSWORD)


def test_the_password_appears_in_no_response(client: FlaskClient, db_path: Path) -> None:
    user_id = create(client)
    _, stored = stored_user(db_path, user_id)
    assert stored is not None
    url = f"/api/users/{user_id}"
    responses = [
        client.get("/api"),
        client.get("/api/users"),
        client.get(url),
        client.put(url, json={"username": "zoe", "password": PASSWORD}),
        client.patch(url, json={"password": PASSWORD + "!"}),
        client.post("/api/users", json={"username": "zoe", "password": PASSWORD}),  # 409
        client.post("/api/users", json={"username": "x", "password": "short"}),  # 422
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 409, 422]
    for resp in responses:
        text = resp.get_data(as_text=True)
        assert "password" not in text.replace('"/password"', ""), text
        assert PASSWORD not in text
        assert "short" not in text
        assert stored not in text
        assert "$argon2" not in text


def test_short_password_is_a_422_at_its_pointer(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/users", json={"username": "x", "password": "short"}), 422)

    assert body["errors"] == [{"pointer": "/password", "detail": "must be at least 8 characters"}]
    assert sql(db_path, "SELECT count(*) FROM users") == [(0,)]


def test_missing_username_is_a_422(client: FlaskClient, db_path: Path) -> None:
    body = problem(client.post("/api/users", json={"password": PASSWORD}), 422)

    assert pointers(body) == {"/username"}
    assert sql(db_path, "SELECT count(*) FROM users") == [(0,)]


def test_put_without_username_is_a_422(client: FlaskClient, db_path: Path) -> None:
    user_id = create(client)

    body = problem(client.put(f"/api/users/{user_id}", json={"password": PASSWORD}), 422)

    assert pointers(body) == {"/username"}
    assert stored_user(db_path, user_id)[0] == "zzzeek"


def test_clients_cannot_choose_the_id(client: FlaskClient, db_path: Path) -> None:
    chosen = str(uuid.uuid4())

    body = problem(
        client.post("/api/users", json={"id": chosen, "username": "x", "password": PASSWORD}),
        422,
    )

    assert body["errors"] == [{"pointer": "/id", "detail": "Field is read-only"}]
    assert sql(db_path, "SELECT count(*) FROM users") == [(0,)]


def test_duplicate_username_is_a_409_naming_it(client: FlaskClient, db_path: Path) -> None:
    create(client)

    body = problem(
        client.post("/api/users", json={"username": "zzzeek", "password": PASSWORD}), 409
    )

    assert pointers(body) == {"/username"}
    assert sql(db_path, "SELECT username FROM users") == [("zzzeek",)]


def test_renaming_onto_a_taken_username_is_a_409(client: FlaskClient, db_path: Path) -> None:
    create(client, "zzzeek")
    other = create(client, "zoe")

    body = problem(client.patch(f"/api/users/{other}", json={"username": "zzzeek"}), 409)

    assert pointers(body) == {"/username"}
    assert stored_user(db_path, other)[0] == "zoe"


# Named ids: a random value as an id differs between collections, which pytest-xdist refuses.
@pytest.mark.parametrize(
    "key", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown-uuid", "not-a-uuid"]
)
def test_unknown_user_is_a_404(client: FlaskClient, key: str) -> None:
    problem(client.get(f"/api/users/{key}"), 404)
    problem(client.put(f"/api/users/{key}", json={"username": "zoe"}), 404)
    problem(client.delete(f"/api/users/{key}"), 404)


def test_delete_removes_the_row(client: FlaskClient, db_path: Path) -> None:
    user_id = create(client)

    resp = client.delete(f"/api/users/{user_id}")

    assert resp.status_code == 204
    assert resp.data == b""
    assert sql(db_path, "SELECT count(*) FROM users") == [(0,)]
    problem(client.get(f"/api/users/{user_id}"), 404)
