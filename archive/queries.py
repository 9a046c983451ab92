"""Reads of the catalog that the web app and the CLI share.

Two views of a webinar's state: the public one (a plain sentence per file that could
not be processed) and the staff one (errors, ffmpeg's message, the retry command).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from .models import VIEWABLE, Asset, Job, Presentation, PresentationSpeaker, Webinar, WebinarSpeaker
from .states import AssetStatus, JobState, Visibility

ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)


# Everything a page or the manifest reads, loaded up front: rows outlive their session.
_FULL = (
    selectinload(Webinar.assets),
    selectinload(Webinar.series),
    selectinload(Webinar.tags),
    selectinload(Webinar.speaker_links).selectinload(WebinarSpeaker.speaker),
    selectinload(Webinar.presentations).selectinload(Presentation.speaker_links)
    .selectinload(PresentationSpeaker.speaker),
    selectinload(Webinar.presentations).selectinload(Presentation.deck),
)


def get(session: Session, webinar_id: str) -> Webinar | None:
    return session.scalars(select(Webinar).where(Webinar.id == webinar_id).options(*_FULL)).first()


def viewable(session: Session, webinar_id: str) -> Webinar | None:
    """The webinar if a visitor may open it by its link."""
    w = get(session, webinar_id)
    return w if w is not None and w.is_viewable() else None


# Built once: an ORM query costs more than the rest of a cached page.
_VISIBILITY = select(Webinar.visibility, Webinar.publish_at).where(Webinar.id == bindparam("id"))


@dataclass(frozen=True)
class Hidden:
    """Why visitors cannot open a webinar that staff can: `reason` is its visibility
    (draft, private) or "scheduled" (public or unlisted from `publish_at`, local to `zone`)."""
    reason: str
    visibility: Visibility
    publish_at: dt.datetime | None = None
    zone: str = "UTC"


def hidden_from_visitors(w: Webinar, now: dt.datetime | None = None) -> Hidden | None:
    """None when a visitor may open the webinar by its link; else who may, and from when."""
    if w.is_viewable(now):
        return None
    if w.visibility in VIEWABLE.visibilities and w.publish_at is not None:
        at = w.publish_at.replace(tzinfo=dt.timezone.utc)
        zone = w.timezone or "UTC"
        return Hidden("scheduled", Visibility(w.visibility), at.astimezone(ZoneInfo(zone)), zone)
    return Hidden(str(w.visibility), Visibility(w.visibility))


def viewable_now(engine: Engine, webinar_id: str) -> bool:
    """Whether a visitor may open the webinar: two columns of one row, no ORM, for the
    checks made on every request of a cached page or a beacon."""
    with engine.connect() as c:
        row = c.execute(_VISIBILITY, {"id": webinar_id}).first()
    return row is not None and VIEWABLE.admits(row)


def asset(session: Session, webinar_id: str, asset_id: str) -> Asset | None:
    a = session.get(Asset, asset_id)
    return a if a is not None and a.webinar_id == webinar_id else None


def alignment_inputs(session: Session, deck_id: str) -> tuple[Asset | None, float | None, float | None]:
    """What aligning a deck needs from the catalog: its webinar's recording, and the
    stretch of its presentation (its start, the next presentation's start) when known."""
    deck = session.get(Asset, deck_id)
    if deck is None:
        return None, None, None
    recording = next((a for a in session.scalars(select(Asset).where(
        Asset.webinar_id == deck.webinar_id, Asset.kind == "recording")) if a.served), None)
    talks = list(session.scalars(select(Presentation).where(Presentation.webinar_id == deck.webinar_id)))
    own = next((p for p in talks if p.deck_asset_id == deck_id), None)
    start = own.start_seconds if own is not None else None
    later = [p.start_seconds for p in talks if p.start_seconds is not None and start is not None
             and p.start_seconds > start]
    return recording, start, min(later) if later else None


def jobs_of(session: Session, webinar_id: str) -> list[Job]:
    """The webinar's jobs, oldest first: what the page shows while it is being processed."""
    return list(session.scalars(
        select(Job).join(Job.asset).where(Asset.webinar_id == webinar_id).order_by(Job.id)))


def pending_jobs(session: Session, webinar_id: str) -> tuple[int, int]:
    """(jobs no worker has picked up yet, jobs queued or running) of a webinar."""
    jobs = select(func.count(Job.id)).join(Job.asset).where(Asset.webinar_id == webinar_id)
    unclaimed = session.scalar(jobs.where(Job.state == JobState.QUEUED, Job.attempts == 0))
    active = session.scalar(jobs.where(Job.state.in_(ACTIVE_JOB_STATES)))
    return unclaimed, active


def recent_jobs(session: Session, state: str | None = None, limit: int = 50) -> list[Job]:
    """The newest jobs first, optionally in one state."""
    q = (select(Job).options(selectinload(Job.asset), selectinload(Job.upload))
         .order_by(Job.id.desc()).limit(limit))
    if state:
        q = q.where(Job.state == state)
    return list(session.scalars(q))


def retry_command(job: Job) -> str:
    return f"webinar-archive jobs --retry {job.id}"


_PUBLIC_PROBLEM = {
    "recording": "The recording could not be processed.",
    "slides": "These slides could not be processed.",
    "captions": "These captions could not be processed.",
}
PUBLIC_FAILURE = "Some files of this webinar could not be processed."


def public_problem(a: Asset) -> str:
    """What a visitor is told about a file that failed: no log, path or command."""
    return _PUBLIC_PROBLEM.get(a.kind, "This file could not be processed.")


def _status(webinar: Webinar, base_url: str, error_of, assets: list[Asset] | None = None) -> dict:
    """A webinar's state and its files' (`assets`, by default the served ones);
    `error_of(asset)` says what a failed file says."""
    return {
        "id": webinar.id,
        "title": webinar.title,
        "url": f"{base_url}/webinars/{webinar.id}",
        "status": webinar.status,
        "assets": [{"id": a.id, "kind": a.kind, "file": a.original_filename, "status": a.status,
                    **({"error": error_of(a)} if error_of(a) else {})}
                   for a in (webinar.served_assets if assets is None else assets)],
    }


def public_status(webinar: Webinar, base_url: str) -> dict:
    """The public API's view: states and plain sentences, never the staff details."""
    d = _status(webinar, base_url, lambda a: public_problem(a) if a.status == AssetStatus.FAILED else None)
    if webinar.status == AssetStatus.FAILED:
        d["error"] = PUBLIC_FAILURE
    return d


def staff_status(session: Session, webinar: Webinar, base_url: str) -> dict:
    """The CLI's view: the public fields with the real errors, and every job with its
    error, ffmpeg's last lines and the command that retries it."""
    d = {**_status(webinar, base_url, lambda a: a.error, webinar.assets),
         "jobs": [_staff_job(j) for j in jobs_of(session, webinar.id)]}
    if webinar.status == AssetStatus.FAILED:
        d["error"] = "; ".join(webinar.errors)
    return d


def _staff_job(j: Job) -> dict:
    d = {"id": j.id, "kind": j.kind, "asset": j.asset_id, "state": j.state, "progress": j.progress,
         "attempts": j.attempts, "max_attempts": j.max_attempts}
    if j.error:
        d["error"] = j.error
    if j.log_tail:
        d["log_tail"] = j.log_tail
    if j.state == JobState.FAILED:
        d["retry"] = retry_command(j)
    return d
