"""One search over the catalog, with the database's own full-text engine.

Every searchable unit is a row of `search_documents`: a webinar's own text (title and
description; speakers, organisations and presentation titles when the catalog has them),
one slide page, or a window of caption cues. Each webinar also has one summary row in
`search_webinars`: its headings, its own text, and its vocabulary (every distinct word of
its slides and captions once), so that webinars are found and ranked with one small index
entry each, however many documents they have and however often a word is said.

One module per concern:
- `tables`: the two tables (the engines' indexes of them are kept by triggers written in
  the migrations 0005 and 0007, in the transaction that changes the rows);
- `indexing`: the writers, `index_webinar`, `index_asset`, `remove_asset` (and
  `index_new_webinars`, the same rows for many new webinars at once);
- `query`: the query language a visitor types, parsed into a `Query`;
- `sqlite` (FTS5) and `postgres` (tsvector): the two engines, behind `engine.Engine`;
- `marks`: matched words, handed on as `Marked` plain-text segments (web/ renders them);
- `reading`: `search`, only publicly listed webinars (`Webinar.is_listed`), whatever the
  query. Nothing counts all the matches.

The names below are the package's public interface (`archive.search.index_asset`, ...).
"""
from __future__ import annotations

from .indexing import (CAPTION_WINDOW_CHARS, CAPTION_WINDOW_SECONDS, Document, caption_documents,
                       documents_from_texts, index_asset, index_new_webinars, index_webinar, refresh_summary,
                       remove_asset, slide_documents, summary, vocabulary, webinar_documents)
from .marks import CLOSE, OPEN, Marked, snippet
from .query import MAX_QUERY_CHARS, Query
from .reading import HITS_PER_WEBINAR, Hit, Result, Results, search
from .tables import KINDS, WEBINAR_KINDS, SearchDocument, SearchWebinar

__all__ = [
    "CAPTION_WINDOW_CHARS", "CAPTION_WINDOW_SECONDS", "CLOSE", "HITS_PER_WEBINAR", "KINDS", "MAX_QUERY_CHARS",
    "OPEN", "WEBINAR_KINDS", "Document", "Hit", "Marked", "Query", "Result", "Results", "SearchDocument",
    "SearchWebinar", "caption_documents", "documents_from_texts", "index_asset", "index_new_webinars",
    "index_webinar", "refresh_summary", "remove_asset", "search", "slide_documents", "snippet", "summary",
    "vocabulary",
    "webinar_documents",
]
