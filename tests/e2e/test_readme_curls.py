"""Every curl in README.md runs verbatim: each shell block's ``curl`` commands are replayed, in
order, with the real curl binary against a real ``tablerest serve`` on 127.0.0.1, serving a
fresh copy of the demo database (what the quick start serves), one server per README block.

Two rewrites, no more: the address (``http://127.0.0.1:8000`` or ``localhost:8000`` becomes the
test server's), and options appended so that the status can be read (see ``_run``). A status a
command's comment states (``# 201 + Location: http://127.0.0.1:8000/api/books/12001``,
``# 422``; a comment alone on the line below a command is about it) is the status it must get,
and a ``Location:`` stated there the header it must get (its address rewritten too); otherwise
any 2xx or 3xx passes. A comment that shows the answer (it starts with ``{`` or ``"``) states
values too: each ``"name": value`` in it with a number, string, ``true``, ``false`` or ``null``
must be in the body as the server writes it. The curls of a block run in a directory of their
own, so that one may keep a file for the next (``--etag-save etag.txt``), and a command whose
only shell is ``$(cat file)`` runs in ``sh``. Every curl has a timeout; the whole module takes
about 20 s.

A curl that cannot run as written is named, with the reason, in ``SKIP``; a block that starts a
server of its own (``tablerest serve --changes ...``) is named in ``SERVE_AS``. A curl that is
in neither and cannot run, or a name in them that the README no longer has, fails
``test_every_readme_curl_is_run_or_skipped``, so the lists cannot rot.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.databases import services_required
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
CURL = "/usr/bin/curl"
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
CURL_TIMEOUT = 15  # seconds for one command (the subprocess is killed after it)
STREAM_SECONDS = 2  # how long a stream (-N) is read before curl's own timeout ends it
MARK = "__readme_curl_status__"

#: Curls that cannot run as written, by their text (continuation lines joined, runs of
#: whitespace made one space), each with the reason. "BUG: ..." marks a server bug.
SKIP: dict[str, str] = {
    # Code-first: the curls talk to the block's own app (``flask --app app run`` on port 5000);
    # tests/e2e/test_readme_code_first.py runs that app from the README's text and replays them.
    **dict.fromkeys(
        [
            "curl -i -X POST http://127.0.0.1:5000/api/books -H 'Content-Type: application/json'"
            ' -d \'{"title": "Dune", "year": 1965}\'',
            "curl http://127.0.0.1:5000/api/books/1",
            "curl http://127.0.0.1:5000/api/stats",
            "curl -X POST http://127.0.0.1:5000/api/books -H 'Content-Type: application/json'"
            ' -d \'{"year": "soon"}\'',
        ],
        "the code-first app on port 5000 (test_readme_code_first.py runs it)",
    ),
    # Computed fields: the example talks to the code-first app of the Python block above it
    # (``flask run`` on localhost:5000); the demo is database-first and has no computed fields.
    "curl -g 'localhost:5000/api/books?filter[title_length][gt]=10&sort=-loan_count"
    "&fields=title,loan_count'": "the code-first example app on localhost:5000, not the demo",
    # Fields computed from who asks: the same, with a token of that app's users
    # (tests/features/test_caller_fields.py covers them).
    "curl -g -H \"Authorization: Bearer $TOKEN\" "
    "'localhost:5000/api/articles?filter[favorited]=true&include=author'": "the code-first "
    "example app on localhost:5000 with a signed-in user, not the demo",
}

#: README blocks that start a server of their own: the block's ``tablerest serve`` line (as
#: written, without its comment) -> the arguments the test serves the demo copy with.
SERVE_AS: dict[str, list[str]] = {
    # ./library.db stands for the reader's own file; the line's comment says the demo serves
    # the feed too. The flag is kept.
    "tablerest serve --changes ./library.db": ["--changes"],
}


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in README.md
    name: str  # as written, continuations joined and whitespace collapsed
    argv: list[str] | None  # None: needs a shell (variables, pipes, ...) to run
    notes: tuple[str, ...]  # its comments: on its lines, or alone on the line below it

    @property
    def is_curl(self) -> bool:
        return re.search(r"(?<![\w./-])curl(?![\w.-])", self.name) is not None


@dataclass(frozen=True)
class Block:
    line: int  # the opening fence's line
    heading: str
    commands: list[Command]

    @property
    def curls(self) -> list[Command]:
        return [c for c in self.commands if c.is_curl]

    @property
    def serve(self) -> str | None:
        lines = [c.name for c in self.commands if c.name.startswith("tablerest serve")]
        assert len(lines) <= 1, f"README.md:{self.line} starts {len(lines)} servers"
        return lines[0] if lines else None

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"line{self.line}-{slug}"


def _commands(lines: list[str], first: int) -> list[Command]:
    """The commands of shell text as sh splits them: a backslash at the end of a line continues
    the command, a quote may span lines, ``#`` at the start of a word comments to the line's
    end. A comment is a note about the command on its line, or, alone on its line, about the
    command just above it (the README shows answers that way)."""
    text = "\n".join(lines) + "\n"
    out: list[Command] = []
    cmd: list[str] = []
    notes: list[str] = []
    quote = ""
    shell = False  # something only a shell would do: $, `, pipes, redirections, ...
    line, start, ended, i = first, first, 0, 0
    while i < len(text):
        c = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if not "".join(cmd).strip():
            start = line
        if quote == "'":
            quote = "" if c == "'" else quote
        elif quote == '"':
            if c == "\\":
                cmd.append(c)
                c, i = nxt, i + 1
            elif c == '"':
                quote = ""
            elif c in "$`":
                shell = True
        elif c == "\\" and nxt == "\n":  # a line continuation: sh removes both
            i, line = i + 2, line + 1
            continue
        elif c == "\\":
            cmd.append(c)
            c, i = nxt, i + 1
        elif c in "'\"":
            quote = c
        elif c == "#" and (not cmd or cmd[-1] in " \t"):
            end = text.index("\n", i)
            note = text[i + 1 : end].strip()
            if "".join(cmd).strip():
                notes.append(note)
            elif out and ended == line - 1:  # alone on the line below a command
                out[-1] = replace(out[-1], notes=(*out[-1].notes, note))
                ended = line
            i = end
            continue
        elif c == "\n":
            raw = "".join(cmd).strip()
            if raw:
                argv = None if shell else shlex.split(raw)
                out.append(Command(start, " ".join(raw.split()), argv, tuple(notes)))
                ended = line
            cmd, notes, shell = [], [], False
            i, line = i + 1, line + 1
            continue
        elif c in "$`|&;<>()":
            shell = True
        if c == "\n":
            line += 1
        cmd.append(c)
        i += 1
    assert not quote, f"README.md:{start}: a quote is never closed"
    return out


def readme_blocks(text: str) -> list[Block]:
    """Every shell code block of the README, with its commands. In a ``console`` block only
    the lines after a ``$ `` (or ``> ``) prompt are commands; the others are output."""
    blocks: list[Block] = []
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)\s*([\w+-]*)", lines[i])
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence[1]))
        body = lines[i + 1 : end]
        if fence[2] in SHELL_BLOCKS:
            if fence[2] == "console":
                body = [ln[2:] if ln.startswith(("$ ", "> ")) else "" for ln in body]
            blocks.append(Block(i + 1, heading, _commands(body, i + 2)))
        i = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def _runnable(block: Block) -> list[Command]:
    return [c for c in block.curls if c.name not in SKIP]


#: The README's address (what ``make serve`` binds), with or without the scheme.
ADDRESS = r"(?:https?://)?(?:127\.0\.0\.1|localhost):8000(?!\d)"
#: What stands for a value the reader fills in: ``...``, ``<token>``.
PLACEHOLDER = r"\.\.\.|<[\w-]+>"


def _address(arg: str, base: str) -> str:
    return re.sub(ADDRESS, base, arg)


#: The one shell construct a README curl may use: a file an earlier curl of its block wrote.
CAT = re.compile(r"\$\(cat [\w.-]+\)")


def _in_sh(cmd: Command) -> bool:
    """Whether ``cmd`` needs a shell only for ``$(cat file)``, in double quotes."""
    bare = re.sub(r"'[^']*'", "", CAT.sub("", cmd.name))
    return cmd.argv is None and cmd.name.startswith("curl ") and not re.search(r"[$`|&;<>()]", bare)


def _run(cmd: Command, base: str, cwd: Path) -> tuple[int, int, str, str, str]:
    """Run one curl in ``cwd``: (exit code, status, Location, body, stderr)."""
    # The one rewrite besides the address, appended to the command as written: -sS (no
    # progress meter, errors still on stderr) and -w, which writes the status and the Location
    # header after the body. A stream (-N) never ends by itself, so it also gets curl's own
    # --max-time: it is read for STREAM_SECONDS and ends with curl's timeout (exit 28).
    extra = ["-sS", "-w", f"\\n{MARK}%{{http_code}} %header{{location}}"]
    words = cmd.argv or shlex.split(CAT.sub("", cmd.name))  # $(cat file) holds no option
    stream = "-N" in words or "--no-buffer" in words
    if stream:
        extra += ["--max-time", str(STREAM_SECONDS)]
    argv: list[str]
    if cmd.argv is None:
        assert _in_sh(cmd), f"{cmd.name}: needs a shell for more than $(cat file)"
        line = _address(cmd.name, base)
        assert base in line, f"{cmd.name}: not addressed to the demo's server"
        argv = ["/bin/sh", "-c", " ".join([CURL + line[len("curl") :], *map(shlex.quote, extra)])]
    else:
        argv = [CURL, *(_address(a, base) for a in cmd.argv[1:]), *extra]
        assert any(base in a for a in argv), f"{cmd.name}: not addressed to the demo's server"
    proc = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=CURL_TIMEOUT,
        check=False,
    )
    body, _, tail = proc.stdout.rpartition(f"\n{MARK}")
    status, _, location = tail.partition(" ")
    code = proc.returncode
    if stream and code == 28 and body:  # the stream was answered and read until --max-time
        code = 0
    return code, int(status or 0), location.strip(), body, proc.stderr


def _expected(cmd: Command) -> tuple[set[int], str | None]:
    """The statuses and the Location a command's notes state. A note that starts with a status
    states statuses (``# 201 + Location: ...``, ``# 200, or 412 if it changed since``): every
    status it names is accepted. Other notes (``# "total": 10000``) state none."""
    statuses: set[int] = set()
    for note in cmd.notes:
        if re.match(r"[1-5]\d\d\b", note):
            statuses |= {int(s) for s in re.findall(r"(?<![\w/.:-])[1-5]\d\d(?![\w/.-])", note)}
    location = re.search(r"Location: (\S+)", " ".join(cmd.notes))
    return statuses, location[1] if location else None


#: A value a comment shows: ``"avg_pages": 621.85`` (objects, arrays and ``...`` are not).
SHOWN = re.compile(r'"([^"]+)":\s*(-?[0-9][0-9.eE+-]*|true|false|null|"[^"]*")')


def _shown(cmd: Command) -> list[str]:
    """The ``"name":value`` pairs a command's comments show of its answer, as the server
    writes them (no spaces)."""
    return [
        f'"{name}":{value}'
        for note in cmd.notes
        if note[:1] in ("{", '"')
        for name, value in SHOWN.findall(note)
    ]


def test_every_readme_curl_is_run_or_skipped() -> None:
    curls = [c for b in BLOCKS for c in b.curls]
    assert len(curls) >= 10, "README.md: the curl examples were not found"
    names = {c.name for c in curls}
    stale = sorted(set(SKIP) - names)
    assert not stale, f"SKIP names curls README.md no longer has: {stale}"
    unrunnable = [
        f"README.md:{c.line}: {c.name}"
        for c in curls
        if c.name not in SKIP and not _in_sh(c) and (c.argv is None or c.argv[0] != "curl")
    ]
    assert not unrunnable, f"curls that need a shell to run; run them or add to SKIP: {unrunnable}"
    elsewhere = [
        f"README.md:{c.line}: {c.name}"
        for c in curls
        if c.name not in SKIP and not re.search(ADDRESS, c.name)
    ]
    assert not elsewhere, f"curls not sent to the demo's address; add to SKIP: {elsewhere}"
    placeholders = [
        f"README.md:{c.line}: {c.name}"
        for c in curls
        if c.name not in SKIP and re.search(PLACEHOLDER, c.name)
    ]
    assert not placeholders, f"curls with placeholders; add to SKIP: {placeholders}"
    serves = {b.serve for b in BLOCKS if _runnable(b) and b.serve}
    unknown = sorted(serves - set(SERVE_AS))
    assert not unknown, f"README blocks start servers SERVE_AS does not know: {unknown}"
    assert not set(SERVE_AS) - serves, f"SERVE_AS names lines README.md no longer has: {SERVE_AS}"


def test_the_conditional_request_examples_are_replayed() -> None:
    """The README's 304 and 412 are real answers to real ETags, not placeholders skipped."""
    stated = [_expected(c)[0] for b in BLOCKS for c in _runnable(b)]
    assert any(s == {304} for s in stated), "no README curl that must get a 304 is replayed"
    assert any(s == {412} for s in stated), "no README curl that must get a 412 is replayed"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database, built once for the module; every server gets a copy of its own."""
    from tablerest.demo.build import ensure_demo

    return ensure_demo(tmp_path_factory.mktemp("readme-demo") / "demo.sqlite3")


@pytest.mark.parametrize("block", [b for b in BLOCKS if _runnable(b)], ids=lambda b: b.id)
def test_readme_block_curls(block: Block, demo_db: Path, tmp_path: Path) -> None:
    if not os.access(CURL, os.X_OK):
        if services_required():
            pytest.fail(f"{CURL} is missing; TABLEREST_REQUIRE_SERVICES=1 requires it")
        pytest.skip(f"{CURL} is missing")
    copy = tmp_path / "demo.sqlite3"
    shutil.copyfile(demo_db, copy)
    env = {**os.environ, "TABLEREST_DEMO_PATH": str(copy)}
    args = SERVE_AS[block.serve] if block.serve else []
    server = Server(args, env)
    failures: list[str] = []
    try:
        for cmd in _runnable(block):
            code, status, location, body, stderr = _run(cmd, server.base, tmp_path)
            statuses, want_location = _expected(cmd)
            ok = code == 0 and (status in statuses if statuses else 200 <= status < 400)
            if want_location is not None:
                # Links are absolute: the README's address stands for this server's.
                want_location = _address(want_location, server.base)
                ok = ok and location == want_location
            # Whole values: a rounded 621.85 is not the 621.8540646425073 answered.
            missing = [v for v in _shown(cmd) if not re.search(re.escape(v) + r"(?![\w.])", body)]
            if not ok or missing:
                failures.append(
                    f"README.md:{cmd.line}: {cmd.name}\n  curl exit {code}, status {status} "
                    f"(wanted {sorted(statuses) or '2xx/3xx'}), Location {location!r} "
                    f"(wanted {want_location!r}), shown but not answered: {missing}"
                    f"\n  {stderr.strip()[:300]}\n  {body[:500]}"
                )
    finally:
        log = server.stop()
    assert not failures, "\n".join(failures) + f"\n--- server log ---\n{log[-2000:]}"
