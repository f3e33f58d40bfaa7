"""README.md's table of contents lists exactly its ``##`` and ``###`` headings, with the anchors
GitHub gives them, and every link into the README names a heading that exists. When a section
is added, `make toc` (``python tests/readme_toc.py --write``) writes the list again."""

from __future__ import annotations

import re

import pytest

from tests.readme_toc import README, current, headings, plain, slug, toc, write

TEXT = README.read_text(encoding="utf-8")


def test_the_table_of_contents_lists_every_heading_with_its_anchor() -> None:
    assert current(TEXT) == toc(TEXT), "README.md's table of contents is stale: run `make toc`"


def test_every_link_into_the_readme_names_a_heading() -> None:
    anchors = {h.anchor for h in headings(TEXT)}
    prose = re.sub(r"^```.*?^```$", "", TEXT, flags=re.MULTILINE | re.DOTALL)

    broken = sorted(set(re.findall(r"\]\(#([^)\s]+)\)", prose)) - anchors)

    assert not broken, f"README.md links to headings it does not have: {broken}"


def test_the_ten_minute_path_links_into_each_stop() -> None:
    start = TEXT.index("\n## The ten-minute path\n")
    path = TEXT[start : TEXT.index("\n## ", start + 1)]
    stops = [re.findall(r"\]\(#([^)]+)\)", item) for item in re.split(r"\n\d\. ", path)[1:]]

    assert [s[0] for s in stops] == [
        "quick-start",
        "code-first-a-flask-extension",
        "database-first-tablerest-serve",
        "token-authentication",
        "production",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [  # anchors as GitHub renders them for these headings
        ("Quick start", "quick-start"),
        ("Database-first: `tablerest serve`", "database-first-tablerest-serve"),
        ("JSON:API", "jsonapi"),
        ("Export: CSV and NDJSON", "export-csv-and-ndjson"),
        ("`api.resource(model_or_table, **options) -> Resource`",
         "apiresourcemodel_or_table-options---resource"),
        ("Health, request ids, metrics, access logs", "health-request-ids-metrics-access-logs"),
        ("Ünïcödé [names](https://example.org)", "ünïcödé-names"),
    ],
)  # fmt: skip
def test_anchors_follow_github(heading: str, anchor: str) -> None:
    assert slug(plain(heading)) == anchor


def test_code_blocks_hold_no_headings_and_repeats_are_numbered() -> None:
    text = "# T\n\n## A\n\n```sh\n## not a heading\n```\n\n### A\n\n## Contents\n\n## B ##\n"

    found = [(h.level, h.text, h.anchor) for h in headings(text)]
    listed = toc(text)

    assert found == [(1, "T", "t"), (2, "A", "a"), (3, "A", "a-1"), (2, "Contents", "contents"),
                     (2, "B", "b")]  # fmt: skip
    assert listed == "- [A](#a)\n  - [A](#a-1)\n- [B](#b)\n"


def test_write_replaces_only_the_list() -> None:
    text = "## Contents\n\n<!-- toc -->\n- [Old](#old)\n<!-- /toc -->\n\n## New\n"

    assert write(text) == "## Contents\n\n<!-- toc -->\n- [New](#new)\n<!-- /toc -->\n\n## New\n"
