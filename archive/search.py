"""One search over the catalog, with the database's own full-text engine.

Every searchable unit is a row of `search_documents`: a webinar's own text (title and
description; speakers, organisations and presentation titles when the catalog has them),
one slide page, or a window of caption cues. Each webinar also has one summary row in
`search_webinars`: its headings, its own text, and its vocabulary (every distinct word of
its slides and captions once), so that webinars are found and ranked with one small index
entry each, however many documents they have and however often a word is said. The
engine's indexes of both tables are kept by triggers written in the migrations (0005,
0007), so they change in the very transaction that changes the rows:

- SQLite: FTS5 tables `search_fts` and `search_webinar_fts` (external content,
  `unicode61 remove_diacritics 2`, no stemming: the webinars come in several languages);
  summaries ranked by bm25 (headings 10, own text 2, vocabulary 1).
- PostgreSQL: `search_fts` / `search_webinar_fts`, tsvectors with GIN indexes, with the
  `archive_search` configuration ('simple' plus unaccent when the extension is there);
  a summary has `tsv` (every word, stripped: for finding) and `rank_tsv` (headings A,
  own text B: ts_rank reads this small vector only).

Writers: `index_webinar` (the importer, staff edits), `index_asset` (a job's end, from
`Outcome.texts`), `remove_asset`. Deleting a webinar deletes its rows (foreign keys).
The reader is `search`: webinars ranked on their summaries; a query with a phrase takes
the webinars from the documents that hold the phrase when they are few (SQLite: FTS5
stops reading at PHRASE_PROBE_DOCUMENTS), ranked by where and how often it is said, or
else checks the phrase on the documents of the best-ranked candidates; then the hits of
the page's webinars only, with highlighted snippets of the hits shown only; only publicly
listed webinars, whatever the query. Nothing counts all the matches.
"""
from __future__ import annotations

import abc
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
MAX_SUMMARY_CHARS = 300_000  # of own text, and of vocabulary: PostgreSQL's tsvector must stay under 1 MB
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
    """A webinar's summary, so that webinars are found and ranked with one index entry
    each, however many documents they have: `title` its headings, `text` its own text
    (description, speakers...), `words` every distinct word of its slides and captions once
    (its vocabulary: a word in 5,000 cues costs one position here, not 5,000). Rewritten
    by `refresh_summary` whenever the webinar's documents change."""

    __tablename__ = "search_webinars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[str] = mapped_column(Text, default="")


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


# Punctuation around a word that both engines drop anyway: "data," and "data" are one entry.
_EDGE = ".,;:!?\"'()[]{}<>«»“”‘’…*"


def vocabulary(texts: Iterable[str]) -> str:
    """Every distinct whitespace-separated word of `texts` once, in a stable order. Words
    are kept as written (each engine tokenises them as it tokenises the documents), so a
    word is in the vocabulary exactly when it is in one of the texts; word order is not,
    which is why phrases are checked on the documents (see `search`)."""
    words = {w.strip(_EDGE) for t in texts for w in t.split()}
    words.discard("")
    out, size = [], 0
    for w in sorted(words):
        size += len(w) + 1
        if size > MAX_SUMMARY_CHARS:
            break
        out.append(w)
    return " ".join(out)


