"""One search over the catalog, with the database's own full-text engine.

Every searchable unit is a row of `search_documents`: a webinar's own text (title and
description; speakers, organisations and presentation titles when the catalog has them),
one slide page, or a window of caption cues. Each webinar also has one row in
`search_webinars`, all its documents' text together, so that webinars are ranked with one
index entry each however many documents they have. The engine's indexes of both tables
are kept by triggers written in the migration (0005_search), so they change in the very
transaction that changes the rows:

- SQLite: FTS5 tables `search_fts` and `search_webinar_fts` (external content,
  `unicode61 remove_diacritics 2`, no stemming: the webinars come in several languages),
  ranked by bm25 with the heading column weighing 10x.
- PostgreSQL: `search_fts` / `search_webinar_fts`, one tsvector per row (GIN index), with
  the `archive_search` configuration ('simple' plus unaccent when the extension is there),
  ranked by ts_rank with the heading as weight A.

Writers: `index_webinar` (the importer, staff edits), `index_asset` (a job's end, from
`Outcome.texts`), `remove_asset`. Deleting a webinar deletes its rows (foreign keys).
The reader is `search`: webinars ranked on their summaries, then the hits of the page's
webinars with highlighted snippets; only publicly listed webinars, whatever the query.
"""
from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, bindparam, delete, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .models import Asset, Base, Webinar, utcnow
from .queries import LISTED

# Marks around matched words in titles and snippets; removed from indexed text, so a
# document can never forge one. `marked_html` turns them into <mark> after escaping.
OPEN, CLOSE = "\x02", "\x03"

WEBINAR_KINDS = ("webinar", "speaker")  # documents made from the webinar row itself
KINDS = (*WEBINAR_KINDS, "slide", "caption")

# Only these webinars are ever found: the same rule as the home page's list

CAPTION_WINDOW_SECONDS = 30.0  # caption cues are indexed in windows of about this length
CAPTION_WINDOW_CHARS = 1200  # ... or of at most about this much text
MAX_DOCUMENT_CHARS = 100_000
MAX_SUMMARY_CHARS = 1_000_000  # PostgreSQL's tsvector must stay under 1 MB
MAX_QUERY_CHARS = 512
MAX_TERMS = 16
HITS_PER_WEBINAR = 3
SNIPPET_WORDS = 30


class SearchDocument(Base):
    """One searchable unit. `title` is the heading that weighs more in ranking (the
    webinar's title, a speaker's name); `text` the body. `page` is a slide's page number,
    `at_seconds` where in the recording the text is said (a caption window's start),
    `times` where each caption cue starts in `text`: [[character offset, seconds], ...]."""

    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # webinar | speaker | slide | caption
    page: Mapped[int | None] = mapped_column(Integer)
    at_seconds: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    times: Mapped[list | None] = mapped_column(JSON)


class SearchWebinar(Base):
    """A webinar's summary: all its documents' headings and text in one row, so that
    webinars are ranked with one index entry each, however many documents they have.
    Rewritten by `refresh_summary` whenever the webinar's documents change."""

    __tablename__ = "search_webinars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")


# -- writing ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: str | None) -> str:
    return _CONTROL.sub(" ", value or "")[:MAX_DOCUMENT_CHARS]


@dataclass
class Document:
    """A document before it is written: what `webinar_documents` and the asset indexers make."""

    kind: str
    text: str
    title: str = ""
    page: int | None = None
    at: float | None = None
    times: list | None = None


def webinar_documents(webinar: Webinar) -> list[Document]:
    """The documents made from the webinar row itself: its title, and as text its
    description, series, tags, the titles of its presentations, and its speakers with
    their organisations."""
    parts = [webinar.description or ""]
    if webinar.series is not None:
        parts.append(webinar.series.title)
    parts += [t.name for t in webinar.tags]
    parts += [p.title for p in webinar.presentations]
    parts += [f"{sp.name} ({sp.organisation})" if sp.organisation else sp.name for sp in webinar.speakers]
    return [Document("webinar", title=webinar.title or "", text="\n".join(p for p in parts if p))]


def _rows(webinar_id: str, asset_id: str | None, docs: Iterable[Document]) -> list[dict]:
    return [{"webinar_id": webinar_id, "asset_id": asset_id, "kind": d.kind, "page": d.page,
             "at_seconds": d.at, "title": _clean(d.title), "text": _clean(d.text), "times": d.times}
            for d in docs if (d.title or "").strip() or (d.text or "").strip()]


