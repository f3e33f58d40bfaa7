"""Permissions written down: the policy file of ``tablerest serve --policy FILE``.

A zero-code API gets the permissions a code-first one writes in Python, from TOML::

    [auth]                      # the users table (flags of `tablerest serve` override)
    table = "users"
    login = ["username", "email"]
    roles = "roles"

    [default]                   # tables not named under [tables]
    all = "public"              # every action; a named action overrides it
    delete = "role(admin)"

    [tables]
    tags = "public"             # a string: the same rule for every action

    [tables.posts]
    all = "owner(author_id) | role(admin)"
    list = "public"
    read = "public"

    [tables.users]
    all = "owner(id) | role(admin)"
    create = "public"
    hidden_unless = { email = "role(admin)" }
    read_only_unless = { roles = "role(admin)" }
    hidden = ["last_ip"]        # never served, to anyone
    shown = ["token_count"]     # served, though its name looks secret

    [tables.articles]
    lookup = ["slug"]           # rows named by a unique column: /api/articles/{slug}

    [keys]                      # views and keyless tables: the columns naming a row
    order_lines = ["order_id", "line"]

    [api]                       # what is served (flags of `tablerest serve` override)
    tables = ["*"]              # names or globs (default: every table and view)
    exclude = ["*_audit", "django_*"]
    rename = { "Order Items" = "order_items" }
    batch = false               # no POST /api/batch (as --no-batch)
    docs = false                # no OpenAPI document or docs page (as --no-docs)
    format = "jsonapi"          # JSON:API unless a client asks for JSON (as --format)

A rule is an expression of ``public``, ``authenticated``, ``nobody``, ``role(a, b)`` and
``owner(field)``, combined with ``|``, ``&`` and parentheses. It is parsed, never evaluated
as code. An action a table leaves out falls back to ``all``, then to ``[default]``, then to
``public``; the users table named in ``[auth]`` never takes ``[default]`` (see
:func:`tablerest.server.create_app`). ``hidden`` and ``shown`` (lists of columns) are
``tablerest serve --hide`` / ``--show`` for one table, and ``lookup`` its ``--lookup``;
``[api]`` is ``--tables``, ``--exclude``, ``--rename``, ``--no-batch``, ``--no-docs`` and
``--format`` (see :class:`tablerest.reflect.selection.Selection`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..reflect.selection import Selection
from .policies import ACTIONS, Permission, authenticated, nobody, owner, public, role

__all__ = ["PolicyFile", "TableRules", "load_policy", "parse_rule"]

_TOKEN = re.compile(r"""\s*(?:([()|&,])|([A-Za-z_][\w.-]*)|"([^"]*)"|'([^']*)')""")
_PUNCTUATION = {"(", ")", "|", "&", ","}
_AUTH_KEYS = {"table", "login", "password", "roles", "min_password_length", "max_password_bytes"}
#: [auth] keys whose values are whole numbers (the password policy).
_AUTH_NUMBERS = ("min_password_length", "max_password_bytes")
_TABLE_KEYS = {
    "all",
    *ACTIONS,
    "hidden_unless",
    "read_only_unless",
    "hidden",
    "shown",
    "lookup",
}
_API_KEYS = ("tables", "exclude", "rename", "batch", "docs", "format")
_SECTIONS = ("auth", "default", "tables", "keys", "api")


