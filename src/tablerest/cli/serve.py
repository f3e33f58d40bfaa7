"""``tablerest serve`` and ``tablerest openapi``: a database's API, served or described.

Both take the same API options (:mod:`.options`), so that ``tablerest openapi`` with serve's
options prints exactly the document ``serve`` serves. ``serve`` adds the HTTP server's own
options (workers, timeouts, TLS, hosts) and checks them against the server chosen.
"""

from __future__ import annotations

import atexit
import functools
import gc
import ipaddress
import os
import secrets
import shutil
import tempfile
from typing import Any
from urllib.parse import quote

import click
import sqlalchemy as sa

from .. import malloc, openapi
from ..changes import ChangeFeed
from ..http import AllowedHosts, bound_hosts, cors_for_origins
from ..mount.observe import Observability
from ..names import slug
from ..reflect.selection import reserved_names
from ..render.json import dumps
from ..server import (
    SERVERS,
    create_app,
    database_url,
    hidden_secrets,
    renamed,
    run,
    skipped_views,
)
from .options import api_options, api_settings, group, option

__all__ = ["openapi_command", "serve_command"]


#: Threads per worker with the change feed on (unless --threads says otherwise), and
#: how many of them streams leave to ordinary requests.
CHANGES_THREADS = 32
FREE_THREADS = 4


def _origins(
    _ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """``--cors`` origins, repeated or comma-separated, each checked (a typo matches nothing)."""
    origins = tuple(o.strip() for item in value for o in item.split(",") if o.strip())
    try:
        cors_for_origins(origins)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    return origins


#: serve's own options: the address, the HTTP server and its workers, the change feed's
#: streams, the database's connections, the hosts answered.
_serve_options = group(
    option("--host", default="127.0.0.1", show_default=True, help="Address to bind."),
    option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535)),
    option("--changes-stream-seconds", default=300.0, show_default=True, type=click.FloatRange(0),
           help="How long a change stream stays open before clients reconnect (Last-Event-ID)."),
    option("--changes-poll", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
           help="Seconds between checks for new change events when no wake-up came (PostgreSQL "
           "LISTEN/NOTIFY, or Redis pub/sub with TABLEREST_REDIS_URL, wake streams sooner)."),
    option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
           help="Worker processes."),
    option("--threads", default=4, show_default=True, type=click.IntRange(1, 256),
           help="Threads per worker that run requests (each open change stream holds one)."),
    option("--timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
           help="Seconds a request may take before its worker is restarted (gunicorn)."),
    option("--graceful-timeout", default=30, show_default=True, type=click.IntRange(0, 3600),
           help="Seconds workers get to finish their requests on shutdown or reload."),
    option("--keep-alive", default=5, show_default=True, type=click.IntRange(0, 600),
           help="Seconds an idle client connection is kept open (gunicorn gthread; granian: 0 "
           "turns keep-alive off, else --header-timeout bounds it)."),
    option("--max-requests", default=10000, show_default=True, type=click.IntRange(0),
           help="Restart a worker after this many requests (0: never), against slow leaks "
           "(gunicorn)."),
    option("--max-requests-jitter", default=1000, show_default=True, type=click.IntRange(0),
           help="Up to this many more, at random, so workers do not restart together (gunicorn)."),
    option("--forwarded-allow-ips", default="127.0.0.1,::1", show_default=True,
           help="Proxies trusted for X-Forwarded-* (comma-separated, '*' for any)."),
    option("--server", type=click.Choice(SERVERS), default=SERVERS[0], show_default=True,
           help="The HTTP server: granian (Rust; slow clients cost no thread) or gunicorn."),
    option("--header-timeout", default=5, show_default=True, type=click.IntRange(1, 60),
           help="Seconds a client has to send a request's header, and to start the next one on a "
           "kept-alive connection; then it is closed (granian)."),
    option("--backlog", default=2048, show_default=True, type=click.IntRange(128, 65535),
           help="Connections waiting to be accepted (granian: also the most open at once, shared "
           "by the workers)."),
    option("--workers-lifetime", default=None, type=click.IntRange(60), metavar="SECONDS",
           help="Replace each worker after this long, against slow leaks (granian)."),
    option("--workers-max-rss", default=None, type=click.IntRange(1), metavar="MIB",
           help="Replace a worker whose memory grows past this (granian)."),
    option("--ssl-certfile", default=None, type=click.Path(exists=True, dir_okay=False),
           help="Serve HTTPS with this certificate (PEM; with --ssl-keyfile)."),
    option("--ssl-keyfile", default=None, type=click.Path(exists=True, dir_okay=False),
           help="The certificate's private key (PEM; PKCS#8 on granian)."),
    option("--no-access-log", is_flag=True, help="Do not log each request."),
    option("--db-connect-timeout", default=5, show_default=True, type=click.IntRange(1, 600),
           help="Seconds to wait for the database server to accept a connection (then a 503)."),
    option("--read-replica", "read_replicas", var="READ_REPLICAS", multiple=True, metavar="URL",
           help="A PostgreSQL read replica for GET and HEAD (repeatable; the variable takes a "
           "comma- or space-separated list)."),
    option("--allowed-host", "allowed_hosts", multiple=True, metavar="HOST[:PORT]",
           help="Another Host name to answer, e.g. a proxy's public name (repeatable; '*': any). "
           "By default only the names of the bound address are (against DNS rebinding)."),
    option("--cors", "cors", multiple=True, metavar="ORIGIN", callback=_origins,
           help="Let pages of ORIGIN (scheme://host[:port]) call the API from a browser "
           "(repeatable; '*': any origin, without credentials)."),
    option("--allow-anonymous-writes", is_flag=True,
           help="Serve writes without --auth-table on an address other than loopback."),
)  # fmt: skip


