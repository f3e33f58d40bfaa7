"""PostgreSQL types and layouts that other programs create: enums, domains, arrays, ranges,
jsonb, tsvector, partitioned tables with keys on the partitions, materialized views.

Each test gets a new database, built with raw SQL through psycopg (as the Pagila sample
database is), then served by reflection and queried over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

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


def _ids(client: FlaskClient, query: str, resource: str = "film") -> list[Any]:
    resp = client.get(f"/api/{resource}?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    key = f"{resource}_id"
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
