"""The reader: `search`, publicly listed webinars that match a query, best first, with
their hits."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Webinar
from .engine import Candidate, Engine
from .marks import OPEN, Marked, cue_time, snippet
from .postgres import Postgres
from .query import Query
from .sqlite import Sqlite

HITS_PER_WEBINAR = 3
# A common phrase is checked on the documents of the ranked candidates in batches, best
# first; past this many candidates, in one pass over the whole index instead.
VERIFY_FIRST_BATCH = 64
VERIFY_ALL_AT = 1024
MAX_CANDIDATES = 20_000


@dataclass
class Hit:
    kind: str  # webinar | speaker | slide | caption
    asset_id: str | None
    page: int | None
    at: float | None  # seconds into the recording, when known
    title: Marked  # the heading; empty for slides and captions
    snippet: Marked  # the text around the first match
    score: float


@dataclass
class Result:
    webinar_id: str
    title: Marked  # its matches marked when the title matched
    held_on: dt.date | None
    hits: list[Hit] = field(default_factory=list)
    score: float = 0.0


@dataclass
class Results:
    query: str
    results: list[Result]
    offset: int
    limit: int
    has_more: bool


def engine_for(session: Session, q: Query) -> Engine:
    return Sqlite(q) if session.get_bind().dialect.name == "sqlite" else Postgres(q)


def search(session: Session, query: str | None, limit: int = 10, offset: int = 0,
           hits_per_webinar: int = HITS_PER_WEBINAR) -> Results:
    """Publicly listed webinars that match `query`, best first, with up to
    `hits_per_webinar` hits each. Any string is a valid query.

    Webinars are found and ranked on their summaries (one row each, a word once per
    webinar however often it is said); phrases, whose word order only the documents
    know, are then checked on the documents of the best candidates (or, when a phrase is
    rare, its webinars are taken from the documents that hold it); last, only the page's
    webinars are searched document by document for their hits, and only the hits shown
    are highlighted. Nothing is counted: `has_more` says whether there is a next page."""
    limit = max(1, min(int(limit), 100))
    offset = max(0, min(int(offset), 10_000))
    q = Query.parse(query)
    if not q:
        return Results(query or "", [], offset, limit, False)
    engine = engine_for(session, q)
    if q.phrases or q.excluded_phrases:
        ranked = engine.held_phrases(session) if q.phrases else None
        if ranked is None:  # a phrase too common to list its documents: check the best candidates
            ranked = _verified(session, engine, offset + limit + 1)
        ranked = ranked[offset:]
    else:
        ranked = engine.webinars(session, limit + 1, offset)
    page = ranked[:limit]
    page_ids = [wid for wid, _ in page]
    by_webinar: dict[str, list[Candidate]] = {wid: [] for wid in page_ids}
    for c in engine.hits(session, page_ids, hits_per_webinar):
        hits = by_webinar[c.webinar_id]
        if len(hits) < hits_per_webinar:
            hits.append(c)
    marked = engine.highlight(session, [c.id for hits in by_webinar.values() for c in hits])
    rows = {w.id: w for w in session.execute(
        select(Webinar.id, Webinar.title, Webinar.held_on).where(Webinar.id.in_(page_ids)))} if page_ids else {}
    results = []
    for wid, score in page:
        w = rows.get(wid)
        if w is None:
            continue
        result = Result(wid, Marked.parse(w.title), w.held_on, score=score)
        for c in by_webinar[wid]:
            title, body = marked.get(c.id, ("", ""))
            at = cue_time(body, c.times) if c.kind == "caption" else None
            if c.kind == "webinar" and OPEN in title:
                result.title = Marked.parse(title)
            result.hits.append(Hit(c.kind, c.asset_id, c.page, at if at is not None else c.at,
                                   Marked.parse(title if c.kind != "webinar" else ""),
                                   Marked.parse(snippet(body)), c.score))
        results.append(result)
    return Results(query or "", results, offset, limit, len(ranked) > limit)


def _verified(session: Session, engine: Engine, wanted: int) -> list[tuple[str, float]]:
    """The first `wanted` ranked candidates that hold every phrase of the query in one of
    their documents and none of its excluded phrases. Candidates are taken and checked in
    growing batches, so a common phrase costs the first batch's documents only; past
    VERIFY_ALL_AT candidates, the rest are checked in one pass over the whole index."""
    out: list[tuple[str, float]] = []
    pos, size = 0, max(VERIFY_FIRST_BATCH, 2 * wanted)
    while len(out) < wanted:
        everything = size >= VERIFY_ALL_AT
        batch = engine.webinars(session, MAX_CANDIDATES if everything else size, pos)
        if not batch:
            break
        ok = engine.holding_phrases(session, [wid for wid, _ in batch], whole_index=everything,
                                    first=wanted - len(out))
        out += [c for c in batch if c[0] in ok]
        pos += len(batch)
        size *= 4
    return out[:wanted]
