"""Reads for the staff area: every webinar whatever its visibility, every job with the
failure details (error, the tool's log tail) and the warnings recorded on assets.
Public pages never use these."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from .models import Asset, Job, Upload, Webinar
from .models import utcnow
from .pipeline import GRAPH, LABELS, quick_kinds
from .states import AssetStatus, JobState, UploadState

JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.FAILED, JobState.DONE)
_NEEDS_A_LOOK = (JobState.RUNNING, JobState.QUEUED, JobState.FAILED, JobState.DONE)  # first to last


@dataclass(frozen=True)
class Note:
    """A warning or a later step's failure recorded on an asset, for the staff pages."""
    asset: Asset
    step: str  # the job kind's label
    text: str


def label(kind: str) -> str:
    return LABELS.get(kind, kind)


def deck_label(deck: Asset) -> str:
    """A deck as staff chose it: its file name, then the title its PDF gives, if another."""
    title = ((deck.info or {}).get("title") or "").strip()
    name = deck.original_filename
    return f"{name} – {title}" if title and title != name else name


def webinars(session: Session) -> list[Webinar]:
    """Every webinar, newest first, with its assets and their jobs loaded."""
    return list(session.scalars(
        select(Webinar).order_by(Webinar.created_at.desc(), Webinar.id)
        .options(selectinload(Webinar.assets).selectinload(Asset.jobs))))


def webinar(session: Session, webinar_id: str) -> Webinar | None:
    return session.scalars(
        select(Webinar).where(Webinar.id == webinar_id)
        .options(selectinload(Webinar.assets).selectinload(Asset.jobs))).first()


def jobs(session: Session, state: str | None = None, webinar_id: str | None = None,
         limit: int = 200) -> list[Job]:
    """Jobs, the ones that need a look first (running, queued, failed), then the newest."""
    # A job belongs to an asset or, while its content is checked, to an upload.
    q = (select(Job).outerjoin(Job.asset).outerjoin(Job.upload)
         .options(selectinload(Job.asset).selectinload(Asset.webinar),
                  selectinload(Job.upload).selectinload(Upload.webinar)))
    if state:
        q = q.where(Job.state == state)
    if webinar_id:
        q = q.where(or_(Asset.webinar_id == webinar_id, Upload.webinar_id == webinar_id))
    order = {state: i for i, state in enumerate(_NEEDS_A_LOOK)}
    rows = list(session.scalars(q.order_by(Job.id.desc()).limit(limit)))
    return sorted(rows, key=lambda j: (order.get(j.state, 9), -j.id))


def counts(session: Session) -> dict[str, int]:
    """How many jobs are in each state."""
    found = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    return {state: found.get(state, 0) for state in JOB_STATES}


def queue(session: Session) -> list[Job]:
    """The jobs no worker has taken yet, in the order workers take them (archive/jobs.py's
    claim): quick kinds first (the check of an upload, captions), then the oldest."""
    quick = sorted(quick_kinds(GRAPH))
    return list(session.scalars(
        select(Job).where(Job.state == JobState.QUEUED)
        .options(selectinload(Job.asset).selectinload(Asset.webinar),
                 selectinload(Job.upload).selectinload(Upload.webinar))
        .order_by(case((Job.kind.in_(quick), 0), else_=1), Job.created_at, Job.id)))


def places(session: Session) -> dict[int, int]:
    """Each queued job's place in the queue: 1 is the next one a worker takes."""
    return {job.id: n for n, job in enumerate(queue(session), 1)}


def running(session: Session) -> list[Job]:
    """The jobs workers are on now (a lease that has not run out), oldest first."""
    return list(session.scalars(
        select(Job).where(Job.state == JobState.RUNNING, Job.lease_expires_at >= utcnow())
        .options(selectinload(Job.asset).selectinload(Asset.webinar),
                 selectinload(Job.upload).selectinload(Upload.webinar))
        .order_by(Job.started_at, Job.id)))


@dataclass(frozen=True)
class Waiting:
    """What a webinar's waiting work waits behind: the jobs ahead of its first queued job
    and the jobs workers are on."""
    place: int  # of the webinar's first queued job; 0: none of its jobs is queued
    ahead: int  # jobs of other webinars or uploads that go before it
    running: list[Job]


def waiting(session: Session, webinar_id: str) -> Waiting:
    ordered = queue(session)
    mine = [n for n, j in enumerate(ordered, 1) if j.webinar_id == webinar_id]
    place = mine[0] if mine else 0
    return Waiting(place, max(0, place - 1), running(session))


def checking(session: Session, webinar_id: str) -> list[Upload]:
    """Uploads of the webinar whose content a worker has yet to check: not files yet."""
    return list(session.scalars(
        select(Upload).where(Upload.webinar_id == webinar_id, Upload.state == UploadState.CHECKING)
        .order_by(Upload.created_at)))


def warnings(asset: Asset) -> list[Note]:
    """What a step noticed but did not fail on, e.g. damaged frames in a recording that plays."""
    found = (asset.info or {}).get("warnings") or {}
    return [Note(asset, label(kind), text) for kind, texts in found.items() for text in texts]


def failures(asset: Asset) -> list[Note]:
    """Later steps that failed while the asset stayed watchable."""
    found = (asset.info or {}).get("failures") or {}
    return [Note(asset, label(kind), text) for kind, text in found.items() if text]


def job_warnings(job: Job) -> list[str]:
    info = job.asset.info if job.asset is not None else None
    return list(((info or {}).get("warnings") or {}).get(job.kind) or [])


def webinar_state(w: Webinar) -> str:
    """ready, processing, failed, or ready-with-problems ("attention") when a later step
    failed, a warning was recorded or a replacement (hidden from visitors) failed."""
    status = w.status
    if status == AssetStatus.READY and any(failures(a) or warnings(a) or (a.replaces and a.status == AssetStatus.FAILED)
                                 for a in w.assets):
        return "attention"
    return status


def progress(w: Webinar) -> int | None:
    """The running job's progress (percent), if one runs."""
    running = [j.progress for a in w.assets for j in a.jobs if j.state == JobState.RUNNING]
    return min(running) if running else None
