"""Search on SQLite: FTS5 tables `search_fts` (documents) and `search_webinar_fts`
(summaries), external content, `unicode61 remove_diacritics 2`, no stemming (the webinars
come in several languages); summaries ranked by bm25 (headings 10, own text 2,
vocabulary 1)."""
from __future__ import annotations

from sqlalchemy import DateTime, Float, Integer, bindparam, select, text
from sqlalchemy.orm import Session

from ..models import Webinar, utcnow
from .engine import DOC_COLUMNS, KIND_ORDER, PHRASE_PROBE_DOCUMENTS, Candidate, Engine, phrase_scores
from .marks import CLOSE, OPEN
from .query import Query
from .tables import SearchWebinar



def quoted(term: str) -> str:
    """An FTS5 string: the term matched as a phrase of the engine's tokens."""
    return '"' + term.replace('"', '""') + '"'


def match(q: Query, any_term: bool = False) -> str:
    """The MATCH expression over documents, every term a quoted string: all terms and
    none of the excluded ones, or (`any_term`, where the hits inside a webinar are) any term."""
    if any_term:
        return " OR ".join(quoted(t) for t in q.terms)
    expr = " ".join(quoted(t) for t in q.terms)
    for t in q.excluded:
        expr = f"({expr}) NOT {quoted(t)}"
    return expr


def match_summary(q: Query) -> str:
    """The MATCH expression over summaries: every word of every term, and none of the
    excluded single words (excluded phrases are checked on the documents)."""
    expr = " AND ".join("(" + " AND ".join(quoted(w) for w in (q.tokens(t) or [t])) + ")" for t in q.terms)
    for t in q.excluded_words:
        expr = f"({expr}) NOT {quoted(t)}"
    return expr


def _ids(webinar_ids: list[str]) -> str:
    return " OR ".join(quoted(w) for w in webinar_ids)


# bm25 is "lower is better": scores are negated so that higher is better everywhere.
# Ranked inside the engine first (bm25 over the summaries alone, no join per match), then
# the best few are checked against the catalog's rule: listed webinars only. Statements
# are built once (building one costs more than running it); each run binds :now.
_NOW = bindparam("now", type_=DateTime)
_RANKED = (text("SELECT rowid, rank FROM search_webinar_fts WHERE search_webinar_fts MATCH :q "
                "ORDER BY rank, rowid LIMIT :k").columns(rowid=Integer, rank=Float).subquery("r"))
_WEBINARS = (select(SearchWebinar.webinar_id, (-_RANKED.c.rank).label("score"),
                    Webinar.is_listed(_NOW).label("listed"))
             .select_from(_RANKED).join(SearchWebinar, SearchWebinar.id == _RANKED.c.rowid)
             .join(Webinar, Webinar.id == SearchWebinar.webinar_id)
             .order_by(_RANKED.c.rank, _RANKED.c.rowid))
_LISTED_DAYS = (select(Webinar.id, Webinar.held_on, Webinar.created_at)
                .where(Webinar.id.in_(bindparam("ids", expanding=True)), Webinar.is_listed(_NOW)))


