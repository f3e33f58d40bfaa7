"""Choosing what goes online in database-first: tables named like the API's own routes,
--tables / --exclude / --rename / --hide / --no-batch / --no-docs (and the policy file's
[api]), and `tablerest openapi` printing the document `serve` serves.

Every database here is written with raw SQL, as another program would have made it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from openapi_spec_validator import validate

from tablerest import Api, cli
from tablerest.server import create_app
from tests.databases import fresh_database
from tests.helpers import problem

#: Tables named like paths the API serves itself, and reserved words of SQL.
OWN_NAMES_SQL = """
CREATE TABLE "batch" (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE "docs" (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                     batch_id INTEGER REFERENCES "batch" (id));
CREATE TABLE "openapi.json" (id INTEGER PRIMARY KEY, spec TEXT);
CREATE TABLE "changes.html" (id INTEGER PRIMARY KEY, line TEXT);
CREATE TABLE "auth" (id INTEGER PRIMARY KEY, username TEXT NOT NULL, password TEXT);
CREATE TABLE "order" (id INTEGER PRIMARY KEY, "group" TEXT);
INSERT INTO "batch" (id, note) VALUES (1, 'first run');
INSERT INTO "docs" (id, title, batch_id) VALUES (1, 'manual', 1);
INSERT INTO "openapi.json" (id, spec) VALUES (1, '{}');
INSERT INTO "changes.html" (id, line) VALUES (1, 'v1');
INSERT INTO "order" (id, "group") VALUES (1, 'a');
"""


def _sqlite(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(script)
    conn.close()
    return path


@pytest.fixture
def own_names(tmp_path: Path) -> Path:
    return _sqlite(tmp_path / "own.db", OWN_NAMES_SQL)


def _serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Flask, str]:
    """``tablerest serve ARGS`` without a server: the app its workers would build, and what
    it printed."""
    made: dict[str, Any] = {}
    monkeypatch.setattr(cli.serve, "run", lambda factory, **_options: made.update(factory=factory))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code == 0, result.output
    return made["factory"](), result.output


def _refused(*args: str) -> str:
    result = CliRunner().invoke(cli.main, ["serve", *args])
    assert result.exit_code != 0, result.output
    return result.output


# -- item 12: the API's own routes and the tables never collide -----------------------------


def test_tables_named_like_the_apis_own_routes_are_served_with_an_underscore(
    monkeypatch: pytest.MonkeyPatch, own_names: Path
) -> None:
    app, output = _serve(monkeypatch, str(own_names), "--auth-table", "auth")
    client = app.test_client()

    names = {r["name"] for r in client.get("/api").get_json()["resources"]}
    assert names == {"batch_", "docs_", "openapi.json_", "changes.html_", "auth_", "order"}
    assert client.get("/api/batch_/1").get_json() == {"id": 1, "note": "first run"}
    assert client.get("/api/docs_?include=batch").get_json()["data"][0]["batch"]["note"] == (
        "first run"
    )
    assert client.get("/api/openapi.json_/1").get_json() == {"id": 1, "spec": "{}"}
    assert client.get("/api/order/1").get_json() == {"id": 1, "group": "a"}
    # The API's own routes are where the README says they are.
    assert client.get("/api/docs").mimetype == "text/html"
    doc = client.get("/api/openapi.json").get_json()
    assert "/api/batch_/{id}" in doc["paths"]
    assert "/api/batch" in doc["paths"]
    tags = {t["name"]: t["description"] for t in doc["tags"]}
    assert tags["batch_"] == "The table `batch` (the API serves its own /api/batch)"
    assert tags["auth_"] == "The table `auth` (the API serves its own /api/auth)"
    assert client.post("/api/auth/token", data={"username": "x", "password": "y"}).status_code == (
        401
    )
    # The start lines say so, and how to choose another name.
    assert (
        "renamed:   table 'batch' is served at http://127.0.0.1:8000/api/batch_: /api/batch is "
        "the API's own (--rename batch=NAME names it)" in output
    )
    assert "table 'auth' is served at http://127.0.0.1:8000/api/auth_" in output


def test_a_batch_can_write_to_a_table_named_batch(
    monkeypatch: pytest.MonkeyPatch, own_names: Path
) -> None:
    client = _serve(monkeypatch, str(own_names))[0].test_client()
    ops = [{"op": "create", "resource": "batch_", "data": {"note": "second run"}}]
    resp = client.post("/api/batch", json={"operations": ops})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["results"][0]["location"] == "http://localhost/api/batch_/2"
    with sqlite3.connect(own_names) as conn:
        assert conn.execute("SELECT note FROM batch ORDER BY id").fetchall() == [
            ("first run",),
            ("second run",),
        ]
    conn.close()


def test_with_the_batch_and_docs_off_the_tables_keep_their_names(
    monkeypatch: pytest.MonkeyPatch, own_names: Path
) -> None:
    app, output = _serve(monkeypatch, str(own_names), "--no-batch", "--no-docs")
    client = app.test_client()
    assert client.get("/api/batch/1").get_json() == {"id": 1, "note": "first run"}
    assert client.get("/api/docs/1").get_json()["title"] == "manual"
    assert client.get("/api/openapi.json/1").get_json() == {"id": 1, "spec": "{}"}
    # The change-feed page is served with any feed, docs or not: that name stays taken.
    assert client.get("/api/changes.html_/1").get_json() == {"id": 1, "line": "v1"}
    assert "table 'batch'" not in output
    assert client.post("/api/batch", json={"note": "x"}).status_code == 201


def test_rename_chooses_the_name_and_refuses_a_taken_one(
    monkeypatch: pytest.MonkeyPatch, own_names: Path
) -> None:
    client = _serve(monkeypatch, str(own_names), "--rename", "batch=runs")[0].test_client()
    assert client.get("/api/runs/1").get_json()["note"] == "first run"
    doc = client.get("/api/openapi.json").get_json()
    assert {"name": "runs", "description": "The table `batch` (the API serves its own "
            "/api/batch)"} in doc["tags"]  # fmt: skip

    assert "'batch' is a path the API itself serves" in _refused(
        str(own_names), "--rename", "order=batch"
    )
    assert "'order' is taken by another rename" in _refused(
        str(own_names), "--rename", "batch=order", "--rename", "docs=order"
    )
    assert "is not URL-safe" in _refused(str(own_names), "--rename", "order=my orders")
    assert "rename names no table or view: nope" in _refused(str(own_names), "--rename", "nope=x")
    assert "is not TABLE=NAME" in _refused(str(own_names), "--rename", "order")


def test_code_first_names_both_ways_out(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    table = sa.Table("batch", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(ValueError, match=r"name='batch_'.*Api\(batch=False\)"):
        Api(Flask("x"), engine).resource(table)
    with pytest.raises(ValueError, match=r"name='docs_'.*Api\(docs=False\)"):
        Api(Flask("y"), engine).resource(table, name="docs")
    Api(Flask("z"), engine, batch=False).resource(table)  # free when the batch is off
    engine.dispose()


# -- item 13: which tables, which columns ----------------------------------------------------

SHOP_SQL = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, notes TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id),
                     total REAL);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id),
                        what TEXT);
CREATE TABLE audit_users (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id));
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 10;
INSERT INTO customers VALUES (1, 'Ada', 'pays late');
INSERT INTO orders VALUES (1, 1, 12.5);
INSERT INTO audit_log VALUES (1, 1, 'created');
INSERT INTO audit_users VALUES (1, 1);
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return _sqlite(tmp_path / "shop.db", SHOP_SQL)


def _names(client: Any) -> set[str]:
    return {r["name"] for r in client.get("/api").get_json()["resources"]}


@pytest.mark.parametrize(
    ("args", "served"),
    [
        (["--exclude", "audit_*"], {"customers", "orders", "big_orders"}),
        (["--exclude", "audit_log,audit_users", "--exclude", "big_orders"],
         {"customers", "orders"}),
        (["--tables", "customers", "--tables", "orders"], {"customers", "orders"}),
        (["--tables", "customers,audit_*", "--exclude", "audit_users"],
         {"customers", "audit_log"}),
        (["--tables", "*orders"], {"orders", "big_orders"}),
    ],
)  # fmt: skip
def test_tables_and_exclude_take_names_and_globs(
    monkeypatch: pytest.MonkeyPatch, shop: Path, args: list[str], served: set[str]
) -> None:
    client = _serve(monkeypatch, str(shop), *args)[0].test_client()
    assert _names(client) == served


def test_the_environment_takes_the_same_lists(monkeypatch: pytest.MonkeyPatch, shop: Path) -> None:
    monkeypatch.setenv("TABLEREST_EXCLUDE", "audit_* big_orders")
    monkeypatch.setenv("TABLEREST_RENAME", "customers=clients")
    client = _serve(monkeypatch, str(shop))[0].test_client()
    assert _names(client) == {"clients", "orders"}


def test_a_misspelt_table_stops_serve(shop: Path) -> None:
    assert "tables names no table or view: custmers" in _refused(str(shop), "--tables", "custmers")
    assert "exclude names no table or view: audit" in _refused(str(shop), "--exclude", "audit")
    # A glob that matches nothing is no mistake: nothing to leave out.
    assert "exclude" not in _refused(str(shop), "--exclude", "tmp_*", "--tables", "nope")


def test_relations_to_an_excluded_table_lead_nowhere(
    monkeypatch: pytest.MonkeyPatch, shop: Path
) -> None:
    client = _serve(monkeypatch, str(shop), "--exclude", "audit_*")[0].test_client()

    assert client.get("/api/customers/1?include=orders").get_json()["orders"][0]["id"] == 1
    for url in (
        "/api/customers/1?include=audit_log",
        "/api/customers?filter[audit_log.what]=created",
        "/api/customers?sort=audit_users.id",
    ):
        body = problem(client.get(url), 400)
        assert "audit" in body["detail"], body
    problem(client.get("/api/customers/1/audit_log"), 404)
    problem(client.get("/api/audit_log"), 404)
    jsonapi = client.get("/api/customers/1", headers={"Accept": "application/vnd.api+json"})
    assert set(jsonapi.get_json()["data"]["relationships"]) == {"orders"}
    # A nested write cannot reach it either: the body names an unknown field.
    resp = client.post("/api/customers", json={"name": "Bo", "audit_log": [{"what": "x"}]})
    assert problem(resp, 422)["errors"][0]["pointer"] == "/audit_log"
    # Nor can a batch, and the document does not know the table.
    ops = [{"op": "create", "resource": "audit_log", "data": {"what": "x"}}]
    problem(client.post("/api/batch", json={"operations": ops}), 422)
    doc = json.dumps(client.get("/api/openapi.json").get_json())
    assert "audit" not in doc
    with sqlite3.connect(shop) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (1,)
    conn.close()


def test_the_change_feed_cannot_reach_an_excluded_table(
    monkeypatch: pytest.MonkeyPatch, shop: Path
) -> None:
    client = _serve(monkeypatch, str(shop), "--exclude", "audit_log", "--changes")[0].test_client()
    problem(client.get("/api/audit_log/changes"), 404)
    resp = client.get("/api/customers/changes?filter[audit_log.what]=x")
    assert resp.status_code == 400


def test_the_policy_file_says_the_same(
    monkeypatch: pytest.MonkeyPatch, shop: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[api]\nexclude = ["audit_*"]\nrename = { customers = "clients" }\n'
        "batch = false\ndocs = false\n\n"
        '[tables.audit_log]\nall = "nobody"\n'  # rules for a table left out are moot
    )
    client = _serve(monkeypatch, str(shop), "--policy", str(policy))[0].test_client()
    assert _names(client) == {"clients", "orders", "big_orders"}
    problem(client.post("/api/batch", json={"operations": []}), 404)
    problem(client.get("/api/openapi.json"), 404)
    # Flags win over the file: --tables replaces its list, --exclude adds to it, --docs
    # turns the docs back on, --rename changes one name.
    client = _serve(
        monkeypatch, str(shop), "--policy", str(policy), "--tables", "customers,audit_log",
        "--docs", "--rename", "customers=buyers",
    )[0].test_client()  # fmt: skip
    assert _names(client) == {"buyers"}
    assert client.get("/api/openapi.json").status_code == 200

    for bad, says in (
        ("[api]\ntables = 3\n", "[api] tables: a list of table names or globs"),
        ("[api]\nbatch = 'no'\n", "[api] batch is true or false"),
        ("[api]\nrenames = {}\n", "[api] has unknown keys ['renames']"),
        ("[api]\nrename = { a = 1 }\n", '[api] rename: table = "new name"'),
    ):
        policy.write_text(bad)
        assert says in _refused(str(shop), "--policy", str(policy))


def test_the_auth_table_cannot_be_left_out(shop: Path) -> None:
    out = _refused(str(shop), "--auth-table", "customers", "--exclude", "customers")
    assert "the auth table 'customers' is left out" in out


# -- item 13: `tablerest openapi` prints what `serve` serves --------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--read-only", "--prefix", "/v2", "--no-batch"],
        ["--exclude", "audit_*", "--rename", "customers=clients", "--hide", "orders.total",
         "--searchable", "customers=name", "--key", "big_orders=id", "--changes"],
        ["--auth-table", "customers", "--auth-login", "name", "--auth-password", "notes",
         "--tables", "customers,orders", "--rate-limit", "100/minute"],
    ],
)  # fmt: skip
def test_openapi_prints_the_document_serve_serves(
    monkeypatch: pytest.MonkeyPatch, shop: Path, args: list[str]
) -> None:
    app, _ = _serve(monkeypatch, str(shop), *args)
    printed = CliRunner().invoke(cli.main, ["openapi", str(shop), *args])
    assert printed.exit_code == 0, printed.output
    prefix = args[args.index("--prefix") + 1] if "--prefix" in args else "/api"
    served = app.test_client().get(f"{prefix}/openapi.json")
    assert json.loads(printed.output) == served.get_json()


def test_openapi_on_postgresql_takes_the_schema(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA shop")
            conn.exec_driver_sql("CREATE TABLE shop.batch (id serial PRIMARY KEY, note text)")
            conn.exec_driver_sql("CREATE TABLE shop.skipped (id serial PRIMARY KEY)")
        engine.dispose()
        args = [url, "--schema", "shop", "--exclude", "skipped"]
        printed = CliRunner().invoke(cli.main, ["openapi", *args])
        assert printed.exit_code == 0, printed.output
        paths = json.loads(printed.output)["paths"]
        assert "/api/batch_" in paths
        assert not any("skipped" in p for p in paths)


# -- item 14: names in any script keep their letters -----------------------------------------


def _unicode_tables(url: str) -> None:
    """Tables named in three scripts, with a space, a non-ASCII text key and a foreign key,
    written with the backend's own SQL."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    q = engine.dialect.identifier_preparer.quote
    text = "VARCHAR(40)"
    with engine.begin() as conn:
        for sql in (
            f"CREATE TABLE {q('Ünïcödé Tàble')} (id INTEGER PRIMARY KEY, {q('Nämé')} {text})",
            f"CREATE TABLE {q('Bücher')} ({q('Schlüssel')} {text} PRIMARY KEY, titel {text}, "
            f"tabelle_id INTEGER REFERENCES {q('Ünïcödé Tàble')} (id))",
            f"CREATE TABLE {q('日本語')} (id INTEGER PRIMARY KEY, x {text})",
            f"INSERT INTO {q('Ünïcödé Tàble')} (id, {q('Nämé')}) VALUES (1, 'eins')",
            f"INSERT INTO {q('Bücher')} ({q('Schlüssel')}, titel, tabelle_id) "
            "VALUES ('ä 語', 'T', 1)",
            f"INSERT INTO {q('日本語')} (id, x) VALUES (1, 'y'), (2, 'z')",
        ):
            conn.exec_driver_sql(sql)
    engine.dispose()


UNICODE = "/api/%C3%9Cn%C3%AFc%C3%B6d%C3%A9_T%C3%A0ble"
BUECHER = "/api/B%C3%BCcher"
NIHONGO = "/api/%E6%97%A5%E6%9C%AC%E8%AA%9E"
#: Where the test client's links start (they are absolute).
HERE = "http://localhost"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_non_ascii_table_names_keep_their_letters_in_urls(db_url: str, backend: str) -> None:
    _unicode_tables(db_url)
    sqlite = backend == "sqlite"  # its INTEGER PRIMARY KEY numbers rows itself
    client = create_app(db_url, engine_options={"poolclass": sa.NullPool}).test_client()

    index = {r["name"]: r["url"] for r in client.get("/api").get_json()["resources"]}
    assert index == {
        "Ünïcödé_Tàble": HERE + UNICODE,
        "Bücher": HERE + BUECHER,
        "日本語": HERE + NIHONGO,
    }
    assert client.get(f"{UNICODE}/1").get_json() == {"id": 1, "Nämé": "eins"}
    # Clients that send the letters unencoded reach the same resource.
    assert client.get("/api/日本語/2").get_json() == {"id": 2, "x": "z"}

    created = client.post(UNICODE, json={"Nämé": "zwei"} if sqlite else {"id": 2, "Nämé": "zwei"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"] == f"{HERE}{UNICODE}/2"
    assert client.get(created.headers["Location"]).get_json()["Nämé"] == "zwei"

    page = client.get(f"{NIHONGO}?page[size]=1")
    assert (
        page.get_json()["links"]["next"] == f"{HERE}{NIHONGO}?page%5Bsize%5D=1&page%5Bnumber%5D=2"
    )
    assert f"<{HERE}{NIHONGO}?page%5Bsize%5D=1>" in page.headers["Link"]
    related = client.get(f"{UNICODE}/1/B%C3%BCcher?page[size]=1")
    assert related.status_code == 200, related.get_data(as_text=True)
    assert related.get_json()["links"]["self"].startswith(f"{HERE}{UNICODE}/1/B%C3%BCcher?")
    assert related.get_json()["data"][0]["Schlüssel"] == "ä 語"

    doc = client.get(
        f"{BUECHER}/%C3%A4%20%E8%AA%9E", headers={"Accept": "application/vnd.api+json"}
    )
    assert doc.get_json()["data"]["type"] == "Bücher"
    assert doc.get_json()["data"]["relationships"]["tabelle"]["links"]["related"] == (
        f"{HERE}{BUECHER}/%C3%A4%20%E8%AA%9E/tabelle"
    )
    parent = client.get(f"{UNICODE}/1", headers={"Accept": "application/vnd.api+json"})
    links = parent.get_json()["data"]["relationships"]["Bücher"]["links"]
    assert links["self"] == f"{HERE}{UNICODE}/1/relationships/B%C3%BCcher"

    export = client.get(NIHONGO, headers={"Accept": "text/csv"})
    assert export.get_data(as_text=True).splitlines()[0] == "id,x"
    export.close()  # the stream holds a connection until closed
    assert export.headers["Content-Disposition"] == (
        "attachment; filename=\"___.csv\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.csv"
    )

    spec = client.get("/api/openapi.json").get_json()
    validate(spec)
    if sqlite:  # the start lines give a curl that runs as printed
        monkeypatch = pytest.MonkeyPatch()
        output = _serve(monkeypatch, db_url.removeprefix("sqlite:///"))[1]
        monkeypatch.undo()
        assert f"example:   curl http://127.0.0.1:8000{BUECHER}\n" in output
    assert "/api/Ünïcödé_Tàble/{id}" in spec["paths"]
    assert len({n for n in spec["components"]["schemas"] if n.startswith("Unicode_Table")}) > 1


# -- item 15: relation names from foreign keys, in both naming styles ------------------------


def _chinook_and_snake(url: str) -> None:
    """Chinook's CamelCase (``SupportRepId``, the self-reference ``ReportsTo``) beside
    snake_case tables with two keys to one table and a column named like a relation."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    q = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        for sql in (
            f"CREATE TABLE {q('Employee')} ({q('EmployeeId')} INTEGER NOT NULL PRIMARY KEY, "
            f"{q('LastName')} VARCHAR(20) NOT NULL, {q('ReportsTo')} INTEGER, "
            f"FOREIGN KEY ({q('ReportsTo')}) REFERENCES {q('Employee')} ({q('EmployeeId')}))",
            f"CREATE TABLE {q('Customer')} ({q('CustomerId')} INTEGER NOT NULL PRIMARY KEY, "
            f"{q('FirstName')} VARCHAR(40) NOT NULL, {q('SupportRepId')} INTEGER, "
            f"FOREIGN KEY ({q('SupportRepId')}) REFERENCES {q('Employee')} ({q('EmployeeId')}))",
            f"CREATE TABLE {q('Invoice')} ({q('InvoiceId')} INTEGER NOT NULL PRIMARY KEY, "
            f"{q('Customer ID')} INTEGER REFERENCES {q('Customer')} ({q('CustomerId')}), "
            f"{q('billingCustomerID')} INTEGER REFERENCES {q('Customer')} ({q('CustomerId')}))",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20), "
            "messages VARCHAR(20), parent_id INTEGER REFERENCES users (id))",
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, body VARCHAR(20), "
            "sender_id INTEGER REFERENCES users (id), recipient_id INTEGER REFERENCES users (id), "
            "sender VARCHAR(20))",
            f"INSERT INTO {q('Employee')} VALUES (1, 'Adams', NULL), (2, 'Edwards', 1), "
            "(3, 'Peacock', 2), (4, 'Park', 2)",
            f"INSERT INTO {q('Customer')} VALUES (1, 'Luís', 3), (2, 'Leonie', 4)",
            f"INSERT INTO {q('Invoice')} VALUES (1, 1, 2)",
            "INSERT INTO users VALUES (1, 'ann', 'many', NULL), (2, 'bob', NULL, 1)",
            "INSERT INTO messages VALUES (1, 'hi', 1, 2, 'Ann A.'), (2, 'yo', 2, 1, 'Bob B.')",
        ):
            conn.exec_driver_sql(sql)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_relation_names_strip_id_in_both_naming_styles(db_url: str) -> None:
    _chinook_and_snake(db_url)
    client = create_app(db_url, engine_options={"poolclass": sa.NullPool}).test_client()

    # CamelCase: SupportRepId names the relation SupportRep, as support_rep_id would.
    customer = client.get("/api/Customer/1?include=SupportRep").get_json()
    assert customer["SupportRep"]["LastName"] == "Peacock"
    listed = client.get("/api/Customer?filter[SupportRep.LastName]=Park").get_json()["data"]
    assert [c["FirstName"] for c in listed] == ["Leonie"]
    assert client.get("/api/Customer/2/SupportRep").get_json()["LastName"] == "Park"
    # The reverse of a single key from another table is that table's name.
    assert [c["FirstName"] for c in client.get("/api/Employee/3/Customer").get_json()["data"]] == [
        "Luís"
    ]
    # `Customer ID` and `billingCustomerID` end in an id too.
    invoice = client.get("/api/Invoice/1?include=Customer,billingCustomer").get_json()
    assert (invoice["Customer"]["FirstName"], invoice["billingCustomer"]["FirstName"]) == (
        "Luís",
        "Leonie",
    )
    assert client.get("/api/Customer/2/billingCustomer_of").get_json()["data"][0]["InvoiceId"] == 1
    # A self-reference: forward after the target (ReportsTo is a column), reverse after the
    # column's role with _of: the employees whose ReportsTo is this one.
    assert client.get("/api/Employee/3/Employee").get_json()["LastName"] == "Edwards"
    reports = client.get("/api/Employee/2/ReportsTo_of?sort=EmployeeId").get_json()["data"]
    assert [e["LastName"] for e in reports] == ["Peacock", "Park"]
    problem(client.get("/api/Employee/2/Employee_by_ReportsTo"), 404)

    # snake_case: recipient_id -> recipient; sender_id -> sender, but the column `sender`
    # keeps its name and value,
    # then the relation is <target>_<column>.
    message = client.get("/api/messages/1?include=recipient,users_sender_id").get_json()
    assert message["sender"] == "Ann A."
    assert message["recipient"]["name"] == "bob"
    assert message["users_sender_id"]["name"] == "ann"
    # Two keys from one table: neither takes the table's name, each its role with _of.
    sent = client.get("/api/users/1/sender_of").get_json()["data"]
    assert [m["body"] for m in sent] == ["hi"]
    assert [m["body"] for m in client.get("/api/users/1/recipient_of").get_json()["data"]] == ["yo"]
    assert [u["name"] for u in client.get("/api/users/1/parent_of").get_json()["data"]] == ["bob"]
    assert client.get("/api/users/2?include=parent").get_json()["parent"]["name"] == "ann"
    # The users column `messages` is a field, never shadowed by a relation.
    assert client.get("/api/users/1").get_json()["messages"] == "many"

    doc = client.get("/api/openapi.json").get_json()
    assert "/api/Customer/{CustomerId}/SupportRep" in doc["paths"]
    assert "/api/Employee/{EmployeeId}/ReportsTo_of" in doc["paths"]
