"""Catalog models. A row decides where its files live: code asks the row for keys."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

import re
import unicodedata
from zoneinfo import ZoneInfo

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Column, ColumnElement, Date, DateTime, Float,
                        ForeignKey, Integer, String, Table, Text, and_, false, or_)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .captions import shown as shown_captions
from .states import AssetStatus, JobState, UploadState, Visibility

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(length: int = 12) -> str:
    """A random, URL-safe, immutable id; object keys are built from these."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def slugify(text: str) -> str:
    """A URL slug: accents folded, lower case, words joined by '-'. Letters of other
    scripts are kept (a name in Chinese still gets a slug)."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "-", folded.casefold()).strip("-")[:200]


class Base(DeclarativeBase):
    pass


VISIBILITIES = tuple(Visibility)


def _naive_utc(now: dt.datetime | None) -> dt.datetime:
    """`now` as the columns hold it (naive UTC); aware values are converted."""
    now = now or utcnow()
    return now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo is not None else now


class _Scheduled(Protocol):
    visibility: str
    publish_at: dt.datetime | None


@dataclass(frozen=True)
class Audience:
    """Who may see a webinar: the visibilities that admit it, once its publish_at (if any)
    has passed. The one definition both the SQL clause and the Python test are made from."""

    visibilities: frozenset[Visibility]

    def admits(self, row: _Scheduled, now: dt.datetime | None = None) -> bool:
        """For a loaded webinar, or any row with its `visibility` and `publish_at`."""
        return row.visibility in self.visibilities and (row.publish_at is None or row.publish_at <= _naive_utc(now))

    def clause(self, webinar: Any, now: dt.datetime | ColumnElement[dt.datetime] | None = None
               ) -> ColumnElement[bool]:
        """The same test in SQL over `webinar` (the Webinar class or an alias of it). `now`
        may be a bind parameter, for a statement built once and run many times."""
        at = now if isinstance(now, ColumnElement) else _naive_utc(now)
        return and_(webinar.visibility.in_(sorted(self.visibilities)),
                    or_(webinar.publish_at.is_(None), webinar.publish_at <= at))

    def rule(self) -> hybrid_method:
        """Both as one method of the model: `admits` on a row, `clause` on the class."""
        def on_row(row: _Scheduled, now: dt.datetime | None = None) -> bool:
            return self.admits(row, now)

        def in_sql(cls: Any, now: dt.datetime | ColumnElement[dt.datetime] | None = None) -> ColumnElement[bool]:
            return self.clause(cls, now)

        return hybrid_method(on_row, in_sql)


# Anyone with the link may open it (page, media, embed, status API).
VIEWABLE = Audience(frozenset({Visibility.PUBLIC, Visibility.UNLISTED}))
# It also appears in lists, feeds, the sitemap, search and the /api/v1 listings.
LISTED = Audience(frozenset({Visibility.PUBLIC}))


class Series(Base):
    """A thematic group of webinars."""

    __tablename__ = "series"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown

    webinars: Mapped[list["Webinar"]] = relationship(back_populates="series")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))


webinar_tags = Table(
    "webinar_tags", Base.metadata,
    Column("webinar_id", ForeignKey("webinars.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Speaker(Base):
    """A person, shared across webinars (a speaker's page lists all their talks).

    The photo belongs to the person, not to one webinar, so it lives under the
    speaker's own prefix; its key carries its checksum, so a new photo gets a new
    key and stored objects never change (a manifest that names an old one stays true)."""

    __tablename__ = "speakers"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    organisation: Mapped[str] = mapped_column(String(300), default="")
    bio: Mapped[str] = mapped_column(Text, default="")  # Markdown
    photo_key: Mapped[str | None] = mapped_column(String(300))
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @property
    def prefix(self) -> str:
        return f"speakers/{self.id}/"

    def photo_key_for(self, sha256: str, ext: str) -> str:
        return f"{self.prefix}photo-{sha256[:16]}.{ext}"


class WebinarSpeaker(Base):
    """A speaker of a webinar, in the order the webinar lists them (moderators
    included, who give no presentation)."""

    __tablename__ = "webinar_speakers"

    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), primary_key=True)
    speaker_id: Mapped[str] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    speaker: Mapped[Speaker] = relationship(lazy="joined")


class PresentationSpeaker(Base):
    __tablename__ = "presentation_speakers"

    presentation_id: Mapped[str] = mapped_column(ForeignKey("presentations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    speaker_id: Mapped[str] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    speaker: Mapped[Speaker] = relationship(lazy="joined")


class Presentation(Base):
    """One talk in a webinar: its speakers, its deck, where it starts in the recording."""

    __tablename__ = "presentations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    deck_asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"), index=True)
    start_seconds: Mapped[float | None] = mapped_column(Float)
    # When each page of its deck is on screen (archive/slidesync.py): segments, who set
    # them (found | staff), whether staff accepted them, the proposed start. None: not aligned.
    slide_timeline: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    webinar: Mapped["Webinar"] = relationship(back_populates="presentations")
    deck: Mapped["Asset | None"] = relationship()
    speaker_links: Mapped[list[PresentationSpeaker]] = relationship(
        order_by=PresentationSpeaker.position, cascade="all, delete-orphan")

    @property
    def speakers(self) -> list[Speaker]:
        return [link.speaker for link in self.speaker_links]


class Webinar(Base):
    __tablename__ = "webinars"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    # The local day it was held; with a start time, the day of starts_at in its zone.
    held_on: Mapped[dt.date | None] = mapped_column(Date)
    starts_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # UTC, naive like every DateTime here
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name, e.g. Europe/Berlin
    language: Mapped[str | None] = mapped_column(String(35))  # BCP 47 tag
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered by archive.markdown
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.PUBLIC)
    publish_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # UTC; hidden until then
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    assets: Mapped[list["Asset"]] = relationship(
        back_populates="webinar", order_by="Asset.position", cascade="all, delete-orphan"
    )
    series: Mapped[Series | None] = relationship(back_populates="webinars")
    tags: Mapped[list[Tag]] = relationship(secondary=webinar_tags, order_by=Tag.slug)
    speaker_links: Mapped[list[WebinarSpeaker]] = relationship(
        order_by=WebinarSpeaker.position, cascade="all, delete-orphan")
    presentations: Mapped[list[Presentation]] = relationship(
        back_populates="webinar", order_by=Presentation.position, cascade="all, delete-orphan")

    @property
    def speakers(self) -> list[Speaker]:
        return [link.speaker for link in self.speaker_links]

    @property
    def local_start(self) -> dt.datetime | None:
        """The start time, timezone-aware, in the webinar's own zone."""
        if self.starts_at is None:
            return None
        utc = self.starts_at.replace(tzinfo=dt.timezone.utc)
        return utc.astimezone(ZoneInfo(self.timezone)) if self.timezone else utc

    # Visibility: `w.is_viewable(now=None)` on a row, `Webinar.is_viewable(now=None)` in a
    # query's WHERE; `now` is naive UTC or aware.
    is_viewable = VIEWABLE.rule()
    is_listed = LISTED.rule()

    @property
    def prefix(self) -> str:
        return f"webinars/{self.id}/"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}manifest.json"

    @property
    def served_assets(self) -> list["Asset"]:
        """The files visitors see: not a replacement still being processed, not a file
        on its way out. Staff pages list `assets`, all of them."""
        return [a for a in self.assets if a.served]

    @property
    def recording(self) -> "Asset | None":
        return next((a for a in self.served_assets if a.kind == "recording"), None)

    @property
    def decks(self) -> list["Asset"]:
        return [a for a in self.served_assets if a.kind == "slides"]

    @property
    def captions(self) -> list["Asset"]:
        """The caption tracks visitors get: automatic ones only where no human captions
        in their language are (archive/captions.py); staff pages list `assets`."""
        return shown_captions(self.served_assets)

    @property
    def status(self) -> AssetStatus:
        """ready when every served asset is, failed when one failed, processing otherwise."""
        states = {a.status for a in self.served_assets}
        if AssetStatus.FAILED in states:
            return AssetStatus.FAILED
        if not states or states == {AssetStatus.READY}:
            return AssetStatus.READY
        return AssetStatus.PROCESSING

    @property
    def errors(self) -> list[str]:
        return [f"{a.original_filename}: {a.error}" for a in self.served_assets if a.status == AssetStatus.FAILED]