def _write(session: Session, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(SearchDocument), rows)


def index_webinar(session: Session, webinar: Webinar) -> None:
    """(Re)write the webinar's own documents, in the caller's transaction: the importer
    calls it when it creates the webinar, staff forms after every edit of its text."""
    session.flush()
    session.execute(delete(SearchDocument).where(SearchDocument.webinar_id == webinar.id,
                                                 SearchDocument.kind.in_(WEBINAR_KINDS)))
    _write(session, _rows(webinar.id, None, webinar_documents(webinar)))
    refresh_summary(session, webinar.id)


def slide_documents(texts: list[dict]) -> list[Document]:
    """One document per page that has text."""
    return [Document("slide", text=t["text"], page=int(t["page"])) for t in texts if t.get("text")]


def caption_documents(texts: list[dict], window: float | None = None,
                      max_chars: int | None = None) -> list[Document]:
    """Cues grouped into windows of about `window` seconds (CAPTION_WINDOW_SECONDS): a
    phrase that runs across two cues is found, and the index holds a few rows per minute
    rather than one per cue. Each window keeps where its cues start, so a hit opens the
    recording at its own cue."""
    window = CAPTION_WINDOW_SECONDS if window is None else window
    max_chars = CAPTION_WINDOW_CHARS if max_chars is None else max_chars
    docs: list[Document] = []
    parts: list[str] = []
    times: list[list] = []
    size = 0
    start = 0.0
    for cue in sorted((t for t in texts if (t.get("text") or "").strip()), key=lambda t: float(t["at"])):
        at = float(cue["at"])
        line = " ".join(cue["text"].split())
        if parts and (at - start >= window or size + len(line) > max_chars):
            docs.append(Document("caption", text=" ".join(parts), at=start, times=times))
            parts, times, size = [], [], 0
        if not parts:
            start = at
        times.append([size, round(at, 3)])
        parts.append(line)
        size += len(line) + 1
    if parts:
        docs.append(Document("caption", text=" ".join(parts), at=start, times=times))
    return docs


def documents_from_texts(texts: list[dict]) -> list[Document]:
    """What a job's `Outcome.texts` becomes: {"page", "text"} entries are slide pages,
    {"at", "text"} entries caption cues."""
    pages = [t for t in texts if t.get("page") is not None]
    cues = [t for t in texts if t.get("page") is None and t.get("at") is not None]
    return slide_documents(pages) + caption_documents(cues)


def index_asset(session: Session, asset: Asset, texts: list[dict]) -> None:
    """Replace the asset's documents with those made from `texts`, in the caller's
    transaction (a job's end): reprocessing a file replaces its text, never adds to it."""
    session.execute(delete(SearchDocument).where(SearchDocument.asset_id == asset.id))
    _write(session, _rows(asset.webinar_id, asset.id, documents_from_texts(texts)))
    refresh_summary(session, asset.webinar_id)


def remove_asset(session: Session, asset: Asset) -> None:
    """Before an asset is deleted: its documents go, and its webinar's summary forgets them
    (deleting the webinar itself needs nothing: its documents and summary go with it)."""
    index_asset(session, asset, [])


_AGGREGATE = {"sqlite": "group_concat({col}, char(10))", "postgresql": "string_agg({col}, chr(10) ORDER BY id)"}


def refresh_summary(session: Session, webinar_id: str) -> None:
    """Rewrite the webinar's summary from its documents (in the caller's transaction)."""
    agg = _AGGREGATE[session.get_bind().dialect.name]
    order = "ORDER BY id" if session.get_bind().dialect.name == "sqlite" else ""
    session.execute(text(f"""
        INSERT INTO search_webinars (webinar_id, title, text)
        SELECT CAST(:wid AS VARCHAR(16)),
               coalesce((SELECT {agg.format(col="title")} FROM (SELECT id, title FROM search_documents
                         WHERE webinar_id = :wid AND title != '' {order}) t), ''),
               substr(coalesce((SELECT {agg.format(col="text")} FROM (SELECT id, text FROM search_documents
                         WHERE webinar_id = :wid AND text != '' {order}) x), ''), 1, :max)
        WHERE true  -- SQLite: INSERT ... SELECT needs a WHERE before ON CONFLICT
        ON CONFLICT (webinar_id) DO UPDATE SET title = excluded.title, text = excluded.text"""),
        {"wid": webinar_id, "max": MAX_SUMMARY_CHARS})