def refresh_summary(session: Session, webinar_id: str) -> None:
    """Rewrite the webinar's summary from its documents (in the caller's transaction)."""
    rows = session.execute(select(SearchDocument.kind, SearchDocument.title, SearchDocument.text)
                           .where(SearchDocument.webinar_id == webinar_id).order_by(SearchDocument.id)).all()
    title = "\n".join(r.title for r in rows if r.title)
    own = "\n".join(r.text for r in rows if r.kind in WEBINAR_KINDS and r.text)[:MAX_SUMMARY_CHARS]
    words = vocabulary(r.text for r in rows if r.kind not in WEBINAR_KINDS)
    session.execute(text("""
        INSERT INTO search_webinars (webinar_id, title, text, words) VALUES (:wid, :title, :text, :words)
        ON CONFLICT (webinar_id) DO UPDATE SET title = excluded.title, text = excluded.text,
                                               words = excluded.words"""),
                    {"wid": webinar_id, "title": title, "text": own, "words": words})


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

    def fts5(self, any_term: bool = False) -> str:
        """The FTS5 MATCH expression over documents, every term a quoted string: all terms
        and none of the excluded ones, or (`any_term`, where the hits inside a webinar
        are) any term."""
        if any_term:
            return " OR ".join(_quoted(t) for t in self.terms)
        expr = " ".join(_quoted(t) for t in self.terms)
        for t in self.excluded:
            expr = f"({expr}) NOT {_quoted(t)}"
        return expr

    def fts5_summary(self) -> str:
        """The FTS5 MATCH expression over summaries: every word of every term, and none of
        the excluded single words (excluded phrases are checked on the documents)."""
        expr = " AND ".join("(" + " AND ".join(_quoted(w) for w in (self.tokens(t) or [t])) + ")"
                            for t in self.terms)
        for t in self.excluded:
            if len(self.tokens(t)) <= 1:
                expr = f"({expr}) NOT {_quoted(t)}"
        return expr

    def tsquery(self, any_term: bool = False) -> tuple[str, dict[str, str]]:
        """A PostgreSQL tsquery expression over documents, over bound parameters, and the parameters."""
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

    def tsquery_summary(self, any_term: bool = False) -> str:
        """The tsquery over summaries (parameters as `tsquery`'s): every word of every term
        (plainto_tsquery: no word order), none of the excluded single words; or any word."""
        parts = [f"plainto_tsquery('archive_search', :t{i})" for i in range(len(self.terms))]
        if any_term:
            return "(" + " || ".join(parts) + ")"
        parts += [f"!! plainto_tsquery('archive_search', :x{i})" for i, t in enumerate(self.excluded)
                  if len(self.tokens(t)) <= 1]
        return "(" + " && ".join(parts) + ")"


_TOKEN = re.compile(r"[^\W_]+")


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


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


# A phrase held by at most this many documents is looked up in the documents first: the
# webinars that say it are then known at once, however common its words are.
PHRASE_PROBE_DOCUMENTS = 2000
# What a document holding a phrase adds to its webinar's rank, by kind (as the summaries
# weigh headings and own text over slides and captions).
PHRASE_WEIGHTS = {"webinar": 5.0, "speaker": 5.0, "slide": 1.0, "caption": 1.0}
# A more common phrase is checked on the documents of the ranked candidates in batches,
# best first; past this many candidates, in one pass over the whole index instead.
VERIFY_FIRST_BATCH = 64
VERIFY_ALL_AT = 1024
MAX_CANDIDATES = 20_000


def search(session: Session, query: str | None, limit: int = 10, offset: int = 0,
           hits_per_webinar: int = HITS_PER_WEBINAR) -> Results:
    """Publicly listed webinars that match `query`, best first, with up to
    `hits_per_webinar` hits each. Any string is a valid query.

    Webinars are found and ranked on their summaries (one row each, a word once per
    webinar however often it is said); phrases, whose word order only the documents
    know, are then checked on the documents of the best candidates; last, only the
    page's webinars are searched document by document for their hits, and only the
    hits shown are highlighted. Nothing is counted: `has_more` says whether there is
    a next page."""
    limit = max(1, min(int(limit), 100))
    offset = max(0, min(int(offset), 10_000))
    q = Query.parse(query)
    if not q:
        return Results(query or "", [], offset, limit, False)
    engine = _Sqlite(q) if session.get_bind().dialect.name == "sqlite" else _Postgres(q)
    if q.phrases or q.excluded_phrases:
        ranked = engine.held_phrases(session) if q.phrases else None
        if ranked is None:  # a phrase too common to list its documents: check the best candidates
            ranked = _verified(session, engine, offset + limit + 1)
        ranked = ranked[offset:]
    else:
        ranked = engine.webinars(session, limit + 1, offset)
    page = ranked[:limit]
    page_ids = [wid for wid, _ in page]
    by_webinar: dict[str, list[_Candidate]] = {wid: [] for wid in page_ids}
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


