"""``tablerest serve`` on granian, a Rust HTTP server with a WSGI interface (the default).

Connections, keep-alive and header parsing live in Rust (tokio), not in Python threads: a client
that opens a connection and never finishes its request header holds no thread and is closed
after the header read timeout, so slow clients cannot starve the ordinary ones (gunicorn's
gthread worker gives each connection a thread and has no header timeout). Python threads (the
``blocking threads``) only run the app: each open change-feed stream holds one.

:func:`granian_settings` says how ``serve``'s options become granian's; :func:`run_granian`
serves an app factory with them, one app per worker process, wrapped by :class:`ServedApp`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ServedApp", "granian_settings", "run_granian"]

#: Keys of a WSGI environ that granian fills in from the request itself.
_REQUEST_KEYS = frozenset(
    [
        "GATEWAY_INTERFACE",
        "SCRIPT_NAME",
        "SERVER_SOFTWARE",
        "SERVER_PROTOCOL",
        "SERVER_NAME",
        "SERVER_PORT",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
        "QUERY_STRING",
        "PATH_INFO",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
    ]
)


def granian_settings(
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 4,
    header_timeout: int = 5,
    keep_alive: int = 5,
    graceful_timeout: int = 30,
    backlog: int = 2048,
    workers_lifetime: int | None = None,
    workers_max_rss: int | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> dict[str, Any]:
    """granian's ``Server`` arguments for ``tablerest serve``.

    HTTP/1 only: with HTTP/2 detection on (granian's ``auto``) a connection that sends nothing
    at all is never timed out, since the protocol sniffing happens before the header timer
    starts. ``header_timeout`` (seconds) closes a connection whose request header is not
    complete in time, and also an idle keep-alive connection that does not start its next
    request within it; ``keep_alive`` 0 turns keep-alive off (any other value: on, bounded by
    ``header_timeout``). A failed worker is started again; ``graceful_timeout`` is how long
    workers get to finish on shutdown or respawn before they are killed. Workers are recycled
    after ``workers_lifetime`` seconds (at least 60) or above ``workers_max_rss`` MiB, when
    given. Each worker accepts at most ``backlog / workers`` connections at a time (granian's
    backpressure); more wait in the listen queue.
    """
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    settings: dict[str, Any] = {
        "address": host,
        "port": port,
        "interface": Interfaces.WSGI,
        "http": HTTPModes.http1,
        "websockets": False,
        "workers": workers,
        "blocking_threads": threads,
        "backlog": backlog,
        "http1_settings": HTTP1Settings(
            header_read_timeout=header_timeout * 1000, keep_alive=keep_alive > 0
        ),
        "respawn_failed_workers": True,
        "workers_kill_timeout": max(1, graceful_timeout),
        "workers_lifetime": workers_lifetime,
        "workers_max_rss": workers_max_rss,
        "log_access": False,  # the app's JSON access log (with request ids) is the one
    }
    if ssl_certfile or ssl_keyfile:
        if not (ssl_certfile and ssl_keyfile):
            raise ValueError("TLS needs both a certificate and a key file")
        settings["ssl_cert"] = Path(ssl_certfile)
        settings["ssl_key"] = Path(ssl_keyfile)
    return settings


class ServedApp:
    """The app as ``serve``'s server calls it (granian's; gunicorn's too, which handles the
    scheme but not the client address): ``X-Forwarded-For``, ``-Proto``, ``-Host`` and
    ``-Prefix`` count only from ``trusted`` proxies (addresses or networks, comma-separated;
    ``*``: any), and the server's environment variables are taken out of each request's environ.
    The host and prefix make the absolute links the API writes (``links.next``, ``Location``)
    name the proxy's public URL; from any other peer they would let a client choose them.

    granian processes no ``X-Forwarded-*`` header itself, so werkzeug's ProxyFix (one proxy
    hop) runs for requests whose peer is a trusted proxy and for no others. granian copies
    ``os.environ`` into every request's environ: secrets (``TABLEREST_SECRET_KEY``, database
    URLs) would then reach anything that logs an environ, and a variable such as
    ``HTTP_PROXY`` would read as a request header the client never sent (httpoxy).
    """

    def __init__(self, app: WSGIApplication, trusted: str = "127.0.0.1,::1") -> None:
        self.app = app
        self.proxied = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
        names = [n.strip() for n in trusted.split(",") if n.strip()]
        self.trust_all = "*" in names
        self.addresses = frozenset(n for n in names if "/" not in n and n != "*")
        self.networks = [ipaddress.ip_network(n, strict=False) for n in names if "/" in n]
        for address in self.addresses:
            ipaddress.ip_address(address)  # a typo fails at start, not per request
        self.server_env = tuple(k for k in os.environ if k not in _REQUEST_KEYS)

    def trusts(self, peer: str | None) -> bool:
        """Whether ``peer`` (the connection's address) is a trusted proxy."""
        if self.trust_all or peer in self.addresses:
            return True
        if not peer or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        for name in self.server_env:
            environ.pop(name, None)
        if self.trusts(environ.get("REMOTE_ADDR")):
            return self.proxied(environ, start_response)
        return self.app(environ, start_response)


@dataclass(frozen=True)
class _Loader:
    """Builds one worker's app (a class, not a closure, so that it pickles where workers are
    spawned rather than forked)."""

    factory: Callable[[], WSGIApplication]
    trusted: str

    def __call__(self) -> ServedApp:
        return ServedApp(self.factory(), self.trusted)


def run_granian(
    app_factory: Callable[[], Any], *, forwarded_allow_ips: str = "127.0.0.1,::1", **options: Any
) -> None:
    """Serve with granian (``options``: see :func:`granian_settings`); each worker builds its
    app with ``app_factory``."""
    from granian.server import Server

    ServedApp(lambda environ, start_response: [], forwarded_allow_ips)  # check the addresses

    class _Server(Server):  # type: ignore[misc,valid-type]
        def _respawn_workers(self, workers: list[int], *args: Any, **kwargs: Any) -> None:
            # gunicorn's child_exit hook: a replaced worker's gauges leave the sums Prometheus
            # sees (its counters stay counted). granian has no hook, hence the override.
            pids = [getattr(getattr(self.wrks[i], "inner", None), "pid", None) for i in workers]
            super()._respawn_workers(workers, *args, **kwargs)
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                from prometheus_client import multiprocess

                for pid in pids:
                    if pid is not None:
                        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

    server = _Server("tablerest", **granian_settings(**options))
    server.serve(target_loader=_Loader(app_factory, forwarded_allow_ips), wrap_loader=False)
