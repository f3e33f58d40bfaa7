"""The options that say what API a database gets, shared by ``tablerest serve`` and
``tablerest openapi``: declared once, read once, so that ``tablerest openapi`` with serve's
options prints exactly the document ``serve`` serves. :func:`option` declares an option with
its ``TABLEREST_*`` variable, and :func:`group` several as one decorator, for all the commands.

:func:`api_options` adds them to a command (each with its ``TABLEREST_*`` variable);
:func:`api_settings` turns their values into what :func:`tablerest.server.create_app` takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from ..mount.ratelimit import RateLimits
from ..reflect.selection import Selection

if TYPE_CHECKING:
    from ..auth.policyfile import PolicyFile

__all__ = [
    "ApiSettings",
    "Decorator",
    "api_options",
    "api_settings",
    "columns",
    "env",
    "group",
    "option",
    "pairs",
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def env(name: str) -> dict[str, Any]:
    """An option's environment variable: every setting of `serve` has one."""
    return {"envvar": f"TABLEREST_{name}", "show_envvar": True}


def option(*decls: str, var: str | None = None, **attrs: Any) -> Decorator:
    """``click.option`` read from ``TABLEREST_<VAR>`` too: VAR is the first flag's name in
    upper case (``--auth-table``: ``TABLEREST_AUTH_TABLE``) unless ``var`` names another."""
    flag = decls[0].split("/")[0].removeprefix("--")
    return click.option(*decls, **env(var or flag.upper().replace("-", "_")), **attrs)


