"""Deleting a webinar or one of its files, and what a replaced file leaves behind.

The rows go first, in one transaction (assets, jobs, search rows, upload records, the
presentations' deck links; speakers are shared and stay); the objects go after the
commit, listed from the bucket, so whatever was there when the rows went is removed.

A worker may be running a job of the deleted file. It cannot publish into the catalog
(its job row is gone: `finish` and the heartbeat find nothing), but it may upload objects
after the deletion listed the bucket. So the worker, once its handler has returned (all
its uploads done), looks for its asset's row and, when it is gone, deletes the asset's
derived prefix itself (`discard_if_deleted`). Either the deletion committed before that
look (the worker deletes), or after it (the deletion lists the bucket after its commit,
so after the worker's uploads, and deletes them): nothing is left either way. The
manifest is written the same way (archive/webinars.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from . import search, transcripts, webinars
from .analytics import DailyCount
from .context import Archive
from .models import Asset, Job, Presentation, Upload, Webinar
from .queries import get as get_webinar
from .states import AssetStatus, JobState, UploadState
from .storage import StorageError

log = logging.getLogger(__name__)

LIVE_UPLOADS = (UploadState.UPLOADING, UploadState.COMPLETING)  # a multipart upload still open in S3
UNFINISHED_UPLOADS = (*LIVE_UPLOADS, UploadState.CHECKING)  # sent, its content not yet checked


@dataclass
class Removed:
    """What a deletion removed: the ids, and the objects deleted after the commit."""

    webinar_id: str
    asset_ids: list[str] = field(default_factory=list)
    objects: int = 0
    uploads_aborted: int = 0


@dataclass
class Summary:
    """What deleting a webinar will remove, for the confirmation page and the CLI."""

    webinar_id: str
    title: str
    files: int
    objects: int
    bytes: int
    running_jobs: int
    queued_jobs: int
    uploads: int


def summary(archive: Archive, webinar_id: str) -> Summary | None:
    """Count what is there now: the files, the bucket's objects and their size, jobs."""
    with archive.catalog.session() as s:
        w = s.get(Webinar, webinar_id)
        if w is None:
            return None
        title, files = w.title, len(w.assets)
        states = [state for (state,) in s.execute(
            select(Job.state).join(Job.asset).where(Asset.webinar_id == webinar_id))]
        uploads = len(s.scalars(select(Upload.id).where(Upload.webinar_id == webinar_id,
                                                        Upload.state.in_(UNFINISHED_UPLOADS))).all())
        prefix = w.prefix
    sizes = archive.store.list_sizes(prefix)
    return Summary(webinar_id, title, files, len(sizes), sum(sizes.values()), states.count(JobState.RUNNING),
                   states.count(JobState.QUEUED), uploads)


def _lock_and_drop_jobs(s: Session, asset_ids: list[str]) -> None:
    # The order the worker takes its locks in (job, then asset): no deadlock on PostgreSQL.
    if asset_ids:
        s.execute(delete(Job).where(or_(Job.asset_id.in_(asset_ids), Job.partner_asset_id.in_(asset_ids)))
                  .execution_options(synchronize_session=False))
        s.execute(select(Asset.id).where(Asset.id.in_(asset_ids)).with_for_update()).all()


def _abort_uploads(archive: Archive, prefix: str, records: list[tuple[str, str]]) -> int:
    """Abort the recorded multipart uploads, and any other one still open under `prefix`."""
    pending = set(records)
    try:
        pending |= {(u["Key"], u["UploadId"]) for u in archive.store.list_multipart_uploads(prefix)}
    except StorageError as e:
        log.warning("listing unfinished uploads under %s failed: %s", prefix, e)
    for key, upload_id in pending:
        archive.store.abort_multipart(key, upload_id)
    return len(pending)


def _delete_prefixes(archive: Archive, prefixes: list[str], keys: list[str] = ()) -> int:
    found = [k for p in prefixes for k in archive.store.list_keys(p)] + list(keys)
    archive.store.delete_keys(found)
    return len(found)


