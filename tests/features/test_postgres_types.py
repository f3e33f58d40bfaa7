"""PostgreSQL types and layouts that other programs create: enums, domains, arrays, ranges,
jsonb, tsvector, partitioned tables with keys on the partitions, materialized views.

Each test gets a new database, built with raw SQL through psycopg (as the Pagila sample
database is), then served by reflection and queried over HTTP.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tablerest import ChangeFeed
from tablerest.server import create_app
from tests.databases import fresh_database
from tests.helpers import problem

SCHEMA = """
CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TABLE language (language_id serial PRIMARY KEY, name char(20) NOT NULL);
CREATE TABLE film (
    film_id serial PRIMARY KEY,
    title text NOT NULL,
    release_year year,
    language_id integer NOT NULL REFERENCES language (language_id),
    rating mpaa_rating DEFAULT 'G',
    special_features text[],
    scores integer[],
    fulltext tsvector,
    showing tstzrange,
    run daterange,
    seats int4range,
    meta jsonb,
    raw json
);
INSERT INTO language (name) VALUES ('English'), ('French');
INSERT INTO film (title, release_year, language_id, rating, special_features, scores,
                  fulltext, showing, run, seats, meta, raw) VALUES
    ('ACADEMY DINOSAUR', 2006, 1, 'PG', '{"Deleted Scenes","Behind the Scenes"}', '{1,2,3}',
     to_tsvector('english', 'A epic drama of a feminist and a mad scientist'),
     '[2024-01-01 10:00+00,2024-01-01 12:00+00)', '[2024-01-01,2024-02-01)', '[1,10)',
     '{"a": 1, "tags": ["x"]}', '{"a": 1}'),
    ('ACE GOLDFINGER', 2006, 2, 'G', '{Trailers,"Deleted Scenes"}', '{4}',
     to_tsvector('english', 'A astounding epistle of a database administrator'),
     '[2024-03-01 00:00+00,)', 'empty', '[5,7)', '{"a": 2}', '[1, 2]'),
    ('ADAPTATION HOLES', 2006, 1, 'NC-17', '{Trailers,Commentaries}', '{2,3}',
     NULL, NULL, NULL, NULL, NULL, NULL),
    ('AFFAIR PREJUDICE', 2006, 1, 'G', '{Commentaries,"Behind the Scenes",Trailers}', NULL,
     NULL, NULL, NULL, NULL, NULL, NULL),
    ('AGENT TRUMAN', 2006, 1, 'PG', '{}', '{}', NULL, NULL, NULL, NULL, NULL, NULL),
    ('AIRPLANE SIERRA', 2006, 1, 'PG-13', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE customer (customer_id serial PRIMARY KEY, first_name text NOT NULL);
INSERT INTO customer (first_name) VALUES ('MARY'), ('PATRICIA');
-- Pagila's layout: payment partitioned by month, its foreign keys declared on each partition.
CREATE TABLE payment (
    payment_id serial,
    customer_id integer NOT NULL,
    film_id integer NOT NULL,
    amount numeric(5, 2) NOT NULL,
    payment_date timestamptz NOT NULL,
    PRIMARY KEY (payment_date, payment_id)
) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_p2022_01 PARTITION OF payment
    FOR VALUES FROM ('2022-01-01 00:00+00') TO ('2022-02-01 00:00+00');
CREATE TABLE payment_p2022_02 PARTITION OF payment
    FOR VALUES FROM ('2022-02-01 00:00+00') TO ('2022-03-01 00:00+00');
ALTER TABLE payment_p2022_01 ADD CONSTRAINT payment_p2022_01_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
ALTER TABLE payment_p2022_02 ADD CONSTRAINT payment_p2022_02_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
-- Only one partition declares this one: it says nothing about the other's rows.
ALTER TABLE payment_p2022_01 ADD CONSTRAINT payment_p2022_01_film_id_fkey
    FOREIGN KEY (film_id) REFERENCES film (film_id);
INSERT INTO payment (customer_id, film_id, amount, payment_date) VALUES
    (1, 1, 2.99, '2022-01-05 10:00+00'),
    (2, 2, 3.99, '2022-02-05 10:00+00'),
    (1, 2, 0.99, '2022-02-07 10:00+00');
CREATE MATERIALIZED VIEW film_list AS SELECT film_id, title, special_features FROM film;
"""


def _build(url: str, sql: str) -> None:
    """Run ``sql`` with psycopg itself, as another program would."""
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        _build(url, SCHEMA)
        yield url


@pytest.fixture
def client(pg_url: str) -> FlaskClient:
    return create_app(pg_url, engine_options={"poolclass": sa.NullPool}).test_client()


def _ids(client: FlaskClient, query: str, resource: str = "film", key: str = "") -> list[Any]:
    resp = client.get(f"/api/{resource}?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    key = key or f"{resource}_id"
    return [row[key] for row in resp.get_json()["data"]]


def _stored(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


# -- partitioned tables ------------------------------------------------------------------------


def test_partitioned_parent_has_the_foreign_keys_all_partitions_share(
    client: FlaskClient,
) -> None:
    listed = client.get("/api/payment?include=customer&sort=payment_date").get_json()["data"]
    assert [(p["payment_id"], p["customer"]["first_name"]) for p in listed] == [
        (1, "MARY"),
        (2, "PATRICIA"),
        (3, "MARY"),
    ]
    assert _ids(client, "filter[customer.first_name]=MARY&sort=payment_id", "payment") == [1, 3]
    assert _ids(client, "sort=-customer.first_name,payment_id", "payment") == [2, 1, 3]
    # The reverse relation: a customer's payments, through the parent.
    mary = client.get("/api/customer/1?include=payment").get_json()
    assert sorted(p["payment_id"] for p in mary["payment"]) == [1, 3]
    related = client.get("/api/customer/2/payment").get_json()["data"]
    assert [p["payment_id"] for p in related] == [2]

    # A foreign key on only some partitions says nothing about the other partitions' rows.
    body = problem(client.get("/api/payment?include=film"), 400)
    assert body["parameter"] == "include"
    problem(client.get("/api/payment?filter[film.title]=ACE GOLDFINGER"), 400)
    # The partition that declares it still has it.
    rows = client.get("/api/payment_p2022_01?include=film").get_json()["data"]
    assert [r["film"]["title"] for r in rows] == ["ACADEMY DINOSAUR"]


# -- arrays ------------------------------------------------------------------------------------


def test_array_operators_mean_contains_contained_by_overlaps_and_whole_array(
    client: FlaskClient,
) -> None:
    q = "fields=film_id&sort=film_id&filter[special_features]"
    assert _ids(client, f"{q}[cs]=Trailers") == [2, 3, 4]
    assert _ids(client, f'{q}[cs]=Trailers,"Deleted Scenes"') == [2]
    assert _ids(client, f"{q}[cs]={{Trailers,Deleted Scenes}}") == [2]
    assert _ids(client, f"{q}[ov]=Trailers,Commentaries") == [2, 3, 4]
    assert _ids(client, f"{q}[cd]=Trailers,Commentaries") == [3, 5]
    assert _ids(client, f"{q}={{Trailers,Commentaries}}") == [3]
    assert _ids(client, f"{q}[eq]={{Commentaries,Trailers}}") == []  # order counts
    assert _ids(client, f"{q}[eq]={{}}") == [5]
    assert _ids(client, f"{q}[ne]={{}}") == [1, 2, 3, 4, 6]  # NULL is not {}, as for scalars
    assert _ids(client, f"{q}[null]=true") == [6]
    # The shorthand too, and arrays of integers.
    assert _ids(client, "fields=film_id&special_features={Trailers,Commentaries}") == [3]
    assert _ids(client, "fields=film_id&sort=film_id&filter[scores][cs]=2,3") == [1, 3]
    assert _ids(client, "fields=film_id&sort=film_id&filter[scores][ov]=4,1") == [1, 2]
    # A materialized view's array column, read only.
    assert _ids(
        client, "sort=film_id&filter[special_features][cs]=Commentaries", "film_list", "film_id"
    ) == [
        3,
        4,
    ]


def test_array_filters_that_would_answer_nothing_are_400(client: FlaskClient) -> None:
    body = problem(client.get("/api/film?filter[special_features]=Trailers"), 400)
    assert body["parameter"] == "filter[special_features]"
    assert "filter[special_features][cs]=Trailers" in body["detail"]
    body = problem(client.get("/api/film?filter[special_features][in]=Trailers,Commentaries"), 400)
    assert body["parameter"] == "filter[special_features][in]"
    assert "[ov]" in body["detail"]
    for op in ("lt", "ge", "nin", "like", "contains", "startswith"):
        body = problem(client.get(f"/api/film?filter[special_features][{op}]=a"), 400)
        assert body["parameter"] == f"filter[special_features][{op}]"
    many = ",".join(str(i) for i in range(101))  # Limits.max_in_values, as for in
    assert problem(client.get(f"/api/film?filter[scores][ov]={many}"), 400)["detail"].startswith(
        "at most 100 values"
    )
    body = problem(client.get("/api/film?filter[scores][cs]=1,x"), 400)
    assert body["parameter"] == "filter[scores][cs]"
    problem(client.get('/api/film?filter[special_features][cs]="unclosed'), 400)
    problem(client.get("/api/film?filter[title][cs]=A"), 400)  # no such operator on text
    body = problem(client.get("/api/film?sort=special_features"), 400)
    assert body["parameter"] == "sort"


def test_arrays_round_trip_through_bodies(client: FlaskClient, pg_url: str) -> None:
    film = {"title": "NEW", "language_id": 1, "special_features": ["Trailers", "a,b", None]}
    made = client.post("/api/film", json={**film, "scores": [7, 8]})
    assert made.status_code == 201, made.get_data(as_text=True)
    row = made.get_json()
    assert row["special_features"] == ["Trailers", "a,b", None]
    assert row["scores"] == [7, 8]
    key = row["film_id"]
    assert _stored(pg_url, f"SELECT special_features, scores FROM film WHERE film_id = {key}") == [
        (["Trailers", "a,b", None], [7, 8])
    ]
    # What was read is accepted back unchanged.
    read = client.get(f"/api/film/{key}").get_json()
    del read["film_id"]
    assert client.put(f"/api/film/{key}", json=read).status_code == 200
    assert _ids(client, 'filter[special_features][cs]="a,b"') == [key]

    for bad, pointer in (
        ({"scores": [1.5]}, "/scores/0"),  # not rounded to 2
        ({"scores": ["1"]}, "/scores/0"),
        ({"special_features": "Trailers"}, "/special_features"),  # not ['T', 'r', ...]
        ({"special_features": {"a": 1}}, "/special_features"),
        ({"special_features": [1]}, "/special_features/0"),
    ):
        body = problem(client.patch(f"/api/film/{key}", json=bad), 422)
        assert [e["pointer"] for e in body["errors"]] == [pointer], bad
    assert _stored(pg_url, f"SELECT scores FROM film WHERE film_id = {key}") == [([7, 8],)]


# -- ranges ------------------------------------------------------------------------------------


def test_range_operators(client: FlaskClient) -> None:
    q = "fields=film_id&sort=film_id&filter"
    assert _ids(client, f"{q}[seats][cs]=3") == [1]
    assert _ids(client, f"{q}[seats][cs]=[5,6]") == [1, 2]
    assert _ids(client, f"{q}[seats][ov]=[9,20)") == [1]
    assert _ids(client, f"{q}[seats][cd]=[0,)") == [1, 2]
    assert _ids(client, f"{q}[seats]=[5,7)") == [2]
    assert _ids(client, f"{q}[seats]=[5,6]") == [2]  # the same integers
    assert _ids(client, f"{q}[run]=empty") == [2]
    assert _ids(client, f"{q}[showing][cs]=2024-01-01T11:00:00Z") == [1]
    assert _ids(client, f"{q}[showing][ov]=[2024-06-01T00:00:00Z,)") == [2]
    assert _ids(client, f"{q}[run][cd]=[2023-12-01,2024-03-01)") == [1, 2]
    for bad in (
        "[seats]=3",
        "[seats][lt]=[1,2)",
        "[seats][in]=1,2",
        "[seats][cs]=x",
        "[run]=[1,2)",
    ):
        body = problem(client.get(f"/api/film?filter{bad}"), 400)
        assert body["parameter"] == "filter" + bad.split("=")[0]
    problem(client.get("/api/film?sort=seats"), 400)


def test_ranges_round_trip_through_bodies(client: FlaskClient, pg_url: str) -> None:
    read = client.get("/api/film/1").get_json()
    assert read["seats"] == {"lower": 1, "upper": 10, "bounds": "[)", "empty": False}
    assert read["showing"]["lower"] == "2024-01-01T10:00:00+00:00"
    del read["film_id"]
    resp = client.put("/api/film/2", json=read)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert _stored(pg_url, "SELECT seats::text, run::text FROM film WHERE film_id = 2") == [
        ("[1,10)", "[2024-01-01,2024-02-01)")
    ]
    resp = client.patch("/api/film/2", json={"seats": {"lower": 2, "upper": 4, "bounds": "[]"}})
    assert resp.get_json()["seats"] == {"lower": 2, "upper": 5, "bounds": "[)", "empty": False}
    assert client.patch("/api/film/2", json={"run": {"empty": True}}).get_json()["run"]["empty"]
    for bad, pointer in (
        ({"seats": {"lower": 1, "upper": "x"}}, "/seats/upper"),
        ({"seats": {"lower": 1, "bounds": "<>"}}, "/seats/bounds"),
        ({"seats": "[1,2)"}, "/seats"),
        ({"showing": {"lower": "2024-01-01T00:00:00"}}, "/showing/lower"),  # no offset
    ):
        body = problem(client.patch("/api/film/2", json=bad), 422)
        assert [e["pointer"] for e in body["errors"]] == [pointer], bad
    assert _stored(pg_url, "SELECT seats::text FROM film WHERE film_id = 2") == [("[2,5)",)]


# -- jsonb, json, tsvector, domains, enums ----------------------------------------------------


def test_jsonb_filters_take_json_and_json_or_tsvector_only_null(client: FlaskClient) -> None:
    q = "fields=film_id&sort=film_id&filter"
    assert _ids(client, f'{q}[meta]={{"a":2}}') == [2]
    assert _ids(client, f'{q}[meta][cs]={{"tags":["x"]}}') == [1]
    assert _ids(client, f'{q}[meta][cd]={{"a":2,"b":3}}') == [2]
    assert _ids(client, f"{q}[raw][null]=false") == [1, 2]
    assert _ids(client, f"{q}[fulltext][null]=false") == [1, 2]
    for bad in ("[meta]=x", "[meta][gt]=1", "[meta][in]=1,2", "[raw]={}", "[fulltext]=drama"):
        body = problem(client.get(f"/api/film?filter{bad}"), 400)
        assert body["parameter"] == "filter" + bad.split("=")[0]
    for key in ("meta", "raw", "fulltext"):
        problem(client.get(f"/api/film?sort={key}"), 400)
    # Grouping needs equality (json has none), min/max an order.
    for query, parameter in (
        ("group_by=raw&aggregate=count()", "group_by"),
        ("distinct=raw", "distinct"),
        ("aggregate=max(seats)", "aggregate"),
        ("aggregate=min(fulltext)", "aggregate"),
        ("aggregate=min(special_features)", "aggregate"),
    ):
        assert problem(client.get(f"/api/film?{query}"), 400)["parameter"] == parameter
    groups = client.get("/api/film?group_by=rating&aggregate=count()&sort=rating").get_json()
    assert [g["count"] for g in groups["data"]] == [2, 2, 1, 1]


def test_tsvector_writes_are_checked_before_the_database(client: FlaskClient) -> None:
    resp = client.patch("/api/film/3", json={"fulltext": "'dog':3 'fast':2"})
    assert resp.get_json()["fulltext"] == "'dog':3 'fast':2"
    body = problem(client.patch("/api/film/3", json={"fulltext": "a:b:c"}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/fulltext"]


def test_domain_and_enum_filter_values_are_checked(client: FlaskClient) -> None:
    assert _ids(client, "sort=film_id&filter[release_year][ge]=2006&filter[rating]=G") == [2, 4]
    # Keyset pages sort and compare a domain's values as its type's.
    first = client.get("/api/film?sort=-release_year&page[size]=2&page[after]=").get_json()
    second = client.get(first["links"]["next"]).get_json()
    assert len(first["data"]) + len(second["data"]) == 4
    body = problem(client.get("/api/film?filter[release_year]=abc"), 400)
    assert body["parameter"] == "filter[release_year]"
    problem(client.get("/api/film?filter[rating]=X"), 400)
    # A domain's values are its type's: JSON bodies are strict about them too.
    body = problem(client.patch("/api/film/1", json={"release_year": "2007"}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/release_year"]


def test_openapi_says_which_operators_and_sorts_each_field_takes(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/film"]["get"]["parameters"]}

    def ops(field: str) -> list[str]:
        spelled = (
            n.removeprefix(f"filter[{field}]") for n in params if n.startswith(f"filter[{field}]")
        )
        return [n.strip("[]") or "eq" for n in spelled]

    assert ops("special_features") == ["eq", "ne", "cs", "cd", "ov", "null"]
    assert ops("fulltext") == ["null"]
    assert "cs" not in ops("title")
    assert "like" in ops("title")
    assert "like" not in ops("film_id")
    row = doc["components"]["schemas"]["Film"]["properties"]
    assert row["special_features"]["anyOf"][0]["type"] == "array"
    assert row["seats"]["anyOf"][0]["type"] == "object"
    assert row["release_year"]["anyOf"][0]["type"] == "integer"  # the domain's type
    sort = re.compile(params["sort"]["schema"]["pattern"])
    assert sort.match("special_features") is None
    assert sort.match("title")
    assert sort.match("-count(special_features)")  # groups sort by their aggregates


def test_types_sqlalchemy_does_not_know_take_only_null(pg_url: str) -> None:
    _build(
        pg_url,
        "CREATE TABLE place (id serial PRIMARY KEY, spot point, doc xml);"
        "INSERT INTO place (spot, doc) VALUES ('(1,2)', '<a>1</a>'), (NULL, NULL);",
    )
    # No SAWarning at start: the suite turns warnings into errors.
    app = create_app(pg_url, engine_options={"poolclass": sa.NullPool})
    client = app.test_client()
    assert client.get("/api/place/1").get_json() == {"id": 1, "spot": "(1,2)", "doc": "<a>1</a>"}
    assert _ids(client, "filter[spot][null]=true", "place", "id") == [2]
    for bad in ("filter[spot]=(1,2)", "filter[doc][ne]=x", "sort=spot", "group_by=spot"):
        body = problem(client.get(f"/api/place?{bad}"), 400)
        assert body["parameter"] == bad.split("=")[0]


def test_the_change_feed_decides_array_filters_as_lists_do(pg_url: str) -> None:
    app = create_app(
        pg_url, changes=ChangeFeed(stream_seconds=0), engine_options={"poolclass": sa.NullPool}
    )
    client = app.test_client()
    for features in (["Trailers", "Commentaries"], ["Commentaries"], [], None):
        film = {"title": "X", "language_id": 1, "special_features": features}
        assert client.post("/api/film", json=film).status_code == 201
    listed = _ids(client, "filter[special_features][cs]=Commentaries&filter[film_id][gt]=6")

    resp = client.get(
        "/api/film/changes?filter[special_features][cs]=Commentaries",
        headers={"Last-Event-ID": "0"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    sent = [
        orjson.loads(line.removeprefix("data: "))["key"]
        for line in resp.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    assert [int(k) for k in sent] == listed == [7, 8]
    # A range operator the feed cannot decide in Python is refused, not silently unmatched.
    body = problem(client.get("/api/film/changes?filter[seats][cs]=3"), 400)
    assert body["parameter"] == "filter[seats][cs]"


def test_network_money_and_bit_values_are_checked_before_the_database(pg_url: str) -> None:
    _build(
        pg_url,
        "CREATE TABLE host (id serial PRIMARY KEY, ip inet, net cidr, mac macaddr, fee money,"
        " flags bit varying(4));"
        "INSERT INTO host (ip, net, mac, fee, flags) VALUES"
        " ('192.168.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', 19.99, B'101'),"
        " ('10.1.2.3', '192.168.0.0/16', '08:00:2b:01:02:04', 1234.5, B'1');",
    )
    client = create_app(pg_url, engine_options={"poolclass": sa.NullPool}).test_client()
    assert _ids(client, "filter[ip]=10.1.2.3", "host", "id") == [2]
    assert _ids(client, "filter[net]=10.0.0.0/8", "host", "id") == [1]
    assert _ids(client, "filter[mac]=08:00:2b:01:02:03", "host", "id") == [1]
    assert _ids(client, "filter[fee][gt]=$1,000.00", "host", "id") == [2]
    assert _ids(client, "filter[flags]=101", "host", "id") == [1]
    for bad in ("ip]=zz", "net]=10.0.0.1/8", "mac]=x", "fee][gt]=abc", "flags]=102"):
        body = problem(client.get(f"/api/host?filter[{bad}"), 400)
        assert body["parameter"] == f"filter[{bad.split('=')[0]}"
    # Writes: what is read goes back; a number is an amount; wrong text is a 422 with a pointer.
    read = client.get("/api/host/1").get_json()
    del read["id"]
    assert client.put("/api/host/2", json=read).status_code == 200
    assert client.patch("/api/host/2", json={"fee": 5}).get_json()["fee"] == "$5.00"
    for field, value in (
        ("ip", "zz"),
        ("ip", {"a": 1}),
        ("mac", "x"),
        ("fee", "a"),
        ("flags", "2"),
    ):
        body = problem(client.patch("/api/host/2", json={field: value}), 422)
        assert [e["pointer"] for e in body["errors"]] == [f"/{field}"]
    assert _stored(pg_url, "SELECT ip::text, fee::numeric FROM host WHERE id = 2") == [
        ("192.168.0.1/32", decimal.Decimal("5.00"))
    ]


def test_multiranges_filter_and_round_trip(pg_url: str) -> None:
    _build(
        pg_url,
        "CREATE TABLE slot (id serial PRIMARY KEY, free int4multirange);"
        "INSERT INTO slot (free) VALUES ('{[1,3),[5,7)}'), ('{}');",
    )
    client = create_app(pg_url, engine_options={"poolclass": sa.NullPool}).test_client()
    q = "sort=id&filter[free]"
    assert _ids(client, f"{q}[cs]=2", "slot", "id") == [1]
    assert _ids(client, f"{q}[ov]=[3,5]", "slot", "id") == [1]
    assert _ids(client, f"{q}[cd]=[0,10)", "slot", "id") == [1, 2]
    problem(client.get("/api/slot?filter[free]={}"), 400)
    read = client.get("/api/slot/1").get_json()["free"]
    assert read == [
        {"lower": 1, "upper": 3, "bounds": "[)", "empty": False},
        {"lower": 5, "upper": 7, "bounds": "[)", "empty": False},
    ]
    assert client.patch("/api/slot/2", json={"free": read}).get_json()["free"] == read
    body = problem(client.patch("/api/slot/2", json={"free": [{"lower": "x"}]}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/free/0/lower"]
    assert _stored(pg_url, "SELECT free::text FROM slot WHERE id = 2") == [("{[1,3),[5,7)}",)]
