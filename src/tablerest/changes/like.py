"""SQL ``LIKE`` patterns matched in Python, for the change feed's ``like`` and ``ilike`` filters.

A stream decides each event's row itself, so a pattern must mean here what the list's SQL
means (``%`` any run, ``_`` one character, ``\\`` makes the next character literal; a lone
trailing ``\\`` matches nothing, as on SQLite; the request stage refuses it anyway). It must
also cost little whatever the client sends: a pattern compiled to a backtracking regular
expression (``%%%...%x`` as ``.*.*...x``) takes exponential time on a row that does not match,
with the GIL held, and froze the whole worker. Here the pattern is split at ``%`` into
fixed-width segments; the first is anchored at the start, the last at the end, and each one
between is found at its leftmost place after the previous one (``str.find`` on its longest
literal run, then the rest checked at that place). Leftmost is always right: a ``%`` before
the next segment absorbs whatever a later choice would have skipped. No position is tried
twice for a segment, so the cost is at most text length x pattern length, and the pattern's
length is bounded where it is parsed (``Limits.max_like_length``).

``ilike`` folds case one character at a time (``str.lower`` of each, where that is one
character), as PostgreSQL's ``ILIKE`` does; SQLite's ``LIKE`` folds only ASCII letters.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ESCAPE", "fold", "like_matcher"]

ESCAPE = "\\"


def _lower(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def fold(text: str) -> str:
    """``text`` with each character lowered on its own (the length never changes, so ``_``
    still means one character; no context rules such as Greek final sigma)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_lower, text))


class _Segment:
    """Pattern text between two ``%``: literal runs at fixed offsets, ``_`` in the gaps."""

    __slots__ = ("anchor", "runs", "width")

    def __init__(self, items: list[str | None]) -> None:
        self.width = len(items)
        self.runs: list[tuple[int, str]] = []
        run: list[str] = []
        for i, item in enumerate([*items, None]):
            if item is not None:
                run.append(item)
            elif run:
                self.runs.append((i - len(run), "".join(run)))
                run = []
        #: The longest literal run: the one searched for (fewest false starts).
        self.anchor = max(self.runs, key=lambda run: len(run[1])) if self.runs else None

    def at(self, text: str, pos: int) -> bool:
        """Whether the segment matches ``text`` at ``pos``."""
        if pos < 0 or pos + self.width > len(text):
            return False
        return all(text.startswith(run, pos + off) for off, run in self.runs)

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost place in ``[start, end)`` where the whole segment fits and matches,
        or -1."""
        last = end - self.width  # the last place the segment may start
        if last < start:
            return -1
        if self.anchor is None:
            return start  # only ``_``: any place with room will do
        off, run = self.anchor
        hit = text.find(run, start + off, last + off + len(run))
        while hit >= 0:
            pos = hit - off
            if self.at(text, pos):
                return pos
            hit = text.find(run, hit + 1, last + off + len(run))
        return -1


def _segments(pattern: str, ignore_case: bool) -> list[_Segment] | None:
    """The pattern's segments (one more than its ``%``), None for a pattern that can match
    nothing (a lone trailing escape)."""
    parts: list[list[str | None]] = [[]]
    chars = iter(pattern)
    for ch in chars:
        if ch == ESCAPE:
            literal = next(chars, None)
            if literal is None:
                return None
            parts[-1].append(literal)
        elif ch == "%":
            if parts[-1] or len(parts) == 1:
                parts.append([])
            # ``%%`` is one ``%``: an empty segment between them changes nothing.
        elif ch == "_":
            parts[-1].append(None)
        else:
            parts[-1].append(ch)
    if ignore_case:
        parts = [[fold(c) if c is not None else None for c in part] for part in parts]
    return [_Segment(part) for part in parts]


def like_matcher(pattern: str, ignore_case: bool = False) -> Callable[[str], bool]:
    """A test of whole strings against the LIKE ``pattern`` (``ignore_case``: ``ILIKE``),
    made once per pattern.

    >>> like_matcher("%sea%")("Earthsea"), like_matcher("_arth%", True)("EARTHSEA")
    (True, True)
    """
    segments = _segments(pattern, ignore_case)
    if segments is None:
        return lambda text: False
    first, last = segments[0], segments[-1]
    middle = segments[1:-1]

    def matches(text: str) -> bool:
        if ignore_case:
            text = fold(text)
        if len(segments) == 1:
            return len(text) == first.width and first.at(text, 0)
        end = len(text) - last.width  # where the last segment starts
        if end < first.width or not first.at(text, 0) or not last.at(text, end):
            return False
        pos = first.width
        for segment in middle:
            found = segment.find(text, pos, end)
            if found < 0:
                return False
            pos = found + segment.width
        return True

    return matches
