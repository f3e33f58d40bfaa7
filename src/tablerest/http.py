"""HTTP negotiation: what the client accepts, what it sent, and how big it is.

This is the first stage of the pipeline, so that even an early error renders in a format the
client can read. It reads the Flask request and nothing else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import platform
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Request, Response

from .errors import (
    InvalidParameter,
    MalformedBody,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)

__all__ = [
    "BODY_TYPES",
    "CHANGES_PAGE_CSP",
    "DOCS_PAGE_CSP",
    "JSONAPI",
    "UNSAFE_METHODS",
    "AllowedHosts",
    "Body",
    "ListFormat",
    "Representation",
    "bound_hosts",
    "cors_for_origins",
    "cross_site",
    "etag",
    "if_match",
    "list_format",
    "not_modified",
    "page_headers",
    "read_body",
    "representation",
    "vary_by_caller",
]

JSON_TYPES = ("application/json", "application/problem+json")
JSONAPI = "application/vnd.api+json"
#: Set in the WSGI environ once a request speaks JSON:API: its errors are JSON:API too.
JSONAPI_REQUEST = "tablerest.jsonapi"
Representation = Literal["json", "jsonapi"]
ListFormat = Literal["json", "jsonapi", "csv", "ndjson"]
#: What a list can be sent as, by media type; JSON first, so ``*/*`` and ties get JSON.
LIST_TYPES: dict[str, ListFormat] = {
    "application/json": "json",
    "application/problem+json": "json",
    JSONAPI: "jsonapi",
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: raw JSON bytes, or the fields of a form (and its file parts' bytes)."""

    kind: Literal["json", "form"]
    raw: bytes = b""
    form: dict[str, str] | None = None
    files: dict[str, bytes] | None = None


def _jsonapi_parameters_ok(params: dict[str, str]) -> bool:
    """JSON:API 1.1 allows ``ext`` and ``profile`` only; no extension is supported here."""
    return set(params) <= {"ext", "profile"} and not params.get("ext")


def representation(request: Request, default: Representation) -> Representation:
    """Plain JSON or JSON:API, by the JSON:API 1.1 negotiation rules.

    A JSON:API body whose media type has other parameters is a 415; an ``Accept`` whose every
    JSON:API entry has them is a 406. JSON:API is chosen when the client names it (in
    ``Accept``, at least as high as JSON, or as the body's type) or, for ``Accept: */*`` and
    no ``Accept``, when it is the resource's default.
    """
    environ = request.environ
    sent = False
    content_type = environ.get("CONTENT_TYPE")
    if content_type and JSONAPI in content_type:
        mimetype, params = parse_options_header(content_type)
        if mimetype == JSONAPI:
            environ[JSONAPI_REQUEST] = sent = True
            if not _jsonapi_parameters_ok(params):
                raise UnsupportedMediaType(
                    "The JSON:API media type takes no parameters here but profile "
                    "(no extension is supported)"
                )
    accept = environ.get("HTTP_ACCEPT")
    if accept is None:
        if sent or default == "jsonapi":
            environ[JSONAPI_REQUEST] = True
            return "jsonapi"
        return "json"
    jsonapi_q: float | None = None
    named_jsonapi = False
    json_q = 0.0
    for value, quality in request.accept_mimetypes:
        mimetype, params = parse_options_header(value)
        if mimetype == JSONAPI:
            named_jsonapi = True
            if _jsonapi_parameters_ok(params) and quality > 0:
                jsonapi_q = max(jsonapi_q or 0.0, quality)
        elif mimetype in JSON_TYPES:
            json_q = max(json_q, quality)
    if named_jsonapi:
        environ[JSONAPI_REQUEST] = True
        if jsonapi_q is None:
            raise NotAcceptable(
                "Every JSON:API media type in Accept has parameters other than profile "
                "(no extension is supported)"
            )
        if jsonapi_q >= json_q:
            return "jsonapi"
    if json_q > 0:
        return "json"
    if request.accept_mimetypes.best_match(JSON_TYPES) is None:
        raise NotAcceptable(
            "This API answers with application/json or application/vnd.api+json; "
            "the Accept header rules them out"
        )
    if sent or default == "jsonapi":  # only wildcards: the resource's own choice
        environ[JSONAPI_REQUEST] = True
        return "jsonapi"
    return "json"


