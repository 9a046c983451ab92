"""Catalog models. A row decides where its files live: code asks the row for keys."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(length: int = 12) -> str:
    """A random, URL-safe, immutable id; object keys are built from these."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


VISIBILITIES = ("draft", "public", "unlisted", "private")


class Webinar(Base):
    __tablename__ = "webinars"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    held_on: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    assets: Mapped[list["Asset"]] = relationship(
        back_populates="webinar", order_by="Asset.position", cascade="all, delete-orphan"
    )

    @property
    def prefix(self) -> str:
        return f"webinars/{self.id}/"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}manifest.json"

    @property
    def recording(self) -> "Asset | None":
        return next((a for a in self.assets if a.kind == "recording"), None)

    @property
    def decks(self) -> list["Asset"]:
        return [a for a in self.assets if a.kind == "slides"]

    @property
    def captions(self) -> list["Asset"]:
        return [a for a in self.assets if a.kind == "captions"]

    @property
    def status(self) -> str:
        """ready when every asset is, failed when one failed, processing otherwise."""
        states = {a.status for a in self.assets}
        if "failed" in states:
            return "failed"
        if not states or states == {"ready"}:
            return "ready"
        return "processing"

    @property
    def errors(self) -> list[str]:
        return [f"{a.original_filename}: {a.error}" for a in self.assets if a.status == "failed"]


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
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|processing|ready|failed
    error: Mapped[str | None] = mapped_column(Text)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # probe results, page count
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role -> key
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    webinar: Mapped[Webinar] = relationship(back_populates="assets")
    jobs: Mapped[list["Job"]] = relationship(back_populates="asset", cascade="all, delete-orphan")

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


JOB_STATES = ("queued", "running", "done", "failed")


class Job(Base):
    """A unit of work. The table is the queue: workers claim rows with a lease."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
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

    asset: Mapped[Asset] = relationship(back_populates="jobs")
