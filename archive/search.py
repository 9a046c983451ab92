"""One search over the catalog, with the database's own full-text engine.

Every searchable unit is a row of `search_documents`: a webinar's own text (title and
description; speakers, organisations and presentation titles when the catalog has them),
one slide page, or a window of caption cues. The engine's index of those rows is kept by
triggers written in the migration (0005_search), so it changes in the very transaction
that changes the rows:

- SQLite: `search_fts`, an FTS5 table over `search_documents` (external content,
  `unicode61 remove_diacritics 2`), ranked by bm25 with the heading column weighing 10x.
- PostgreSQL: `search_fts`, one tsvector per document (GIN index), with the
  `archive_search` configuration ('simple' with unaccent when the extension is there: the
  webinars come in several languages, so no stemming), ranked by ts_rank with the
  heading as weight A.

Writers: `index_webinar` (the importer, staff edits), `index_asset` (a job's end, from
`Outcome.texts`). Deleting a webinar or an asset deletes its documents (foreign keys).
The reader is `search`: webinars ranked by their best document, each with its best hits
and a highlighted snippet; only publicly listed webinars, whatever the query.
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

from .models import Asset, Base, Webinar

# Marks around matched words in titles and snippets; removed from indexed text, so a
# document can never forge one. `marked_html` turns them into <mark> after escaping.
OPEN, CLOSE = "\x02", "\x03"

WEBINAR_KINDS = ("webinar", "speaker")  # documents made from the webinar row itself
KINDS = (*WEBINAR_KINDS, "slide", "caption")

# Only these webinars are ever found: the same rule as the home page's list
# (webinars.LISTED; not imported here, webinars imports the pipeline that imports us).
LISTED = ("public",)

CAPTION_WINDOW_SECONDS = 30.0  # caption cues are indexed in windows of about this length
CAPTION_WINDOW_CHARS = 1200  # ... or of at most about this much text
MAX_DOCUMENT_CHARS = 100_000
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
    """The documents made from the webinar row itself. Extend this as the catalog grows:
    one `speaker` document per speaker (title: the name; text: organisation and bio),
    presentation titles and series/tags into the webinar's text."""
    parts = [webinar.description or ""]
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


def slide_documents(texts: list[dict]) -> list[Document]:
    """One document per page that has text."""
    return [Document("slide", text=t["text"], page=int(t["page"])) for t in texts if t.get("text")]


def caption_documents(texts: list[dict], window: float = CAPTION_WINDOW_SECONDS,
                      max_chars: int = CAPTION_WINDOW_CHARS) -> list[Document]:
    """Cues grouped into windows of about `window` seconds: a phrase that runs across two
    cues is found, and the index holds a few rows per minute rather than one per cue. Each
    window keeps where its cues start, so a hit opens the recording at its own cue."""
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

    def fts5(self) -> str:
        """The FTS5 MATCH expression: every term a quoted string."""
        def q(t: str) -> str:
            return '"' + t.replace('"', '""') + '"'
        expr = " ".join(q(t) for t in self.terms)
        for t in self.excluded:
            expr = f"({expr}) NOT {q(t)}"
        return expr

    def tsquery(self) -> tuple[str, dict[str, str]]:
        """A PostgreSQL tsquery expression over bound parameters, and the parameters."""
        params, parts = {}, []
        for i, t in enumerate(self.terms):
            params[f"t{i}"] = t
            parts.append(f"phraseto_tsquery('archive_search', :t{i})")
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
    """SQL over the webinars row `w`: may it be found? The hook for publishing rules
    (when webinars gain publish_at: `AND (w.publish_at IS NULL OR w.publish_at <= :now)`)."""
    return "w.visibility IN :listed"


def _listed_params() -> dict:
    return {"listed": list(LISTED)}


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
    listed: bool


FIRST_CANDIDATES = 200
MAX_CANDIDATES = 20_000