def list_format(request: Request, exportable: bool, default: Representation) -> ListFormat:
    """The representation of a list: ``?format=`` if given, else the best the ``Accept``
    header allows (see :func:`representation`). Exports (CSV, NDJSON) where ``exportable``."""
    given = request.args.getlist("format")
    if given:
        if len(given) > 1:
            raise InvalidParameter("format", "format is given more than once")
        value = given[0]
        if value in ("json", "jsonapi") or (exportable and value in ("csv", "ndjson")):
            if value == "jsonapi":
                request.environ[JSONAPI_REQUEST] = True
            return value  # type: ignore[return-value]
        allowed = (
            "json, jsonapi, csv or ndjson"
            if exportable
            else "json or jsonapi (this resource has no export)"
        )
        raise InvalidParameter("format", f"format must be {allowed}")
    accept = request.environ.get("HTTP_ACCEPT")
    if exportable and accept is not None:
        best = request.accept_mimetypes.best_match(tuple(LIST_TYPES))
        if best is not None and LIST_TYPES[best] in ("csv", "ndjson"):
            return LIST_TYPES[best]
        if best is None and JSONAPI not in accept:
            raise NotAcceptable(
                f"This list is available as {', '.join(LIST_TYPES)}; "
                "the Accept header rules them out"
            )
    return representation(request, default)


def etag(body: bytes) -> str:
    """A strong entity tag for a representation: a digest of its bytes (unquoted).

    Tags only tell versions of one URL's representation apart (they guard against lost
    updates, not forgery), and SHA-1 is the fastest digest here with hardware support.
    """
    digest = hashlib.sha1(body, usedforsecurity=False).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def not_modified(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names this representation (weak comparison, RFC 9110)."""
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        return False
    return request.if_none_match.contains_weak(tag)


def if_match(request: Request, tag: str | None) -> bool:
    """Whether ``If-Match`` allows changing the row whose current tag is ``tag`` (strong
    comparison; ``*`` matches any existing row, ``tag`` None means there is none)."""
    if tag is None:
        return False
    condition = request.if_match
    return condition.star_tag or condition.contains(tag)


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


#: What a write's body may be sent as, as a 415 lists it: what :func:`_is_json` takes (JSON,
#: JSON:API, any other ``application/*+json``) and the form types.
BODY_TYPES = ("application/json", JSONAPI, "application/*+json", *FORM_TYPES)
_SEND = f"send {', '.join(BODY_TYPES[:-1])} or {BODY_TYPES[-1]}"


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_OPENERS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(raw: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit``: the parsers would take it (up to their own
    recursion limits), but no row needs it and a JSON column would store it."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # too few brackets to be that deep: most bodies stop here
    # Brackets only (none inside strings), all square; each pass removes one level.
    seq = _JSON_STRING.sub(b"", raw).translate(_OPENERS_AS_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = seq.replace(b"[]", b"")
        if shorter == seq:
            return  # all gone, or not JSON at all (its parser says so)
        seq = shorter
    if b"[]" in seq:
        raise MalformedBody(f"The JSON body is nested more than {limit} levels deep")


def read_body(request: Request, limit: int, max_depth: int = 32) -> Body:
    """Read a write request's body, at most ``limit`` bytes, as JSON (nested at most
    ``max_depth`` levels) or form fields."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The body is {length} bytes; the limit is {limit}")
    mimetype = request.mimetype
    if _is_json(mimetype):
        # With a Content-Length the stream ends there: ask for no more (no large read buffer).
        raw = request.stream.read(limit + 1 if length is None else length)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes")
        if not raw.strip():
            raise MalformedBody("The request body is empty; send a JSON object")
        _check_depth(raw, max_depth)
        return Body("json", raw=raw)
    if mimetype in FORM_TYPES:
        request.max_content_length = limit
        request.max_form_memory_size = limit
        try:
            if mimetype == FORM_TYPES[0]:
                _refuse_json_as_form(request)
            form = request.form
            files = request.files
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes") from None
        multi = [k for k, v in form.lists() if len(v) > 1]
        multi += [k for k, v in files.lists() if len(v) > 1 or k in form]
        if multi:
            raise MalformedBody(f"Form field {multi[0]!r} is given more than once")
        content = {k: f.read() for k, f in files.items()}
        # A file input left empty is sent as a part with no file name and no bytes: not given.
        sent = {k: data for k, data in content.items() if data or files[k].filename}
        return Body("form", form=form.to_dict(), files=sent or None)
    if not mimetype:
        raise UnsupportedMediaType(f"The request has no Content-Type; {_SEND}")
    raise UnsupportedMediaType(f"Content-Type {mimetype} is not supported; {_SEND}")


