"""What both SQL engines (sqlite.py: FTS5; postgres.py: tsvector) answer for `reading.search`.

Which webinars may be found is the catalog's rule, `Webinar.is_listed` (archive/models.py),
joined into the engines' statements: the engines know how to match text, not who may see it.
"""
from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from .query import Query
from .tables import KINDS

# The columns of a document a hit is made from.
DOC_COLUMNS = "d.webinar_id, d.asset_id, d.kind, d.page, d.at_seconds, d.times"
KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
# A phrase held by at most this many documents is looked up in the documents first: the
# webinars that say it are then known at once, however common its words are.
PHRASE_PROBE_DOCUMENTS = 2000
# What a document holding a phrase adds to its webinar's rank, by kind (as the summaries
# weigh headings and own text over slides and captions).
PHRASE_WEIGHTS = {"webinar": 5.0, "speaker": 5.0, "slide": 1.0, "caption": 1.0}


def phrase_scores(scores: dict[str, float] | None, rows) -> dict[str, float]:
    """The webinars holding every phrase so far: `rows` (webinar_id, kind) are the documents
    holding the next phrase; each adds its kind's weight to its webinar's rank."""
    found: dict[str, float] = {}
    for r in rows:
        found[r.webinar_id] = found.get(r.webinar_id, 0.0) + PHRASE_WEIGHTS.get(r.kind, 1.0)
    return found if scores is None else {w: v + found[w] for w, v in scores.items() if w in found}


@dataclass
class Candidate:
    """A document that may be shown as a hit."""

    id: int
    score: float  # higher is better
    webinar_id: str
    asset_id: str | None
    kind: str
    page: int | None
    at: float | None
    times: Any

    @classmethod
    def of(cls, row: Any, score: float) -> "Candidate":
        """From a row of DOC_COLUMNS and the document's id."""
        times = json.loads(row.times) if isinstance(row.times, str) else row.times
        return cls(row.id, score, row.webinar_id, row.asset_id, row.kind, row.page, row.at_seconds, times)


class Engine(abc.ABC):
    hits_sql: str

    def __init__(self, q: Query):
        self.q = q
        self.params: dict = {}

    @abc.abstractmethod
    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        """(webinar id, score) of the listed webinars whose summaries match, best first."""

    def holding_phrases(self, session: Session, webinar_ids: list[str], whole_index: bool = False,
                        only_excluded: bool = False, first: int | None = None) -> set[str]:
        """Those of `webinar_ids` with every phrase of the query in one of their documents
        and none of its excluded phrases (`only_excluded`: the latter check alone);
        `whole_index`: one pass over all documents rather than a lookup restricted to
        these webinars (for long lists); `first`: only the first so many of them, in the
        order given, are wanted (the checking may stop there)."""
        found = set(webinar_ids)
        wanted = [] if only_excluded else [(p, True) for p in self.q.phrases]
        checks = wanted + [(p, False) for p in self.q.excluded_phrases]
        if first is not None and not whole_index and len(checks) == 1 and checks[0][1]:
            return self._first_with_phrase(session, checks[0][0], webinar_ids, first)
        for phrase, keep in checks:
            if not found:
                break
            have = self._with_phrase(session, phrase, None if whole_index else sorted(found))
            found = found & have if keep else found - have
        return found

    def _first_with_phrase(self, session: Session, phrase: str, webinar_ids: list[str], first: int) -> set[str]:
        """At least the first `first` of `webinar_ids` (in their order) with `phrase` in one
        of their documents, and none without it."""
        return self._with_phrase(session, phrase, sorted(webinar_ids))

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        """Every listed webinar that matches, ranked, found from the documents that hold the
        query's phrases; None when a phrase is in too many documents for that to be quick
        (then `reading` checks the best-ranked candidates instead)."""
        return None

    @abc.abstractmethod
    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        """Those of `webinar_ids` (None: any webinar) with `phrase` in one of their documents."""

    def hits(self, session: Session, webinar_ids: list[str], per_webinar: int) -> list[Candidate]:
        """The documents of these webinars where any of the terms appears, best first
        (at least the first `per_webinar` of each webinar; `hits_sql` may take only those,
        by its parameter `per`)."""
        if not webinar_ids:
            return []
        rows = session.execute(text(self.hits_sql).bindparams(bindparam("ids", expanding=True)),
                               {**self.params, "ids": webinar_ids, "per": per_webinar})
        return [Candidate.of(r, float(r.score)) for r in rows]

    @abc.abstractmethod
    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        """Each document's (marked title, marked text), the query's words between
        marks.OPEN and marks.CLOSE."""
