"""Imports point one way along the pipeline (STYLE.md): no stage imports a later one, and no
module imports itself back through others (no import cycle, not even for a type hint)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tablerest"

# Each module may import only the tablerest modules listed for it.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    # What each column type means (columns/): below every stage that reads or writes values.
    "columns": set(),
    "columns.binary": set(),  # base64 text and file parts -> bytes: SQLAlchemy types only
    # untyped columns: what they store, filters on them (SQLAlchemy, pydantic)
    "columns.untyped": set(),
    # stored SQLite date/time formats (a column no format reads is served untyped)
    "columns.sqlite_time": {"columns.untyped"},
    "columns.typeops": {"errors"},  # which operators each column type takes: no stage of its own
    # how a URL's key names a stored row (untyped and mixed-format date keys): plan helpers
    "columns.rowkeys": {"columns.sqlite_time", "columns.untyped"},
    "columns.decimals": set(),  # decimal columns stored as floats: SQLAlchemy only
    "columns.jsonobject": set(),  # a JSON object built in SQL, its members read back typed
    # The schema is built lazily from the declaration; the policy is held as grants.AccessPolicy.
    # errors: the error_renderer / unique_violation options' types
    "resource": {
        "calling",
        "declaring",
        "envelopes",
        "errors",
        "fields",
        "grants",
        "names",
        "relations",
        "schema",
        "valuelists",
    },
    # Its options checked, and what they derive (Resource calls them): below resource.
    "declaring": {"envelopes", "fields", "names", "relations", "viewer"},
    "envelopes": {"errors"},  # rows in a named member: the declaration and how it applies
    "toggles": {"resource"},  # membership toggles, as declared (Api.toggle)
    "nests": {"relations", "resource"},  # sub-resources under a parent row (Api.nest)
    # A declaration's parts, built when it is declared: below resource, SQLAlchemy only.
    "fields": {"viewer"},  # which columns and expressions are exposed, and how
    "viewer": set(),  # caller.id, the bind parameter of fields computed from who asks
    "relations": {"names"},  # relations from foreign keys or relationship(), and their names
    # many-to-many relations shown as a list of one field (value_lists=): their fields
    "valuelists": {"columns.jsonobject", "fields", "relations"},
    "names": set(),  # URL-safe names for tables and relations
    "limits": set(),  # bounds on one request: a value every stage may read
    # It reads a declaration through its own protocol (schema.Declared): below resource.
    "schema": {
        "columns.binary",
        "columns.jsonobject",
        "columns.sqlite_time",
        "columns.typeops",
        "columns.untyped",
        "errors",
    },
    # The caller, actions and grants, and what the stages ask of a policy: below every stage.
    "grants": set(),
    "keys": set(),  # one key per purpose from the app's secret: hashlib only
    # The negotiate stage: what the client accepts and sent, first so that errors render.
    "http": {"errors"},
    # The decode stage (decode/): query strings and bodies -> intents, no SQL.
    "decode": set(),  # the package says what its modules do and imports none of them
    # Text from a URL -> a column's value (filters, keys, policy constants).
    "decode.values": {"columns.binary", "columns.sqlite_time", "columns.typeops", "errors"},
    "decode.exactjson": set(),  # JSON with its numbers kept as sent: pydantic_core only
    # a URL's key -> key values
    "decode.urlkeys": {"columns.untyped", "decode.values", "errors", "resource"},
    # the syntax of filter[...] names: conditions, or/not groups
    "decode.filtergroups": {"errors"},
    # a list's page and count: which rows, how many
    "decode.paging": {"errors", "limits", "resource"},
    # a filter's text -> its column's value, within the limits
    "decode.filtervalues": {
        "columns.typeops",
        "columns.untyped",
        "decode.values",
        "errors",
        "limits",
    },
    "decode.queries": {
        "columns.typeops",
        "decode.filtergroups",
        "decode.filtervalues",
        "decode.paging",
        "decode.values",
        "errors",
        "fields",
        "limits",
        "names",
        "relations",
        "resource",
    },
    # JSON:API request documents -> flat field values
    "decode.jsonapi": {"decode.exactjson", "decode.urlkeys", "errors", "relations", "resource"},
    # nested documents -> a tree of validated rows
    "decode.nested": {"decode.exactjson", "decode.values", "errors", "relations", "resource"},
    # The decode stage of writes: bodies -> intents, as the caller sees the API (so after the
    # caller's view is made: operations.caller).
    "decode.bodies": {
        "decode.exactjson",
        "decode.jsonapi",
        "decode.nested",
        "errors",
        "http",
        "operations.caller",
        "operations.intents",
        "resource",
        "schema",
    },
    # The plan stage (plan/): intents -> statements, pure.
    "plan": set(),  # the package says what its modules do and imports none of them
    "plan.writes": {"columns.rowkeys", "resource"},
    "plan.portable": set(),
    "plan.cursor": {"errors"},
    # filters -> conditions and bind values (lists, counts, groups, relation routes)
    "plan.filters": {
        "columns.decimals",
        "columns.sqlite_time",
        "columns.typeops",
        "columns.untyped",
        "decode.queries",
        "plan.portable",
        "relations",
        "resource",
    },
    "plan.reads": {
        "columns.decimals",
        "columns.rowkeys",
        "columns.sqlite_time",
        "columns.typeops",
        "columns.untyped",
        "decode.queries",
        "decode.values",
        "errors",
        "fields",
        "plan.filters",
        "plan.portable",
        "relations",
        "resource",
    },
    # The execute stage (execute/): statements run, database errors -> domain errors.
    "execute": set(),  # the package says what its modules do and imports none of them
    "execute.dberrors": set(),  # database errors -> kinds: SQLAlchemy only
    # which field a CHECK failure is about
    "execute.checks": {"errors", "execute.dberrors", "resource"},
    "execute.store": {
        "errors",
        "execute.dberrors",
        "execute.held",
        "execute.prepared",
        "relations",
        "resource",
    },
    # one pooled connection per server thread for its reads
    "execute.held": {"execute.prepared"},
    "execute.prepared": set(),  # the store layer's executor: SQLAlchemy only
    # tablerest's own tables in the served database: SQLAlchemy only
    "execute.owntables": set(),
    "render.json": {"columns.jsonobject", "resource"},
    "render.export": {"render.json"},
    "render.jsonapi": {"errors", "relations", "resource"},
    "render.problem": {"errors", "http", "render.json", "render.jsonapi"},
    # The operations layer (operations/): what can be done to rows, for one caller's view. It
    # knows no HTTP: the routes, the batch, the import command and applications call it.
    "operations": set(),  # the package says what its modules do and imports none of them
    "operations.intents": set(),  # what a create asks for and wrote: plain data
    # The authorize stage: one caller's view of every resource, made once per request.
    "operations.caller": {
        "auth.access",
        "decode.queries",
        "decode.values",
        "errors",
        "execute.store",
        "grants",
        "relations",
        "resource",
        "viewer",
    },
    "operations.context": {
        "changes",
        "operations.caller",
        "errors",
        "execute.prepared",
        "execute.store",
        "limits",
        "plan.reads",
        "plan.writes",
        "render.json",
        "resource",
    },
    "operations.embed": {
        "decode.queries",
        "errors",
        "execute.prepared",
        "operations.caller",
        "operations.context",
        "plan.reads",
    },
    "operations.reads": {
        "decode.queries",
        "errors",
        "execute.prepared",
        "operations.caller",
        "operations.context",
        "operations.embed",
        "plan.cursor",
        "plan.portable",
        "plan.reads",
        "relations",
        "resource",
    },
    "operations.rowchecks": {
        "columns.untyped",
        "decode.urlkeys",
        "errors",
        "execute.store",
        "grants",
        "operations.caller",
        "operations.context",
        "resource",
    },
    "operations.writes": {
        "columns.untyped",
        "errors",
        "execute.checks",
        "execute.dberrors",
        "execute.prepared",
        "execute.store",
        "grants",
        "operations.caller",
        "operations.context",
        "operations.rowchecks",
        "resource",
    },
    "operations.bulk": {
        "errors",
        "execute.store",
        "operations.caller",
        "operations.context",
        "operations.rowchecks",
        "operations.writes",
        "plan.writes",
        "relations",
    },
    "operations.links": {
        "columns.rowkeys",
        "errors",
        "grants",
        "operations.bulk",
        "operations.caller",
        "operations.context",
        "operations.rowchecks",
        "operations.writes",
        "relations",
        "resource",
    },
    "operations.nesting": {
        "decode.nested",
        "errors",
        "execute.store",
        "operations.caller",
        "operations.context",
        "operations.links",
        "operations.writes",
    },
    "operations.service": {
        "changes",
        "errors",
        "execute.store",
        "operations.bulk",
        "operations.caller",
        "operations.context",
        "operations.intents",
        "operations.links",
        "operations.nesting",
        "operations.reads",
        "operations.writes",
        "resource",
    },
    "operations.registry": {
        "auth.access",
        "execute.store",
        "operations.caller",
        "operations.context",
        "operations.service",
        "relations",
        "resource",
    },
    # What an application's code can call on a resource (a base of Resource): no stage.
    "calling": set(),
    # The application's calls: Python data -> the decode stage -> the operations.
    "calls": {
        "auth.access",
        "calling",
        "decode.bodies",
        "decode.exactjson",
        "decode.queries",
        "decode.urlkeys",
        "http",
        "operations.caller",
        "operations.reads",
        "operations.registry",
        "operations.service",
    },
    # ``tablerest import``: a file's rows -> the schema's validation -> the create operation.
    "importer": {"errors", "operations.caller", "operations.service"},
    # The HTTP routes (routes/): negotiate, decode, call the operations, render.
    "routes": set(),
    "routes.respond": {
        "decode.queries",
        "decode.urlkeys",
        "errors",
        "http",
        "operations.reads",
        "render.export",
        "render.json",
        "resource",
    },
    "routes.common": {
        "auth.access",
        "decode.exactjson",
        "decode.queries",
        "envelopes",
        "errors",
        "http",
        "limits",
        "operations.caller",
        "operations.registry",
        "operations.service",
        "render.jsonapi",
        "routes.respond",
    },
    "routes.reads": {
        "decode.queries",
        "decode.urlkeys",
        "errors",
        "http",
        "operations.caller",
        "operations.reads",
        "relations",
        "render.jsonapi",
        "resource",
        "routes.common",
        "routes.respond",
    },
    # Rows under a parent row: the parent's and the child's own routes, checked to match.
    "routes.nested": {"errors", "nests", "routes.endpoint"},
    # Membership toggles: the caller's link made or removed through the link's own calls.
    "routes.toggles": {
        "calls",
        "decode.values",
        "errors",
        "resource",
        "routes.endpoint",
        "toggles",
    },
    "routes.writes": {
        "decode.bodies",
        "decode.jsonapi",
        "decode.queries",
        "decode.urlkeys",
        "errors",
        "grants",
        "http",
        "operations.caller",
        "operations.links",
        "operations.registry",
        "operations.service",
        "operations.writes",
        "relations",
        "render.json",
        "render.jsonapi",
        "resource",
        "routes.common",
        "routes.respond",
        "decode.exactjson",
    },
    "routes.endpoint": {
        "http",
        "operations.registry",
        "operations.service",
        "routes.common",
        "routes.reads",
        "routes.writes",
    },
    # The Flask extension (mount/): one Api mounted on one app; api.py declares, mount/ serves.
    "mount": set(),
    "mount.state": {
        "auth.access",
        "auth.policies",
        "auth.service",
        "calls",
        "changes",
        "changes.fanout",
        "execute.store",
        "http",
        "mount.ratelimit",
        "openapi.source",
        "operations.context",
        "operations.registry",
        "relations",
        "resource",
        "routes.common",
        "routes.endpoint",
    },
    "mount.pages": {"errors", "http", "mount.state", "openapi", "render.json", "routes.respond"},
    "mount.cors": {"mount.hooks", "mount.state"},  # flask-cors's headers in our own hook
    # Beside the pipeline, on the whole app: probes, request ids, metrics, access logs.
    "mount.observe": {
        "errors",
        "execute.dberrors",
        "execute.store",
        "mount.hooks",
        "mount.scoped",
        "render.problem",
    },
    "mount.hooks": set(),  # request hooks as functions of the request: Flask only
    # tablerest's routes served without Flask's request context, where Flask would run the same.
    "mount.lean": {"mount.hooks"},
    "mount.scoped": {"mount.hooks"},  # context variables set for one request
    "mount.ratelimit": {"errors"},  # Flask-Limiter on the API's routes
    "mount.routing": {
        "nests",
        "routes.nested",
        "routes.toggles",
        "toggles",
        "auth.access",
        "auth.service",
        "auth.views",
        "calls",
        "changes.fanout",
        "changes.stream",
        "envelopes",
        "errors",
        "http",
        "mount.hooks",
        "mount.pages",
        "mount.state",
        "render.problem",
        "resource",
        "routes.batch",
        "routes.common",
        "routes.endpoint",
    },
    "mount.guards": {
        "errors",
        "execute.store",
        "http",
        "mount.hooks",
        "mount.routing",
        "mount.scoped",
        "mount.state",
        "render.jsonapi",
        "render.problem",
    },
    "api": {
        "auth.policies",
        "auth.service",
        "changes",
        "errors",
        "execute.store",
        "http",
        "keys",
        "limits",
        "names",
        "mount",
        "mount.cors",
        "mount.observe",
        "mount.ratelimit",
        "mount.routing",
        "mount.state",
        "reflect.selection",
        "render.problem",  # error_renderer= checked (and a function wrapped) once
        "resource",
        "routes.common",
        "toggles",
        "nests",
    },
    # Runs each operation of a batch through its resource's operations: no request built.
    "routes.batch": {
        "decode.exactjson",
        "decode.queries",
        "decode.urlkeys",
        "errors",
        "execute.store",
        "grants",
        "http",
        "operations.caller",
        "operations.registry",
        "render.json",
        "render.jsonapi",
        "routes.common",
        "routes.endpoint",
        "routes.respond",
    },
    # The authorize stage: after parsing, before planning (which it feeds row conditions).
    "auth": {"auth.policies", "auth.service"},
    "auth.passwords": {"errors"},  # 429 when every hashing slot stays busy
    "auth.sessions": {"execute.owntables"},
    "auth.tokens": {"errors"},
    "auth.policies": {"decode.values", "grants", "resource"},
    "auth.access": {"errors", "grants", "relations", "resource", "valuelists"},
    # text -> permissions and what is served: no request, no database
    "auth.policyfile": {"auth.policies", "reflect.selection"},
    # The users resource as auth reads it: lookups, roles, account stamps.
    "auth.accounts": {"decode.values", "execute.store", "keys", "resource"},
    # Token pairs, their checks on each use, refresh and revocation: no HTTP.
    "auth.issuer": {"auth.accounts", "auth.sessions", "auth.tokens", "errors", "execute.store"},
    "auth.views": {"envelopes", "errors", "http"},  # the token routes' bodies and responses
    "auth.service": {
        "auth.accounts",
        "auth.issuer",
        "auth.passwords",
        "auth.policies",
        "auth.sessions",
        "auth.tokens",
        "auth.views",
        "errors",
        "execute.store",
        "keys",
        "resource",
    },
    # The change feed: its outbox is written by the store's transactions (writes call it),
    # its stream is a read: parse, authorize, render.
    "changes.outbox": {"changes", "execute.owntables", "render.json", "resource"},
    "changes.fanout": {"changes", "changes.outbox", "errors", "execute.store", "resource"},
    "changes.like": set(),  # LIKE patterns in Python: pure, no SQL
    "changes.stream": {
        "auth.policies",
        "changes.fanout",
        "changes.like",
        "changes.outbox",
        "columns.sqlite_time",
        "columns.typeops",
        "columns.untyped",
        "decode.queries",
        "decode.values",
        "errors",
        "operations.caller",
        "render.json",
        "resource",
        "routes.common",
    },
    # Database-first (reflect/): an existing database -> resources, before any request.
    "reflect": set(),  # the package says what its modules do and imports none of them
    "reflect.tables": {
        "columns.decimals",
        "declaring",
        "fields",
        "names",
        "columns.sqlite_time",
        "columns.untyped",
        "execute.owntables",
        "reflect.partitions",
        "reflect.reflecttypes",
        "reflect.selection",
        "reflect.unreadable",
        "resource",
    },
    "reflect.selection": {"names"},  # which tables, under which names: names only
    "reflect.unreadable": set(),  # views the database cannot read: SQLAlchemy only
    "reflect.partitions": set(),  # reflection's help for partitioned tables: SQLAlchemy only
    "reflect.reflecttypes": {"columns.typeops"},  # reflection's corrections of column types
    "granian_runner": set(),  # the server: it gets the app only as a factory
    "malloc": set(),  # glibc's allocator settings for serve's workers: ctypes only
    # The OpenAPI document: built from the declarations alone (no request, no database). It
    # reads the mounted API through its own protocol (openapi.source), never the extension.
    "openapi": {"openapi.document"},
    "openapi.source": {"auth.service", "errors", "limits", "nests", "resource", "toggles"},
    "openapi.common": {"render.jsonapi", "resource"},
    "openapi.fields": {
        "columns.jsonobject",
        "columns.sqlite_time",
        "columns.typeops",
        "decode.queries",
        "decode.values",
        "fields",
        "resource",
    },
    "openapi.context": {
        "fields",
        "openapi.common",
        "openapi.source",
        "relations",
        "render.jsonapi",
        "resource",
    },
    "openapi.schemas": {
        "decode.nested",
        "openapi.common",
        "openapi.context",
        "openapi.fields",
        "resource",
        "schema",
    },
    "openapi.jsonapi": {
        "openapi.common",
        "openapi.context",
        "openapi.fields",
        "openapi.schemas",
        "resource",
        "schema",
    },
    "openapi.parameters": {
        "columns.typeops",
        "decode.filtergroups",
        "decode.queries",
        "fields",
        "limits",
        "openapi.common",
        "openapi.context",
        "openapi.fields",
        "resource",
    },
    "openapi.collection": {
        "execute.store",
        "openapi.common",
        "openapi.context",
        "openapi.jsonapi",
        "openapi.parameters",
        "openapi.schemas",
        "relations",
        "render.jsonapi",
        "resource",
    },
    "openapi.item": {
        "openapi.common",
        "openapi.context",
        "openapi.jsonapi",
        "openapi.parameters",
        "openapi.schemas",
        "resource",
    },
    "openapi.relations": {
        "openapi.collection",
        "openapi.common",
        "openapi.context",
        "openapi.item",
        "openapi.jsonapi",
        "openapi.parameters",
        "openapi.schemas",
        "relations",
        "render.jsonapi",
        "resource",
    },
    "openapi.changes": {"openapi.common", "openapi.context", "openapi.parameters", "resource"},
    "openapi.paths": {
        "openapi.changes",
        "openapi.collection",
        "openapi.common",
        "openapi.context",
        "openapi.item",
        "openapi.parameters",
        "openapi.relations",
        "openapi.schemas",
        "resource",
        "nests",
        "toggles",
    },
    "openapi.auth": {
        "auth.service",
        "openapi.common",
        "openapi.context",
        "openapi.schemas",
        "schema",
    },
    "openapi.batch": {"openapi.common", "openapi.context", "openapi.schemas", "schema"},
    # Try it out's examples, in one pass over the finished paths: from the declarations.
    "openapi.examples": {
        "columns.typeops",
        "execute.store",
        "fields",
        "openapi.context",
        "openapi.schemas",
        "relations",
        "render.jsonapi",
        "resource",
    },
    "openapi.document": {
        "names",
        "openapi.auth",
        "openapi.batch",
        "openapi.common",
        "openapi.context",
        "openapi.examples",
        "openapi.paths",
        "openapi.source",
        "reflect.selection",
        "render.jsonapi",
        "resource",
    },
    # The command line, by command: the top of the package, nothing imports it.
    "cli": {"cli.db", "cli.importing", "cli.init", "cli.serve"},
    "cli.options": {
        "auth.policyfile",
        "demo",
        "mount.ratelimit",
        "reflect.selection",
    },  # click only
    "cli.serve": {
        "changes",
        "cli.options",
        "http",
        "malloc",
        "mount.observe",
        "names",
        "openapi",
        "reflect.selection",
        "render.json",
        "server",
    },
    "cli.init": {"scaffold"},
    "cli.importing": {
        "cli.options",
        "errors",
        "execute.store",
        "importer",
        "limits",
        "operations.context",
        "operations.registry",
        "reflect.selection",
        "reflect.tables",
        "server",
    },
    "cli.db": {"cli.options", "migrate"},
}

# Subpackages whose every module must be listed above: a new one states what it may import.
LISTED = (
    "auth",
    "cli",
    "columns",
    "decode",
    "execute",
    "mount",
    "openapi",
    "operations",
    "plan",
    "reflect",
    "routes",
)


def _tablerest_imports(module: str) -> set[str]:
    path = PACKAGE.joinpath(*module.split("."))
    if path.is_dir():  # a package: its __init__, whose relative imports start from itself
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
    """A new module of a listed package cannot slip past the contract unchecked."""
    found = {
        package if p.stem == "__init__" else f"{package}.{p.stem}"
        for p in (PACKAGE / package).glob("*.py")
    }
    assert found == {m for m in ALLOWED if m.split(".")[0] == package}


# -- no import cycle -------------------------------------------------------------------------

# Cycles (as sets of modules) that are known and being removed. Each fails the test when it
# grows, and when it is gone (so that its entry is deleted with it).
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_name(package: Path, path: Path) -> str:
    """``auth/policies.py`` -> ``auth.policies``; a package's ``__init__.py`` -> its name
    (``""`` for the top package)."""
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _packages_above(module: str) -> set[str]:
    """The packages Python runs before ``module``: ``auth.policies`` -> ``{"", "auth"}``."""
    parts = module.split(".") if module else []
    return {".".join(parts[:i]) for i in range(len(parts))}


def import_graph(package: Path) -> dict[str, set[str]]:
    """Which modules of ``package`` each one imports: every import statement counts, those
    under ``if TYPE_CHECKING:`` and inside functions too."""
    modules = {_module_name(package, p): p for p in package.rglob("*.py")}
    return {m: _imports_of(m, path, set(modules), package.name) for m, path in modules.items()}


def _imports_of(module: str, path: Path, modules: set[str], root: str) -> set[str]:
    """The modules ``module`` imports. Importing ``a.b`` also runs package ``a`` (its
    ``__init__``), so it is an edge to ``a`` unless ``a`` is a package of the importer itself
    (Python is running it already)."""
    own = _packages_above(module)
    # the package relative imports start from
    here = module.split(".") if module else []
    if path.name != "__init__.py":
        here.pop()
    found: set[str] = set()

    def reach(target: str, *, itself: bool = False) -> None:
        found.update(p for p in _packages_above(target) if p not in own)
        if itself or target not in own:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                base += node.module.split(".") if node.module else []
            elif node.module == root or (node.module or "").startswith(root + "."):
                base = (node.module or "").split(".")[1:]
            else:
                continue
            subs = [".".join([*base, a.name]) for a in node.names]
            # `from pkg import name` with a name that is no module reads pkg's __init__
            reach(".".join(base), itself=any(s not in modules for s in subs))
            for sub in subs:
                if sub in modules:
                    reach(sub)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == root or alias.name.startswith(root + "."):
                    reach(alias.name.removeprefix(root).removeprefix("."))
    return {m for m in found if m in modules and m != module}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> str:
    """A shortest import path from the component's first module back to itself, as text."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return " -> ".join(m or "tablerest" for m in [*reversed(path), start])
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"{component} is not a cycle")