@click.command("serve")
@_serve_options
@api_options
def serve_command(
    host: str,
    port: int,
    workers: int,
    threads: int,
    timeout: int,
    graceful_timeout: int,
    keep_alive: int,
    max_requests: int,
    max_requests_jitter: int,
    forwarded_allow_ips: str,
    server: str,
    header_timeout: int,
    backlog: int,
    workers_lifetime: int | None,
    workers_max_rss: int | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    no_access_log: bool,
    allow_anonymous_writes: bool,
    allowed_hosts: tuple[str, ...],
    db_connect_timeout: int,
    read_replicas: tuple[str, ...],
    changes_stream_seconds: float,
    changes_poll: float,
    cors: tuple[str, ...],
    **api: Any,
) -> None:
    """Serve DATABASE (a SQLite file or a SQLAlchemy URL) as a REST JSON API.

    With no DATABASE, serve the bundled demo database (built on first use).
    """
    settings = api_settings(**api)
    policy, target, read_only = settings.policy, settings.target, api["read_only"]
    prefix = api["prefix"]
    open_writes = not read_only and (policy is None or not policy.auth.get("table"))
    if open_writes and not _loopback(host) and not allow_anonymous_writes:
        raise click.UsageError(
            f"refusing to let anyone on the network write through {host}: add --auth-table "
            "(and a --policy), or --read-only, or --allow-anonymous-writes if that is meant"
        )
    label = f"the demo database ({target})" if settings.demo else ""
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics there and /metrics sums them (set before any worker
        # imports prometheus-client).
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix="tablerest-metrics-"
        )
        atexit.register(_remove_from, os.getpid(), metrics_dir)
    feed: ChangeFeed | bool = False
    if settings.changes:
        # Each open stream holds a thread: more threads, and a few always left for requests.
        ctx = click.get_current_context()
        if ctx.get_parameter_source("threads") == click.core.ParameterSource.DEFAULT:
            threads = CHANGES_THREADS
        feed = ChangeFeed(
            stream_seconds=changes_stream_seconds,
            poll=changes_poll,
            max_streams=max(1, threads - FREE_THREADS),
        )
    hosts = bound_hosts(host, [h for item in allowed_hosts for h in item.split(",") if h])
    try:
        AllowedHosts(hosts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allowed-host") from None
    factory = functools.partial(
        create_app,
        target,
        **settings.app,
        policy=policy,
        allowed_hosts=hosts,
        cors=cors,
        changes=feed,
        observability=Observability(access_log=not no_access_log),
        read_replicas=[u for item in read_replicas for u in item.replace(",", " ").split()],
        connect_timeout=db_connect_timeout,
        keep_connections=True,  # the server's threads live for many requests
        # One key per run, made before the workers fork, so every worker accepts the
        # keyset cursors (and tokens) the others hand out.
        secret_key=os.environ.get("TABLEREST_SECRET_KEY") or secrets.token_hex(32),
    )
    try:
        label = label or sa.make_url(database_url(target)).render_as_string(hide_password=True)
        app = factory()  # fail here, before forking, if the database cannot be read
    except (FileNotFoundError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise click.ClickException(f"cannot serve {label or target}: {exc}") from exc
    base = f"http://{host}:{port}{prefix}"
    names = sorted(app.extensions["tablerest"][prefix].endpoints)
    click.echo(f"tablerest serving {label}")
    click.echo(f"  API:       {base}  ({len(names)} resources: {', '.join(names)})")
    click.echo(f"  example:   curl {base}/{quote(names[0])}" if names else "  (no tables found)")
    own = app.extensions["tablerest"][prefix].api
    reserved = reserved_names(docs=own.docs, batch=own.batch, auth=own.auth is not None)
    for table, name in renamed(app).items():
        why = (
            f": {prefix}/{slug(table)} is the API's own (--rename {table}=NAME names it)"
            if slug(table) in reserved
            else ""
        )
        click.echo(f"  renamed:   table {table!r} is served at {base}/{quote(name)}{why}")
    click.echo(f"  mode:      {'read-only' if read_only else 'read-write'}, {workers} worker(s)"
               f" on {server}")  # fmt: skip
    click.echo(f"  hosts:     {', '.join(hosts)}  (--allowed-host adds names)")
    if cors:
        click.echo(f"  cors:      {', '.join(cors)}")
    if isinstance(feed, ChangeFeed):
        first = quote(names[0]) if names else "<table>"
        click.echo(f"  changes:   curl -N {base}/{first}/changes  "
                   f"(live page: {base}/changes.html)")  # fmt: skip
    for view, reason in skipped_views(app).items():
        click.echo(f"warning: not serving view {view!r}: the database cannot read it ({reason})",
                   err=True)  # fmt: skip
    concealed = hidden_secrets(app)
    if concealed:
        click.echo(
            f"warning: not serving {len(concealed)} column(s) whose names say they hold "
            f"secrets: {', '.join(concealed)} (--show TABLE.COLUMN serves one)",
            err=True,
        )
    if policy is not None and policy.auth.get("table"):
        click.echo(f"  sign in:   curl -d 'username=...&password=...' {base}/auth/token")
        limits = [f"sign-in {api['rate_limit_sign_in'] or 'unlimited'}",
                  f"sign-up {api['rate_limit_sign_up'] or 'unlimited'}"]  # fmt: skip
        click.echo(f"  limits:    {', '.join(limits)} per address (--rate-limit-sign-in/-up)")
        if not os.environ.get("TABLEREST_SECRET_KEY"):
            click.echo(
                "  note:      tokens last until a restart; set TABLEREST_SECRET_KEY to keep them"
            )
        if workers > 1 and not os.environ.get("TABLEREST_REDIS_URL"):
            click.echo(
                "  note:      sign-in sessions and rate-limit counters live in each worker's "
                "memory: set TABLEREST_REDIS_URL so that refresh, logout and limits work "
                "across workers"
            )
    # The workers are forked from this process and build apps of their own: this one goes
    # first, and its pooled connection (no SQLite connection may cross a fork), or every
    # worker would keep a copy of it beside its own.
    app.extensions["tablerest"][prefix].db.engine().dispose()
    del app, own
    gc.collect()
    # Fewer malloc arenas for the workers' threads, and this process's free pages handed back
    # before they fork (glibc only; MALLOC_ARENA_MAX in the environment wins: see malloc.py).
    malloc.tune()
    run(
        factory,
        **_server_options(
            server,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            timeout=timeout,
            graceful_timeout=graceful_timeout,
            keep_alive=keep_alive,
            max_requests=max_requests,
            max_requests_jitter=max_requests_jitter,
            forwarded_allow_ips=forwarded_allow_ips,
            header_timeout=header_timeout,
            backlog=backlog,
            workers_lifetime=workers_lifetime,
            workers_max_rss=workers_max_rss,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        ),
    )


#: serve's options that one server has and the other has not: which, and what to use instead.
_ONLY_ON = {
    "timeout": ("gunicorn", "granian has no per-request timeout (see the README's Serving)"),
    "max_requests": ("gunicorn", "use --workers-lifetime or --workers-max-rss"),
    "max_requests_jitter": ("gunicorn", "use --workers-lifetime or --workers-max-rss"),
    "header_timeout": ("granian", "gunicorn has no header read timeout (see the README)"),
    "workers_lifetime": ("granian", "use --max-requests"),
    "workers_max_rss": ("granian", "use --max-requests"),
}


def _server_options(server: str, **options: Any) -> dict[str, Any]:
    """``run``'s options for ``server``: a setting the other server has, given on the command
    line or in the environment, is an error rather than silently ignored."""
    ctx = click.get_current_context()
    given = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    for name, (owner, instead) in _ONLY_ON.items():
        if owner != server and ctx.get_parameter_source(name) in given:
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"{flag} is a {owner} setting, not {server}'s: {instead}")
    if bool(options.get("ssl_certfile")) != bool(options.get("ssl_keyfile")):
        raise click.UsageError("HTTPS needs both --ssl-certfile and --ssl-keyfile")
    out = {k: v for k, v in options.items() if _ONLY_ON.get(k, (server,))[0] == server}
    if server == "gunicorn":
        out["access_log"] = False  # the app's JSON access log (with request ids) replaces it
    return {"server": server, **out}


def _remove_from(owner: int, path: str) -> None:
    # Workers are forked from this process and run its exit hooks too: only it cleans up.
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@click.command("openapi")
@api_options
@click.option(
    "--only",
    type=click.Choice(["json", "jsonapi"]),
    default=None,
    help="Describe bodies and answers in this representation alone (as openapi.json?format="
    "json|jsonapi): the document to give code generators.",
)
def openapi_command(only: str | None, **api: Any) -> None:
    """Print the OpenAPI 3.1 document of DATABASE's API as JSON: with the same options, the
    document `tablerest serve` serves at PREFIX/openapi.json.

    With no DATABASE, the document of the bundled demo database.
    """
    settings = api_settings(**api)
    try:
        app = create_app(
            settings.target,
            **settings.app,
            policy=settings.policy,
            changes=settings.changes,
            secret_key=secrets.token_hex(32),
        )
    except (FileNotFoundError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise click.ClickException(f"cannot read {settings.target}: {exc}") from exc
    state = app.extensions["tablerest"][api["prefix"]]
    try:
        click.echo(dumps(openapi.document(state, only=only)).decode())
    finally:
        state.db.engine().dispose()  # a server database: its connection is done with
