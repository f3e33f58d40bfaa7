"""render.json: rows to dicts, whatever the field names are."""

from __future__ import annotations

import pytest

from tablerest.render.json import _rows_builder


@pytest.mark.parametrize(
    "keys",
    [
        ("id", "title"),
        ("it's", 'say "hi"', "back\\slash", "new\nline", "x y", "ünï", "{r[0]}", ""),
        (),
    ],
)
def test_rows_become_dicts_with_exactly_these_keys(keys: tuple[str, ...]) -> None:
    rows = [tuple(range(len(keys) + 2)), tuple(range(10, 12 + len(keys)))]
    expected = [dict(zip(keys, r, strict=False)) for r in rows]  # extra columns left out
    assert _rows_builder(keys)(rows) == expected
    assert _rows_builder(keys)([]) == []