def test_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    cycles = import_cycles(graph)
    unknown = [c for c in cycles if frozenset(c) not in KNOWN_CYCLES]
    assert not unknown, "import cycles (TYPE_CHECKING and function-local imports count):\n" + (
        "\n".join(f"  {_one_cycle(graph, c)}  (modules {c})" for c in unknown)
    )
    gone = KNOWN_CYCLES - {frozenset(c) for c in cycles}
    assert not gone, f"no longer cycles, delete them from KNOWN_CYCLES: {sorted(map(sorted, gone))}"


def test_cycle_check_counts_every_kind_of_import(tmp_path: Path) -> None:
    """The checker sees imports under TYPE_CHECKING, inside functions, and the __init__ a
    submodule import runs; and it names the cycle it finds."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .a import A\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "b.py": "def f():\n    from . import a\n",
        "c.py": "from .sub.leaf import x\n",  # runs sub/__init__, which imports c
        "sub/__init__.py": "from .. import c\n",
        "sub/leaf.py": "x = 1\n",
        "d.py": "import pkg.g\n",
        "g.py": "from pkg import d\n",  # d is a module: no edge to pkg's __init__
        "e.py": "from pkg import A\n",  # a name from pkg's __init__
        "f.py": "from . import e\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(pkg)
    assert graph == {
        "": {"a"},
        "a": {"b"},
        "b": {"a"},
        "c": {"sub", "sub.leaf"},
        "sub": {"c"},
        "sub.leaf": set(),
        "d": {"g"},
        "g": {"d"},
        "e": {""},
        "f": {"e"},
    }
    assert import_cycles(graph) == [["a", "b"], ["c", "sub"], ["d", "g"]]
    assert _one_cycle(graph, ["a", "b"]) == "a -> b -> a"
    assert _one_cycle(graph, ["c", "sub"]) == "c -> sub -> c"


# -- Flask only in the adapters --------------------------------------------------------------

#: The modules that may import Flask: the extension (api.py and its per-app side, mount/) and
#: the database-first server. The core (negotiate, decode, operations, plan, execute, render,
#: routes, the token views, the change stream) takes Werkzeug's request and answers Werkzeug's
#: response; hooks learn who a write is for from the operation (``WriteContext.identity``).
FLASK_ADAPTERS = {"api", "server"}


def _imports_flask(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        if any(n == "flask" or n.startswith(("flask.", "flask_")) for n in names):
            return True
    return False


def test_only_the_adapters_import_flask() -> None:
    found = {
        name
        for path in PACKAGE.rglob("*.py")
        if _imports_flask(path) and not (name := _module_name(PACKAGE, path)).startswith("mount")
    }
    assert found == FLASK_ADAPTERS
