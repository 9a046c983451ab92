"""The job graph, as data: one declaration per kind of job.

Each kind names its handler, the label staff see, the plain sentence visitors are told
while it runs (never a job's name), the outputs it makes,
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

from . import captions, jobs, media, search, slides, slidesync, speech, transcripts, uploads
from .handlers.align import align_slides
from .handlers.bundle import slides_bundle
from .handlers.captions import process_captions
from .handlers.common import Outcome
from .handlers.recording import process_recording, recording_renditions
from .handlers.slides import process_slides
from .handlers.transcribe import transcribe
from .models import Asset, Job, Presentation, Webinar
from .states import AssetStatus, JobState
from .config import Settings
from .storage import S3Store
from .wording import N_

Handler = Callable[..., Outcome]

# Known-bad input: a job that raises one of these fails at once, without retries.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    jobs.PermanentError, media.MediaRejected, slides.SlidesRejected, captions.CaptionsRejected,
    speech.ModelRefused)



@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    label: str
    outputs: tuple[str, ...]  # the asset.outputs roles it makes
    then: tuple[str, ...] = ()  # kinds queued for the same asset when it succeeds
    makes_watchable: bool = False  # its end decides the asset's status; the others never hide it
    # (A job that makes its asset watchable may do so before it ends: see on_published.)
    max_attempts: int | None = None  # None: Settings.job_max_attempts
    permanent: tuple[type[Exception], ...] = PERMANENT_ERRORS
    quick: bool = False  # seconds of work someone waits for; slow kinds never hold up quick ones
    note: str = ""  # what a visitor is told while it waits or runs (web/public.py translates it)
    # A job of two assets of one webinar: the kinds it needs, its own asset's kind first,
    # then its partner's (Job.partner_asset_id). It is queued once per pair, by whichever
    # of the two is processed last (their makes_watchable job), and again for the new
    # pair when either is replaced.
    needs: tuple[str, str] | None = None
    # What its end writes besides its asset's outputs and info, in the finishing
    # transaction: (session, asset, outcome).
    record: Callable[[Session, Asset, Outcome], None] | None = None
    # Whether the kind is queued at all with these settings.
    wanted: Callable[[Settings], bool] | None = None


def _record_alignment(session: Session, deck: Asset, outcome: Outcome) -> None:
    if outcome.timeline is not None:
        slidesync.record(session, deck, outcome.timeline)


GRAPH: dict[str, JobKind] = {k.name: k for k in (
    # Its job belongs to the upload; its end adds the asset and queues FIRST_KIND.
    JobKind(uploads.CHECK_KIND, uploads.check_upload, "Checking the uploaded file", outputs=(), quick=True,
            note="A new file is being added."),
    JobKind("process_recording", process_recording, "Making the recording watchable",
            outputs=("web", "poster", "renditions"), then=("recording_renditions", "transcribe"),
            makes_watchable=True, quick=True, note="The recording is being prepared."),
    JobKind("recording_renditions", recording_renditions,
            "Renditions for slow links, audio downloads, timeline thumbnails",
            outputs=("renditions", "audio_m4a", "audio_mp3", "storyboard"),
            note="More qualities and the audio download are on their way."),
    JobKind("process_slides", process_slides, "Slide pages and text",
            outputs=("pdf", "pages", "text"), then=("slides_bundle",), makes_watchable=True, quick=True,
            note="The slides are being prepared."),
    JobKind("slides_bundle", slides_bundle, "All slides as one ZIP", outputs=("bundle",), quick=True,
            note="The download of all slides is being prepared."),
    JobKind("process_captions", process_captions, "Captions", outputs=("vtt",), makes_watchable=True,
            quick=True, note="The captions are being prepared.",
            record=lambda session, asset, outcome: transcripts.human_ready(session, asset, outcome.records)),
    # Needs the recording's web rendition and the deck's page images; never holds up watching.
    JobKind("align_slides", align_slides, "Finding when each slide is on screen", outputs=(),
            needs=("slides", "recording"), record=_record_alignment),
    # Automatic captions once the recording plays; never decides whether it is watchable.
    JobKind("transcribe", transcribe, "Automatic captions", outputs=(), max_attempts=2,
            record=lambda session, asset, outcome: transcripts.record(session, asset, outcome.records),
            wanted=lambda settings: settings.transcribe_on, note="The captions are being prepared."),
)}

# The job each newly recorded asset starts with.
FIRST_KIND = {"recording": "process_recording", "slides": "process_slides", "captions": "process_captions"}

LABELS = {name: kind.label for name, kind in GRAPH.items()}
NOTES = {name: kind.note for name, kind in GRAPH.items()}


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


def on_published(session: Session, job: Job, outcome: Outcome) -> None:
    """A running job made part of its outcome public (a recording's first segments are up,
    behind a growing playlist): its outputs and info are merged now and, if its kind makes
    the asset watchable, the asset is `ready` from this moment (visitors watch what exists).
    The job's end still applies the whole outcome: done, the same as ever; failed for good,
    the asset is `failed` and hidden (staff see why); another attempt due, it stays `ready`
    and that attempt carries on the playlist. A replacement is not shown early: the file
    it replaces plays until it is done."""
    if job.upload_id is not None:  # a check: the upload plays before its full read ends
        uploads.record_preview(session, job, outcome)
        return
    kind = GRAPH.get(job.kind)
    asset = _locked_asset(session, job.asset_id) if job.asset_id is not None else None
    if asset is None or kind is None or asset.status == AssetStatus.REMOVING:
        return
    asset.outputs = merge(asset.outputs or {}, outcome.outputs)
    asset.info = merge(asset.info or {}, outcome.info)
    if kind.makes_watchable and not asset.replaces and asset.status != AssetStatus.READY:
        asset.status, asset.error = AssetStatus.READY, None


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
            kind.record(session, asset, outcome)
        if kind.makes_watchable:
            asset.status, asset.error = AssetStatus.READY, None
            if asset.replaces:
                _take_over(session, asset)
            _ensure_pairs(session, asset, job.max_attempts)
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
        raise jobs.JobStateError(N_("job %(id)s checked an upload, which has ended; upload the file again",
                                    id=job.id))
    asset = _locked_asset(session, job.asset_id)
    kind = GRAPH.get(job.kind)
    if asset is not None and kind is not None and kind.makes_watchable and asset.status == AssetStatus.FAILED:
        asset.status, asset.error = AssetStatus.QUEUED, None


def _ensure(session: Session, asset_id: str, kind_name: str, max_attempts: int,
            partner_id: str | None = None) -> None:
    """Queue `kind_name` for the asset (and partner) unless it is already queued, running or done."""
    exists = session.scalar(select(Job.id).where(
        Job.asset_id == asset_id, Job.kind == kind_name,
        Job.partner_asset_id.is_(None) if partner_id is None else Job.partner_asset_id == partner_id,
        Job.state.in_((JobState.QUEUED, JobState.RUNNING, JobState.DONE))).limit(1))
    if exists is None:
        kind = GRAPH[kind_name]
        jobs.enqueue(session, asset_id, kind_name, max_attempts=kind.max_attempts or max_attempts,
                     partner_asset_id=partner_id)


def _ensure_pairs(session: Session, asset: Asset, max_attempts: int) -> None:
    """`asset` was just processed: queue each kind that needs it and another asset of its
    webinar, for every pair whose other asset is processed too. Two assets finishing
    together queue one job: the webinar's row is locked first (PostgreSQL; SQLite's write
    lock already orders them), so the second to finish sees the first one ready, and
    `_ensure` sees the job it queued."""
    pair_kinds = [k for k in GRAPH.values() if k.needs is not None and asset.kind in k.needs]
    if not pair_kinds or not slidesync.alignable(asset):
        return
    session.execute(select(Webinar.id).where(Webinar.id == asset.webinar_id).with_for_update(key_share=True)).all()
    for kind in pair_kinds:
        own, other_kind = kind.needs
        wanted = other_kind if asset.kind == own else own
        others = session.scalars(select(Asset).where(
            Asset.webinar_id == asset.webinar_id, Asset.kind == wanted, Asset.id != asset.id,
            Asset.status == AssetStatus.READY).execution_options(populate_existing=True)).all()
        for other in others:
            if not other.served or not slidesync.alignable(other):
                continue
            subject, partner = (asset, other) if asset.kind == own else (other, asset)
            _ensure(session, subject.id, kind.name, max_attempts, partner.id)


def retry(catalog, job_id: int) -> Job:
    """Staff's retry: the job and, if it had failed it, its asset are queued again together."""
    return jobs.retry(catalog, job_id, on_retried=on_retried)
