"""Lines of application code in an example: non-blank lines that are neither comments nor
docstrings, in its modules but not its tests (``test_*.py``, ``conftest.py``).

    python examples/count_lines.py examples/conduit
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

__all__ = ["count", "count_file"]


def count_file(path: Path) -> int:
    """The lines of ``path`` holding code: not blank, not only a comment, not a docstring."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = body[0] if body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            if not isinstance(first.value.value, str):
                continue
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    code: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in skip or tok.type == tokenize.ENDMARKER:
            continue
        code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - docstrings)


def count(folder: Path) -> dict[str, int]:
    """Each application module of ``folder`` and its lines of code."""
    return {
        p.name: count_file(p)
        for p in sorted(folder.glob("*.py"))
        if not p.name.startswith("test_") and p.name != "conftest.py"
    }


def main(argv: list[str]) -> None:
    for folder in argv or ["examples/conduit"]:
        sizes = count(Path(folder))
        for name, n in sizes.items():
            print(f"{n:5}  {name}")
        print(f"{sum(sizes.values()):5}  {folder}")


if __name__ == "__main__":
    main(sys.argv[1:])