def _refuse_json_as_form(request: Request) -> None:
    """415 for a JSON document sent as a form: ``curl -d '{"code": 1}'`` labels its body
    ``application/x-www-form-urlencoded``, which would make the whole document one unknown
    field. Only a body that parses as a JSON object or array is refused, so no real form is."""
    raw = request.get_data(cache=True)  # kept: the form is then parsed from the same bytes
    if raw.lstrip()[:1] not in (b"{", b"["):
        return
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    raise UnsupportedMediaType(
        "The body is JSON but its Content-Type is application/x-www-form-urlencoded "
        "(what curl -d sends): send Content-Type: application/json"
    )


# -- where a request comes from: Host (DNS rebinding) and Origin (cross-site writes) ------------

#: The methods that change something: the ones a cross-site page must not send unasked.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]/\s@]+)(?::([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _host_name(name: str) -> str | Address:
    """A host name lowercased (no trailing dot), or the address an IP literal names."""
    bare = name[1:-1] if name.startswith("[") else name
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return name.lower().rstrip(".")


def _split_host(value: str) -> tuple[str | Address, int | None] | None:
    """``name[:port]`` / ``[v6][:port]`` -> (name or address, port); None when malformed."""
    found = _HOST.fullmatch(value)
    if found is None:
        return None
    port = int(found[2]) if found[2] else None
    if port is not None and not 0 < port < 65536:
        return None
    return _host_name(found[1]), port


class AllowedHosts:
    """The ``Host`` values an API answers to (``Api(allowed_hosts=[...])``).

    A page on a name the attacker controls can make that name resolve to the API's address (DNS
    rebinding); the browser then treats the API as the page's own origin, but still sends the
    page's name in ``Host``. Entries: ``"api.example.com"`` (any port),
    ``"localhost:8000"`` (that port only; a ``Host`` without a port has its scheme's default),
    ``"[::1]:8000"``, ``".example.com"`` (the name and every subdomain), ``"10.0.0.0/8"`` (any
    IP literal in that network, any port: an address cannot be rebound), ``"*"`` (any host: no
    check)::

        AllowedHosts(["localhost:8000", "api.example.com"]).allows("evil.example:8000", "http")
    """

    __slots__ = ("_any", "_exact", "_networks", "_suffixes", "allows")

    def __init__(self, entries: Sequence[str]) -> None:
        #: Whether a request with this ``Host`` header (None: none sent) is for this API.
        #: Decided once per value (a parse takes 3-5 µs): the cache is bounded, since a client
        #: can send any value.
        self.allows: Callable[[str | None, str], bool] = functools.lru_cache(maxsize=256)(
            self._decide
        )
        self._any = False
        self._exact: set[tuple[str | Address, int | None]] = set()
        self._suffixes: list[tuple[str, int | None]] = []
        self._networks: list[Network] = []
        for entry in entries:
            text = entry.strip()
            if text == "*":
                self._any = True
                continue
            if "/" in text:
                try:
                    self._networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(f"allowed host {entry!r} is not a network") from None
                continue
            with_dot = text.startswith(".")
            try:  # an IPv6 address without brackets: no port can follow it
                parsed: tuple[str | Address, int | None] | None = (ipaddress.ip_address(text), None)
            except ValueError:
                parsed = _split_host(text[1:] if with_dot else text)
            if parsed is None or parsed[0] == "":
                raise ValueError(
                    f"allowed host {entry!r} is not a host name, host:port, [IPv6]:port, "
                    ".suffix, network or *"
                )
            name, port = parsed
            if with_dot and isinstance(name, str):
                self._suffixes.append((name, port))
            else:
                self._exact.add((name, port))

    def _decide(self, host: str | None, scheme: str) -> bool:
        if self._any:
            return True
        parsed = _split_host(host.strip()) if host else None
        if parsed is None:
            return False
        name, given = parsed
        port = given if given is not None else _DEFAULT_PORTS.get(scheme)
        if (name, None) in self._exact or (name, port) in self._exact:
            return True
        if isinstance(name, str):
            return any(
                (name == suffix or name.endswith("." + suffix)) and want in (None, port)
                for suffix, want in self._suffixes
            )
        return any(name in net for net in self._networks if net.version == name.version)


#: An origin as a browser sends it: scheme, host and port if not the scheme's own, no path.
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$", re.IGNORECASE)