class Asset(Base):
    """One uploaded file (a recording or a slide deck) and what was made from it."""

    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # recording | slides | captions
    position: Mapped[int] = mapped_column(Integer, default=0)
    original_filename: Mapped[str] = mapped_column(String(500))
    original_ext: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    # None while a browser upload that already plays is still being read and checked in
    # full (archive/uploads.py: early direct play); recorded before anything is derived.
    sha256: Mapped[str | None] = mapped_column(String(64))
    # queued|processing|ready|failed, or removing: replaced, its rows and objects about to go
    status: Mapped[str] = mapped_column(String(16), default=AssetStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # probe results, page count
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role -> key
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Captions the recognizer made (the `transcribe` job); human captions of the same
    # language win over them (archive/captions.py).
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    webinar: Mapped[Webinar] = relationship(back_populates="assets")
    jobs: Mapped[list["Job"]] = relationship(back_populates="asset", cascade="all, delete-orphan",
                                             foreign_keys="Job.asset_id")

    @property
    def replaces(self) -> str | None:
        """The asset this one replaces once it is processed; until then it is hidden."""
        return (self.info or {}).get("replaces")

    @property
    def served(self) -> bool:
        return self.status != AssetStatus.REMOVING and not self.replaces

    @property
    def verified(self) -> bool:
        """The original has been read whole and its SHA-256 recorded."""
        return self.sha256 is not None

    @property
    def plays_direct(self) -> bool:
        """Watchable as uploaded: a browser-playable original, not processed yet."""
        return bool((self.info or {}).get("direct_play")) and self.status in (AssetStatus.QUEUED,
                                                                             AssetStatus.PROCESSING)

    @property
    def original_key(self) -> str:
        return f"webinars/{self.webinar_id}/originals/{self.id}/original.{self.original_ext}"

    @property
    def derived_prefix(self) -> str:
        folder = {"recording": "media", "slides": "slides", "captions": "captions"}[self.kind]
        return f"webinars/{self.webinar_id}/{folder}/{self.id}/"

    def derived_key(self, name: str) -> str:
        return self.derived_prefix + name

    @property
    def title(self) -> str:
        return self.info.get("title") or self.original_filename


JOB_STATES = tuple(JobState)


class Upload(Base):
    """One file on its way from a browser to S3 (archive/uploads.py). Its id becomes the
    asset's id. While `checking`, a job of the upload (kind `check_upload`) checks it."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    webinar_id: Mapped[str] = mapped_column(ForeignKey("webinars.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(500))
    ext: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))  # captions only
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    s3_upload_id: Mapped[str] = mapped_column(String(1024), index=True)
    state: Mapped[str] = mapped_column(String(16), default=UploadState.UPLOADING, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    webinar: Mapped[Webinar] = relationship()

    def as_dict(self) -> dict:
        d = {"id": self.id, "webinar": self.webinar_id, "kind": self.kind, "filename": self.filename,
             "size": self.size, "state": self.state, "key": self.key}
        if self.error:
            d["error"] = self.error
        return d


class Job(Base):
    """A unit of work. The table is the queue: workers claim rows with a lease. A job
    belongs to an asset (its processing) or to an upload (the check of its content,
    before there is an asset): exactly one of the two."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint("(asset_id IS NULL) <> (upload_id IS NULL)", name="ck_jobs_one_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    # A job of two assets (pipeline.JobKind.needs): the other one, e.g. the recording a
    # deck is aligned with. Its job goes with either file.
    partner_asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_after: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    asset: Mapped[Asset | None] = relationship(back_populates="jobs", foreign_keys=[asset_id])
    upload: Mapped[Upload | None] = relationship()

    @property
    def webinar_id(self) -> str:
        return (self.asset or self.upload).webinar_id

    @property
    def webinar(self) -> Webinar:
        return (self.asset or self.upload).webinar

    @property
    def filename(self) -> str:
        """The file the job works on, as staff named it."""
        return self.asset.original_filename if self.asset is not None else self.upload.filename
