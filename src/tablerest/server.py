"""Serving a database: the app factory behind ``tablerest serve``, and gunicorn to run it.

``create_app`` is usable on its own, for instance by an external WSGI server::

    gunicorn 'tablerest.server:create_app("sqlite:///library.db")'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from .api import Api
from .auth.policies import authenticated, owner, public, role
from .auth.policyfile import PolicyFile, TableRules
from .auth.service import PASSWORD_CANDIDATES, Auth
from .changes import ChangeFeed
from .observe import Observability
from .reflect import reflect_resources
from .resource import Resource
from .store import ReadReplicas

__all__ = ["create_app", "database_url", "gunicorn_settings", "run"]


def database_url(target: str) -> str:
    """A SQLAlchemy URL for a URL or a path to an existing SQLite file."""
    if "://" in target:
        return target
    path = Path(target)
    if not path.is_file():
        raise FileNotFoundError(f"no database file at {target!r} (give a file or a URL)")
    return f"sqlite:///{path.resolve()}"


def create_app(
    target: str,
    *,
    read_only: bool = False,
    prefix: str = "/api",
    hidden: Mapping[str, Iterable[str]] | None = None,
    searchable: Mapping[str, Iterable[str]] | None = None,
    schema: str | None = None,
    engine_options: Mapping[str, Any] | None = None,
    secret_key: str | None = None,
    policy: PolicyFile | None = None,
    observability: Observability | None = None,
    read_replicas: Sequence[str] = (),
    connect_timeout: float | None = 5,
    keys: Mapping[str, Sequence[str]] | None = None,
    changes: bool | ChangeFeed = False,
    allowed_hosts: Sequence[str] | None = None,
) -> Flask:
    """A Flask app serving every table of the database at ``target`` (URL or SQLite path).

    ``policy`` (see :mod:`tablerest.auth.policyfile`) turns on token authentication against
    the table its ``auth`` names, and sets permissions and field rules per table.
    ``observability`` adds health probes, request ids, metrics and access logs (``tablerest
    serve`` turns them on). ``read_replicas``: URLs of PostgreSQL replicas for GET and HEAD
    (see :class:`~tablerest.ReadReplicas`), with the same ``engine_options``.
    ``keys``: view or keyless table -> the columns that identify its rows (item routes).
    ``connect_timeout``: seconds to wait for a database server to accept a connection before
    the request gets a 503 (PostgreSQL, MariaDB/MySQL; ``None``: the driver's default).
    ``changes``: the live change feed on every table (``GET /api/<table>/changes``; see
    :class:`~tablerest.ChangeFeed`); it creates the tables ``tablerest_changes`` and
    ``tablerest_change_counter`` in the database on first use.
    ``allowed_hosts``: the ``Host`` values to answer (``tablerest serve`` passes the names it
    is bound to, :func:`tablerest.http.bound_hosts`); None answers any.

    ``engine_options`` go to ``sqlalchemy.create_engine`` (pool settings, ``connect_args``).
    There is no ``pool_pre_ping``: it would cost every request a round trip to the database.
    A connection found dead is discarded with the rest of the pool instead (the request gets a
    503 with ``Retry-After``), so service resumes once the database is back.
    """
    url = database_url(target)
    engine_options = with_connect_timeout(url, engine_options or {}, connect_timeout)
    engine = sa.create_engine(url, **engine_options)
    app = Flask("tablerest")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The key signs page cursors only: given to Flask as SECRET_KEY it would also switch on
    # cookie sessions, which cost every request a serializer and which this app never uses.
    if policy is not None and policy.auth.get("table"):
        hidden = _unhide_password(hidden or {}, policy.auth)
    keys = {**(policy.keys if policy is not None else {}), **(keys or {})}
    resources = reflect_resources(
        engine,
        schema=schema,
        read_only=read_only,
        hidden=hidden,
        searchable=searchable,
        keys=keys,
    )
    policy = _complete(policy, resources) if policy is not None else None
    auth = None
    if policy is not None and policy.auth.get("table"):
        users = _by_table(resources, policy.auth["table"], "the auth table")
        auth = Auth(
            users.name,
            login=policy.auth.get("login"),
            password=policy.auth.get("password"),
            roles=policy.auth.get("roles"),
        )
    replicas = (
        ReadReplicas(
            list(read_replicas),
            engine_options=with_connect_timeout(read_replicas[0], engine_options, connect_timeout),
        )
        if read_replicas
        else None
    )
    api = Api(
        app,
        engine,
        prefix=prefix,
        secret_key=secret_key,
        auth=auth,
        observability=observability,
        read_replicas=replicas,
        changes=changes,
        allowed_hosts=allowed_hosts,
    )
    for resource in resources:
        if policy is None:
            api.add(resource)
            continue
        rules = policy.rules_for(resource.table.name)
        api.add(
            resource,
            permissions=rules.permissions or None,
            hidden_unless=rules.hidden_unless,
            read_only_unless=rules.read_only_unless,
        )
    return app


def with_connect_timeout(
    url: str, options: Mapping[str, Any], seconds: float | None
) -> dict[str, Any]:
    """``options`` with the driver's connect timeout, for server databases: a server that does
    not answer costs a request ``seconds``, then a 503, instead of a hang."""
    out = dict(options)
    backend = sa.make_url(url).get_backend_name()
    if seconds is not None and backend in ("postgresql", "mysql", "mariadb"):
        args = dict(out.get("connect_args") or {})
        args.setdefault("connect_timeout", max(1, round(seconds)))
        out["connect_args"] = args
    return out


def _unhide_password(
    hidden: Mapping[str, Iterable[str]], auth: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Auth needs the users' password column, which it makes write-only (never shown): a
    column hidden for that reason (the demo's ``users.password``) is handed to it instead."""
    table = auth["table"]
    password = auth.get("password")
    names = {password} if password else set(PASSWORD_CANDIDATES)
    out = {t: list(cols) for t, cols in hidden.items()}
    if table in out:
        out[table] = [c for c in out[table] if c not in names]
    return out


def _by_table(resources: list[Resource], table: str, what: str) -> Resource:
    for res in resources:
        if res.table.name == table:
            return res
    known = ", ".join(sorted(r.table.name for r in resources))
    raise ValueError(f"{what} {table!r} is not a table of the database (tables: {known})")


def _complete(policy: PolicyFile, resources: list[Resource]) -> PolicyFile:
    """Check the policy's tables exist; with auth and no rules at all, the default rules."""
    for name in policy.tables:
        _by_table(resources, name, "the policy names")
    users = policy.auth.get("table")
    if not users or policy.tables or policy.default.permissions:
        return policy
    return default_policy(policy.auth, _by_table(resources, users, "the auth table"))


def default_policy(auth: Mapping[str, Any], users: Resource) -> PolicyFile:
    """What ``--auth-table`` alone means: everyone reads, the signed-in write; in the users
    table, anyone signs up, a user reads and changes their own row, an admin everything."""
    key = users.pk_fields[0].name if len(users.pk_fields) == 1 else None
    own_or_admin = owner(key) | role("admin") if key else role("admin")
    users_rules = TableRules(
        {
            "list": role("admin"),
            "read": own_or_admin,
            "create": public,
            "update": own_or_admin,
            "delete": role("admin"),
        },
        read_only_unless={auth["roles"]: role("admin")}
        if isinstance(auth.get("roles"), str)
        else {},
    )
    return PolicyFile(
        dict(auth),
        TableRules({"create": authenticated, "update": authenticated, "delete": authenticated}),
        {users.table.name: users_rules},
    )


def gunicorn_settings(
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 4,
    access_log: bool = True,
    timeout: int = 30,
    graceful_timeout: int = 30,
    keep_alive: int = 5,
    max_requests: int = 10000,
    max_requests_jitter: int = 1000,
    forwarded_allow_ips: str = "127.0.0.1,::1",
) -> dict[str, Any]:
    """gunicorn's settings for ``tablerest serve``: what a production deployment wants.

    A hung request costs its worker after ``timeout`` seconds; on shutdown or reload workers
    get ``graceful_timeout`` to finish; each worker is replaced after ``max_requests`` plus up
    to ``max_requests_jitter`` requests (slow leaks cannot grow, workers do not all restart at
    once); the heartbeat file lives in memory (``/dev/shm``) where there is one, so a slow
    disk cannot make the arbiter kill healthy workers.
    """
    settings: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": "-" if access_log else None,
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keep_alive,
        "max_requests": max_requests,
        "max_requests_jitter": max_requests_jitter if max_requests else 0,
        "forwarded_allow_ips": forwarded_allow_ips,
        "proc_name": "tablerest",
    }
    # gunicorn's own advice; it makes its heartbeat files there with mkstemp (private, unique).
    shm = "/dev/shm"  # noqa: S108
    if Path(shm).is_dir():
        settings["worker_tmp_dir"] = shm
    return settings


def run(app_factory: Any, **options: Any) -> None:
    """Serve with gunicorn (``options``: see :func:`gunicorn_settings`); each worker builds
    its app with ``app_factory``."""
    from gunicorn.app.base import BaseApplication

    settings = gunicorn_settings(**options)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        settings["child_exit"] = _forget_worker

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return app_factory()

    os.environ.setdefault("SERVER_SOFTWARE", "tablerest")
    _Server().run()


def _forget_worker(_server: Any, worker: Any) -> None:
    # A dead worker's gauges leave the sums Prometheus sees (its counters stay counted).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