def cors_for_origins(origins: Iterable[str]) -> bool | dict[str, Any] | None:
    """``Api(cors=...)`` for a list of origins (``tablerest serve --cors``): None for none,
    ``True`` when one is ``*`` (any origin, answered with ``*``), else flask-cors options
    naming them. ``ValueError`` for something a browser never sends as an ``Origin`` (a
    path, a trailing ``/``, no scheme): it would silently match nothing."""
    given = [o.strip() for o in origins if o.strip()]
    bad = [o for o in given if o != "*" and not _ORIGIN.match(o)]
    if bad:
        raise ValueError(
            f"{', '.join(map(repr, bad))}: an origin is scheme://host[:port] with no path, "
            "e.g. https://app.example or http://localhost:5173 (or '*' for any)"
        )
    if not given:
        return None
    if "*" in given:
        return True
    return {"origins": list(dict.fromkeys(given))}


def bound_hosts(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The ``Host`` values a server bound to ``host`` answers to, plus ``extra``.

    Loopback: ``127.0.0.1``, ``localhost`` and ``[::1]`` (and the bound address). A given
    address or name: that one. Every address (``0.0.0.0``, ``::``): any IP literal (an address
    cannot be rebound), ``localhost`` and this machine's name. Any port: a rebinding page sends
    its own name whatever the port, while port mappings (containers, local proxies) change it.
    """
    bare = host.strip("[]")
    try:
        address: Address | None = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is not None and address.is_unspecified:
        names = ["0.0.0.0/0", "::/0", "localhost", platform.node()]
    elif host == "localhost" or (address is not None and address.is_loopback):
        names = ["127.0.0.1", "localhost", "[::1]"]
        if address is not None and str(address) not in ("127.0.0.1", "::1"):
            names.append(str(address))
    elif address is not None and address.version == 6:
        names = [f"[{address}]"]
    else:
        names = [host]
    return [*names, *extra]


def cross_site(request: Request) -> str | None:
    """What makes this request come from another site's page: its ``Origin`` (``"null"`` for
    sandboxed and ``file:`` pages), or ``"Sec-Fetch-Site: cross-site"`` when it sent no
    ``Origin``; None for the API's own pages and for clients that are not browsers (no
    ``Origin``, no ``Sec-Fetch-Site``).

    An origin is the API's own when its host and port are the request's ``Host``; the schemes
    are not compared (behind a TLS proxy the scheme seen here is not the browser's).
    """
    environ = request.environ
    origin: str | None = environ.get("HTTP_ORIGIN")
    if origin is None:
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE", "").strip().lower()
        return "Sec-Fetch-Site: cross-site" if fetch_site == "cross-site" else None
    scheme, sep, rest = origin.strip().partition("://")
    own = _split_host(environ.get("HTTP_HOST", "").strip())
    theirs = _split_host(rest) if sep and "/" not in rest else None
    if own is None or theirs is None:
        return origin  # "null", or not an origin at all
    if theirs[0] != own[0]:
        return origin
    if own[1] is None:  # the scheme's default port: the origin names none (or that one)
        same_port = theirs[1] in (None, _DEFAULT_PORTS.get(request.scheme))
    else:
        same_port = (theirs[1] or _DEFAULT_PORTS.get(scheme.lower())) == own[1]
    return None if same_port else origin


# -- what a response says about itself: who may cache it, who may frame it ----------------------


def vary_by_caller(resp: Response, credentials: bool) -> Response:
    """Mark an answer of an API with callers, so that no cache serves it to someone else.

    It varies on ``Authorization`` (an anonymous answer is not a signed-in one); the answer to a
    request with ``credentials`` is ``private`` (a resource's ``public`` and ``s-maxage`` are
    dropped, its ``max-age`` kept; ``no-store`` stays as it is). 304s get the same headers, as
    their 200s do.
    """
    resp.vary.add("Authorization")
    if credentials:
        cache = resp.cache_control
        if not cache.no_store:
            cache.public = False
            cache.s_maxage = None
            cache.private = True
    return resp


#: The docs page: Swagger UI's scripts and styles from the package's own files (no inline
#: script: init.js starts it), the document and "Try it out" requests to this origin. Swagger
#: UI sets style attributes and shows data: images, hence those two. Never framed: a framing
#: page could make a visitor click "Execute" on a write (clickjacking).
DOCS_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: The live page: its one inline script and style, by a nonce new in each answer, and the
#: EventSource to this origin.
CHANGES_PAGE_CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def page_headers(csp: str) -> list[tuple[str, str]]:
    """A page's security headers: its CSP, and ``X-Frame-Options`` for browsers that predate
    ``frame-ancestors``."""
    return [
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", csp),
        ("X-Frame-Options", "DENY"),
    ]
