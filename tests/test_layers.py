"""Imports point one way along the pipeline (STYLE.md): no stage imports a later one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tablerest"

# Each module may import only the tablerest modules listed for it.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    # The schema is built lazily from the declaration; the policy is only a type hint.
    "resource": {"auth.policies", "schema"},
    "schema": {"binary", "errors", "resource", "sqlite_time", "typeops", "untyped"},
    "binary": set(),  # base64 text and file parts -> bytes: SQLAlchemy types only
    "untyped": set(),  # untyped columns: what they store, filters on them (SQLAlchemy, pydantic)
    # stored SQLite date/time formats (a column no format reads is served untyped)
    "sqlite_time": {"untyped"},
    "http": {"errors"},
    "request": {"binary", "errors", "resource", "sqlite_time", "typeops", "untyped"},
    "typeops": {"errors"},  # which operators each column type takes: no stage of its own
    "partitions": set(),  # reflection's help for partitioned tables: SQLAlchemy only
    "reflecttypes": {"typeops"},  # reflection's corrections of column types
    "query": {"request", "resource", "rowkeys"},
    # how a URL's key names a stored row (untyped and mixed-format date keys): plan helpers
    "rowkeys": {"sqlite_time", "untyped"},
    "portable": set(),
    "cursor": {"errors"},
    "keys": set(),  # one key per purpose from the app's secret: hashlib only
    "readplan": {
        "decimals",
        "errors",
        "portable",
        "request",
        "resource",
        "rowkeys",
        "sqlite_time",
        "typeops",
        "untyped",
    },
    "decimals": set(),  # decimal columns stored as floats: SQLAlchemy only
    "dberrors": set(),  # database errors -> kinds: SQLAlchemy only
    "checks": {"dberrors", "errors", "resource"},  # which field a CHECK failure is about
    "store": {"dberrors", "errors", "prepared", "resource"},
    "prepared": set(),  # the store layer's executor: SQLAlchemy only
    "owntables": set(),  # tablerest's own tables in the served database: SQLAlchemy only
    "render.json": {"resource"},
    "render.export": {"render.json"},
    "render.jsonapi": {"errors", "resource"},
    "render.problem": {"errors", "render.json", "render.jsonapi"},
    "jsonapi_body": {"errors", "request", "resource"},  # the request stage for JSON:API
    "nested": {"errors", "request", "resource"},  # the request stage for nested writes
    # Beside dispatch: runs each operation through its resource's endpoint.
    "batch": {"dispatch", "errors", "http", "render.json", "render.jsonapi", "request", "store"},
    # The authorize stage: after parsing, before planning (which it feeds row conditions).
    "auth": {"auth.policies", "auth.service"},
    "auth.passwords": {"errors"},  # 429 when every hashing slot stays busy
    "auth.sessions": {"owntables"},
    "auth.tokens": {"errors"},
    "auth.policies": {"request", "resource"},
    "auth.access": {"auth.policies", "errors", "resource"},
    # text -> permissions and what is served: no request, no database
    "auth.policyfile": {"auth.policies", "selection"},
    "selection": {"resource"},  # which tables, under which names: names only
    # The users resource as auth reads it: lookups, roles, account stamps.
    "auth.accounts": {"keys", "request", "resource", "store"},
    # Token pairs, their checks on each use, refresh and revocation: no HTTP.
    "auth.issuer": {"auth.accounts", "auth.sessions", "auth.tokens", "errors", "store"},
    "auth.views": {"errors", "http"},  # the token routes' request bodies and responses
    "auth.service": {
        "auth.accounts",
        "auth.issuer",
        "auth.passwords",
        "auth.policies",
        "auth.sessions",
        "auth.tokens",
        "auth.views",
        "errors",
        "keys",
        "resource",
        "store",
    },
    # The change feed: its outbox is written by the store's transactions (dispatch calls it),
    # its stream is a read: parse, authorize, render.
    "changes.outbox": {"changes", "owntables", "render.json", "resource"},
    "changes.fanout": {"changes", "changes.outbox", "errors", "resource", "store"},
    "changes.like": set(),  # LIKE patterns in Python: pure, no SQL
    "changes.stream": {
        "auth.access",
        "auth.policies",
        "changes.fanout",
        "changes.like",
        "changes.outbox",
        "errors",
        "render.json",
        "request",
        "resource",
        "sqlite_time",
        "typeops",
        "untyped",
    },
    # Beside the pipeline: probes, metrics.
    "observe": {"dberrors", "errors", "render.problem", "store"},
    "granian_runner": set(),  # the server: it gets the app only as a factory
    "openapi": {
        "api",
        "auth.service",
        "nested",
        "render.jsonapi",
        "request",
        "resource",
        "schema",
        "selection",
        "sqlite_time",
        "store",
        "typeops",
    },
    # The command line, by command: the top of the package, nothing imports it.
    "cli": {"cli.db", "cli.importing", "cli.init", "cli.serve"},
    "cli.options": {"auth.policyfile", "demo", "ratelimit", "selection"},  # click only
    "cli.serve": {
        "changes",
        "cli.options",
        "http",
        "observe",
        "openapi",
        "render.json",
        "resource",
        "selection",
        "server",
    },
    "cli.init": {"scaffold"},
    "cli.importing": {
        "cli.options",
        "errors",
        "importer",
        "reflect",
        "selection",
        "server",
        "store",
    },
    "cli.db": {"cli.options", "migrate"},
}

# Subpackages whose every module must be listed above: a new one states what it may import.
LISTED = ("auth", "cli")


def _tablerest_imports(module: str) -> set[str]:
    path = PACKAGE.joinpath(*module.split("."))
    if path.is_dir():  # a package: its __init__, whose "." is the package itself
        path, package_parts = path / "__init__.py", module.split(".")
    else:
        path, package_parts = path.with_suffix(".py"), module.split(".")[:-1]
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
                if node.module is None:
                    found.update(".".join([*base, a.name]) for a in node.names)
                else:
                    found.add(target)
            elif node.module and node.module.startswith("tablerest."):
                found.add(node.module.removeprefix("tablerest."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("tablerest.")
                for a in node.names
                if a.name.startswith("tablerest.")
            )
    return found


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_stage_imports_only_earlier_stages(module: str) -> None:
    extra = _tablerest_imports(module) - ALLOWED[module]
    assert not extra, f"{module} imports {sorted(extra)}"


@pytest.mark.parametrize("package", LISTED)
def test_every_module_of_a_listed_package_says_what_it_imports(package: str) -> None:
    modules = {
        ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in (PACKAGE / package).glob("*.py")
    }
    assert not modules - set(ALLOWED), f"not in ALLOWED: {sorted(modules - set(ALLOWED))}"