class Sqlite(Engine):
    probe_sql = """
        SELECT d.webinar_id, d.kind FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH :p LIMIT :n) f
        JOIN search_documents d ON d.id = f.rowid"""
    phrase_sql = """
        SELECT DISTINCT d.webinar_id FROM search_fts f JOIN search_documents d ON d.id = f.rowid
        WHERE search_fts MATCH :p"""

    def __init__(self, q: Query):
        super().__init__(q)
        self.params = {"q": match_summary(q)}

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        # Most matches are listed: the best (offset + n) * 2 usually hold the page; when
        # not, and the engine had more than those, it is asked for all of them.
        params = {**self.params, "now": utcnow()}
        k = 2 * (offset + n) + 16
        rows = session.execute(_WEBINARS, {**params, "k": k}).all()
        if len(rows) == k and sum(1 for r in rows if r.listed) < offset + n:
            rows = session.execute(_WEBINARS, {**params, "k": -1}).all()
        return [(r.webinar_id, float(r.score)) for r in rows if r.listed][offset:offset + n]

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        # Each phrase's documents, if few (FTS5 stops reading at the limit): their webinars,
        # ranked by where and how often they say it.
        scores: dict[str, float] | None = None
        for phrase in self.q.phrases:
            rows = session.execute(text(self.probe_sql), {"p": f"{{title text}} : {quoted(phrase)}",
                                                          "n": PHRASE_PROBE_DOCUMENTS + 1}).all()
            if len(rows) > PHRASE_PROBE_DOCUMENTS:
                return None
            scores = phrase_scores(scores, rows)
            if not scores:
                return []
        assert scores is not None
        ids = sorted(scores)
        # Their other words and excluded words, on the summaries; excluded phrases on the documents.
        others = [t for t in self.q.terms if t not in self.q.phrases]
        if others or self.q.excluded_words:
            ids = [w for w in ids if w in self._summaries_match(session, ids)]
        ids = sorted(self.holding_phrases(session, ids, only_excluded=True)) if self.q.excluded_phrases else ids
        rows = session.execute(_LISTED_DAYS, {"ids": ids, "now": utcnow()}).all() if ids else []
        rows.sort(key=lambda r: (str(r.held_on or ""), str(r.created_at or ""), r.id), reverse=True)
        rows.sort(key=lambda r: scores[r.id], reverse=True)  # stable: newest first among equals
        return [(r.id, scores[r.id]) for r in rows]

    def _summaries_match(self, session: Session, webinar_ids: list[str]) -> set[str]:
        stmt = text("""SELECT sw.webinar_id FROM search_webinars sw WHERE sw.webinar_id IN :ids AND sw.id IN
                       (SELECT rowid FROM search_webinar_fts WHERE search_webinar_fts MATCH :q)""")
        return set(session.scalars(stmt.bindparams(bindparam("ids", expanding=True)),
                                   {"ids": webinar_ids, "q": self.params["q"]}))

    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        match = f"{{title text}} : {quoted(phrase)}"
        if webinar_ids is not None:
            if not webinar_ids:
                return set()
            match += f" AND webinar_id : ({_ids(webinar_ids)})"
        return set(session.scalars(text(self.phrase_sql), {"p": match}))

    def hits(self, session: Session, webinar_ids: list[str], per_webinar: int) -> list[Candidate]:
        """Best first: the documents with the most of the terms, then headings (the webinar,
        its speakers), slides and captions, each in order. Not bm25: its weights ask the
        engine to count, for every term, all the documents of the catalog that hold it
        (a common word: 100s of ms), where finding this page's documents takes 1 ms."""
        if not webinar_ids:
            return []
        ids = _ids(webinar_ids)
        matched: dict[int, int] = {}
        for term in self.q.terms:
            for rowid in session.scalars(text("SELECT rowid FROM search_fts WHERE search_fts MATCH :m"),
                                         {"m": f"{{title text}} : {quoted(term)} AND webinar_id : ({ids})"}):
                matched[rowid] = matched.get(rowid, 0) + 1
        found: list = []
        rowids = list(matched)
        for i in range(0, len(rowids), 5000):
            found += session.execute(text("SELECT id, webinar_id, kind FROM search_documents WHERE id IN :ids")
                                     .bindparams(bindparam("ids", expanding=True)), {"ids": rowids[i:i + 5000]})
        found.sort(key=lambda r: (-matched[r.id], KIND_ORDER.get(r.kind, 9), r.id))
        chosen, taken = [], dict.fromkeys(webinar_ids, 0)
        for r in found:
            if taken.get(r.webinar_id, per_webinar) < per_webinar:
                taken[r.webinar_id] += 1
                chosen.append(r.id)
        if not chosen:
            return []
        rows = {r.id: r for r in session.execute(
            text(f"SELECT d.id, {DOC_COLUMNS} FROM search_documents d WHERE d.id IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": chosen})}
        return [Candidate.of(r, float(matched[i])) for i in chosen if (r := rows.get(i)) is not None]

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        stmt = text("SELECT rowid, highlight(search_fts, 0, :o, :c), highlight(search_fts, 1, :o, :c) "
                    "FROM search_fts WHERE search_fts MATCH :q AND rowid IN :ids"
                    ).bindparams(bindparam("ids", expanding=True))
        q = f"{{title text}} : ({match(self.q, any_term=True)})"
        return {r[0]: (r[1] or "", r[2] or "") for r in
                session.execute(stmt, {"q": q, "o": OPEN, "c": CLOSE, "ids": ids})}
