"""Conduit stays under 300 lines of application code, counted by ``examples/count_lines.py``
(non-blank lines that are neither comments nor docstrings, tests excluded)."""

from __future__ import annotations

from pathlib import Path

from examples.count_lines import count, count_file

HERE = Path(__file__).parent


def test_conduit_is_under_300_lines() -> None:
    sizes = count(HERE)

    assert set(sizes) == {"__init__.py", "app.py", "models.py", "rules.py", "tags.py"}
    assert sum(sizes.values()) < 300, sizes


def test_comments_docstrings_and_blank_lines_do_not_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        '"""A module\'s docstring,\n\non three lines."""\n\n'
        "# a comment\n"
        "def f(x: int) -> int:\n"
        '    """Its docstring."""\n'
        "    y = {  # a comment after code\n"
        '        "a": 1,\n'
        "    }\n"
        '    return x + y["a"]\n'
        'TEXT = """not a docstring"""\n'
    )

    assert count_file(source) == 6