def delete_webinar(archive: Archive, webinar_id: str) -> Removed | None:
    """Delete the webinar, every row of it and every object under its prefix; None when
    there is no such webinar. Jobs running meanwhile publish nothing (see the module)."""
    with archive.catalog.transaction() as s:
        asset_ids = list(s.scalars(select(Asset.id).where(Asset.webinar_id == webinar_id)))
        # The checks of its uploads first, as their jobs (a check's finish locks its job, then
        # its upload, then adds an asset to the webinar): no deadlock on PostgreSQL.
        s.execute(delete(Job).where(Job.upload_id.in_(select(Upload.id).where(Upload.webinar_id == webinar_id)))
                  .execution_options(synchronize_session=False))
        _lock_and_drop_jobs(s, asset_ids)
        w = s.scalars(select(Webinar).where(Webinar.id == webinar_id).with_for_update()).first()
        if w is None:
            return None
        prefix = w.prefix
        open_uploads = [(key, s3_id) for key, s3_id in s.execute(
            select(Upload.key, Upload.s3_upload_id).where(Upload.webinar_id == webinar_id,
                                                          Upload.state.in_(LIVE_UPLOADS)))]
        s.execute(delete(Upload).where(Upload.webinar_id == webinar_id))
        s.execute(delete(search.SearchDocument).where(search.SearchDocument.webinar_id == webinar_id))
        s.execute(delete(search.SearchWebinar).where(search.SearchWebinar.webinar_id == webinar_id))
        s.execute(delete(DailyCount).where(DailyCount.webinar_id == webinar_id))
        s.execute(update(Presentation).where(Presentation.webinar_id == webinar_id).values(deck_asset_id=None))
        s.execute(delete(Asset).where(Asset.webinar_id == webinar_id).execution_options(synchronize_session=False))
        s.delete(w)  # presentations, speaker and tag links go with it; speakers and tags stay
    removed = Removed(webinar_id, asset_ids)
    removed.uploads_aborted = _abort_uploads(archive, prefix, open_uploads)
    removed.objects = _delete_prefixes(archive, [prefix])
    log.info("webinar %s deleted: %d file(s), %d object(s)", webinar_id, len(asset_ids), removed.objects)
    return removed


def _asset_prefixes(asset: Asset) -> list[str]:
    return [asset.original_key.rsplit("/", 1)[0] + "/", asset.derived_prefix]


def _stale_bundles(s: Session, asset: Asset) -> list[str]:
    """The all-slides ZIPs that hold this deck (they live beside the decks, not in one)."""
    if asset.kind != "slides":
        return []
    outputs = s.scalars(select(Asset.outputs).where(Asset.webinar_id == asset.webinar_id,
                                                    Asset.kind == "slides")).all()
    return sorted({b["key"] for o in outputs if isinstance(b := (o or {}).get("bundle"), dict)
                   and asset.id in (b.get("decks") or []) and b.get("key")})


def remove_asset(archive: Archive, asset_id: str) -> Removed | None:
    """Delete one file of a webinar: its rows, then its original and everything made from
    it. Presentations that showed it (a deck) show none. None when there is no such file."""
    with archive.catalog.transaction() as s:
        _lock_and_drop_jobs(s, [asset_id])
        asset = s.get(Asset, asset_id, populate_existing=True)
        if asset is None:
            return None
        webinar_id, prefixes = asset.webinar_id, _asset_prefixes(asset)
        bundles = _stale_bundles(s, asset)
        open_uploads = [(key, s3_id) for key, s3_id in s.execute(
            select(Upload.key, Upload.s3_upload_id).where(Upload.id == asset_id, Upload.state.in_(LIVE_UPLOADS)))]
        s.execute(delete(Upload).where(Upload.id == asset_id))
        # A presentation without its deck has no slides to be in step with: its timeline goes too.
        s.execute(update(Presentation).where(Presentation.deck_asset_id == asset_id)
                  .values(deck_asset_id=None, slide_timeline=None))
        s.execute(delete(DailyCount).where(DailyCount.asset_id == asset_id))
        search.remove_asset(s, asset)
        human_captions = asset.kind == "captions" and not asset.automatic
        language = (asset.info or {}).get("language")
        s.delete(asset)
        if human_captions:  # the automatic track in their language may be searched again
            s.flush()
            transcripts.human_gone(s, archive.store, webinar_id, language)
    removed = Removed(webinar_id, [asset_id])
    removed.uploads_aborted = _abort_uploads(archive, prefixes[0], open_uploads) if open_uploads else 0
    removed.objects = _delete_prefixes(archive, prefixes, bundles)
    _rewrite_manifest(archive, webinar_id)
    log.info("file %s of webinar %s removed: %d object(s)", asset_id, webinar_id, removed.objects)
    return removed


