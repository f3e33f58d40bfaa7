"""Serving a database: the app factory behind ``tablerest serve``, and the servers that run it
(granian by default, see :mod:`tablerest.granian_runner`; gunicorn on request).

``create_app`` is usable on its own, for instance by an external WSGI server::

    gunicorn 'tablerest.server:create_app("sqlite:///library.db")'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Flask

from .api import Api
from .auth.policies import authenticated, owner, public, role
from .changes import ChangeFeed
from .errors import UniqueViolationMode
from .execute.store import ReadReplicas
from .http import cors_for_origins
from .mount.lean import install as install_lean
from .mount.observe import Observability
from .mount.ratelimit import RateLimits
from .names import camel, slug
from .reflect.selection import Selection, reserved_names
from .reflect.tables import reflect_resources, secret_columns
from .resource import Resource

if TYPE_CHECKING:
    # The policy file and Auth are imported where a policy or --auth-table is given: every
    # serve worker would hold them otherwise (test_worker_memory).
    from .auth.policyfile import PolicyFile

__all__ = [
    "PRIVILEGE_COLUMNS",
    "SERVERS",
    "create_app",
    "database_url",
    "default_policy",
    "gunicorn_settings",
    "hidden_secrets",
    "renamed",
    "run",
    "skipped_views",
]

#: Columns of the users table that grant privileges or vouch for an account (lower-cased
#: names, besides the ``roles`` column auth names): only ``role(admin)`` may write them, unless
#: the policy file says otherwise, so nobody signs up as an admin or verifies their own email.
PRIVILEGE_COLUMNS = frozenset(
    {
        "role", "roles", "admin", "is_admin", "superuser", "is_superuser", "staff", "is_staff",
        "is_root", "permissions", "privileges", "scopes", "groups", "active", "is_active",
        "verified", "is_verified", "email_verified", "banned", "is_banned", "disabled",
        "is_disabled", "locked", "is_locked",
    }
)  # fmt: skip
#: Where create_app leaves what ``tablerest serve`` reports at start (``app.extensions``).
SERVED = "tablerest.serve"

#: The [auth] settings of a policy file (or --auth-* flags) that are Auth's password policy.
_PASSWORD_POLICY = ("min_password_length", "max_password_bytes")

#: The HTTP servers ``tablerest serve`` runs on; the first is the default.
SERVERS = ("granian", "gunicorn")

#: The page cache of each connection to a SQLite file, KiB (SQLite's default: 2,000). A worker
#: holds a connection per thread that runs requests (4 by default, up to 32 with the change
#: feed), each with a cache of its own, filled by any scan: 8 MiB of a worker's memory at 4
#: threads, all of it copies of pages the operating system caches once for every connection and
#: worker. 128 KiB each (32 pages of 4 KiB) still keeps the B-trees' upper levels cached (a
#: page read past the cache is a read() served from the OS cache, about a microsecond): on the
#: bench's 100,000 books a key lookup, a page of 50 and a filtered scan took as long as with
#: 512 KiB (docs/worker-memory.md), and a worker's peak is ~1.2 MiB lower.
SQLITE_CACHE_KIB = 128


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
    lookups: Mapping[str, Sequence[str]] | None = None,
    value_lists: Mapping[str, Mapping[str, str]] | None = None,
    get_or_create: Mapping[str, Sequence[str]] | None = None,
    changes: bool | ChangeFeed = False,
    shown: Mapping[str, Iterable[str]] | None = None,
    hide_secrets: bool = True,
    rate_limits: RateLimits | None = None,
    csv_formula_guard: bool = True,
    allowed_hosts: Sequence[str] | None = None,
    selection: Selection | None = None,
    format: str | None = None,
    camel_case: bool = False,
    unique_violation: UniqueViolationMode = "conflict",
    cors: Iterable[str] = (),
    lean: bool = True,
    keep_connections: bool = False,
) -> Flask:
    """A Flask app serving every table of the database at ``target`` (URL or SQLite path).

    ``policy`` (see :mod:`tablerest.auth.policyfile`) turns on token authentication against
    the table its ``auth`` names, and sets permissions and field rules per table.
    ``observability`` adds health probes, request ids, metrics and access logs (``tablerest
    serve`` turns them on). ``read_replicas``: URLs of PostgreSQL replicas for GET and HEAD
    (see :class:`~tablerest.ReadReplicas`), with the same ``engine_options``.
    ``keys``: view or keyless table -> the columns that identify its rows (item routes).
    ``lookups``: table -> the unique columns that name its rows in URLs instead of the primary
    key (``/api/articles/{slug}``; ``tablerest serve --lookup``, over the policy file's).
    ``value_lists``: table -> its value lists (``{"articles": {"tag_list": "tags.name"}}``;
    ``serve --value-list``); ``get_or_create``: table -> the many-to-many relations whose
    writes create the rows they name (``serve --get-or-create``).
    ``connect_timeout``: seconds to wait for a database server to accept a connection before
    the request gets a 503 (PostgreSQL, MariaDB/MySQL; ``None``: the driver's default).
    ``changes``: the live change feed on every table (``GET /api/<table>/changes``; see
    :class:`~tablerest.ChangeFeed`); it creates the tables ``tablerest_changes`` and
    ``tablerest_change_counter`` in the database on first use.
    ``allowed_hosts``: the ``Host`` values to answer (``tablerest serve`` passes the names it
    is bound to, :func:`tablerest.http.bound_hosts`); None answers any.

    ``hidden`` / ``shown``: table -> columns to leave out of / keep in the API. With
    ``hide_secrets`` (the default) the columns whose names say they hold secrets
    (:func:`tablerest.reflect.tables.looks_secret`) are left out unless shown;
    :func:`hidden_secrets` lists them. The policy file's ``hidden`` / ``shown`` add to these.
    ``rate_limits``: the API's rate limits (``tablerest serve`` gives sign-in and sign-up
    limits); counted only where there is something to count (sign-in and sign-up need the
    auth table).
    ``csv_formula_guard``: CSV exports neutralise cells that start like a spreadsheet formula.

    ``format``: what a client that asks for no representation gets, ``json`` (plain JSON, the
    default) or ``jsonapi`` (JSON:API); over the policy file's ``[api] format``.
    ``camel_case``: clients use camelCase names for snake_case columns and relations.
    ``unique_violation``: ``"validation"`` answers a value another row holds in a unique key
    with a 422 and a field error per column rather than a 409 (``Api(unique_violation=...)``).
    ``cors``: the origins whose pages may use the API (``https://app.example``; ``*``: any,
    answered with ``*``, so without credentials); see :func:`tablerest.http.cors_for_origins`.

    ``selection``: the tables to serve, their names, and whether the batch endpoint and the
    docs are on (:class:`~tablerest.reflect.selection.Selection`; over the policy file's ``[api]``).
    A table whose name is a path the API itself serves (``batch``, ``docs``, ``auth``...) is
    served with ``_`` after its name unless renamed: :func:`renamed` lists them.

    ``lean``: serve tablerest's own routes on the lean path (:mod:`tablerest.mount.lean`:
    the same hooks, handlers and answers without Flask's request context; a third fewer
    calls per request). It steps aside by itself, for the whole app, once anything that is not
    tablerest's is added to it (a hook, an error handler, a blueprint); ``False`` leaves every
    request to Flask.

    ``keep_connections``: each server thread keeps the pooled connection of its reads from one
    request to the next instead of a checkout and return per read (SQLite, and PostgreSQL at
    READ COMMITTED; see :mod:`tablerest.execute.held`). For servers whose threads serve many
    requests (``tablerest serve`` turns it on); a kept connection goes back to the pool when
    its thread ends.

    ``engine_options`` go to ``sqlalchemy.create_engine`` (pool settings, ``connect_args``).
    There is no ``pool_pre_ping``: it would cost every request a round trip to the database.
    A connection found dead is discarded with the rest of the pool instead (the request gets a
    503 with ``Retry-After``), so service resumes once the database is back.
    """
    # A misspelt origin fails here, before the database is opened.
    cors_options = cors_for_origins([cors] if isinstance(cors, str) else cors)
    url = database_url(target)
    engine_options = with_connect_timeout(url, engine_options or {}, connect_timeout)
    engine = sa.create_engine(url, **engine_options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_page_cache)
    app = Flask("tablerest")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The key signs page cursors only: given to Flask as SECRET_KEY it would also switch on
    # cookie sessions, which cost every request a serializer and which this app never uses.
    hide = _merged(hidden, policy.hidden if policy is not None else {})
    show = _merged(shown, policy.shown if policy is not None else {})
    if policy is not None and policy.auth.get("table"):
        _hand_password_to_auth(engine, schema, policy.auth, hide, show)
    keys = {**(policy.keys if policy is not None else {}), **(keys or {})}
    lookups = {**(policy.lookups if policy is not None else {}), **(lookups or {})}
    selection = (selection or Selection()).over(policy.api if policy is not None else Selection())
    users_table = policy.auth.get("table") if policy is not None else None
    if users_table and not selection.keeps(users_table):
        raise ValueError(f"the auth table {users_table!r} is left out by the tables chosen")
    docs, batch = selection.docs is not False, selection.batch is not False
    format = format or selection.format or "json"
    if format not in ("json", "jsonapi"):
        raise ValueError(f"format is 'json' or 'jsonapi', not {format!r}")
    reserved = reserved_names(docs=docs, batch=batch, auth=bool(users_table))
    skipped: dict[str, str] = {}
    resources = reflect_resources(
        engine,
        skipped=skipped,
        schema=schema,
        read_only=read_only,
        hidden=hide,
        searchable=searchable,
        keys=keys,
        lookups=lookups,
        value_lists=value_lists,
        get_or_create=get_or_create,
        shown=show,
        hide_secrets=hide_secrets,
        csv_formula_guard=csv_formula_guard,
        format=format,
        aliases=camel if camel_case else None,
        selection=selection,
        reserved=reserved,
    )
    policy = _complete(policy, resources, selection) if policy is not None else None
    auth = None
    if policy is not None and policy.auth.get("table"):
        from .auth.service import Auth

        users = _by_table(resources, policy.auth["table"], "the auth table")
        auth = Auth(
            users.name,
            login=policy.auth.get("login"),
            password=policy.auth.get("password"),
            roles=policy.auth.get("roles"),
            **{k: policy.auth[k] for k in _PASSWORD_POLICY if k in policy.auth},
        )
    replicas = (
        ReadReplicas(
            list(read_replicas),
            engine_options=with_connect_timeout(read_replicas[0], engine_options, connect_timeout),
        )
        if read_replicas
        else None
    )
    if rate_limits is not None and auth is None and not (rate_limits.anonymous or rate_limits.user):
        rate_limits = None  # sign-in and sign-up limits alone: nothing to count without auth
    api = Api(
        app,
        engine,
        prefix=prefix,
        secret_key=secret_key,
        auth=auth,
        observability=observability,
        read_replicas=replicas,
        changes=changes,
        rate_limits=rate_limits,
        allowed_hosts=allowed_hosts,
        docs=docs,
        batch=batch,
        format=format,
        unique_violation=unique_violation,
        cors=cors_options,
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
    app.extensions[SERVED] = {
        "hidden_secrets": [
            f"{res.table.name}.{name}"
            for res in resources
            for name in secret_columns(res.table)
            if res.named(name) not in res.fields and name not in hide.get(res.table.name, [])
        ],
        "skipped": skipped,
        "renamed": {
            res.table.name: res.name for res in resources if res.name != slug(res.table.name)
        },
    }
    if keep_connections:
        app.extensions["tablerest"][prefix].db.keep_read_connections()
    if lean:
        install_lean(app)
    return app


def renamed(app: Flask) -> dict[str, str]:
    """Table -> resource name of each table :func:`create_app` serves under a name other
    than its own (made URL-safe): a rename, or a ``_`` added because the API itself serves
    the table's name (``batch`` -> ``batch_``). ``tablerest serve`` says so at start."""
    served = app.extensions.get(SERVED, {})
    return dict(served.get("renamed", {}))


def skipped_views(app: Flask) -> dict[str, str]:
    """View -> the database's reason, for each view :func:`create_app` left out because the
    database cannot read it (one over a dropped table): ``tablerest serve`` warns of them."""
    served = app.extensions.get(SERVED, {})
    return dict(served.get("skipped", {}))


def hidden_secrets(app: Flask) -> list[str]:
    """``TABLE.COLUMN`` of each column :func:`create_app` left out of ``app`` because its
    name says it holds a secret (and nothing named it): ``tablerest serve`` warns of them."""
    served = app.extensions.get(SERVED, {})
    return list(served.get("hidden_secrets", []))


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


def _sqlite_page_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def _merged(*mappings: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for mapping in mappings:
        for table, cols in (mapping or {}).items():
            out.setdefault(table, []).extend(c for c in cols if c not in out.get(table, []))
    return out


def _hand_password_to_auth(
    engine: sa.Engine,
    schema: str | None,
    auth: Mapping[str, Any],
    hidden: dict[str, list[str]],
    shown: dict[str, list[str]],
) -> None:
    """Auth needs the users' password column, which it makes write-only (never shown): that
    column, hidden by name or by being listed (the demo's ``users.password``), is handed to
    it instead. Only the one column Auth takes: another that looks secret stays hidden."""
    from .auth.accounts import PASSWORD_CANDIDATES

    table = auth["table"]
    try:
        columns = [c["name"] for c in sa.inspect(engine).get_columns(table, schema=schema)]
    except sa.exc.NoSuchTableError:
        return  # said clearly once the tables are read
    password = auth.get("password") or next((n for n in PASSWORD_CANDIDATES if n in columns), None)
    if password is None or password not in columns:
        return  # Auth says what is missing
    if table in hidden:
        hidden[table] = [c for c in hidden[table] if c != password]
    if password not in shown.get(table, []):
        shown.setdefault(table, []).append(password)


def _by_table(resources: list[Resource], table: str, what: str) -> Resource:
    for res in resources:
        if res.table.name == table:
            return res
    known = ", ".join(sorted(r.table.name for r in resources))
    raise ValueError(f"{what} {table!r} is not a table of the database (tables: {known})")


def _complete(policy: PolicyFile, resources: list[Resource], selection: Selection) -> PolicyFile:
    """Check the policy's tables exist; with auth, the users table's safe rules.

    With no rules at all, the default rules (:func:`default_policy`). Otherwise the users
    table never falls back to ``[default]`` (``all = "public"`` there would let anyone change
    anyone's password or roles): actions its own section leaves out, or all of them when the
    policy does not name it, come from the default rules for users, and its privilege
    columns stay read-only unless role(admin) where the section gives them no
    ``read_only_unless`` of its own.
    """
    for name in policy.tables:
        if selection.keeps(name):  # rules for a table left out are moot
            _by_table(resources, name, "the policy names")
    users = policy.auth.get("table")
    if not users:
        return policy
    safe = default_policy(policy.auth, _by_table(resources, users, "the auth table"))
    if not policy.tables and not policy.default.permissions:
        return dataclasses.replace(safe, keys=policy.keys, api=policy.api)
    table = next(iter(safe.tables))
    base = safe.tables[table]
    from .auth.policyfile import TableRules

    own = policy.tables.get(table, TableRules())
    rules = dataclasses.replace(
        own,
        permissions={**base.permissions, **own.permissions},
        read_only_unless={**base.read_only_unless, **own.read_only_unless},
    )
    return dataclasses.replace(policy, tables={**policy.tables, table: rules})


def default_policy(auth: Mapping[str, Any], users: Resource) -> PolicyFile:
    """What ``--auth-table`` alone means: everyone reads, the signed-in write; in the users
    table, anyone signs up, a user reads and changes their own row, an admin everything, and
    only an admin writes the privilege columns (the roles column, :data:`PRIVILEGE_COLUMNS`)."""
    from .auth.policyfile import PolicyFile, TableRules

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
        read_only_unless={name: role("admin") for name in _privileged(auth, users)},
    )
    return PolicyFile(
        dict(auth),
        TableRules({"create": authenticated, "update": authenticated, "delete": authenticated}),
        {users.table.name: users_rules},
    )


def _privileged(auth: Mapping[str, Any], users: Resource) -> list[str]:
    """The users' fields that only an admin may write: the roles column and those named as
    privileges, among the fields a client could write at all."""
    roles = auth.get("roles")
    # By the column's own name: a field's name may be an alias (serve --camel-case: isAdmin).
    return [
        f.name
        for f in users.writable
        if not f.primary_key
        and (f.column.name == roles or f.column.name.lower() in PRIVILEGE_COLUMNS)
    ]


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
    backlog: int = 2048,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> dict[str, Any]:
    """gunicorn's settings for ``tablerest serve``: what a production deployment wants.

    A hung request costs its worker after ``timeout`` seconds; on shutdown or reload workers
    get ``graceful_timeout`` to finish; each worker is replaced after ``max_requests`` plus up
    to ``max_requests_jitter`` requests (slow leaks cannot grow, workers do not all restart at
    once); the heartbeat file lives in memory (``/dev/shm``) where there is one, so a slow
    disk cannot make the arbiter kill healthy workers. gunicorn's control socket is off: its
    default path (``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``~/.gunicorn/gunicorn.ctl``) is one
    per user, so every serve process of that user would take it over from the others.
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
        "backlog": backlog,
        "control_socket_disable": True,
    }
    if ssl_certfile or ssl_keyfile:
        if not (ssl_certfile and ssl_keyfile):
            raise ValueError("TLS needs both a certificate and a key file")
        settings["certfile"], settings["keyfile"] = ssl_certfile, ssl_keyfile
    # gunicorn's own advice; it makes its heartbeat files there with mkstemp (private, unique).
    shm = "/dev/shm"  # noqa: S108
    if Path(shm).is_dir():
        settings["worker_tmp_dir"] = shm
    return settings


def run(app_factory: Any, *, server: str = SERVERS[0], **options: Any) -> None:
    """Serve with ``server``, granian (``options``: see
    :func:`tablerest.granian_runner.granian_settings`, plus ``forwarded_allow_ips``) or
    gunicorn (see :func:`gunicorn_settings`); each worker builds its app with ``app_factory``."""
    if server == "granian":
        from .granian_runner import run_granian

        run_granian(app_factory, **options)
        return
    if server != "gunicorn":
        raise ValueError(f"unknown server {server!r} (one of: {', '.join(SERVERS)})")
    from gunicorn.app.base import BaseApplication

    from .granian_runner import ServedApp

    settings = gunicorn_settings(**options)
    # gunicorn's forwarded_allow_ips covers the scheme only: the client address behind a
    # trusted proxy (rate limits, logs) comes from ServedApp, as on granian.
    trusted = settings["forwarded_allow_ips"]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        settings["child_exit"] = _forget_worker

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in settings.items():
                # An older gunicorn has no control socket, so no setting to turn it off.
                if name != "control_socket_disable" or name in self.cfg.settings:
                    self.cfg.set(name, value)

        def load(self) -> Any:
            return ServedApp(app_factory(), trusted)

    os.environ.setdefault("SERVER_SOFTWARE", "tablerest")
    _Server().run()


def _forget_worker(_server: Any, worker: Any) -> None:
    # A dead worker's gauges leave the sums Prometheus sees (its counters stay counted).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
