"""Search on PostgreSQL: `search_fts` / `search_webinar_fts`, tsvectors with GIN indexes,
with the `archive_search` configuration ('simple' plus unaccent when the extension is
there); a summary has `tsv` (every word, stripped: for finding) and `rank_tsv` (headings A,
own text B: ts_rank reads this small vector only)."""
from __future__ import annotations

from sqlalchemy import DateTime, Float, String, bindparam, select, text
from sqlalchemy.orm import Session

from ..models import Webinar, utcnow
from .engine import DOC_COLUMNS, PHRASE_PROBE_DOCUMENTS, Engine, phrase_scores
from .marks import CLOSE, OPEN
from .query import Query


def tsquery(q: Query, any_term: bool = False) -> tuple[str, dict[str, str]]:
    """A tsquery expression over documents, over bound parameters, and the parameters:
    every term as a phrase and none of the excluded ones, or (`any_term`) any term."""
    params, parts = {}, []
    for i, t in enumerate(q.terms):
        params[f"t{i}"] = t
        parts.append(f"phraseto_tsquery('archive_search', :t{i})")
    if any_term:
        return "(" + " || ".join(parts) + ")", params
    for i, t in enumerate(q.excluded):
        params[f"x{i}"] = t
        parts.append(f"!! phraseto_tsquery('archive_search', :x{i})")
    return "(" + " && ".join(parts) + ")", params


def tsquery_summary(q: Query, any_term: bool = False) -> str:
    """The tsquery over summaries (parameters as `tsquery`'s): every word of every term
    (plainto_tsquery: no word order), none of the excluded single words; or any word."""
    parts = [f"plainto_tsquery('archive_search', :t{i})" for i in range(len(q.terms))]
    if any_term:
        return "(" + " || ".join(parts) + ")"
    parts += [f"!! plainto_tsquery('archive_search', :x{i})" for i, t in enumerate(q.excluded)
              if t in q.excluded_words]
    return "(" + " && ".join(parts) + ")"


# A phrase whose words are together in at most PHRASE_PROBE_DOCUMENTS documents (by
# ANALYZE's statistics, the words taken as independent) is looked up in the documents
# first, as on SQLite: GIN intersects the words' postings, so only documents holding all
# of them are checked for the phrase. Words found in most webinars are each in a few
# percent of the documents, so such a phrase is rare as a phrase, and checking ranked
# candidates for it read thousands of documents per batch (over 10,000 webinars: two
# batches, 50 + 200 ms, before the whole index).

_NOW = bindparam("now", type_=DateTime)
_LISTED_DAYS = (select(Webinar.id, Webinar.held_on, Webinar.created_at)
                .where(Webinar.id.in_(bindparam("ids", expanding=True)), Webinar.is_listed(_NOW)))


def documents_holding(session: Session, phrase: str) -> float | None:
    """About how many documents hold every word of `phrase`, from the statistics ANALYZE
    keeps of `search_fts.tsv` (its most common words and their shares; a word not among
    them is rarer than the least of them), the words taken as independent; None before
    any ANALYZE."""
    row = session.execute(text("""
        SELECT s.most_common_elems::text::text[] AS words, s.most_common_elem_freqs AS freqs, c.reltuples
        FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
        WHERE s.tablename = 'search_fts' AND s.attname = 'tsv'""")).first()
    if row is None or not row.words or not row.freqs or row.reltuples <= 0:
        return None
    share = dict(zip(row.words, row.freqs))
    floor = min(row.freqs[:len(row.words)])  # the least share listed
    words = session.scalars(text("SELECT unnest(tsvector_to_array(to_tsvector('archive_search', :p)))"),
                            {"p": phrase}).all()
    held = float(row.reltuples)
    for w in words:
        held *= min(1.0, share.get(w, floor))
    return held if words else 0.0