def _rewrite_manifest(archive: Archive, webinar_id: str) -> None:
    with archive.catalog.session() as s:
        w = get_webinar(s, webinar_id)
    if w is not None:
        try:
            webinars.write_manifest(archive, w)
        except StorageError as e:  # the next job's end rewrites it
            log.warning("manifest of %s not written: %s", webinar_id, e)


def purge_replaced(archive: Archive, webinar_id: str | None = None) -> list[str]:
    """Remove the files a processed replacement took over (status `removing`), of one
    webinar or of all: the worker calls it after the commit that marked them, `sweep`
    after a crash in between. Returns their ids."""
    q = select(Asset.id).where(Asset.status == AssetStatus.REMOVING)
    if webinar_id is not None:
        q = q.where(Asset.webinar_id == webinar_id)
    with archive.catalog.session() as s:
        ids = list(s.scalars(q))
    return [asset_id for asset_id in ids if remove_asset(archive, asset_id) is not None]


def _keys_in(value, prefix: str) -> set[str]:
    """The object keys under `prefix` named anywhere in a job's outputs."""
    if isinstance(value, str):
        return {value} if value.startswith(prefix) else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_keys_in(v, prefix) for v in value)) if value else set()
    return set()


def discard_if_deleted(archive: Archive, asset: Asset, outputs: dict | None = None) -> bool:
    """Called by a worker whose job vanished, after its last upload: if the asset's row is
    gone, delete what was made from it, its derived prefix and any other key its job's
    `outputs` name (the deletion may have listed the bucket before these uploads landed);
    if the whole webinar is gone, everything under its prefix. True when it deleted."""
    with archive.catalog.session() as s:
        if s.get(Asset, asset.id) is not None:
            return False  # another worker took the job over, or the deletion is yet to list
        webinar_gone = s.get(Webinar, asset.webinar_id) is None
    webinar_prefix = f"webinars/{asset.webinar_id}/"
    if webinar_gone:
        n = _delete_prefixes(archive, [webinar_prefix])
    else:
        n = _delete_prefixes(archive, [asset.derived_prefix], sorted(_keys_in(outputs or {}, webinar_prefix)))
    log.info("asset %s was deleted while a job ran: %d object(s) discarded", asset.id, n)
    return True


def _kept(asset: Asset, key: str) -> bool:
    """Whether a job's failure leaves `key` (under the asset's derived prefix) in place: it
    is named by the asset's outputs, or it sits in a folder a named key or a ready HLS
    rendition has to itself (segments, storyboard sheets)."""
    named = _keys_in(asset.outputs or {}, asset.derived_prefix)
    if key in named:
        return True
    folder = key.rsplit("/", 1)[0] + "/"
    if folder != asset.derived_prefix and any(n.rsplit("/", 1)[0] + "/" == folder for n in named):
        return True
    renditions = (asset.outputs or {}).get("renditions") or {}
    return any(key.startswith(f"{asset.derived_prefix}hls/{name}/") for name in renditions)


def discard_unnamed(archive: Archive, asset_id: str) -> list[str]:
    """After a job of the asset finally failed: delete what it (or an earlier attempt) put
    under the asset's derived prefix that no output names, so a failure leaves no partial
    files. A failed first job (nothing is served) leaves nothing at all. Nothing is deleted
    while another job of the asset is queued or running (it may be writing there)."""
    with archive.catalog.session() as s:
        asset = s.get(Asset, asset_id)
        if asset is None or asset.status == AssetStatus.REMOVING:
            return []
        busy = s.scalar(select(Job.id).where(Job.asset_id == asset_id,
                                             Job.state.in_((JobState.QUEUED, JobState.RUNNING))).limit(1))
    if busy is not None:
        return []
    gone = [k for k in archive.store.list_keys(asset.derived_prefix)
            if asset.status != AssetStatus.READY or not _kept(asset, k)]
    archive.store.delete_keys(gone)
    if gone:
        log.info("asset %s: %d partial output(s) of a failed job deleted", asset_id, len(gone))
    return gone


__all__ = ["Removed", "discard_unnamed", "Summary", "summary", "delete_webinar", "remove_asset", "purge_replaced",
           "discard_if_deleted"]