# -- the query language -------------------------------------------------------------------

_ITEM = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')


@dataclass(frozen=True)
class Query:
    """What the visitor typed, made safe: words and "quoted phrases" that must all be
    there, and -excluded ones. Every term is matched as a phrase of the engine's own
    tokens, so no character the visitor types is ever an operator."""

    terms: tuple[str, ...]
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> "Query":
        raw = unicodedata.normalize("NFKC", _CONTROL.sub(" ", raw or ""))[:MAX_QUERY_CHARS]
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

    def fts5(self, any_term: bool = False) -> str:
        """The FTS5 MATCH expression, every term a quoted string: all terms and none of
        the excluded ones, or (`any_term`, where the hits inside a webinar are) any term."""
        def q(t: str) -> str:
            return '"' + t.replace('"', '""') + '"'
        if any_term:
            return " OR ".join(q(t) for t in self.terms)
        expr = " ".join(q(t) for t in self.terms)
        for t in self.excluded:
            expr = f"({expr}) NOT {q(t)}"
        return expr

    def tsquery(self, any_term: bool = False) -> tuple[str, dict[str, str]]:
        """A PostgreSQL tsquery expression over bound parameters, and the parameters."""
        params, parts = {}, []
        for i, t in enumerate(self.terms):
            params[f"t{i}"] = t
            parts.append(f"phraseto_tsquery('archive_search', :t{i})")
        if any_term:
            return "(" + " || ".join(parts) + ")", params
        for i, t in enumerate(self.excluded):
            params[f"x{i}"] = t
            parts.append(f"!! phraseto_tsquery('archive_search', :x{i})")
        return "(" + " && ".join(parts) + ")", params


# -- reading ------------------------------------------------------------------------------

@dataclass
class Hit:
    kind: str  # webinar | speaker | slide | caption
    asset_id: str | None
    page: int | None
    at: float | None  # seconds into the recording, when known
    title: str  # marked (OPEN/CLOSE) heading; "" for slides and captions
    snippet: str  # marked text around the first match
    score: float


@dataclass
class Result:
    webinar_id: str
    title: str  # marked when the title matched
    held_on: Any
    hits: list[Hit] = field(default_factory=list)
    score: float = 0.0


@dataclass
class Results:
    query: str
    results: list[Result]
    offset: int
    limit: int
    has_more: bool


def listed_condition() -> str:
    """SQL over the webinars row `w`: may it be found? Public, and published by now."""
    return "w.visibility IN :listed AND (w.publish_at IS NULL OR w.publish_at <= :now)"


def _listed_params() -> dict:
    # The columns hold naive UTC; SQLite compares them as text in this very form.
    return {"listed": list(LISTED), "now": utcnow().isoformat(sep=" ")}


@dataclass
class _Candidate:
    id: int
    score: float  # higher is better
    webinar_id: str
    asset_id: str | None
    kind: str
    page: int | None
    at: float | None
    times: Any


def search(session: Session, query: str | None, limit: int = 10, offset: int = 0,
           hits_per_webinar: int = HITS_PER_WEBINAR) -> Results:
    """Publicly listed webinars that match `query`, best first, with up to
    `hits_per_webinar` hits each. Any string is a valid query.

    Two steps, each bounded by the catalog's size in webinars rather than in documents:
    webinars are ranked on their summaries (one row each), then only the page's webinars
    are searched document by document for their hits (where any of the terms appears)."""
    limit = max(1, min(int(limit), 100))
    offset = max(0, min(int(offset), 10_000))
    q = Query.parse(query)
    if not q:
        return Results(query or "", [], offset, limit, False)
    engine = _Sqlite(q) if session.get_bind().dialect.name == "sqlite" else _Postgres(q)
    ranked = engine.webinars(session, limit + 1, offset)
    page = ranked[:limit]
    page_ids = [wid for wid, _ in page]
    by_webinar: dict[str, list[_Candidate]] = {wid: [] for wid in page_ids}
    for c in engine.hits(session, page_ids):
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
        result = Result(wid, w.title, w.held_on, score=score)
        for c in by_webinar[wid]:
            title, body = marked.get(c.id, ("", ""))
            at = _cue_time(body, c.times) if c.kind == "caption" else None
            if c.kind == "webinar" and OPEN in title:
                result.title = title
            result.hits.append(Hit(c.kind, c.asset_id, c.page, at if at is not None else c.at,
                                   title if c.kind != "webinar" else "", snippet(body), c.score))
        results.append(result)
    return Results(query or "", results, offset, limit, len(ranked) > limit)


