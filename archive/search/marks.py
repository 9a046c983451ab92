"""Matched words in titles and snippets. The engines mark them with two control
characters (OPEN, CLOSE) that indexed and typed text never holds (`strip_controls`), so a
document can never forge one; results hand them on as `Marked` segments of plain text,
which web/ renders (escaped, the matches in <mark>)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE = "\x02", "\x03"
SNIPPET_WORDS = 30

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MARK = re.compile(f"({OPEN}|{CLOSE})")


def strip_controls(value: str | None) -> str:
    """`value` with control characters (the marks among them) made spaces."""
    return _CONTROL.sub(" ", value or "")


@dataclass(frozen=True)
class Marked:
    """Text with the query's matches marked, as (text, matched) segments in order."""

    segments: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def parse(cls, marked: str) -> "Marked":
        """From an engine's text with OPEN/CLOSE around its matches."""
        segments: list[tuple[str, bool]] = []
        inside = False
        for piece in _MARK.split(marked):
            if piece in (OPEN, CLOSE):
                inside = piece == OPEN
            elif piece:
                if segments and segments[-1][1] == inside:
                    segments[-1] = (segments[-1][0] + piece, inside)
                else:
                    segments.append((piece, inside))
        return cls(tuple(segments))

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.segments)

    @property
    def matches(self) -> list[str]:
        return [text for text, matched in self.segments if matched]

    def __str__(self) -> str:
        return self.plain

    def __bool__(self) -> bool:
        return bool(self.segments)


def snippet(marked: str, words: int = SNIPPET_WORDS) -> str:
    """About `words` words of `marked` (OPEN/CLOSE) around its first match, marks balanced."""
    tokens = marked.split()
    if not tokens:
        return ""
    first = next((i for i, t in enumerate(tokens) if OPEN in t), 0)
    start = max(0, min(first - words // 4, len(tokens) - words))
    part = tokens[start:start + words]
    out = " ".join(part)
    if out.rfind(OPEN) > out.rfind(CLOSE):
        out += CLOSE
    if out.find(CLOSE) < out.find(OPEN) or (CLOSE in out and OPEN not in out):
        out = OPEN + out
    return ("… " if start > 0 else "") + out + (" …" if start + words < len(tokens) else "")


def cue_time(marked: str, times: Any) -> float | None:
    """The start of the caption cue in which the first match of `marked` lies; `times` is
    a caption document's [[character offset, seconds], ...]."""
    i = marked.find(OPEN)
    if i < 0 or not times:
        return None
    best = None
    for offset, at in times:
        if offset <= i:
            best = at
        else:
            break
    return best