def group(*options: Decorator) -> Decorator:
    """``options`` as one decorator, in the order of stacked ``@click.option`` lines (and of
    the command's help)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for each in reversed(options):
            fn = each(fn)
        return fn

    return decorate


#: The options that protect a zero-code API: a users table and a policy file.
_auth_options = group(
    option("--policy", type=click.Path(exists=True, dir_okay=False), default=None,
           help="A TOML policy file: who may do what per table (see the README)."),
    option("--auth-table", default=None, metavar="TABLE",
           help="Turn on token auth against TABLE's users (POST PREFIX/auth/token)."),
    option("--auth-login", multiple=True, metavar="COLUMN",
           help="Column(s) users sign in with (default: username, email, login)."),
    option("--auth-password", default=None, metavar="COLUMN",
           help="The password hash column (default: password, password_hash, ...)."),
    option("--auth-roles", default=None, metavar="COLUMN",
           help="A column of roles (comma- or space-separated) for role(...) rules."),
    option("--auth-min-password-length", default=None, type=click.IntRange(0, 1024),
           help="Shortest password accepted on sign-up and change (default 8)."),
    option("--auth-max-password-bytes", default=None, type=click.IntRange(1, 65536),
           help="Longest password (UTF-8 bytes), refused before hashing (default 1024)."),
)  # fmt: skip


#: Columns left out of, or kept in, the API (beside those whose names look secret).
_hide_options = group(
    option("--hide", multiple=True, metavar="TABLE.COLUMN",
           help="Never serve this column (repeatable)."),
    option("--show", multiple=True, metavar="TABLE.COLUMN",
           help="Serve this column although its name says it holds a secret (password, *_hash, "
           "*_token, secret, api_key...; repeatable)."),
)  # fmt: skip


def _limit(_ctx: click.Context, param: click.Parameter, value: str) -> str | None:
    """A Flask-Limiter rate limit (``10/minute``, ``5 per hour; 50 per day``), or off."""
    if value.strip().lower() in ("off", "none", "0", ""):
        return None
    if value == param.default:
        # Known to parse (tests check the defaults): parsing would import limits into serve's
        # process, hence into every worker forked from it (1.5 MiB each), limits or not.
        return value
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a rate limit such as 10/minute or '5/hour; 20/day' (or off)",
            param=param,
        ) from None
    return value


#: Limits on signing in and signing up, and the CSV export's formula guard.
_safety_options = group(
    option("--rate-limit-sign-in", default="10/minute", show_default=True, metavar="LIMIT",
           callback=_limit,
           help="Sign-in attempts (PREFIX/auth/token, /auth/refresh) per address, and per login "
           "name from any address ('off': no limit)."),
    option("--rate-limit-sign-up", default="10/hour", show_default=True, metavar="LIMIT",
           callback=_limit, help="Users created (sign-ups) per address ('off': no limit)."),
    option("--rate-limit", default="off", show_default=True, metavar="LIMIT", callback=_limit,
           help="Requests to the API per address (anonymous) or per user."),
    option("--csv-formula-guard/--no-csv-formula-guard", default=True, show_default=True,
           help="CSV exports neutralise text cells that start like a spreadsheet formula (= + - "
           "@ ...); off for programs that read the CSV."),
)  # fmt: skip


def columns(specs: tuple[str, ...], option: str) -> dict[str, list[str]]:
    """``TABLE.COLUMN`` options as a mapping (the first dot ends the table's name)."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        table, sep, column = spec.partition(".")
        if not sep or not table or not column:
            raise click.BadParameter(f"{spec!r} is not TABLE.COLUMN", param_hint=option)
        out.setdefault(table, []).append(column)
    return out


def _with_demo_hidden(hidden: dict[str, list[str]]) -> dict[str, list[str]]:
    from ..demo import DEMO_HIDDEN

    return {t: [*DEMO_HIDDEN.get(t, []), *hidden.get(t, [])] for t in {*DEMO_HIDDEN, *hidden}}


def policy_file(
    policy: str | None,
    auth_table: str | None,
    auth_login: tuple[str, ...],
    auth_password: str | None,
    auth_roles: str | None,
    auth_min_password_length: int | None = None,
    auth_max_password_bytes: int | None = None,
) -> PolicyFile | None:
    """The policy file's rules, with the --auth-* flags over its [auth] section."""
    if policy is None and auth_table is None:
        given = (auth_min_password_length, auth_max_password_bytes)
        if auth_login or auth_password or auth_roles or any(v is not None for v in given):
            raise click.UsageError("the --auth-* options need --auth-table")
        return None
    from ..auth.policyfile import PolicyFile, load_policy  # with a policy or auth only

    try:
        loaded = load_policy(policy) if policy is not None else PolicyFile()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from exc
    flags = {"table": auth_table, "login": list(auth_login) or None,
             "password": auth_password, "roles": auth_roles,
             "min_password_length": auth_min_password_length,
             "max_password_bytes": auth_max_password_bytes}  # fmt: skip
    auth = {**loaded.auth, **{k: v for k, v in flags.items() if v is not None}}
    return PolicyFile(auth, loaded.default, loaded.tables, loaded.keys, loaded.api)


def pairs(specs: tuple[str, ...], option: str) -> dict[str, list[str]]:
    """``TABLE=COL[,COL...]`` options as a mapping."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        table, sep, cols = spec.partition("=")
        names = [c.strip() for c in cols.split(",") if c.strip()]
        if not sep or not table or not names:
            raise click.BadParameter(f"{spec!r} is not TABLE=COL[,COL...]", param_hint=option)
        out[table] = names
    return out


def listed(specs: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``--value-list TABLE.FIELD=RELATION.COLUMN`` options as table -> field -> spec."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        name, sep, target = spec.partition("=")
        table, dot, fname = name.partition(".")
        if not (sep and dot and table and fname and target.count(".") == 1):
            raise click.BadParameter(
                f"{spec!r} is not TABLE.FIELD=RELATION.COLUMN", param_hint="--value-list"
            )
        out.setdefault(table, {})[fname] = target
    return out


def _rename(_ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    """``--rename TABLE=NAME`` options as a mapping (the last ``=`` ends the table's name)."""
    out: dict[str, str] = {}
    for spec in value:
        table, sep, name = spec.rpartition("=")
        if not sep or not table or not name:
            raise click.BadParameter(f"{spec!r} is not TABLE=NAME", param=param)
        out[table] = name
    return out


#: Which tables are served, under which names, beside which of the API's own routes.
_what_options = group(
    option("--read-only", is_flag=True, help="Serve GET only: no writes at all."),
    option("--prefix", default="/api", show_default=True, help="URL prefix of the API."),
    option("--schema", default=None, help="Database schema to serve (default: the default one)."),
    option("--tables", multiple=True, metavar="NAME|GLOB[,...]",
           help="Serve only these tables and views (names or globs such as 'shop_*'; repeatable "
           "or comma-separated; default: all)."),
    option("--exclude", multiple=True, metavar="NAME|GLOB[,...]",
           help="Never serve these tables or views (names or globs; repeatable or "
           "comma-separated): no routes, no relations to them."),
    option("--rename", multiple=True, metavar="TABLE=NAME", callback=_rename,
           help="Serve TABLE as the resource NAME (repeatable)."),
    option("--batch/--no-batch", default=None,
           help="POST PREFIX/batch: atomic batches of writes (default: on)."),
    option("--docs/--no-docs", default=None,
           help="PREFIX/openapi.json and the docs page PREFIX/docs (default: on)."),
    option("--format", "format_", var="FORMAT", type=click.Choice(["json", "jsonapi"]),
           default=None,
           help="What clients that ask for no representation get: plain JSON (the default) or "
           "JSON:API (application/vnd.api+json)."),
    option("--camel-case", is_flag=True, default=False,
           help="Clients use camelCase names for snake_case columns and relations "
           "(created_at -> createdAt) in rows, bodies, filters, sorts and errors."),
    option("--unique-violation", type=click.Choice(["conflict", "validation"]),
           default="conflict", show_default=True,
           help="A value another row holds in a unique key: 409 (conflict) or 422 with a field "
           "error per column (validation), as form libraries report a taken value."),
    option("--searchable", multiple=True, metavar="TABLE=COL[,COL...]",
           help="Text columns that q= searches in TABLE (repeatable)."),
    option("--key", "keys", multiple=True, metavar="VIEW=COL[,COL...]",
           help="Columns that identify the rows of a view or keyless table: it gets item routes."),
    option("--lookup", "lookups", multiple=True, metavar="TABLE=COL[,COL...]",
           help="Unique NOT NULL columns that name TABLE's rows in URLs instead of its primary "
           "key: PREFIX/articles/{slug} (repeatable)."),
    option("--value-list", "value_lists", multiple=True,
           metavar="TABLE.FIELD=RELATION.COLUMN",
           help="A many-to-many relation of TABLE read and written as the list of one unique "
           "column of its rows: --value-list articles.tag_list=tags.name (repeatable)."),
    option("--get-or-create", "get_or_create", multiple=True, metavar="TABLE=REL[,REL...]",
           help="Many-to-many relations of TABLE whose writes (a value list) create the rows "
           "they name that do not exist yet (repeatable)."),
    option("--changes/--no-changes", default=None,
           help="The live change feed, GET PREFIX/<table>/changes (on by default for the demo "
           "database; creates the tables tablerest_changes and tablerest_change_counter)."),
)  # fmt: skip


def api_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every option that shapes the API (and so its OpenAPI document), with DATABASE."""
    fn = _safety_options(_hide_options(_auth_options(fn)))
    fn = _what_options(fn)
    return click.argument("database", required=False, envvar="TABLEREST_DATABASE")(fn)


@dataclass
class ApiSettings:
    """What :func:`api_settings` makes of the API options."""

    #: The database (a URL or a file; the demo's file when none was given).
    target: str
    #: Whether it is the bundled demo database.
    demo: bool
    #: The policy file with the --auth-* flags over it, if either was given.
    policy: PolicyFile | None
    #: Whether the change feed is on.
    changes: bool
    #: ``create_app``'s keyword arguments (but ``changes`` and those of the server).
    app: dict[str, Any] = field(default_factory=dict)


def api_settings(
    database: str | None,
    read_only: bool,
    prefix: str,
    schema: str | None,
    tables: tuple[str, ...],
    exclude: tuple[str, ...],
    rename: dict[str, str],
    batch: bool | None,
    docs: bool | None,
    searchable: tuple[str, ...],
    keys: tuple[str, ...],
    lookups: tuple[str, ...],
    value_lists: tuple[str, ...],
    get_or_create: tuple[str, ...],
    changes: bool | None,
    format_: str | None,
    camel_case: bool,
    unique_violation: str,
    hide: tuple[str, ...],
    show: tuple[str, ...],
    rate_limit_sign_in: str | None,
    rate_limit_sign_up: str | None,
    rate_limit: str | None,
    csv_formula_guard: bool,
    **auth_options: Any,
) -> ApiSettings:
    """The API options' values (as :func:`api_options` declares them) as settings."""
    hidden = columns(hide, "--hide")
    target = database or ""
    if database is None:
        # The demo's builder (and argon2) imported for the demo only: serve's workers are
        # forked from this process, and would all hold them.
        from ..demo import ensure_demo

        target = str(ensure_demo())
        hidden = _with_demo_hidden(hidden)
    app = {
        "read_only": read_only,
        "prefix": prefix,
        "schema": schema,
        "hidden": hidden,
        "shown": columns(show, "--show"),
        "searchable": pairs(searchable, "--searchable"),
        "keys": pairs(keys, "--key"),
        "lookups": pairs(lookups, "--lookup"),
        "value_lists": listed(value_lists),
        "get_or_create": pairs(get_or_create, "--get-or-create"),
        "selection": Selection.of(tables, exclude, rename, batch, docs),
        "rate_limits": RateLimits(
            anonymous=rate_limit,
            user=rate_limit,
            sign_in=rate_limit_sign_in,
            sign_up=rate_limit_sign_up,
        ),
        "csv_formula_guard": csv_formula_guard,
        "format": format_,
        "camel_case": camel_case,
        "unique_violation": unique_violation,
    }
    return ApiSettings(
        target=target,
        demo=database is None,
        policy=policy_file(**auth_options),
        changes=(database is None and not read_only) if changes is None else changes,
        app=app,
    )
