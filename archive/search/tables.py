"""The search tables. The engines' own indexes of them (SQLite FTS5 `search_fts` and
`search_webinar_fts`, or PostgreSQL tsvectors under the same names) are kept by triggers
written in the migrations (0005, 0007), in the very transaction that changes these rows."""
from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base

WEBINAR_KINDS = ("webinar", "speaker")  # documents made from the webinar row itself
KINDS = (*WEBINAR_KINDS, "slide", "caption")


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
    by `indexing.refresh_summary` whenever the webinar's documents change."""

    __tablename__ = "search_webinars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[str] = mapped_column(Text, default="")