def _cue_time(marked: str, times: Any) -> float | None:
    """The start of the cue in which the first match lies."""
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


def snippet(marked: str, words: int = SNIPPET_WORDS) -> str:
    """About `words` words of `marked` around its first match, marks balanced."""
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


def marked_html(marked: str) -> str:
    """Marked text as HTML: everything escaped, then the marks made <mark> elements."""
    return html.escape(marked).replace(OPEN, "<mark>").replace(CLOSE, "</mark>")


def plain(marked: str) -> str:
    return marked.replace(OPEN, "").replace(CLOSE, "")


_DOC_COLUMNS = "d.webinar_id, d.asset_id, d.kind, d.page, d.at_seconds, d.times"


class _Engine:
    webinars_sql: str
    hits_sql: str

    def __init__(self, q: Query):
        self.q = q
        self.params: dict = {}

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        """(webinar id, score) of the listed webinars that match, best first."""
        stmt = text(self.webinars_sql).bindparams(bindparam("listed", expanding=True))
        return [(r[0], float(r[1])) for r in
                session.execute(stmt, {**self.params, **_listed_params(), "n": n, "offset": offset})]

    def hits(self, session: Session, webinar_ids: list[str]) -> list[_Candidate]:
        """The documents of these webinars where any of the terms appears, best first."""
        if not webinar_ids:
            return []
        rows = session.execute(text(self.hits_sql).bindparams(bindparam("ids", expanding=True)),
                               {**self.hit_params(webinar_ids), "ids": webinar_ids})
        return [_Candidate(r.id, float(r.score), r.webinar_id, r.asset_id, r.kind, r.page, r.at_seconds,
                           json.loads(r.times) if isinstance(r.times, str) else r.times) for r in rows]

    def hit_params(self, webinar_ids: list[str]) -> dict:
        return self.params

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        raise NotImplementedError


# Words in more than this share of the webinars (when there are at least COMMON_MIN_WEBINARS)
# weigh nothing in bm25, yet ranking on them reads every one of their positions: they
# only filter, and the other words rank; when every word is that common, newest first.
COMMON_SHARE = 0.25
COMMON_MIN_WEBINARS = 500


