"""The query language a visitor types: words and "quoted phrases" that must all be there,
and -excluded ones. Any string is a valid query; each engine turns a `Query` into its own
syntax (sqlite.py, postgres.py), every term matched as a phrase of the engine's own
tokens, so no character the visitor types is ever an operator."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .marks import strip_controls

MAX_QUERY_CHARS = 512
MAX_TERMS = 16

_ITEM = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Query:
    """What the visitor typed, made safe: `terms` that must all be there, `excluded` ones
    that must not."""

    terms: tuple[str, ...]
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> "Query":
        raw = unicodedata.normalize("NFKC", strip_controls(raw))[:MAX_QUERY_CHARS]
        terms: list[str] = []
        excluded: list[str] = []
        for m in _ITEM.finditer(raw):
            neg = bool(m.group(1) or m.group(3))
            term = " ".join((m.group(2) if m.group(2) is not None else m.group(4)).split())
            if not any(ch.isalnum() for ch in term):
                continue
            bucket = excluded if neg else terms
            if term.lower() not in (t.lower() for t in bucket):
                bucket.append(term)
        return cls(tuple(terms[:MAX_TERMS]), tuple(excluded[:MAX_TERMS]) if terms else ())

    def __bool__(self) -> bool:
        return bool(self.terms)

    @staticmethod
    def tokens(term: str) -> list[str]:
        """The words of a term, about as the engines split them."""
        return _TOKEN.findall(term)

    @property
    def phrases(self) -> tuple[str, ...]:
        """Terms of several words: the summaries know a webinar's words, not their order,
        so these are checked on the documents."""
        return tuple(t for t in self.terms if len(self.tokens(t)) > 1)

    @property
    def excluded_phrases(self) -> tuple[str, ...]:
        return tuple(t for t in self.excluded if len(self.tokens(t)) > 1)

    @property
    def excluded_words(self) -> tuple[str, ...]:
        """Excluded terms of one word: the summaries can rule these out."""
        return tuple(t for t in self.excluded if len(self.tokens(t)) <= 1)
