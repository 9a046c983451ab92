"""Writing the search tables, in the caller's transaction: `index_webinar` (the importer,
staff edits), `index_asset` (a job's end, from `Outcome.texts`), `remove_asset`. Deleting a
webinar deletes its rows (foreign keys)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from ..models import Asset, Webinar
from .marks import strip_controls
from .tables import WEBINAR_KINDS, SearchDocument

CAPTION_WINDOW_SECONDS = 30.0  # caption cues are indexed in windows of about this length
CAPTION_WINDOW_CHARS = 1200  # ... or of at most about this much text
MAX_DOCUMENT_CHARS = 100_000
MAX_SUMMARY_CHARS = 300_000  # of own text, and of vocabulary: PostgreSQL's tsvector must stay under 1 MB


def _clean(value: str | None) -> str:
    return strip_controls(value)[:MAX_DOCUMENT_CHARS]


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
    which is why phrases are checked on the documents (see `reading.search`)."""
    words = {w.strip(_EDGE) for t in texts for w in t.split()}
    words.discard("")
    out, size = [], 0
    for w in sorted(words):
        size += len(w) + 1
        if size > MAX_SUMMARY_CHARS:
            break
        out.append(w)
    return " ".join(out)


def summary(rows: Iterable) -> dict[str, str]:
    """A webinar's summary (`title`, `text`, `words`) made from its documents' (kind,
    title, text), in the order they were written."""
    rows = list(rows)
    return {"title": "\n".join(r.title for r in rows if r.title),
            "text": "\n".join(r.text for r in rows if r.kind in WEBINAR_KINDS and r.text)[:MAX_SUMMARY_CHARS],
            "words": vocabulary(r.text for r in rows if r.kind not in WEBINAR_KINDS)}


_WRITE_SUMMARY = text("""
    INSERT INTO search_webinars (webinar_id, title, text, words) VALUES (:wid, :title, :text, :words)
    ON CONFLICT (webinar_id) DO UPDATE SET title = excluded.title, text = excluded.text,
                                           words = excluded.words""")


def refresh_summary(session: Session, webinar_id: str) -> None:
    """Rewrite the webinar's summary from its documents (in the caller's transaction)."""
    rows = session.execute(select(SearchDocument.kind, SearchDocument.title, SearchDocument.text)
                           .where(SearchDocument.webinar_id == webinar_id).order_by(SearchDocument.id)).all()
    session.execute(_WRITE_SUMMARY, {"wid": webinar_id, **summary(rows)})


@dataclass
class _Row:
    kind: str
    title: str
    text: str


def index_new_webinars(session: Session, webinars: Iterable[tuple[Webinar, list[tuple[Asset, list[dict]]]]]) -> None:
    """Index webinars that have no documents yet, each with its assets' texts, in the
    caller's transaction: the very rows `index_webinar` and then `index_asset` for each
    asset would write, in two statements for all of them rather than a round of
    statements per asset (bulk loads of a large catalog: bench/search.py)."""
    session.flush()
    documents: list[dict] = []
    summaries: list[dict] = []
    for webinar, assets in webinars:
        rows = _rows(webinar.id, None, webinar_documents(webinar))
        for asset, texts in assets:
            rows += _rows(webinar.id, asset.id, documents_from_texts(texts))
        documents += rows
        summaries.append({"wid": webinar.id, **summary(_Row(r["kind"], r["title"], r["text"]) for r in rows)})
    _write(session, documents)
    if summaries:
        session.execute(_WRITE_SUMMARY, summaries)
