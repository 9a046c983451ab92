"""Search on PostgreSQL: `search_fts` / `search_webinar_fts`, tsvectors with GIN indexes,
with the `archive_search` configuration ('simple' plus unaccent when the extension is
there); a summary has `tsv` (every word, stripped: for finding) and `rank_tsv` (headings A,
own text B: ts_rank reads this small vector only). Where the rum extension is installed,
`rank_tsv` also has a RUM index (migration 0014) that hands out the best ranked summaries
first; without it, every matching summary is ranked, as it always was. A document's
adjacent word pairs, hashed, have a GIN index of their own (migration 0015), through which a
phrase of common words is found in the few documents holding its pairs."""
from __future__ import annotations

import math
import time

from sqlalchemy import DateTime, Float, Integer, String, any_, bindparam, case, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..models import Webinar, utcnow
from .engine import DOC_COLUMNS, PHRASE_PROBE_DOCUMENTS, PHRASE_WEIGHTS, Candidate, Engine
from .marks import CLOSE, OPEN
from .query import Query
from .tables import SearchDocument


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
    (plainto_tsquery: no word order), none of the excluded single words; or any term."""
    parts = [f"plainto_tsquery('archive_search', :t{i})" for i in range(len(q.terms))]
    if any_term:
        return "(" + " || ".join(parts) + ")"
    parts += [f"!! plainto_tsquery('archive_search', :x{i})" for i, t in enumerate(q.excluded)
              if t in q.excluded_words]
    return "(" + " && ".join(parts) + ")"


def tsquery_words(q: Query) -> tuple[str, dict[str, str]]:
    """Any word of a query of single words, and its parameters (each word's own, as the
    RUM path binds them)."""
    words = list(dict.fromkeys(w.lower() for t in q.terms for w in Query.tokens(t)))
    params = {f"w{i}": w for i, w in enumerate(words)}
    return "(" + " || ".join(f"plainto_tsquery('archive_search', :{k})" for k in params) + ")", params


# A phrase is looked up in the documents first, as on SQLite, through the index of word
# pairs (migration 0015): "can or of" has its words together in 79,000 of 1.1 M documents
# and its pairs in 71, where it is said in 52; checking ranked candidates for such a phrase
# read thousands of documents per batch (over 10,000 webinars: 100-700 ms), and so did a
# mid-frequency word beside a common one ("saisa the") through the index of words. Only a
# phrase in more than PHRASE_PROBE_DOCUMENTS documents is left to the ranked candidates.
# Without the pairs' index, a phrase whose words are together in at most that many
# documents (by ANALYZE's statistics, the words taken as independent) is looked up through
# the words' postings, which GIN intersects.

_NOW = bindparam("now", type_=DateTime)


STATS_FOR = 60.0  # seconds a connection keeps what it read of ANALYZE's statistics


def common_elements(session: Session, table: str, column: str) -> tuple[dict[str, float], float] | None:
    """The most common elements ANALYZE lists for a tsvector column (or an index's
    expression, by the index's name) with the share of rows holding each, and the rows
    counted; None before any ANALYZE. Kept by the connection for STATS_FOR seconds
    (reading them is ~1 ms, and they change only when ANALYZE runs again)."""
    kept = session.connection().info.setdefault("common_elements", {})
    at, found = kept.get((table, column), (-STATS_FOR, None))
    if time.monotonic() - at < STATS_FOR:
        return found
    found = _common_elements(session, table, column)
    kept[(table, column)] = (time.monotonic(), found)
    return found


def _common_elements(session: Session, table: str, column: str) -> tuple[dict[str, float], float] | None:
    row = session.execute(text("""
        SELECT s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS freqs, c.reltuples
        FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
        WHERE s.tablename = :t AND s.attname = :c"""), {"t": table, "c": column}).first()
    if row is None or not row.elems or not row.freqs or row.reltuples <= 0:
        return None
    return dict(zip(row.elems, row.freqs)), float(row.reltuples)


def has_index(session: Session, name: str) -> bool:
    """Whether the index `name` is there (asked once per database connection)."""
    info = session.connection().info.setdefault("indexes", {})
    if name not in info:
        info[name] = bool(session.execute(text("SELECT to_regclass(:i) IS NOT NULL"), {"i": name}).scalar())
    return info[name]


def lexemes(session: Session, words: str) -> list[str]:
    """The lexemes of `words`, as the search configuration makes them (each once)."""
    return session.scalar(text("SELECT tsvector_to_array(to_tsvector('archive_search', :w))"), {"w": words}) or []


def documents_holding(session: Session, phrase: str) -> float | None:
    """About how many documents hold every word of `phrase`, from the statistics ANALYZE
    keeps of `search_fts.tsv` (its most common words and their shares; a word not among
    them is rarer than the least of them), the words taken as independent; None before
    any ANALYZE."""
    stats = common_elements(session, "search_fts", "tsv")
    if stats is None:
        return None
    share, rows = stats
    floor = min(share.values())  # the least share listed
    words = lexemes(session, phrase)
    held = rows
    for w in words:
        held *= min(1.0, share.get(w, floor))
    return held if words else 0.0


PAIRS_INDEX = "search_fts_pairs"  # made by migration 0015: search_pairs(tsv), hashed adjacent word pairs


def phrase_pairs(session: Session, phrase: str) -> list[str] | None:
    """The hashed adjacent word pairs of `phrase`, as the index of migration 0015 holds a
    document's; None when there is no such index or the phrase has no pair."""
    if not has_index(session, PAIRS_INDEX):
        return None
    pairs = session.scalar(text("SELECT tsvector_to_array(search_pairs(to_tsvector('archive_search', :p)))"),
                           {"p": phrase})
    if not pairs or not all(h.isalnum() and h.isascii() for h in pairs):  # hex digits, as the function makes
        return None
    return pairs


def pairs_common(session: Session, pairs: list[str], n: int) -> bool:
    """Whether every pair is among the most common ones ANALYZE lists for the index ("of
    the", "the to") and, by their shares, they are together in at least `n` documents (a
    pair not listed may be in any number of documents under the least share listed)."""
    stats = common_elements(session, PAIRS_INDEX, "search_pairs")
    if stats is None:
        return False
    share, rows = stats
    return all(h in share for h in pairs) and rows * math.prod(share[h] for h in pairs) >= n


def phrase_documents(session: Session, phrase: str, pairs: list[str], most: int) -> list[int] | None:
    """The documents holding `phrase` (their ids), found through the index of word pairs:
    only documents holding every pair of the phrase (or a pair hashed alike) are checked
    for it; None when more than `most` hold it. The candidates are taken apart (OFFSET 0),
    so that the phrase is checked on them only, not on what the index of words would add."""
    ids = session.scalars(text("""
        SELECT f.doc_id FROM (
            SELECT doc_id, tsv FROM search_fts WHERE search_pairs(tsv) @@ CAST(:pairs AS tsquery) OFFSET 0) f
        WHERE f.tsv @@ phraseto_tsquery('archive_search', :p) LIMIT :n"""),
        {"pairs": " & ".join(f"'{h}'" for h in pairs), "p": phrase, "n": most + 1}).all()
    return None if len(ids) > most else ids


# The listed webinars of some documents, each with what its documents add to its rank
# (engine.PHRASE_WEIGHTS by kind), counted here rather than row by row in Python, the
# documents' ids bound as one array (as 2,000 parameters, and counted one by one, a
# phrase's documents cost 25 ms more).
_WEIGHT = case(*((SearchDocument.kind == kind, weight) for kind, weight in PHRASE_WEIGHTS.items()), else_=1.0)
# Counted per webinar first; then those webinars are looked up by their key, as an array
# the planner cannot take for many (joined, it read all 10,000 webinars for a hash or merge
# join, 5-6 ms, rather than look up a few hundred).
_HELD = (select(SearchDocument.webinar_id, func.sum(_WEIGHT).label("score"))
         .where(SearchDocument.id == any_(bindparam("docs", type_=ARRAY(Integer))))
         .group_by(SearchDocument.webinar_id).cte("held").prefix_with("MATERIALIZED"))
_HELD_BY = (select(Webinar.id, Webinar.held_on, Webinar.created_at, _HELD.c.score).select_from(_HELD)
            .join(Webinar, Webinar.id == _HELD.c.webinar_id)
            .where(Webinar.id == any_(literal_column("ARRAY(SELECT held.webinar_id FROM held)")),
                   Webinar.is_listed(_NOW))
            .order_by(_HELD.c.score.desc(), Webinar.held_on.desc().nulls_last(),
                      Webinar.created_at.desc().nulls_last(), Webinar.id.collate("C").desc()))


HEADLINE = f"HighlightAll=true, StartSel={OPEN}, StopSel={CLOSE}"  # ts_headline's options

RUM_INDEX = "search_webinar_fts_rank_rum"  # made by migration 0014 where rum is installed
# Taken from the RUM index at a time: four times the page's depth, at least RUM_CANDIDATES,
# for pages up to RUM_MOST / 4 deep (deeper ones, as the long lists a common phrase is
# checked on, are ranked all). Scores are coarse: a word once in the description is one
# score shared by hundreds of webinars, and an edge inside such a tie leaves only those
# above it certain. The index sorts every match whatever `k` is (~10-20 ms for a word in
# every summary); each one taken costs a join and a ts_rank of its small vector (~15 ms
# per 1,000 over 10,000 webinars).
RUM_CANDIDATES = 200
RUM_MOST = 1000
# From this many matching summaries on, the RUM index ranks them (below, ts_rank on each).
RUM_FROM = 2000
# ...and from this many, for a word that ANALYZE finds in many summaries' headings or own text.
RUM_SOME = 200
MANY, SOME = 2, 1  # what Postgres._many_ranked answers
RANK_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'"
# Ranking every match: those at or above the score of the (2 * (offset + n) + SPARE)-th
# best are joined to their webinars (listed or not) and sorted; MATCHES_ALL, all of them.
MATCHES_SPARE = 16
MATCHES_ALL = 2 ** 31 - 1
# Ranking only the summaries that rank above zero, when by ANALYZE they are at most this
# share of all: "these is", 14 % (1,420 of 10,000 summaries, 4.6 ms where ranking every
# match took 12); "of the to", 99 % (checking which of them hold every word added 12 ms).
POSITIVE_SHARE = 0.25
# ...or half of them, when those need not be checked for the whole query (a phrase of two
# words, which a summary ranking above zero holds): "which of", 28 %, 25-33 -> 19 ms.
POSITIVE_SHARE_WHOLE = 0.5
POSITIVE_WORDS = 8  # and at most this many words (a phrase of n words makes n (n - 1) / 2 pairs)


def ranks_in_index(session: Session) -> bool:
    """Whether the summaries' RUM index is there (asked once per database connection)."""
    return has_index(session, RUM_INDEX)


class Postgres(Engine):
    RANK = f"ts_rank({RANK_WEIGHTS}, f.tsv, qq.q)"

    def __init__(self, q: Query):
        super().__init__(q)
        _, self.params = tsquery(q)
        self.any_tsq, _ = tsquery(q, any_term=True)
        # Ranked by any term (a phrase's words all together, so that the candidates a
        # phrase is checked on hold its words in their headings first).
        rank_q = tsquery_summary(q, any_term=True)
        # Found by `tsv` (every word; GIN answers a query of plain words without reading
        # a vector), ranked by `rank_tsv` (headings and own text only: a few hundred
        # bytes to read per webinar, not its whole vocabulary); then newest first.
        # The matching summaries are taken apart from the joins (MATERIALIZED): joined, the
        # planner may walk search_webinar_fts by its primary key for a merge join and test
        # every summary's whole vocabulary (86 of 102 ms over 1,000 webinars, 10x that
        # over 10,000) where GIN answers without reading one. Only those ranking at or
        # above the `top`-th best score (`edge`) are joined and sorted: 10,000 matches
        # joined to their webinars took 18 of 35 ms. Below the edge, fewer than `top`
        # rank higher, so if `offset + n` of those at or above it are listed, they are the
        # answer; otherwise `webinars` asks again without an edge.
        def ranked(where: str, name: str):
            return text(f"""
                WITH f AS MATERIALIZED (
                    SELECT summary_id, ts_rank({RANK_WEIGHTS}, rank_tsv, {rank_q}) AS score
                    FROM search_webinar_fts WHERE {where}),
                t AS (SELECT summary_id, score FROM f ORDER BY score DESC FETCH FIRST :top ROWS WITH TIES)
                SELECT sw.webinar_id, t.score FROM t JOIN search_webinars sw ON sw.id = t.summary_id
                """).columns(webinar_id=String, score=Float).subquery(name)

        found = f"tsv @@ {tsquery_summary(q)}"
        self.matches = ranked(found, "m")
        # Only the summaries that rank above zero, found through the index on `rank_tsv`
        # (`positive_query`): a phrase's words are in nearly every summary, and ranking
        # them all (10,000 ts_rank, 12 ms) is wasted when those holding two of its words
        # in their headings or own text (for "these is", 1,420) fill the page. Whether
        # they hold the whole query is asked of the index of `tsv` apart (OFFSET 0): the
        # planner would otherwise read each one's whole vocabulary (240 ms for 10,000);
        # and not at all when the query is two words, which `rank_tsv` then holds.
        positive = "rank_tsv @@ CAST(:positive AS tsquery)"
        self.positive_held = ranked(positive, "p")
        self.positive = ranked(f"{positive} AND summary_id IN "
                               f"(SELECT summary_id FROM search_webinar_fts WHERE {found} OFFSET 0)", "p")
        # With RUM: the `k` best ranked summaries straight from the index (it keeps each
        # word's positions and weights: no vector is read to rank), `edge` the last one's
        # distance (1 / ts_rank). Only these are joined and sorted. A summary that ranks
        # above zero holds a word of the query in `rank_tsv`, so it is among them unless
        # it ranks at or below the edge; one that matches only by its vocabulary ranks zero.
        # Only for queries of single words (phrases are checked on candidate lists of their
        # own, and a phrase's words ranked together need not be in `rank_tsv` to rank above
        # zero). The whole query must be in the summary (`tsv`): a word of it in `rank_tsv`
        # is not enough when it has several words or exclusions; then the summaries holding
        # it are taken through GIN (their ids only, no vector read) and the best ranked
        # must be among them.
        self.rum = not q.phrases
        rum_q, rank_words = tsquery_words(q)
        self.params.update(rank_words)
        one_word = len(rank_words) == 1 and not q.excluded_words
        whole = "" if one_word else \
            f"AND c.summary_id IN (SELECT summary_id FROM search_webinar_fts WHERE tsv @@ {tsquery_summary(q)})"
        def best(where: str):
            return text(f"""
                WITH c AS MATERIALIZED (
                    SELECT summary_id, rank_tsv <=> {rum_q} AS d FROM search_webinar_fts
                    WHERE {where} ORDER BY rank_tsv <=> {rum_q} LIMIT :k),
                e AS (SELECT max(d) AS edge, count(*) AS found FROM c)
                SELECT sw.webinar_id, c.d, ts_rank({RANK_WEIGHTS}, f.rank_tsv, {rum_q}) AS score, e.edge, e.found
                FROM c CROSS JOIN e JOIN search_webinar_fts f ON f.summary_id = c.summary_id
                JOIN search_webinars sw ON sw.id = c.summary_id WHERE TRUE {whole}
                """).columns(webinar_id=String, d=Float, score=Float, edge=Float, found=Integer).subquery("r")

        self.ranked = best(f"rank_tsv @@ {rum_q}")
        # A query of one word: first only the summaries with it in a heading (weight A,
        # which the RUM index keeps). With the weights RANK_WEIGHTS, one occurrence in a
        # heading ranks 1.0 / 1.645 = 0.61, and any number in the own text (B) less than
        # 0.4 * (pi^2 / 6) / 1.645 = 0.4: the summaries holding it in a heading are the
        # best ranked ones, and the page comes from them alone when they fill it. "the":
        # in 4,791 headings of 10,000 summaries, 6 ms where the index sorted all 9,999
        # holding it (10 ms). A word the parser splits is left to `ranked` (no match).
        self.ranked_in_headings = best(
            f"rank_tsv @@ (CASE WHEN numnode({rum_q}) = 1 THEN CAST(CAST({rum_q} AS text) || '\\:A' AS tsquery) END)"
        ) if one_word else None
        # How many summaries match, counted up to RUM_FROM through GIN.
        self.matching = text("SELECT count(*) FROM (SELECT 1 FROM search_webinar_fts "
                             f"WHERE tsv @@ {tsquery_summary(q)} LIMIT :most) x")
        # A query of one word, its lexemes too (as ANALYZE's statistics of `rank_tsv` list them).
        self.one_word = one_word
        self.matching_word = text(f"SELECT ({self.matching.text}), "
                                  "tsvector_to_array(to_tsvector('archive_search', :w0))")
        # A page's hits: each webinar's best `per` documents only, ranked and numbered by
        # their ids before any other column is read (a common word is in ~50 documents of
        # each webinar, whose rows and word times took 15 ms a page to read and decode).
        # The page's documents are taken by their ids (an array the planner cannot
        # enlarge) and each one's vector checked: a page holds ~1,400 of them, read in
        # ~1-2 ms, where the GIN index's documents holding a mid-frequency word across the
        # whole catalog (~3,000) cost 8 ms to fetch before the join dropped all but a few.
        # Their title and text are marked in the same statement (`highlight` reads them).
        self.hits_sql = f"""
            SELECT d.id, x.score, {DOC_COLUMNS},
                   ts_headline('archive_search', d.title, hq.q, :opts) AS marked_title,
                   ts_headline('archive_search', d.text, hq.q, :opts) AS marked_text FROM (
                SELECT f.doc_id, {self.RANK} AS score,
                       row_number() OVER (PARTITION BY d.webinar_id ORDER BY {self.RANK} DESC, f.doc_id) AS n
                FROM search_fts f JOIN search_documents d ON d.id = f.doc_id CROSS JOIN (SELECT {self.any_tsq} AS q) qq
                WHERE f.doc_id = ANY(ARRAY(SELECT id FROM search_documents WHERE webinar_id IN :ids))
                  AND f.tsv @@ qq.q) x
            JOIN search_documents d ON d.id = x.doc_id CROSS JOIN (SELECT {self.any_tsq} AS q) hq
            WHERE x.n <= :per ORDER BY x.score DESC, d.id"""
        self._marked: dict[int, tuple[str, str]] = {}  # doc id: its marked title and text, from `hits`

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        # Every summary holds a common word, so the planner would rather read them all than
        # use the GIN index, and reading one means decompressing its whole vocabulary
        # (~30 ms per 600 webinars); through the index, a query of plain words never reads
        # a vector. So sequential scans are off for these statements.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            # Few matches are quicker ranked all (a ms per 200); many, from the RUM index.
            ranked = self.rum and 4 * (offset + n) <= RUM_MOST and ranks_in_index(session) \
                and self._many_ranked(session, offset + n)
            if ranked:
                found = self._best_ranked(session, n, offset, headings=ranked == MANY)
                if found is not None:
                    return found
            top = 2 * (offset + n) + MATCHES_SPARE
            if self.q.phrases and ranks_in_index(session):
                found = self._above_zero(session, n, offset, top)
                if found is not None:
                    return found
            stmt = self._page(self.matches, n, offset)
            rows = session.execute(stmt, {**self.params, "top": top}).all()
            if len(rows) < n:  # too few listed at or above the edge (or simply too few matches)
                rows = session.execute(stmt, {**self.params, "top": MATCHES_ALL}).all()
            return [(r.webinar_id, float(r.score)) for r in rows]
        finally:
            session.execute(text("SET LOCAL enable_seqscan = on"))

    @staticmethod
    def _listed(m, *columns):
        """`columns` of ranked summaries `m` whose webinars are listed, best first, then newest."""
        return (select(*columns).join(Webinar, Webinar.id == m.c.webinar_id).where(Webinar.is_listed())
                .order_by(m.c.score.desc(), Webinar.held_on.desc().nulls_last(), Webinar.created_at.desc(),
                          m.c.webinar_id))

    def _page(self, m, n: int, offset: int):
        """The page of listed webinars from ranked summaries `m`."""
        return self._listed(m, m.c.webinar_id, m.c.score).limit(n).offset(offset)

    def _above_zero(self, session: Session, n: int, offset: int, top: int) -> list[tuple[str, float]] | None:
        """`webinars` from the summaries that rank above zero alone, when they fill the
        page (every summary ranking zero comes after them); else None."""
        positive = self.positive_query(session)
        if positive is None:
            return None
        tsq, whole = positive
        rows = session.execute(self._page(self.positive_held if whole else self.positive, n, offset),
                               {**self.params, "top": top, "positive": tsq}).all()
        return [(r.webinar_id, float(r.score)) for r in rows] if len(rows) == n else None

    def positive_query(self, session: Session) -> tuple[str, bool] | None:
        """A tsquery that every summary ranking above zero matches in `rank_tsv` (others
        may too), as text, and whether a summary matching it holds the whole query; None
        when the query has no word or more than POSITIVE_WORDS, or when by ANALYZE's
        statistics it would match more than a quarter of the summaries (POSITIVE_SHARE,
        or half: POSITIVE_SHARE_WHOLE; then ranking them all is quicker).
        ts_rank of a query of one term of several words (its words ANDed) is zero unless
        two different words of it are there; of any other query, unless one of its words
        is there."""
        words = sorted(set(lexemes(session, " ".join(self.q.terms))))
        if not words or len(words) > POSITIVE_WORDS:
            return None
        stats = common_elements(session, "search_webinar_fts", "rank_tsv")
        share, floor = (stats[0], min(stats[0].values())) if stats else ({}, 0.0)
        quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
        if len(self.q.terms) == 1 and len(words) > 1:
            pairs = [(i, j) for i in range(len(words)) for j in range(i + 1, len(words))]
            held = sum(share.get(words[i], floor) * share.get(words[j], floor) for i, j in pairs)
            tsq = " | ".join(f"({quoted[i]} & {quoted[j]})" for i, j in pairs)
            whole = len(words) == 2 and not self.q.excluded_words
        else:
            held = sum(share.get(w, floor) for w in words)
            tsq, whole = " | ".join(quoted), False
        return None if held > (POSITIVE_SHARE_WHOLE if whole else POSITIVE_SHARE) else (tsq, whole)

    def _many_ranked(self, session: Session, wanted: int) -> int:
        """Whether the RUM index is the quicker way: MANY when RUM_FROM summaries or more
        match; SOME when a word matches RUM_SOME or more, and by ANALYZE it is in the
        headings or own text of `wanted` or more summaries (those ranking above zero,
        which the index hands out; the rest rank zero, and ranking every match joins all
        of them, tied, to their webinars to be ordered by date: 1,441 in 9 ms for
        "riploutai", which 15 summaries hold in their own text: from the index, 1 ms);
        else 0."""
        if not self.one_word:
            return MANY if session.scalar(self.matching, {**self.params, "most": RUM_FROM}) >= RUM_FROM else 0
        # A word of ASCII letters and digits is its own lexeme, lowercased: when ANALYZE
        # lists it in RUM_FROM summaries or more, they need not be counted (2 ms).
        word = self.params["w0"]
        if word.isascii() and word.isalnum():
            found = common_elements(session, "search_webinar_fts", "tsv")
            if found is not None and found[0].get(word.lower(), 0.0) * found[1] >= RUM_FROM:
                return MANY
        matching, lexemes = session.execute(self.matching_word, {**self.params, "most": RUM_FROM}).one()
        if matching >= RUM_FROM:
            return MANY
        if matching < RUM_SOME or not lexemes:
            return 0
        stats = common_elements(session, "search_webinar_fts", "rank_tsv")
        return SOME if stats is not None and all(stats[0].get(w, 0.0) * stats[1] >= wanted for w in lexemes) else 0

    def _best_ranked(self, session: Session, n: int, offset: int, headings: bool = True
                     ) -> list[tuple[str, float]] | None:
        """`webinars`, from the RUM index's best ranked summaries, when they are enough to
        tell: the same answer as ranking them all, or None (then rank them all). Enough
        means `offset + n` listed matches ranking strictly above the edge (all summaries
        ranking so are among those taken; among equals at the edge, some may be missing),
        or, when the index had fewer to give, all that rank above zero. `headings`: a
        word's summaries with it in a heading are asked first (a word in few summaries
        is in fewer headings than a page: 2 ms in vain)."""
        if headings and self.ranked_in_headings is not None:
            found = self._from_index(session, self.ranked_in_headings, n, offset)
            if found is not None:
                return found
        return self._from_index(session, self.ranked, n, offset)

    def _from_index(self, session: Session, r, n: int, offset: int) -> list[tuple[str, float]] | None:
        """`_best_ranked` from one statement's best ranked summaries (`ranked`, or those
        of `ranked_in_headings`, which rank above all others)."""
        k = max(RUM_CANDIDATES, 4 * (offset + n))
        stmt = self._listed(r, r.c.webinar_id, r.c.d, r.c.score, r.c.edge, r.c.found)
        rows = session.execute(stmt, {**self.params, "k": k}).all()
        if rows and rows[0].found >= k:
            rows = [row for row in rows if row.d < row.edge]
        if len(rows) < offset + n:
            return None
        return [(row.webinar_id, float(row.score)) for row in rows[offset:offset + n]]

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        # Each phrase's documents when few hold it: their listed webinars, ranked by where
        # and how often they say it (as sqlite.Sqlite.held_phrases). Its documents are
        # found through its word pairs where they are indexed, else through its words when
        # they are rare enough together.
        scores: dict[str, float] | None = None
        days: dict[str, tuple] = {}
        most = PHRASE_PROBE_DOCUMENTS
        for phrase in self.q.phrases:
            pairs = phrase_pairs(session, phrase)
            if pairs is not None:
                docs = None if pairs_common(session, pairs, most + 1) else \
                    phrase_documents(session, phrase, pairs, most)
            else:
                held = documents_holding(session, phrase)
                docs = None if held is None or held > most else session.scalars(text(
                    "SELECT doc_id FROM search_fts WHERE tsv @@ phraseto_tsquery('archive_search', :p) LIMIT :n"),
                    {"p": phrase, "n": most + 1}).all()
            if docs is None or len(docs) > most:
                return None
            # Core rows, best first: a phrase alone is answered as they come (a thousand
            # webinars took 5 ms more as ORM rows, keyed and sorted in Python).
            rows = session.connection().execute(_HELD_BY, {"docs": docs, "now": utcnow()}).all() if docs else []
            if len(self.q.terms) == 1 and not self.q.excluded:
                return [(r.id, float(r.score)) for r in rows]
            found = {r.id: r for r in rows}
            days.update((w, (r.held_on, r.created_at)) for w, r in found.items())
            scores = {w: r.score for w, r in found.items()} if scores is None else \
                {w: v + found[w].score for w, v in scores.items() if w in found}
            if not scores:
                return []
        assert scores is not None
        ids = sorted(scores)
        # Their other words and excluded words, on the summaries; excluded phrases on the documents.
        others = [t for t in self.q.terms if t not in self.q.phrases]
        if others or self.q.excluded_words:
            stmt = text(f"""SELECT sw.webinar_id FROM search_webinars sw JOIN search_webinar_fts f
                            ON f.summary_id = sw.id WHERE sw.webinar_id = ANY(:ids) AND f.tsv @@ {tsquery_summary(self.q)}""")
            matching = set(session.scalars(stmt, {**self.params, "ids": ids}))
            ids = [w for w in ids if w in matching]
        ids = list(self.holding_phrases(session, ids, only_excluded=True)) if self.q.excluded_phrases else ids
        # Best first, then newest first among equals.
        ids.sort(key=lambda w: (scores[w], str(days[w][0] or ""), str(days[w][1] or ""), w), reverse=True)
        return [(w, float(scores[w])) for w in ids]

    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        if webinar_ids is None:
            return set(session.scalars(text(
                "SELECT DISTINCT d.webinar_id FROM search_documents d JOIN search_fts f ON f.doc_id = d.id "
                "WHERE f.tsv @@ phraseto_tsquery('archive_search', :p)"), {"p": phrase}))
        if not webinar_ids:
            return set()
        # Each of these webinars' documents checked by its own key, and a webinar's checking
        # ends at its first document that says the phrase (EXISTS): a common phrase is in
        # one of the first few (64 webinars: 2-3 ms, where checking every document of each,
        # ~110 per webinar over 10,000 webinars, took 100-200 ms). The planner would
        # otherwise take every document holding the words from the GIN index and check the
        # phrase in each, across the whole catalog.
        stmt = text("""
            SELECT w.id FROM webinars w WHERE w.id IN :ids AND EXISTS (
                SELECT 1 FROM search_documents d JOIN search_fts f ON f.doc_id = d.id
                WHERE d.webinar_id = w.id AND f.tsv @@ phraseto_tsquery('archive_search', :p))"""
                    ).bindparams(bindparam("ids", expanding=True))
        return set(session.scalars(stmt, {"p": phrase, "ids": webinar_ids}))

    def _first_with_phrase(self, session: Session, phrase: str, webinar_ids: list[str], first: int) -> set[str]:
        # As _with_phrase, in the order given, ending at the `first`-th that says it: the
        # webinars that do not say it are the costly ones (every document of each is
        # checked), and most candidates of a common phrase after the page's first do not.
        # The array's rows come out of unnest in its order, and nothing here sorts them.
        if not webinar_ids or first <= 0:
            return set()
        return set(session.scalars(text("""
            SELECT c.id FROM unnest(CAST(:ids AS varchar[])) WITH ORDINALITY AS c(id, i) WHERE EXISTS (
                SELECT 1 FROM search_documents d JOIN search_fts f ON f.doc_id = d.id
                WHERE d.webinar_id = c.id AND f.tsv @@ phraseto_tsquery('archive_search', :p))
            LIMIT :n"""), {"p": phrase, "ids": list(webinar_ids), "n": first}))

    def hits(self, session: Session, webinar_ids: list[str], per_webinar: int) -> list[Candidate]:
        """As Engine.hits; each hit's marked title and text are kept for `highlight`."""
        if not webinar_ids:
            return []
        rows = session.execute(text(self.hits_sql).bindparams(bindparam("ids", expanding=True)),
                               {**self.params, "ids": webinar_ids, "per": per_webinar, "opts": HEADLINE}).all()
        self._marked.update((r.id, (r.marked_title or "", r.marked_text or "")) for r in rows)
        return [Candidate.of(r, float(r.score)) for r in rows]

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        found = {i: self._marked[i] for i in ids if i in self._marked}
        ids = [i for i in ids if i not in found]
        if not ids:
            return found
        stmt = text(f"""
            SELECT d.id, ts_headline('archive_search', d.title, qq.q, :opts),
                   ts_headline('archive_search', d.text, qq.q, :opts)
            FROM search_documents d, (SELECT {self.any_tsq} AS q) qq WHERE d.id IN :ids"""
                    ).bindparams(bindparam("ids", expanding=True))
        return found | {r[0]: (r[1] or "", r[2] or "") for r in
                        session.execute(stmt, {**self.params, "opts": HEADLINE, "ids": ids})}