@dataclass(frozen=True)
class TableRules:
    """One table's permissions (action -> permission) and field rules."""

    permissions: dict[str, Permission] = field(default_factory=dict)
    hidden_unless: dict[str, Permission] = field(default_factory=dict)
    read_only_unless: dict[str, Permission] = field(default_factory=dict)
    #: Columns never served (``hidden``), and columns served although they look secret.
    hidden: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    #: The unique columns that name a row in URLs instead of its primary key (``lookup``).
    lookup: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyFile:
    """What a policy file says: the users table and the rules per table."""

    auth: dict[str, Any] = field(default_factory=dict)
    default: TableRules = field(default_factory=TableRules)
    tables: dict[str, TableRules] = field(default_factory=dict)
    #: View or keyless table -> the columns that identify its rows (``[keys]``).
    keys: dict[str, list[str]] = field(default_factory=dict)
    #: What is served: tables, their names, the batch endpoint and docs (``[api]``).
    api: Selection = field(default_factory=Selection)

    def rules_for(self, table: str) -> TableRules:
        """The table's rules, with actions it leaves out taken from ``[default]``."""
        own = self.tables.get(table, TableRules())
        return TableRules(
            {**self.default.permissions, **own.permissions},
            own.hidden_unless,
            own.read_only_unless,
            own.hidden,
            own.shown,
            own.lookup,
        )

    @property
    def hidden(self) -> dict[str, list[str]]:
        """Table -> the columns its section hides from everyone (``hidden = [...]``)."""
        return {name: list(rules.hidden) for name, rules in self.tables.items() if rules.hidden}

    @property
    def lookups(self) -> dict[str, list[str]]:
        """Table -> the unique columns naming its rows in URLs (``lookup = [...]``)."""
        return {name: list(rules.lookup) for name, rules in self.tables.items() if rules.lookup}

    @property
    def shown(self) -> dict[str, list[str]]:
        """Table -> the columns its section serves although they look secret."""
        return {name: list(rules.shown) for name, rules in self.tables.items() if rules.shown}


def load_policy(path: str | Path) -> PolicyFile:
    """Read and check a policy file; ``ValueError`` says what is wrong and where."""
    import tomllib  # for a policy file only: serve's workers would all hold it

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown sections {unknown} ({', '.join(_SECTIONS)})")
    auth = _mapping(data.get("auth", {}), f"{path}: [auth]")
    bad = sorted(set(auth) - _AUTH_KEYS)
    if bad:
        raise ValueError(f"{path}: [auth] has unknown keys {bad} ({', '.join(sorted(_AUTH_KEYS))})")
    for key in _AUTH_NUMBERS:
        value = auth.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{path}: [auth] {key} is a whole number, e.g. {key} = 12")
    default = _table(data.get("default", {}), f"{path}: [default]")
    if default.hidden_unless or default.read_only_unless or default.hidden or default.shown:
        raise ValueError(f"{path}: [default] takes actions only, not field rules")
    tables = {
        name: _table(spec, f"{path}: [tables.{name}]")
        for name, spec in _mapping(data.get("tables", {}), f"{path}: [tables]").items()
    }
    keys = {
        name: _columns(value, f"{path}: [keys] {name}")
        for name, value in _mapping(data.get("keys", {}), f"{path}: [keys]").items()
    }
    api = _api(_mapping(data.get("api", {}), f"{path}: [api]"), f"{path}: [api]")
    return PolicyFile(dict(auth), default, tables, keys, api)


def _api(spec: Mapping[str, Any], where: str) -> Selection:
    """The ``[api]`` section: the tables served, renames, batch and docs on or off, the
    default representation."""
    bad = sorted(set(spec) - set(_API_KEYS))
    if bad:
        raise ValueError(f"{where} has unknown keys {bad} ({', '.join(_API_KEYS)})")
    lists = {
        key: _columns(spec[key], f"{where} {key}", empty=True, what="table names or globs")
        for key in ("tables", "exclude")
        if key in spec
    }
    rename = _mapping(spec.get("rename", {}), f"{where} rename")
    if not all(isinstance(v, str) for v in rename.values()):
        raise ValueError(f'{where} rename: table = "new name", e.g. {{ batch = "batches" }}')
    flags = {}
    for key in ("batch", "docs"):
        if key in spec and not isinstance(spec[key], bool):
            raise ValueError(f"{where} {key} is true or false")
        flags[key] = spec.get(key)
    fmt = spec.get("format")
    if fmt not in (None, "json", "jsonapi"):
        raise ValueError(f'{where} format is "json" or "jsonapi"')
    tables, exclude = lists.get("tables", ()), lists.get("exclude", ())
    return Selection.of(tables, exclude, dict(rename), **flags, format=fmt)


def parse_rule(text: str) -> Permission:
    """A permission from its written form, e.g. ``owner(author_id) | role(admin, editor)``."""
    tokens = _tokens(text)
    rule, rest = _any_of(tokens, text)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in rule {text!r}")
    return rule


