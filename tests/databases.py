"""Fresh databases for tests: a SQLite file, or a new PostgreSQL / MariaDB database per test.

The servers are the machine's own (PostgreSQL on 127.0.0.1:5432 as postgres, MariaDB on
127.0.0.1:3306 as root). When one is unreachable its tests are skipped with the reason, unless
``TABLEREST_REQUIRE_SERVICES=1`` (set by CI), when they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

BACKENDS = ("sqlite", "postgresql", "mariadb")

PG_HOST = os.environ.get("TABLEREST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
MARIADB_HOST = os.environ.get("TABLEREST_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


REDIS_URL = os.environ.get("TABLEREST_TEST_REDIS", "redis://127.0.0.1:6379/0")


def services_required() -> bool:
    return os.environ.get("TABLEREST_REQUIRE_SERVICES") == "1"


def _unreachable(kind: str, exc: Exception) -> None:
    reason = f"{kind} server unreachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    if services_required():
        pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def reachable_redis() -> redis.Redis:
    """A client of the test Redis (``REDIS_URL``); skip, or fail when services are required,
    if it does not answer."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        reason = f"Redis unreachable at {REDIS_URL} ({type(exc).__name__})"
        if services_required():
            pytest.fail(f"{reason}; TABLEREST_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(reason)
    return client


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database of ``kind``; drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    name = f"tablerest_test_{uuid.uuid4().hex[:12]}"
    if kind == "postgresql":
        admin_url, url = f"{PG_HOST}/postgres", f"{PG_HOST}/{name}"
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    elif kind == "mariadb":
        admin_url, url = f"{MARIADB_HOST}/", f"{MARIADB_HOST}/{name}?charset=utf8mb4"
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    else:
        raise ValueError(kind)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(create)
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unreachable(kind, exc)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
        admin.dispose()