def search(session: Session, query: str | None, limit: int = 10, offset: int = 0,
           hits_per_webinar: int = HITS_PER_WEBINAR) -> Results:
    """Publicly listed webinars that match `query`, best first, with up to
    `hits_per_webinar` hits each. Any string is a valid query."""
    limit = max(1, min(int(limit), 100))
    offset = max(0, min(int(offset), 10_000))
    q = Query.parse(query)
    if not q:
        return Results(query or "", [], offset, limit, False)
    engine = _Sqlite(q) if session.get_bind().dialect.name == "sqlite" else _Postgres(q)
    want = offset + limit + 1  # one more than the page: is there a next page?

    # Fast path: the best documents, ranked by the engine alone; webinars in the order of
    # their best document. Exact as soon as enough listed webinars are among them.
    k = max(FIRST_CANDIDATES, want * 20)
    while True:
        candidates, complete = engine.top(session, k)
        order: list[str] = []
        for c in candidates:
            if c.listed and c.webinar_id not in order:
                order.append(c.webinar_id)
        if len(order) >= want or complete:
            page_ids = order[offset:offset + limit]
            has_more = len(order) > offset + limit
            break
        if k >= MAX_CANDIDATES:  # a very common word on a deep page: group in the database
            order = engine.best_webinars(session, limit + 1, offset)
            page_ids, has_more = order[:limit], len(order) > limit
            candidates = engine.hits_of(session, page_ids)
            break
        k *= 4
    by_webinar: dict[str, list[_Candidate]] = {w: [] for w in page_ids}
    for c in candidates:
        hits = by_webinar.get(c.webinar_id)
        if hits is not None and len(hits) < hits_per_webinar:
            hits.append(c)
    marked = engine.highlight(session, [c.id for hits in by_webinar.values() for c in hits])
    rows = {w.id: w for w in session.execute(
        select(Webinar.id, Webinar.title, Webinar.held_on).where(Webinar.id.in_(page_ids)))} if page_ids else {}
    results = []
    for wid in page_ids:
        w = rows.get(wid)
        if w is None:
            continue
        result = Result(wid, w.title, w.held_on, score=by_webinar[wid][0].score if by_webinar[wid] else 0.0)
        for c in by_webinar[wid]:
            title, body = marked.get(c.id, ("", ""))
            at = _cue_time(body, c.times) if c.kind == "caption" else c.at
            if c.kind == "webinar" and OPEN in title:
                result.title = title
            result.hits.append(Hit(c.kind, c.asset_id, c.page, at if at is not None else c.at,
                                   title if c.kind != "webinar" else "", snippet(body), c.score))
        results.append(result)
    return Results(query or "", results, offset, limit, has_more)


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


class _Engine:
    top_sql: str
    group_sql: str
    hits_sql: str

    def __init__(self, q: Query):
        self.q = q
        self.params: dict = {}

    def _candidates(self, rows) -> list[_Candidate]:
        return [_Candidate(r.id, float(r.score), r.webinar_id, r.asset_id, r.kind, r.page, r.at_seconds,
                           r.times, bool(r.listed)) for r in rows]

    def top(self, session: Session, k: int) -> tuple[list[_Candidate], bool]:
        """The k best documents (listed or not) and whether they are all the matches."""
        rows = session.execute(self._stmt(self.top_sql), {**self.params, **_listed_params(), "k": k}).all()
        return self._candidates(rows), len(rows) < k

    def best_webinars(self, session: Session, n: int, offset: int) -> list[str]:
        return list(session.scalars(self._stmt(self.group_sql),
                                    {**self.params, **_listed_params(), "n": n, "offset": offset}))

    def hits_of(self, session: Session, webinar_ids: list[str]) -> list[_Candidate]:
        if not webinar_ids:
            return []
        rows = session.execute(self._stmt(self.hits_sql),
                               {**self.params, **_listed_params(), "ids": webinar_ids}).all()
        return self._candidates(rows)

    def _stmt(self, sql: str):
        stmt = text(sql).bindparams(bindparam("listed", expanding=True))
        if ":ids" in sql:
            stmt = stmt.bindparams(bindparam("ids", expanding=True))
        return stmt


_DOC_COLUMNS = "d.webinar_id, d.asset_id, d.kind, d.page, d.at_seconds, d.times"