def _table(spec: Any, where: str) -> TableRules:
    if isinstance(spec, str):
        spec = {"all": spec}
    spec = _mapping(spec, where)
    bad = sorted(set(spec) - _TABLE_KEYS)
    if bad:
        raise ValueError(f"{where}: unknown keys {bad} (all, {', '.join(ACTIONS)}, field rules)")
    permissions: dict[str, Permission] = {}
    for action in ACTIONS:
        text = spec.get(action, spec.get("all"))
        if text is not None:
            permissions[action] = _rule(text, f"{where} {action}")
    rules = {
        kind: {
            name: _rule(text, f"{where} {kind}.{name}")
            for name, text in _mapping(spec.get(kind, {}), f"{where} {kind}").items()
        }
        for kind in ("hidden_unless", "read_only_unless")
    }
    lists = {
        kind: tuple(_columns(spec[kind], f"{where} {kind}", empty=True)) if kind in spec else ()
        for kind in ("hidden", "shown", "lookup")
    }
    return TableRules(
        permissions,
        rules["hidden_unless"],
        rules["read_only_unless"],
        lists["hidden"],
        lists["shown"],
        lists["lookup"],
    )


def _columns(
    value: Any, where: str, *, empty: bool = False, what: str = "column names"
) -> list[str]:
    if isinstance(value, str):
        value = [c.strip() for c in value.split(",") if c.strip()]
    if (
        not isinstance(value, list)
        or not (value or empty)
        or not all(isinstance(c, str) for c in value)
    ):
        raise ValueError(f'{where}: a list of {what}, e.g. ["order_id", "line"]')
    return value


def _rule(text: Any, where: str) -> Permission:
    if not isinstance(text, str):
        raise ValueError(f'{where}: a rule is a string, e.g. "owner(owner_id) | role(admin)"')
    try:
        return parse_rule(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table of keys")
    return value


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise ValueError(f"cannot read {text[at:].strip()!r} in rule {text!r}")
        punct, word, dq, sq = m.groups()
        out.append(punct or word or ("'" + (dq if dq is not None else sq or "")))
        at = m.end()
    return out


def _any_of(tokens: list[str], text: str) -> tuple[Permission, list[str]]:
    rule, tokens = _all_of(tokens, text)
    while tokens and tokens[0] == "|":
        other, tokens = _all_of(tokens[1:], text)
        rule = rule | other
    return rule, tokens


def _all_of(tokens: list[str], text: str) -> tuple[Permission, list[str]]:
    rule, tokens = _atom(tokens, text)
    while tokens and tokens[0] == "&":
        other, tokens = _atom(tokens[1:], text)
        rule = rule & other
    return rule, tokens


_NAMED: dict[str, Permission] = {
    "public": public,
    "authenticated": authenticated,
    "nobody": nobody,
}


def _atom(tokens: list[str], text: str) -> tuple[Permission, list[str]]:
    if not tokens:
        raise ValueError(f"rule {text!r} ends too soon")
    head, rest = tokens[0], tokens[1:]
    if head == "(":
        rule, rest = _any_of(rest, text)
        if not rest or rest[0] != ")":
            raise ValueError(f"missing ')' in rule {text!r}")
        return rule, rest[1:]
    if head in _NAMED:
        return _NAMED[head], rest
    if head in ("role", "owner"):
        names, rest = _arguments(rest, text, head)
        if head == "owner":
            if len(names) != 1:
                raise ValueError(f"owner() takes one field name, in rule {text!r}")
            return owner(names[0]), rest
        return role(*names), rest
    raise ValueError(
        f"unknown {head.lstrip(chr(39))!r} in rule {text!r} "
        "(public, authenticated, nobody, role(...), owner(...))"
    )


def _arguments(tokens: list[str], text: str, name: str) -> tuple[list[str], list[str]]:
    if not tokens or tokens[0] != "(":
        raise ValueError(f"{name} needs its arguments in parentheses, in rule {text!r}")
    names: list[str] = []
    tokens = tokens[1:]
    while True:
        if not tokens or tokens[0] in _PUNCTUATION:
            raise ValueError(f"{name}() needs names, in rule {text!r}")
        names.append(tokens[0].lstrip("'"))
        tokens = tokens[1:]
        if tokens and tokens[0] == ",":
            tokens = tokens[1:]
            continue
        if tokens and tokens[0] == ")":
            return names, tokens[1:]
        raise ValueError(f"missing ')' after {name}(...), in rule {text!r}")
