"""Database-first: every table of an existing database served by reflection, on every backend."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tablerest.server import create_app
from tests.databases import BACKENDS, fresh_database
from tests.helpers import problem

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


def _odd_schema(url: str) -> sa.Engine:
    """Tables with spaces, upper case and reserved words in their names, a view, a keyless table."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    md = sa.MetaData()
    sa.Table(
        "Order Items",
        md,
        sa.Column("Item ID", sa.Integer, primary_key=True),
        sa.Column("select", sa.String(50), nullable=False),
        sa.Column("Unit Price", sa.Numeric(8, 2)),
    )
    sa.Table(
        "order",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("group", sa.String(20)),
        sa.Column("when", sa.Date),
    )
    sa.Table("log", md, sa.Column("line", sa.String(100)), sa.Column("level", sa.Integer))
    sa.Table(
        "pairs",
        md,
        sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("b", sa.String(10), primary_key=True),
        sa.Column("note", sa.String(20)),
    )
    md.create_all(engine)
    q = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(md.tables["log"].insert(), [{"line": "boot", "level": 1}])
        conn.execute(md.tables["order"].insert(), [{"group": "x"}, {"group": "y"}])
        conn.exec_driver_sql(
            f"CREATE VIEW {q('big orders')} AS SELECT {q('id')}, {q('group')} "
            f"FROM {q('order')} WHERE {q('group')} = 'y'"
        )
    return engine


def test_odd_names_views_and_keyless_tables(db_url: str) -> None:
    engine = _odd_schema(db_url)
    client = create_app(db_url, engine_options={"poolclass": sa.NullPool}).test_client()
    index = {r["name"]: r for r in client.get("/api").get_json()["resources"]}
    assert set(index) == {"Order_Items", "order", "log", "pairs", "big_orders"}
    assert index["log"]["methods"] == ["GET"]
    assert index["big_orders"]["methods"] == ["GET"]
    assert index["Order_Items"]["fields"] == ["Item ID", "select", "Unit Price"]

    resp = client.post("/api/Order_Items", json={"select": "chair", "Unit Price": "12.50"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    item = resp.get_json()
    assert item["Unit Price"] == "12.50"
    assert (
        client.patch(resp.headers["Location"], json={"select": "table"}).get_json()["select"]
        == "table"
    )
    problem(client.post("/api/Order_Items", json={"Unit Price": "1"}), 422)

    assert client.post("/api/order", json={"group": "z", "when": "2024-01-02"}).status_code == 201
    groups = [r["group"] for r in client.get("/api/order").get_json()["data"]]
    assert groups == ["x", "y", "z"]

    assert client.get("/api/big_orders").get_json()["data"] == [{"id": 2, "group": "y"}]
    problem(client.post("/api/big_orders", json={"group": "q"}), 405)
    assert client.get("/api/log").get_json()["data"] == [{"line": "boot", "level": 1}]
    problem(client.post("/api/log", json={"line": "x"}), 405)
    problem(client.get("/api/log/1"), 404)

    made = client.post("/api/pairs", json={"a": 1, "b": "x"})
    assert made.headers["Location"] == "http://localhost/api/pairs/1,x"
    assert client.get("/api/pairs/1,x").get_json() == {"a": 1, "b": "x", "note": None}
    with engine.connect() as conn:
        table = sa.Table("Order Items", sa.MetaData(), autoload_with=conn)
        assert conn.execute(sa.select(table.c["select"])).scalars().all() == ["table"]
    engine.dispose()


def test_read_only_serves_get_only(db_url: str) -> None:
    _odd_schema(db_url).dispose()
    client = create_app(
        db_url, read_only=True, engine_options={"poolclass": sa.NullPool}
    ).test_client()
    assert all(r["methods"] == ["GET"] for r in client.get("/api").get_json()["resources"])
    problem(client.post("/api/order", json={"group": "x"}), 405)
    problem(client.delete("/api/order/1"), 405)
    assert client.get("/api/order/1").get_json()["group"] == "x"


def test_a_schema_other_than_the_default(db_url: str, backend: str, tmp_path: Path) -> None:
    """PostgreSQL: a schema of the database; MariaDB: another database (its schemas)."""
    if backend == "sqlite":
        pytest.skip("SQLite has no schemas other than attached databases")
    with contextlib.ExitStack() as stack:
        engine = sa.create_engine(db_url, poolclass=sa.NullPool)
        stack.callback(engine.dispose)
        if backend == "postgresql":
            schema = "inventory"
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE SCHEMA inventory")
        else:
            other = stack.enter_context(fresh_database(backend, tmp_path))
            schema = sa.make_url(other).database
        md = sa.MetaData(schema=schema)
        shelves = sa.Table("shelves", md, sa.Column("id", sa.Integer, primary_key=True),
                           sa.Column("label", sa.String(20), nullable=False))  # fmt: skip
        sa.Table("boxes", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("shelf_id", sa.ForeignKey(shelves.c.id), nullable=False))  # fmt: skip
        # The default schema has a table of the same name, which must not be served.
        sa.Table("shelves", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)).create(
            engine
        )
        md.create_all(engine)
        app = create_app(db_url, schema=schema, engine_options={"poolclass": sa.NullPool})
        client = app.test_client()

        names = {r["name"] for r in client.get("/api").get_json()["resources"]}
        made = client.post("/api/shelves", json={"label": "A1"})
        box = client.post("/api/boxes", json={"shelf_id": made.get_json()["id"]})
        listed = client.get("/api/boxes?include=shelf").get_json()["data"]
        orphan = client.post("/api/boxes", json={"shelf_id": 99})

        assert names == {"shelves", "boxes"}
        assert made.status_code == 201
        assert box.status_code == 201
        assert listed[0]["shelf"]["label"] == "A1"
        assert orphan.status_code == 409
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(shelves)).scalar() == 1
            default = sa.Table("shelves", sa.MetaData(), autoload_with=conn)
            assert conn.execute(sa.select(sa.func.count()).select_from(default)).scalar() == 0
        with app.app_context():
            app.extensions["tablerest"]["/api"].db.engine().dispose()


def test_views_and_keyless_tables_given_a_key_get_item_routes(db_url: str) -> None:
    _odd_schema(db_url).dispose()
    client = create_app(
        db_url,
        keys={"big orders": ["id"], "log": ["line", "level"]},
        engine_options={"poolclass": sa.NullPool},
    ).test_client()

    index = {r["name"]: r for r in client.get("/api").get_json()["resources"]}
    view = client.get("/api/big_orders/2")
    keyless = client.get("/api/log/boot,1")

    assert index["big_orders"]["primary_key"] == ["id"]
    assert index["log"]["primary_key"] == ["line", "level"]
    assert (view.status_code, view.get_json()) == (200, {"id": 2, "group": "y"})
    assert keyless.get_json() == {"line": "boot", "level": 1}
    problem(client.get("/api/big_orders/1"), 404)  # not in the view
    problem(client.delete("/api/big_orders/2"), 405)  # still read-only
    problem(client.patch("/api/log/boot,1", json={"level": 2}), 405)


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({"nowhere": ["id"]}, "not a table or view"),
        ({"order": ["id"]}, "has a primary key already"),
        ({"log": ["nope"]}, "no such columns ['nope']"),
    ],
)
def test_wrong_keys_are_refused(db_url: str, keys: dict[str, list[str]], says: str) -> None:
    _odd_schema(db_url).dispose()

    with pytest.raises(ValueError, match=re.escape(says)):
        create_app(db_url, keys=keys, engine_options={"poolclass": sa.NullPool})