class _Sqlite(_Engine):
    # bm25 is "lower is better": scores are negated so that higher is better everywhere.
    top_sql = f"""
        SELECT t.id, -t.score AS score, {_DOC_COLUMNS}, ({listed_condition()}) AS listed
        FROM (SELECT rowid AS id, rank AS score FROM search_fts WHERE search_fts MATCH :q
              ORDER BY rank LIMIT :k) AS t
        JOIN search_documents d ON d.id = t.id JOIN webinars w ON w.id = d.webinar_id
        ORDER BY t.score, t.id"""
    group_sql = f"""
        SELECT d.webinar_id FROM search_fts f JOIN search_documents d ON d.id = f.rowid
        JOIN webinars w ON w.id = d.webinar_id
        WHERE search_fts MATCH :q AND {listed_condition()}
        GROUP BY d.webinar_id ORDER BY MIN(f.rank), d.webinar_id LIMIT :n OFFSET :offset"""
    hits_sql = f"""
        SELECT f.rowid AS id, -f.rank AS score, {_DOC_COLUMNS}, 1 AS listed
        FROM search_fts f JOIN search_documents d ON d.id = f.rowid JOIN webinars w ON w.id = d.webinar_id
        WHERE search_fts MATCH :q AND d.webinar_id IN :ids ORDER BY f.rank, f.rowid"""

    def __init__(self, q: Query):
        super().__init__(q)
        self.params = {"q": q.fts5()}

    def _candidates(self, rows):
        out = super()._candidates(rows)
        for c in out:
            if isinstance(c.times, str):
                c.times = json.loads(c.times)
        return out

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        stmt = text("SELECT rowid, highlight(search_fts, 0, :o, :c), highlight(search_fts, 1, :o, :c) "
                    "FROM search_fts WHERE search_fts MATCH :q AND rowid IN :ids"
                    ).bindparams(bindparam("ids", expanding=True))
        return {r[0]: (r[1] or "", r[2] or "") for r in
                session.execute(stmt, {"q": self.params["q"], "o": OPEN, "c": CLOSE, "ids": ids})}


class _Postgres(_Engine):
    def __init__(self, q: Query):
        super().__init__(q)
        tsq, self.params = q.tsquery()
        rank = "ts_rank('{0.1, 0.2, 0.4, 1.0}', f.tsv, qq.q)"
        self.tsq = tsq
        self.top_sql = f"""
            SELECT t.id, t.score, {_DOC_COLUMNS}, ({listed_condition()}) AS listed
            FROM (SELECT f.doc_id AS id, {rank} AS score FROM search_fts f, (SELECT {tsq} AS q) qq
                  WHERE f.tsv @@ qq.q ORDER BY score DESC, f.doc_id LIMIT :k) AS t
            JOIN search_documents d ON d.id = t.id JOIN webinars w ON w.id = d.webinar_id
            ORDER BY t.score DESC, t.id"""
        self.group_sql = f"""
            SELECT d.webinar_id FROM search_fts f CROSS JOIN (SELECT {tsq} AS q) qq
            JOIN search_documents d ON d.id = f.doc_id JOIN webinars w ON w.id = d.webinar_id
            WHERE f.tsv @@ qq.q AND {listed_condition()}
            GROUP BY d.webinar_id ORDER BY MAX({rank}) DESC, d.webinar_id LIMIT :n OFFSET :offset"""
        self.hits_sql = f"""
            SELECT f.doc_id AS id, {rank} AS score, {_DOC_COLUMNS}, true AS listed
            FROM search_fts f CROSS JOIN (SELECT {tsq} AS q) qq JOIN search_documents d ON d.id = f.doc_id
            WHERE f.tsv @@ qq.q AND d.webinar_id IN :ids ORDER BY score DESC, f.doc_id"""

    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        opts = f"HighlightAll=true, StartSel={OPEN}, StopSel={CLOSE}"
        stmt = text(f"""
            SELECT d.id, ts_headline('archive_search', d.title, qq.q, :opts),
                   ts_headline('archive_search', d.text, qq.q, :opts)
            FROM search_documents d, (SELECT {self.tsq} AS q) qq WHERE d.id IN :ids"""
                    ).bindparams(bindparam("ids", expanding=True))
        return {r[0]: (r[1] or "", r[2] or "") for r in
                session.execute(stmt, {**self.params, "opts": opts, "ids": ids})}