def _verified(session: Session, engine: "_Engine", wanted: int) -> list[tuple[str, float]]:
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
        ok = engine.holding_phrases(session, [wid for wid, _ in batch], whole_index=everything)
        out += [c for c in batch if c[0] in ok]
        pos += len(batch)
        size *= 4
    return out[:wanted]


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


class _Engine(abc.ABC):
    webinars_sql: str
    hits_sql: str
    phrase_sql: str  # webinars (of :ids, or all with no ids) with a document that matches :p

    def __init__(self, q: Query):
        self.q = q
        self.params: dict = {}

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        """(webinar id, score) of the listed webinars whose summaries match, best first."""
        stmt = text(self.webinars_sql).bindparams(bindparam("listed", expanding=True))
        return [(r[0], float(r[1])) for r in
                session.execute(stmt, {**self.params, **_listed_params(), "n": n, "offset": offset})]

    def holding_phrases(self, session: Session, webinar_ids: list[str], whole_index: bool = False,
                        only_excluded: bool = False) -> set[str]:
        """Those of `webinar_ids` with every phrase of the query in one of their documents
        and none of its excluded phrases (`only_excluded`: the latter check alone);
        `whole_index`: one pass over all documents rather than a lookup restricted to
        these webinars (for long lists)."""
        found = set(webinar_ids)
        wanted = [] if only_excluded else [(p, True) for p in self.q.phrases]
        for phrase, keep in wanted + [(p, False) for p in self.q.excluded_phrases]:
            if not found:
                break
            have = self._with_phrase(session, phrase, None if whole_index else sorted(found))
            found = found & have if keep else found - have
        return found

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        """Every listed webinar that matches, ranked, found from the documents that hold the
        query's phrases; None when a phrase is in too many documents for that to be quick
        (then `_verified` checks the best-ranked candidates instead)."""
        return None

    @abc.abstractmethod
    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        """Those of `webinar_ids` (None: any webinar) with `phrase` in one of their documents."""

    def hits(self, session: Session, webinar_ids: list[str], per_webinar: int) -> list[_Candidate]:
        """The documents of these webinars where any of the terms appears, best first
        (at least the first `per_webinar` of each webinar)."""
        if not webinar_ids:
            return []
        rows = session.execute(text(self.hits_sql).bindparams(bindparam("ids", expanding=True)),
                               {**self.hit_params(webinar_ids), "ids": webinar_ids})
        return [_Candidate(r.id, float(r.score), r.webinar_id, r.asset_id, r.kind, r.page, r.at_seconds,
                           json.loads(r.times) if isinstance(r.times, str) else r.times) for r in rows]

    def hit_params(self, webinar_ids: list[str]) -> dict:
        return self.params

    @abc.abstractmethod
    def highlight(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        """Each document's (marked title, marked text), the query's words marked."""


_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


def _ids_fts5(webinar_ids: list[str]) -> str:
    return " OR ".join(_quoted(w) for w in webinar_ids)


class _Sqlite(_Engine):
    # bm25 is "lower is better": scores are negated so that higher is better everywhere.
    # Ranked inside the engine first (bm25 over the summaries alone, no join per match),
    # then the best few are checked against the catalog: listed webinars only.
    webinars_sql = f"""
        SELECT sw.webinar_id, -r.rank AS score, {listed_condition()} AS listed
        FROM (SELECT rowid, rank FROM search_webinar_fts WHERE search_webinar_fts MATCH :q
              ORDER BY rank, rowid LIMIT :k) r
        JOIN search_webinars sw ON sw.id = r.rowid JOIN webinars w ON w.id = sw.webinar_id
        ORDER BY r.rank, r.rowid"""
    probe_sql = """
        SELECT d.webinar_id, d.kind FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH :p LIMIT :n) f
        JOIN search_documents d ON d.id = f.rowid"""
    phrase_sql = """
        SELECT DISTINCT d.webinar_id FROM search_fts f JOIN search_documents d ON d.id = f.rowid
        WHERE search_fts MATCH :p"""

    def __init__(self, q: Query):
        super().__init__(q)
        self.params = {"q": q.fts5_summary()}

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        # Most matches are listed: the best (offset + n) * 2 usually hold the page; when
        # not, and the engine had more than those, it is asked for all of them.
        stmt = text(self.webinars_sql).bindparams(bindparam("listed", expanding=True))
        params = {**self.params, **_listed_params()}
        k = 2 * (offset + n) + 16
        rows = session.execute(stmt, {**params, "k": k}).all()
        if len(rows) == k and sum(1 for r in rows if r.listed) < offset + n:
            rows = session.execute(stmt, {**params, "k": -1}).all()
        return [(r.webinar_id, float(r.score)) for r in rows if r.listed][offset:offset + n]

    def held_phrases(self, session: Session) -> list[tuple[str, float]] | None:
        # Each phrase's documents, if few (FTS5 stops reading at the limit): their webinars,
        # ranked by where and how often they say it.
        scores: dict[str, float] | None = None
        for phrase in self.q.phrases:
            rows = session.execute(text(self.probe_sql), {"p": f"{{title text}} : {_quoted(phrase)}",
                                                          "n": PHRASE_PROBE_DOCUMENTS + 1}).all()
            if len(rows) > PHRASE_PROBE_DOCUMENTS:
                return None
            found: dict[str, float] = {}
            for r in rows:
                found[r.webinar_id] = found.get(r.webinar_id, 0.0) + PHRASE_WEIGHTS.get(r.kind, 1.0)
            scores = found if scores is None else {w: v + found[w] for w, v in scores.items() if w in found}
            if not scores:
                return []
        assert scores is not None
        ids = sorted(scores)
        # Their other words and excluded words, on the summaries; excluded phrases on the documents.
        others = [t for t in self.q.terms if t not in self.q.phrases]
        if others or len(self.q.excluded) > len(self.q.excluded_phrases):
            ids = [w for w in ids if w in self._summaries_match(session, ids)]
        ids = sorted(self.holding_phrases(session, ids, only_excluded=True)) if self.q.excluded_phrases else ids
        rows = session.execute(text(f"""
            SELECT w.id, w.held_on, w.created_at FROM webinars w WHERE w.id IN :ids AND {listed_condition()}""")
                               .bindparams(bindparam("ids", expanding=True), bindparam("listed", expanding=True)),
                               {"ids": ids, **_listed_params()}).all() if ids else []
        rows.sort(key=lambda r: (str(r.held_on or ""), str(r.created_at or ""), r.id), reverse=True)
        rows.sort(key=lambda r: scores[r.id], reverse=True)  # stable: newest first among equals
        return [(r.id, scores[r.id]) for r in rows]

    def _summaries_match(self, session: Session, webinar_ids: list[str]) -> set[str]:
        stmt = text("""SELECT sw.webinar_id FROM search_webinars sw WHERE sw.webinar_id IN :ids AND sw.id IN
                       (SELECT rowid FROM search_webinar_fts WHERE search_webinar_fts MATCH :q)""")
        return set(session.scalars(stmt.bindparams(bindparam("ids", expanding=True)),
                                   {"ids": webinar_ids, "q": self.params["q"]}))

    def _with_phrase(self, session: Session, phrase: str, webinar_ids: list[str] | None) -> set[str]:
        match = f"{{title text}} : {_quoted(phrase)}"
        if webinar_ids is not None:
            if not webinar_ids:
                return set()
            match += f" AND webinar_id : ({_ids_fts5(webinar_ids)})"
        return set(session.scalars(text(self.phrase_sql), {"p": match}))

    def hits(self, session: Session, webinar_ids: list[str], per_webinar: int) -> list[_Candidate]:
        """Best first: the documents with the most of the terms, then headings (the webinar,
        its speakers), slides and captions, each in order. Not bm25: its weights ask the
        engine to count, for every term, all the documents of the catalog that hold it
        (a common word: 100s of ms), where finding this page's documents takes 1 ms."""
        if not webinar_ids:
            return []
        ids = _ids_fts5(webinar_ids)
        matched: dict[int, int] = {}
        for term in self.q.terms:
            for rowid in session.scalars(text("SELECT rowid FROM search_fts WHERE search_fts MATCH :m"),
                                         {"m": f"{{title text}} : {_quoted(term)} AND webinar_id : ({ids})"}):
                matched[rowid] = matched.get(rowid, 0) + 1
        found: list = []
        rowids = list(matched)
        for i in range(0, len(rowids), 5000):
            found += session.execute(text("SELECT id, webinar_id, kind FROM search_documents WHERE id IN :ids")
                                     .bindparams(bindparam("ids", expanding=True)), {"ids": rowids[i:i + 5000]})
        found.sort(key=lambda r: (-matched[r.id], _KIND_ORDER.get(r.kind, 9), r.id))
        chosen, taken = [], dict.fromkeys(webinar_ids, 0)
        for r in found:
            if taken.get(r.webinar_id, per_webinar) < per_webinar:
                taken[r.webinar_id] += 1
                chosen.append(r.id)
        if not chosen:
            return []
        rows = {r.id: r for r in session.execute(
            text(f"SELECT d.id, {_DOC_COLUMNS} FROM search_documents d WHERE d.id IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": chosen})}
        return [_Candidate(i, float(matched[i]), r.webinar_id, r.asset_id, r.kind, r.page, r.at_seconds,
                           json.loads(r.times) if isinstance(r.times, str) else r.times)
                for i in chosen if (r := rows.get(i)) is not None]

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
        _, self.params = q.tsquery()
        self.any_tsq, _ = q.tsquery(any_term=True)
        # Found by `tsv` (every word; GIN answers a query of plain words without reading
        # a vector), ranked by `rank_tsv` (headings and own text only: a few hundred
        # bytes to read per webinar, not its whole vocabulary); then newest first.
        self.webinars_sql = f"""
            SELECT sw.webinar_id, ts_rank('{{0.1, 0.2, 0.4, 1.0}}', f.rank_tsv, {q.tsquery_summary(any_term=True)})
                   AS score
            FROM search_webinar_fts f JOIN search_webinars sw ON sw.id = f.summary_id
            JOIN webinars w ON w.id = sw.webinar_id
            WHERE f.tsv @@ {q.tsquery_summary()} AND {listed_condition()}
            ORDER BY score DESC, w.held_on DESC NULLS LAST, w.created_at DESC, sw.webinar_id
            LIMIT :n OFFSET :offset"""
        self.hits_sql = f"""
            SELECT d.id, {self.RANK} AS score, {_DOC_COLUMNS}
            FROM search_documents d JOIN search_fts f ON f.doc_id = d.id CROSS JOIN (SELECT {self.any_tsq} AS q) qq
            WHERE d.webinar_id IN :ids AND f.tsv @@ qq.q ORDER BY score DESC, d.id"""

    def webinars(self, session: Session, n: int, offset: int) -> list[tuple[str, float]]:
        # Every summary holds a common word, so the planner would rather read them all than
        # use the GIN index, and reading one means decompressing its whole vocabulary
        # (~30 ms per 600 webinars); through the index, a query of plain words never reads
        # a vector. So sequential scans are off for this one statement.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            return super().webinars(session, n, offset)
        finally:
            session.execute(text("SET LOCAL enable_seqscan = on"))

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
