"""The job graph, as data: one declaration per kind of job.

Each kind names its handler, the label staff and visitors see, the outputs it makes,
the kinds it queues when it succeeds, whether it decides that its asset is watchable,
its retry policy, and whether it is quick (someone waits for it: a worker keeps a lane
for quick kinds, so that they never wait behind a slow one). Adding a step touches this
table and its handler, nothing else. The check of a browser upload is a kind too: its
job belongs to the upload (there is no asset yet), and its end records the asset and
queues the asset's first job, or refuses the file.

The state changes that follow a job's start and end are here too. The job queue
(archive/jobs.py) calls them inside the very transaction that claims or finishes the
job, so a job's outcome, its asset's status and outputs, and its follow-ups are saved
together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import captions, jobs, media, search, slides, speech, transcripts, uploads
from .handlers.bundle import slides_bundle
from .handlers.captions import process_captions
from .handlers.common import Outcome
from .handlers.recording import process_recording, recording_renditions
from .handlers.slides import process_slides
from .handlers.transcribe import transcribe
from .models import Asset, Job, Presentation
from .states import AssetStatus, JobState
from .config import Settings
from .storage import S3Store

Handler = Callable[..., Outcome]

# Known-bad input: a job that raises one of these fails at once, without retries.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    jobs.PermanentError, media.MediaRejected, slides.SlidesRejected, captions.CaptionsRejected,
    speech.ModelRefused)

Record = Callable[[Session, Asset, dict], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    label: str
    outputs: tuple[str, ...]  # the asset.outputs roles it makes
    then: tuple[str, ...] = ()  # kinds queued for the same asset when it succeeds
    makes_watchable: bool = False  # its end decides the asset's status; the others never hide it
    max_attempts: int | None = None  # None: Settings.job_max_attempts
    permanent: tuple[type[Exception], ...] = PERMANENT_ERRORS
    quick: bool = False  # seconds of work someone waits for; slow kinds never hold up quick ones
    # What its end writes in the catalog beyond its asset (from Outcome.records), in the
    # finishing transaction; and whether the kind is queued at all with these settings.
    record: Record | None = None
    wanted: Callable[[Settings], bool] | None = None


GRAPH: dict[str, JobKind] = {k.name: k for k in (
    # Its job belongs to the upload; its end adds the asset and queues FIRST_KIND.
    JobKind(uploads.CHECK_KIND, uploads.check_upload, "Checking the uploaded file", outputs=(), quick=True),
    JobKind("process_recording", process_recording, "Making the recording watchable",
            outputs=("web", "poster", "renditions"), then=("recording_renditions", "transcribe"),
            makes_watchable=True, quick=True),
    JobKind("recording_renditions", recording_renditions,
            "Renditions for slow links, audio downloads, timeline thumbnails",
            outputs=("renditions", "audio_m4a", "audio_mp3", "storyboard")),
    JobKind("process_slides", process_slides, "Slide pages and text",
            outputs=("pdf", "pages", "text"), then=("slides_bundle",), makes_watchable=True, quick=True),
    JobKind("slides_bundle", slides_bundle, "All slides as one ZIP", outputs=("bundle",), quick=True),
    JobKind("process_captions", process_captions, "Captions", outputs=("vtt",), makes_watchable=True,
            quick=True, record=transcripts.human_ready),
    # Automatic captions once the recording plays; never decides whether it is watchable.
    JobKind("transcribe", transcribe, "Automatic captions", outputs=(), max_attempts=2,
            record=transcripts.record, wanted=lambda settings: settings.transcribe_on),
)}

# The job each newly recorded asset starts with.
FIRST_KIND = {"recording": "process_recording", "slides": "process_slides", "captions": "process_captions"}

LABELS = {name: kind.label for name, kind in GRAPH.items()}


def quick_kinds(graph: dict[str, JobKind]) -> frozenset[str]:
    return frozenset(name for name, kind in graph.items() if kind.quick)


def start(session: Session, asset: Asset, max_attempts: int) -> Job:
    """Queue the first job of a newly added asset (in the caller's transaction)."""
    kind = GRAPH[FIRST_KIND[asset.kind]]
    return jobs.enqueue(session, asset.id, kind.name, max_attempts=kind.max_attempts or max_attempts)


def merge(old: dict, new: dict) -> dict:
    """`new` over `old`, nested dicts merged key by key (lists and values replaced)."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _locked_asset(session: Session, asset_id: str) -> Asset | None:
    # FOR UPDATE on PostgreSQL: two jobs of one asset finishing together merge in turn.
    # (SQLite: the job UPDATE that began the transaction already holds the write lock.)
    return session.scalars(select(Asset).where(Asset.id == asset_id)
                           .with_for_update().execution_options(populate_existing=True)).first()


def on_claimed(session: Session, job: Job) -> None:
    kind = GRAPH.get(job.kind)
    if kind is not None and kind.makes_watchable and job.asset_id is not None:
        asset = _locked_asset(session, job.asset_id)
        if asset is not None and asset.status not in (AssetStatus.READY, AssetStatus.REMOVING):
            asset.status = AssetStatus.PROCESSING


def on_finished(session: Session, job: Job, state: str, outcome: Outcome | None, error: str | None,
                permanent: bool = False, *, store: S3Store, settings: Settings | None = None) -> None:
    """Apply a job's end to its asset (or, for a check, its upload) and queue what follows,
    in the finishing transaction. `state` is the job's new state: done, failed, or queued
    (another attempt is due); `store` deletes a refused upload's object; `settings` say
    which optional kinds are wanted (without them, none is queued)."""
    if job.upload_id is not None:
        asset = uploads.record_check(session, store, job, state, outcome, error, permanent)
        if asset is not None:
            start(session, asset, job.max_attempts)
        return
    kind = GRAPH.get(job.kind)
    asset = _locked_asset(session, job.asset_id)
    if asset is None or kind is None or asset.status == AssetStatus.REMOVING:
        return  # a replaced file: its rows and objects are about to go, nothing to publish
    if state == JobState.DONE and outcome is not None:
        asset.outputs = merge(asset.outputs or {}, outcome.outputs)
        info = merge(asset.info or {}, outcome.info)
        failures = dict(info.get("failures") or {})
        failures.pop(job.kind, None)
        info["failures"] = failures
        warnings = dict(info.get("warnings") or {})
        if outcome.warnings:
            warnings[job.kind] = list(outcome.warnings)
        else:
            warnings.pop(job.kind, None)
        info["warnings"] = warnings
        asset.info = info
        if outcome.texts is not None:  # the file's searchable text, replaced with the job's end
            search.index_asset(session, asset, outcome.texts)
        if kind.record is not None:
            kind.record(session, asset, outcome.records)
        if kind.makes_watchable:
            asset.status, asset.error = AssetStatus.READY, None
            if asset.replaces:
                _take_over(session, asset)
        for follow in kind.then:
            wanted = GRAPH[follow].wanted
            if wanted is None or (settings is not None and wanted(settings)):
                _ensure(session, asset.id, follow, job.max_attempts)
    elif state == JobState.FAILED:
        if kind.makes_watchable:
            asset.status, asset.error = AssetStatus.FAILED, error
        else:  # a later step failed: the asset stays watchable, staff see the reason
            info = dict(asset.info or {})
            info["failures"] = {**(info.get("failures") or {}), job.kind: error}
            asset.info = info
    elif state == JobState.QUEUED and kind.makes_watchable and asset.status != AssetStatus.READY:
        asset.status = AssetStatus.QUEUED


def _take_over(session: Session, new: Asset) -> None:
    """A replacement is processed: from this transaction on visitors see it instead of
    the file it replaces, presentations show it, and the old one is marked `removing`
    (archive/removal.py deletes its rows and objects after the commit, or `sweep` does)."""
    old = _locked_asset(session, new.replaces)
    # Two replacements of one file, the other processed first: this one replaces that one.
    while old is not None and old.status == AssetStatus.REMOVING:
        old = session.scalars(select(Asset).where(
            Asset.webinar_id == new.webinar_id, Asset.id != new.id,
            Asset.info["replaced"].as_string() == old.id).with_for_update()).first()
    new.info = {k: v for k, v in new.info.items() if k != "replaces"} | {"replaced": new.replaces}
    olds = [old] if old is not None and old.webinar_id == new.webinar_id and old.kind == new.kind else []
    if new.kind == "recording":  # a webinar has one recording
        olds += [a for a in session.scalars(select(Asset).where(
            Asset.webinar_id == new.webinar_id, Asset.kind == "recording", Asset.id != new.id,
            Asset.status != AssetStatus.REMOVING)) if a.served and a not in olds]
    for o in olds:
        o.status = AssetStatus.REMOVING
        session.execute(update(Presentation).where(Presentation.deck_asset_id == o.id)
                        .values(deck_asset_id=new.id).execution_options(synchronize_session=False))
        search.remove_asset(session, o)


def on_retried(session: Session, job: Job) -> None:
    """A failed or done job put back in the queue by staff."""
    if job.upload_id is not None:  # a refused upload's object is gone: nothing to check again
        raise jobs.JobStateError(f"job {job.id} checked an upload, which has ended; upload the file again")
    asset = _locked_asset(session, job.asset_id)
    kind = GRAPH.get(job.kind)
    if asset is not None and kind is not None and kind.makes_watchable and asset.status == AssetStatus.FAILED:
        asset.status, asset.error = AssetStatus.QUEUED, None


def _ensure(session: Session, asset_id: str, kind_name: str, max_attempts: int) -> None:
    """Queue `kind_name` for the asset unless it is already queued, running or done."""
    exists = session.scalar(select(Job.id).where(
        Job.asset_id == asset_id, Job.kind == kind_name,
        Job.state.in_((JobState.QUEUED, JobState.RUNNING, JobState.DONE))).limit(1))
    if exists is None:
        kind = GRAPH[kind_name]
        jobs.enqueue(session, asset_id, kind_name, max_attempts=kind.max_attempts or max_attempts)


def retry(catalog, job_id: int) -> Job:
    """Staff's retry: the job and, if it had failed it, its asset are queued again together."""
    return jobs.retry(catalog, job_id, on_retried=on_retried)