class _Sqlite(_Engine):
    # bm25 is "lower is better": scores are negated so that higher is better everywhere.
    webinars_sql = f"""
        SELECT sw.webinar_id, -f.rank AS score
        FROM search_webinar_fts f JOIN search_webinars sw ON sw.id = f.rowid
        JOIN webinars w ON w.id = sw.webinar_id
        WHERE search_webinar_fts MATCH :q AND {listed_condition()}
        ORDER BY f.rank, sw.webinar_id LIMIT :n OFFSET :offset"""
    ranked_sql = f"""
        SELECT f.rowid, sw.webinar_id, -f.rank AS score
        FROM search_webinar_fts f JOIN search_webinars sw ON sw.id = f.rowid
        JOIN webinars w ON w.id = sw.webinar_id
        WHERE search_webinar_fts MATCH :q AND {listed_condition()} ORDER BY f.rank, sw.webinar_id"""
    newest_sql = f"""
        SELECT sw.webinar_id, 0.0 AS score
        FROM search_webinar_fts f JOIN search_webinars sw ON sw.id = f.rowid
        JOIN webinars w ON w.id = sw.webinar_id
        WHERE search_webinar_fts MATCH :q AND {listed_condition()}
        ORDER BY w.held_on IS NULL, w.held_on DESC, w.created_at DESC, w.id LIMIT :n OFFSET :offset"""
    # The webinar_id column restricts the match to the page's webinars inside the engine,
    # so a common word costs the page's documents, not all of the catalog's.
    hits_sql = f"""
        SELECT f.rowid AS id, -f.rank AS score, {_DOC_COLUMNS}
        FROM search_fts f JOIN search_documents d ON d.id = f.rowid
        WHERE search_fts MATCH :hq AND d.webinar_id IN :ids ORDER BY f.rank, f.rowid"""
    unranked_hits_sql = f"""
        SELECT f.rowid AS id, 0.0 AS score, {_DOC_COLUMNS}
        FROM search_fts f JOIN search_documents d ON d.id = f.rowid
        WHERE search_fts MATCH :hq AND d.webinar_id IN :ids ORDER BY f.rowid"""

    def __init__(self, q: Query):
        super().__init__(q)
        self.params = {"q": q.fts5()}
        self.common: tuple[str, ...] = ()
        self.ranking = q

    def _split(self, session: Session) -> None:
        # The highest summary id stands in for the number of webinars (a count would read them all).
        total = session.scalar(text("SELECT max(id) FROM search_webinars")) or 0
        if total < COMMON_MIN_WEBINARS:
            return
        threshold = int(COMMON_SHARE * total)
        common = []
        for term in self.q.terms:
            # Counting stops at the threshold: cheap for rare words and common ones alike.
            n = session.scalar(text("SELECT count(*) FROM (SELECT rowid FROM search_webinar_fts "
                                    "WHERE search_webinar_fts MATCH :t LIMIT :limit)"),
                               {"t": Query((term,)).fts5(), "limit": threshold + 1})
            if n > threshold:
                common.append(term)
        self.common = tuple(common)
        self.ranking = Query(tuple(t for t in self.q.terms if t not in common), self.q.excluded)

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        self._split(session)
        if not self.common:
            return super().webinars(session, n, offset)
        params = {**self.params, **_listed_params(), "n": n, "offset": offset}
        if not self.ranking:  # every word is common: ranking would cost much and mean little
            stmt = text(self.newest_sql).bindparams(bindparam("listed", expanding=True))
            return [(r[0], 0.0) for r in session.execute(stmt, params)]
        # The rare words rank (their positions are few); the common ones only filter
        # (reading which summaries hold them is cheap when nothing asks for positions).
        matching = set(session.scalars(text("SELECT rowid FROM search_webinar_fts WHERE search_webinar_fts MATCH :q"),
                                       {"q": self.q.fts5()}))
        stmt = text(self.ranked_sql).bindparams(bindparam("listed", expanding=True))
        rows = [(r.webinar_id, float(r.score)) for r in
                session.execute(stmt, {**params, "q": self.ranking.fts5()}) if r.rowid in matching]
        return rows[offset:offset + n]

    def hits(self, session: Session, webinar_ids: list[str]) -> list[_Candidate]:
        if self.common and not self.ranking:
            sql, self.hits_sql = self.hits_sql, self.unranked_hits_sql
            try:
                return super().hits(session, webinar_ids)
            finally:
                self.hits_sql = sql
        return super().hits(session, webinar_ids)

    def hit_params(self, webinar_ids: list[str]) -> dict:
        ids = " OR ".join('"' + w.replace('"', '""') + '"' for w in webinar_ids)
        terms = self.ranking if self.ranking else self.q  # the rare words where there are some
        return {"hq": f"{{title text}} : ({terms.fts5(any_term=True)}) AND webinar_id : ({ids})"}

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        stmt = text("SELECT rowid, highlight(search_fts, 0, :o, :c), highlight(search_fts, 1, :o, :c) "
                    "FROM search_fts WHERE search_fts MATCH :q AND rowid IN :ids"
                    ).bindparams(bindparam("ids", expanding=True))
        q = f"{{title text}} : ({self.q.fts5(any_term=True)})"
        return {r[0]: (r[1] or "", r[2] or "") for r in
                session.execute(stmt, {"q": q, "o": OPEN, "c": CLOSE, "ids": ids})}


class _Postgres(_Engine):
    RANK = "ts_rank('{0.1, 0.2, 0.4, 1.0}', f.tsv, qq.q)"

    def __init__(self, q: Query):
        super().__init__(q)
        tsq, self.params = q.tsquery()
        self.any_tsq, _ = q.tsquery(any_term=True)
        self.webinars_sql = f"""
            SELECT sw.webinar_id, {self.RANK} AS score
            FROM search_webinar_fts f CROSS JOIN (SELECT {tsq} AS q) qq
            JOIN search_webinars sw ON sw.id = f.summary_id JOIN webinars w ON w.id = sw.webinar_id
            WHERE f.tsv @@ qq.q AND {listed_condition()}
            ORDER BY score DESC, sw.webinar_id LIMIT :n OFFSET :offset"""
        self.hits_sql = f"""
            SELECT d.id, {self.RANK} AS score, {_DOC_COLUMNS}
            FROM search_documents d JOIN search_fts f ON f.doc_id = d.id CROSS JOIN (SELECT {self.any_tsq} AS q) qq
            WHERE d.webinar_id IN :ids AND f.tsv @@ qq.q ORDER BY score DESC, d.id"""

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