class Postgres(Engine):
    RANK = "ts_rank('{0.1, 0.2, 0.4, 1.0}', f.tsv, qq.q)"

    def __init__(self, q: Query):
        super().__init__(q)
        _, self.params = tsquery(q)
        self.any_tsq, _ = tsquery(q, any_term=True)
        # Found by `tsv` (every word; GIN answers a query of plain words without reading
        # a vector), ranked by `rank_tsv` (headings and own text only: a few hundred
        # bytes to read per webinar, not its whole vocabulary); then newest first.
        # The matching summaries are taken apart from the joins (MATERIALIZED): joined, the
        # planner may walk search_webinar_fts by its primary key for a merge join and test
        # every summary's whole vocabulary (86 of 102 ms over 1,000 webinars, 10x that
        # over 10,000) where GIN answers without reading one.
        self.matches = text(f"""
            WITH f AS MATERIALIZED (
                SELECT summary_id, ts_rank('{{0.1, 0.2, 0.4, 1.0}}', rank_tsv,
                                           {tsquery_summary(q, any_term=True)}) AS score
                FROM search_webinar_fts WHERE tsv @@ {tsquery_summary(q)})
            SELECT sw.webinar_id, f.score FROM f JOIN search_webinars sw ON sw.id = f.summary_id
            """).columns(webinar_id=String, score=Float).subquery("m")
        self.hits_sql = f"""
            SELECT d.id, {self.RANK} AS score, {DOC_COLUMNS}
            FROM search_documents d JOIN search_fts f ON f.doc_id = d.id CROSS JOIN (SELECT {self.any_tsq} AS q) qq
            WHERE d.webinar_id IN :ids AND f.tsv @@ qq.q ORDER BY score DESC, d.id"""

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        # Every summary holds a common word, so the planner would rather read them all than
        # use the GIN index, and reading one means decompressing its whole vocabulary
        # (~30 ms per 600 webinars); through the index, a query of plain words never reads
        # a vector. So sequential scans are off for this one statement.
        m = self.matches
        stmt = (select(m.c.webinar_id, m.c.score).join(Webinar, Webinar.id == m.c.webinar_id)
                .where(Webinar.is_listed())
                .order_by(m.c.score.desc(), Webinar.held_on.desc().nulls_last(), Webinar.created_at.desc(),
                          m.c.webinar_id)
                .limit(n).offset(offset))
        session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            return [(r.webinar_id, float(r.score)) for r in session.execute(stmt, self.params)]
        finally:
            session.execute(text("SET LOCAL enable_seqscan = on"))

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        # Each phrase's documents when its rarest word is rare enough: their webinars, ranked
        # by where and how often they say it (as sqlite.Sqlite.held_phrases).
        scores: dict[str, float] | None = None
        for phrase in self.q.phrases:
            held = documents_holding(session, phrase)
            if held is None or held > PHRASE_PROBE_DOCUMENTS:
                return None
            rows = session.execute(text(
                "SELECT d.webinar_id, d.kind FROM search_fts f JOIN search_documents d ON d.id = f.doc_id "
                "WHERE f.tsv @@ phraseto_tsquery('archive_search', :p) LIMIT :n"),
                {"p": phrase, "n": PHRASE_PROBE_DOCUMENTS + 1}).all()
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
            stmt = text(f"""SELECT sw.webinar_id FROM search_webinars sw JOIN search_webinar_fts f
                            ON f.summary_id = sw.id WHERE sw.webinar_id IN :ids AND f.tsv @@ {tsquery_summary(self.q)}"""
                        ).bindparams(bindparam("ids", expanding=True))
            matching = set(session.scalars(stmt, {**self.params, "ids": ids}))
            ids = [w for w in ids if w in matching]
        ids = sorted(self.holding_phrases(session, ids, only_excluded=True)) if self.q.excluded_phrases else ids
        rows = session.execute(_LISTED_DAYS, {"ids": ids, "now": utcnow()}).all() if ids else []
        rows.sort(key=lambda r: (str(r.held_on or ""), str(r.created_at or ""), r.id), reverse=True)
        rows.sort(key=lambda r: scores[r.id], reverse=True)  # stable: newest first among equals
        return [(r.id, scores[r.id]) for r in rows]

    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        if webinar_ids is None:
            return set(session.scalars(text(
                "SELECT DISTINCT d.webinar_id FROM search_documents d JOIN search_fts f ON f.doc_id = d.id "
                "WHERE f.tsv @@ phraseto_tsquery('archive_search', :p)"), {"p": phrase}))
        if not webinar_ids:
            return set()
        # These webinars' documents, each checked by its own key (LATERAL): the planner
        # would otherwise take every document holding the words from the GIN index and
        # check the phrase in each, across the whole catalog.
        stmt = text("""
            SELECT DISTINCT d.webinar_id FROM search_documents d
            CROSS JOIN LATERAL (SELECT 1 FROM search_fts f WHERE f.doc_id = d.id
                                AND f.tsv @@ phraseto_tsquery('archive_search', :p) OFFSET 0) hit
            WHERE d.webinar_id IN :ids""").bindparams(bindparam("ids", expanding=True))
        return set(session.scalars(stmt, {"p": phrase, "ids": webinar_ids}))

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        opts = f"HighlightAll=true, StartSel={OPEN}, StopSel={CLOSE}"
        stmt = text(f"""
            SELECT d.id, ts_headline('archive_search', d.title, qq.q, :opts),
                   ts_headline('archive_search', d.text, qq.q, :opts)
            FROM search_documents d, (SELECT {self.any_tsq} AS q) qq WHERE d.id IN :ids"""
                    ).bindparams(bindparam("ids", expanding=True))
        return {r[0]: (r[1] or "", r[2] or "") for r in
                session.execute(stmt, {**self.params, "opts": opts, "ids": ids})}
