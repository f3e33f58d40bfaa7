"""The README's table of contents, generated from its headings.

Every ``##`` and ``###`` heading outside code blocks, as a nested list of links with the anchors
GitHub gives them (lower case; punctuation and symbols dropped, except ``-`` and ``_``; each space
a ``-``; a repeated anchor gets ``-1``, ``-2``, ...). The "Contents" heading the list sits under
is left out of it. The list lives between the ``<!-- toc -->`` and ``<!-- /toc -->`` lines.

    python tests/readme_toc.py           # print the table of contents for README.md
    python tests/readme_toc.py --write   # put it into README.md (what `make toc` runs)
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- toc -->", "<!-- /toc -->"
CONTENTS = "Contents"  # the heading of the table of contents itself: not listed in it
FENCE = re.compile(r"^ {0,3}(```+|~~~+)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str  # as written, inline Markdown and all
    anchor: str  # GitHub's, without the "#"


def plain(markdown: str) -> str:
    """A heading's text as GitHub renders it: code spans and links keep their text only."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"(`+)(.*?)\1", r"\2", text)


def slug(text: str) -> str:
    """GitHub's anchor for a heading's rendered text (as github-slugger computes it)."""
    kept = [
        c
        for c in text.lower()
        if c in " -_" or unicodedata.category(c)[0] in "LMN"  # letters, marks, numbers
    ]
    return "".join(kept).replace(" ", "-")


def headings(markdown: str) -> list[Heading]:
    """Every heading outside fenced code blocks, in order, with its unique anchor."""
    found: list[Heading] = []
    seen: dict[str, int] = {}
    fence = ""
    for line in markdown.splitlines():
        opened = FENCE.match(line)
        if fence:
            if opened and opened[1][0] == fence[0] and len(opened[1]) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened[1]
            continue
        match = HEADING.match(line)
        if match is None:
            continue
        base = slug(plain(match[2]))
        anchor = base if base not in seen else f"{base}-{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        found.append(Heading(len(match[1]), match[2], anchor))
    return found


def toc(markdown: str) -> str:
    """The table of contents: ``##`` headings as items, ``###`` nested under them."""
    lines = [
        f"{'  ' * (h.level - 2)}- [{h.text}](#{h.anchor})"
        for h in headings(markdown)
        if h.level in (2, 3) and plain(h.text) != CONTENTS
    ]
    return "\n".join(lines) + "\n"


def current(markdown: str) -> str:
    """The table of contents the README holds now (between the markers)."""
    start, end = markdown.index(START + "\n"), markdown.index(END)
    return markdown[start + len(START) + 1 : end]


def write(markdown: str) -> str:
    """The README with its table of contents replaced by a generated one."""
    start, end = markdown.index(START + "\n"), markdown.index(END)
    return markdown[: start + len(START) + 1] + toc(markdown) + markdown[end:]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    if argv == ["--write"]:
        README.write_text(write(text), encoding="utf-8")
    elif argv:
        print(__doc__, file=sys.stderr)
        return 2
    else:
        sys.stdout.write(toc(text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
