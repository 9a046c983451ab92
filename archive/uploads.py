"""Browser uploads straight to S3: the server's side of a presigned multipart upload.

The browser sends the bytes to S3 itself; the server decides the key, signs the parts of
the uploads it issued to that user only, and confirms completion with HEAD (the size).
The upload is then `checking` and its check is queued: a job of the upload (kind
`check_upload` in archive/pipeline.py's graph, leased, retried and finished as every job
is) runs the checks `import` runs, and its finish records the asset and queues its
processing, or refuses the file: its object is deleted and the reason kept on the
upload. A web request never reads the file. Unfinished uploads are aborted by `sweep`
(MinIO has no lifecycle rule for them).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import captions, intake, jobs
from .context import Archive
from .formatting import file_size
from .handlers.common import Original, Outcome
from .jobs import Heartbeat, PermanentError
from .mediatypes import MediaInfo, web_plan
from .models import Asset, Job, Upload, Webinar, new_id, utcnow
from .states import AssetStatus, JobState, UploadState
from .storage import StorageError
from .wording import N_

log = logging.getLogger(__name__)

KINDS = ("recording", "slides", "captions")
# Accepted file name extensions per kind, and the type the object is stored with.
EXTENSIONS: dict[str, dict[str, str]] = {
    "recording": {"mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska",
                  "webm": "video/webm", "avi": "video/x-msvideo", "m4a": "audio/mp4", "mp3": "audio/mpeg",
                  "wav": "audio/wav", "ogg": "audio/ogg", "oga": "audio/ogg", "flac": "audio/flac",
                  "aac": "audio/aac"},
    "slides": {"pdf": "application/pdf",
               "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
               "odp": "application/vnd.oasis.opendocument.presentation"},
    "captions": {"vtt": "text/vtt", "srt": "application/x-subrip"},
}
MAX_PARTS = 10_000  # S3's limit
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part, but for the last
MIB = 1024 * 1024
# The part size the browser is asked to use unless a file needs larger parts: a failed part
# costs at most this much to send again.
PART_BYTES = 16 * MIB
STATES = tuple(UploadState)


class UploadRefused(Exception):
    """The request cannot be served; the message is a sentence for the user."""


class UploadNotFound(UploadRefused):
    """No such upload for this user (another user's upload looks the same)."""


class CheckRefused(PermanentError):
    """The file failed its check (known-bad: a job fails at once); the message is the sentence
    the user sees."""


def object_key(webinar_id: str, asset_id: str, ext: str) -> str:
    """Where the original lands: made from ids only, never from the user's file name."""
    return f"webinars/{webinar_id}/originals/{asset_id}/original.{ext}"


def size_limit(settings, kind: str) -> int:
    mb = {"recording": settings.upload_max_recording_mb, "slides": settings.upload_max_slides_mb,
          "captions": settings.upload_max_captions_mb}[kind]
    return mb * 1_000_000


def part_size(size: int, preferred: int = PART_BYTES) -> int:
    """The size of every part but the last of an upload of `size` bytes: `preferred`, at
    least S3's smallest, and in whole MiB large enough for at most MAX_PARTS parts. The
    server decides it and signs each part's length, so the browser cannot send more."""
    needed = -(-size // MAX_PARTS)
    return max(preferred, MIN_PART_BYTES, -(-needed // MIB) * MIB)


def part_count(size: int, part: int) -> int:
    return max(1, -(-size // part))


def _replaceable(s, webinar_id: str, kind: str, asset_id: str) -> Asset | None:
    """The served file `asset_id` of this webinar and kind, if it is one."""
    a = s.get(Asset, asset_id)
    return a if a is not None and a.webinar_id == webinar_id and a.kind == kind and a.served else None


def captions_in(s: Session, webinar_id: str, language: str) -> Asset | None:
    """The webinar's served caption file in `language`, if it has one: a new file in that
    language replaces it (a webinar never shows two tracks under one label)."""
    return next((a for a in s.scalars(select(Asset).where(Asset.webinar_id == webinar_id, Asset.kind == "captions"))
                 if a.served and (a.info or {}).get("language") == language), None)


def create(archive: Archive, owner: str, webinar_id: str, kind: str, filename: str, size: int,
           language: str | None = None, replaces: str | None = None) -> Upload:
    """Check what can be checked before any byte is sent and start the multipart upload.
    `replaces` names a file of the same webinar and kind that the new one replaces once
    it is processed; a new recording replaces the webinar's recording by itself."""
    if not owner:
        raise UploadRefused(N_("sign in to upload"))
    if kind not in KINDS:
        raise UploadRefused(N_("a file is a recording, slides or captions, not %(kind)s", kind=repr(kind)))
    filename = (filename or "").strip().replace("/", "_").replace("\\", "_")[:400]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    allowed = EXTENSIONS[kind]
    if ext not in allowed:
        raise UploadRefused(N_("%(file)s: %(kind)s must be one of %(extensions)s", file=filename or N_("the file"),
                               kind=kind, extensions=", ".join("." + e for e in allowed)))
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise UploadRefused(N_("%(file)s: the file is empty", file=filename))
    limit = size_limit(archive.settings, kind)
    if size > limit:
        raise UploadRefused(N_("%(file)s: %(size)s is more than the %(limit)s accepted for %(kind)s", file=filename,
                               size=file_size(size), limit=file_size(limit), kind=kind))
    if kind == "captions":
        # Not given: read from the name as the folder import does ("talk.de.srt": de).
        language = (language or "").strip() or captions.language_of_name(filename)
        try:
            captions.check_language(language)
        except captions.CaptionsRejected as e:
            raise UploadRefused(N_("%(file)s: %(reason)s", file=filename, reason=e)) from e
    with archive.catalog.session() as s:
        webinar = s.get(Webinar, webinar_id)
        if webinar is None:
            raise UploadRefused(N_("no such webinar"))
        if replaces:
            if _replaceable(s, webinar_id, kind, replaces) is None:
                raise UploadRefused(N_("%(file)s: the file to replace is not a %(kind)s file of this webinar",
                                        file=filename, kind=kind))
        elif kind == "recording" and webinar.recording is not None:
            replaces = webinar.recording.id
        elif kind == "captions" and (same := captions_in(s, webinar_id, language)) is not None:
            replaces = same.id
    upload_id = new_id()
    key = object_key(webinar_id, upload_id, ext)
    metadata = {"filename": quote(filename, safe=""), "owner": quote(owner, safe="")}
    if replaces:  # kept with the object, read back when the upload completes
        metadata["replaces"] = replaces
    s3_id = archive.store.create_multipart(key, allowed[ext], metadata=metadata)
    record = Upload(id=upload_id, owner=owner, webinar_id=webinar_id, kind=kind, filename=filename, ext=ext,
                    language=language if kind == "captions" else None, size=size,
                    content_type=allowed[ext], key=key, s3_upload_id=s3_id, state=UploadState.UPLOADING)
    try:
        with archive.catalog.transaction() as s:
            s.add(record)
    except BaseException:
        archive.store.abort_multipart(key, s3_id)
        raise
    return record


def get(archive: Archive, upload_id: str, owner: str) -> Upload:
    """The upload if this user started it; anyone else's looks like none at all."""
    with archive.catalog.session() as s:
        record = s.get(Upload, upload_id)
    if record is None or not owner or record.owner != owner:
        raise UploadNotFound(N_("no such upload"))
    return record


def _uploading(archive: Archive, upload_id: str, owner: str) -> Upload:
    record = get(archive, upload_id, owner)
    if record.state != UploadState.UPLOADING:
        raise UploadRefused(N_("%(file)s: the upload is %(state)s", file=record.filename, state=record.state))
    return record


def sign_part(archive: Archive, upload_id: str, owner: str, part_number: int,
              preferred: int = PART_BYTES) -> str:
    """A presigned PUT for one part of one of this user's unfinished uploads: only the parts
    its announced size needs, each with its length signed in (S3 refuses any other), so
    nothing beyond the announced size can be stored. `preferred` is the one given to
    part_size when the upload was created."""
    return sign_parts(archive, upload_id, owner, [part_number], preferred)[part_number]


# Part URLs signed in one request at most: the uploader asks for the next parts' URLs
# together (a request per dozen parts, not per part).
SIGN_AT_ONCE = 64


def sign_parts(archive: Archive, upload_id: str, owner: str, part_numbers: list[int],
               preferred: int = PART_BYTES) -> dict[int, str]:
    """sign_part for several parts of one upload, read once: {part number: URL}."""
    if not isinstance(part_numbers, list) or not 1 <= len(part_numbers) <= SIGN_AT_ONCE:
        raise UploadRefused(N_("one to %(most)s part numbers at a time", most=SIGN_AT_ONCE))
    for number in part_numbers:
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_PARTS:
            raise UploadRefused(N_("a part number is 1 to %(max)s", max=MAX_PARTS))
    record = _uploading(archive, upload_id, owner)
    part = part_size(record.size, preferred)
    count = part_count(record.size, part)
    for number in part_numbers:
        if number > count:
            raise UploadRefused(N_("%(file)s: %(size)s bytes make %(count)s part(s), not %(number)s",
                                   file=record.filename, size=record.size, count=count, number=number))
    return {number: archive.store.presign_upload_part(record.key, record.s3_upload_id, number,
                                                      min(part, record.size - (number - 1) * part))
            for number in dict.fromkeys(part_numbers)}


def list_parts(archive: Archive, upload_id: str, owner: str) -> list[dict]:
    """The parts S3 already holds, so that a resumed upload sends only the others."""
    record = _uploading(archive, upload_id, owner)
    return archive.store.list_parts(record.key, record.s3_upload_id)


def _set_state(archive: Archive, upload_id: str, new: str, *, expect: tuple[str, ...],
               error: str | None = None) -> bool:
    """Move the upload to `new` if it is in one of `expect`; False when it was not."""
    with archive.catalog.transaction() as s:
        r = s.execute(update(Upload).where(Upload.id == upload_id, Upload.state.in_(expect))
                      .values(state=new, error=error, updated_at=utcnow()))
        return r.rowcount == 1


def _check_parts(parts) -> list[dict]:
    if not isinstance(parts, list) or not parts:
        raise UploadRefused(N_("the upload names no parts"))
    out = []
    for p in parts:
        if not isinstance(p, dict) or not isinstance(p.get("PartNumber"), int) or not isinstance(p.get("ETag"), str):
            raise UploadRefused(N_("each part needs a PartNumber and an ETag"))
        out.append({"PartNumber": p["PartNumber"], "ETag": p["ETag"]})
    numbers = [p["PartNumber"] for p in out]
    if numbers != sorted(set(numbers)) or not 1 <= numbers[0] or numbers[-1] > MAX_PARTS:
        raise UploadRefused(N_("parts must be numbered 1 to 10000, ascending, once each"))
    return out


def direct_play(info: dict) -> bool:
    """Can a browser play the original as it is? (`info`: a probe's summary; the plan decides.)"""
    fields = {f.name for f in dataclasses.fields(MediaInfo)} - {"raw"}
    known = {k: v for k, v in info.items() if k in fields}
    return web_plan(MediaInfo(**{"duration": 0.0, "size": 0, "demuxer": "", **known})).direct


def complete(archive: Archive, upload_id: str, owner: str, parts) -> Upload:
    """Join the parts and confirm the size with HEAD, then leave the content's check to a
    worker (the upload becomes `checking` with its check job queued; see check_upload). A size that is not the one
    announced is refused here: the object is deleted and UploadRefused says why. Asked
    again, the answer is the upload's state (`checking`, `done`), or the refusal."""
    record = get(archive, upload_id, owner)
    if record.state in (UploadState.CHECKING, UploadState.DONE):  # the browser asked twice: the answer stands
        return record
    if record.state == UploadState.REFUSED:
        raise UploadRefused(record.error or N_("%(file)s was refused", file=record.filename))
    parts = _check_parts(parts)
    if not _set_state(archive, record.id, UploadState.COMPLETING, expect=(UploadState.UPLOADING,)):
        raise UploadRefused(N_("%(file)s: the upload is %(state)s", file=record.filename,
                                state=get(archive, upload_id, owner).state))
    store = archive.store
    try:
        store.complete_multipart(record.key, record.s3_upload_id, parts)
    except StorageError as e:
        # The parts are still there: the browser may send what is missing and try again.
        log.warning("completing upload %s failed: %s", record.id, e)
        _set_state(archive, record.id, UploadState.UPLOADING, expect=(UploadState.COMPLETING,))
        raise UploadRefused(N_("%(file)s: the upload could not be completed; some parts are missing or damaged",
                               file=record.filename)) from e
    try:
        head = store.head(record.key)
        if head is None or head["size"] != record.size:
            got = N_("nothing") if head is None else N_("%(size)s bytes", size=head["size"])
            raise CheckRefused(N_("%(file)s: announced %(size)s bytes, S3 holds %(got)s", file=record.filename,
                                  size=record.size, got=got))
        with archive.catalog.transaction() as s:
            moved = s.execute(update(Upload).where(Upload.id == record.id, Upload.state == UploadState.COMPLETING)
                              .values(state=UploadState.CHECKING, error=None, updated_at=utcnow()))
            if moved.rowcount == 1:  # its check is a job like any other (workers hear of it at the commit)
                jobs.enqueue(s, None, CHECK_KIND, archive.settings.job_max_attempts, upload_id=record.id)
    except CheckRefused as e:
        _refuse(archive, record, str(e))
        raise UploadRefused(str(e)) from e
    except BaseException:
        # Not the file's fault (storage, database): the object goes, the user may try again.
        _refuse(archive, record, N_("%(file)s: the upload could not be recorded; try again", file=record.filename))
        raise
    return get(archive, upload_id, owner)


def _refuse(archive: Archive, record: Upload, reason: str) -> None:
    log.info("upload %s refused: %s", record.id, reason)
    try:
        archive.store.delete_keys([record.key])
    finally:
        _set_state(archive, record.id, UploadState.REFUSED, expect=(UploadState.COMPLETING,), error=reason)


# --- The check: a job of the upload (kind CHECK_KIND in archive/pipeline.py's graph) ---

CHECK_KIND = "check_upload"



# Read from each end of a recording before its full read, so that a browser-playable upload
# plays at once: enough for the index of a faststart MP4 (or of one with its index at the end)
# and the first packets ffprobe looks at.
PREVIEW_BYTES = 16 * MIB


def _preview(archive: Archive, upload: Upload, replaces: str | None) -> dict | None:
    """The info of early direct play for a browser-playable recording (see check_upload),
    from its first and last PREVIEW_BYTES put at their places in a sparse file of its size;
    None when it does not apply or cannot say (the full check decides, as for any file)."""
    size = upload.size
    if upload.kind != "recording" or replaces or size <= 4 * PREVIEW_BYTES:
        return None  # a replacement is not shown before it is processed; a small file is read at once
    path = archive.settings.work_dir / f"preview.{upload.ext}"
    try:
        with open(path, "wb") as f:
            f.truncate(size)
            f.write(archive.store.read_range(upload.key, 0, PREVIEW_BYTES))
            f.seek(size - PREVIEW_BYTES)
            f.write(archive.store.read_range(upload.key, size - PREVIEW_BYTES, PREVIEW_BYTES))
        info = intake.preview_recording(path, archive.settings, name=upload.filename)
    except (intake.ImportRejected, StorageError, OSError) as e:
        log.info("upload %s: no early direct play (%s)", upload.id, e)
        return None
    finally:
        path.unlink(missing_ok=True)
    return {**info, "direct_play": True} if direct_play(info) else None


def check_upload(archive: Archive, upload: Upload, hb: Heartbeat) -> Outcome:
    """The job that checks a completed upload as `import` checks a file. One read of the
    whole object, hashed as it arrives (on a second core); the local copy is handed on to
    the asset's first job (see Outcome.original). Writes nothing: `record_check` applies
    the result (the asset and its first job, or the refusal) in the transaction that
    finishes the job.

    Early direct play: while that read runs, a browser-playable recording (that replaces
    nothing) is probed from its first and last bytes (two ranged reads of PREVIEW_BYTES)
    and, if a browser plays it as it is, published at once (`record_preview`): its asset
    exists, unverified (no SHA-256 yet), and the webinar's page plays the original. That
    is all "watchable" waits for. The upload is reported verified ("received"), its
    SHA-256 recorded and its first job queued (nothing derived is made before) only when
    the whole file is read and checked; if that check refuses the file, the asset is
    failed and hidden, staff see the reason on it and on the upload, and the object goes."""
    if upload.state != UploadState.CHECKING:
        raise PermanentError(N_("%(file)s: the upload is %(state)s, not waiting for its check", file=upload.filename,
                                 state=upload.state))
    store = archive.store
    head = store.head(upload.key)
    if head is None or head["size"] != upload.size:
        got = N_("nothing") if head is None else N_("%(size)s bytes", size=head["size"])
        raise CheckRefused(N_("%(file)s: announced %(size)s bytes, S3 holds %(got)s", file=upload.filename,
                              size=upload.size, got=got))
    local = archive.settings.work_dir / f"original.{upload.ext}"
    with ThreadPoolExecutor(1, thread_name_prefix=f"read-{upload.id}") as pool:
        whole = pool.submit(store.download_hashed, upload.key, local)
        try:
            early = _preview(archive, upload, head["metadata"].get("replaces"))
            if early is not None:
                hb.publish(Outcome(info=early))
        finally:
            digest = whole.result()
    try:
        checked = intake.check_file(upload.kind, local, archive.settings, name=upload.filename,
                                    language=upload.language, sha256=digest)
    except intake.ImportRejected as e:
        raise CheckRefused(str(e)) from e
    if upload.kind == "slides" and checked.ext != upload.ext:
        raise CheckRefused(N_("%(file)s: the file is %(format)s, not .%(ext)s; rename it and upload it again",
                              file=upload.filename, format=checked.ext.upper(), ext=upload.ext))
    info = dict(checked.info)
    if upload.kind == "recording" and direct_play(info):
        info["direct_play"] = True
    if head["metadata"].get("replaces"):
        info["replaces"] = head["metadata"]["replaces"]
    return Outcome(info=info, original=Original(local, digest, checked.content_type))


def _locked_upload(session: Session, upload_id: str) -> Upload | None:
    return session.scalars(select(Upload).where(Upload.id == upload_id).with_for_update()
                           .execution_options(populate_existing=True)).first()


def _add_asset(session: Session, upload: Upload, content_type: str, sha256: str | None, info: dict) -> Asset:
    position = session.scalar(select(func.coalesce(func.max(Asset.position), -1))
                              .where(Asset.webinar_id == upload.webinar_id)) + 1
    asset = Asset(id=upload.id, webinar_id=upload.webinar_id, kind=upload.kind, position=position,
                  original_filename=upload.filename, original_ext=upload.ext, content_type=content_type,
                  size=upload.size, sha256=sha256, status=AssetStatus.QUEUED, info=info, outputs={})
    session.add(asset)
    session.flush()
    return asset


def record_preview(session: Session, job: Job, outcome: Outcome) -> None:
    """Early direct play (see check_upload), in a transaction that holds the check's lease:
    the upload's asset is added, unverified, playing the original as it is."""
    upload = _locked_upload(session, job.upload_id)
    if upload is None or upload.state != UploadState.CHECKING or session.get(Asset, upload.id) is not None:
        return  # ended meanwhile, or published by an earlier attempt
    _add_asset(session, upload, upload.content_type, None, dict(outcome.info))
    log.info("upload %s (%s): plays while it is checked", upload.id, upload.filename)


def record_check(session: Session, store, job: Job, state: str, outcome: Outcome | None,
                 error: str | None, permanent: bool) -> Asset | None:
    """Apply the end of a check job to its upload, in the job's finishing transaction:
    done, the asset is added, or the one published early is verified (returned: the
    caller queues its first job) and the upload is `done`; failed, the upload is refused
    with a sentence and its object deleted (inside the transaction: a failed delete leaves
    the upload to be checked again), and an asset published early is failed (hidden from
    visitors, the reason shown to staff)."""
    upload = _locked_upload(session, job.upload_id)
    if upload is None or upload.state != UploadState.CHECKING:
        return None
    upload.updated_at = utcnow()
    early = session.scalars(select(Asset).where(Asset.id == upload.id)
                            .execution_options(populate_existing=True)).first()
    if state == JobState.DONE and outcome is not None and outcome.original is not None:
        info = dict(outcome.info)
        if info.get("replaces") and _replaceable(session, upload.webinar_id, upload.kind, info["replaces"]) is None:
            del info["replaces"]  # removed meanwhile: simply added
        if upload.kind == "captions" and not info.get("replaces"):
            # Captions in a language the webinar got meanwhile (another upload, a change of
            # language): replaced all the same, never a second track under the same label.
            same = captions_in(session, upload.webinar_id, upload.language or "")
            if same is not None:
                info["replaces"] = same.id
        if early is None:
            asset = _add_asset(session, upload, outcome.original.content_type, outcome.original.sha256, info)
        else:  # it played from its first and last bytes: now it is read whole and checked
            asset = early
            asset.sha256, asset.content_type = outcome.original.sha256, outcome.original.content_type
            asset.info = {k: v for k, v in (asset.info or {}).items() if k not in info and k != "direct_play"} | info
        upload.state, upload.error = UploadState.DONE, None
        log.info("upload %s (%s): done", upload.id, upload.filename)
        return asset
    if state == JobState.FAILED:
        # A known-bad file says why; anything else is the check's fault, not the file's.
        reason = error if permanent and error else N_(
            "%(file)s: the check failed or stopped on each of its %(attempts)s attempt(s) (the worker was killed, "
            "ran out of memory or time, or could not reach storage); upload it again",
            file=upload.filename, attempts=job.attempts)
        upload.state, upload.error = UploadState.REFUSED, reason
        if early is not None and early.status != AssetStatus.REMOVING:
            # It played from its first and last bytes; the whole file did not pass: no more.
            early.status, early.error = AssetStatus.FAILED, reason
            early.info = {k: v for k, v in (early.info or {}).items() if k != "direct_play"}
        store.delete_keys([upload.key])
        log.info("upload %s refused: %s", upload.id, reason)
    return None


def abort(archive: Archive, upload_id: str, owner: str) -> Upload:
    """The user cancelled: the parts are dropped."""
    record = get(archive, upload_id, owner)
    if record.state in (UploadState.ABORTED, UploadState.REFUSED):
        return record
    if record.state != UploadState.UPLOADING:
        raise UploadRefused(N_("%(file)s: the upload is %(state)s", file=record.filename, state=record.state))
    archive.store.abort_multipart(record.key, record.s3_upload_id)
    _set_state(archive, record.id, UploadState.ABORTED, expect=(UploadState.UPLOADING,), error="cancelled")
    return get(archive, upload_id, owner)


def stale_multipart(archive: Archive, older_than: dt.timedelta | None = None,
                    orphan_grace: dt.timedelta = dt.timedelta(hours=1)) -> list[tuple[dict, Upload | None]]:
    """Unfinished multipart uploads under webinars/ that no live upload record holds, or
    that are older than `older_than` (default Settings.upload_abandon_hours), each with
    its record (or None). One without a record is left alone for `orphan_grace`: it may
    be a CLI import in progress. What `sweep` aborts and `check` reports."""
    if older_than is None:
        older_than = dt.timedelta(hours=archive.settings.upload_abandon_hours)
    now = dt.datetime.now(dt.timezone.utc)
    with archive.catalog.session() as s:
        records = {r.s3_upload_id: r for r in s.scalars(select(Upload))}
    stale = []
    for u in archive.store.list_multipart_uploads("webinars/"):
        started = u["Initiated"]
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.timezone.utc)
        age = now - started
        record = records.get(u["UploadId"])
        live = (record is not None and record.key == u["Key"]
                and record.state in (UploadState.UPLOADING, UploadState.COMPLETING))
        if (record is None and age > orphan_grace) or (record is not None and not live) or age > older_than:
            stale.append((u, record))
    return stale


def sweep(archive: Archive, older_than: dt.timedelta | None = None,
          orphan_grace: dt.timedelta = dt.timedelta(hours=1)) -> list[str]:
    """Abort unfinished multipart uploads under webinars/ that no live upload record
    holds, or that are older than the limit (Settings.upload_abandon_hours), and mark
    their records aborted (see stale_multipart). Returns the keys aborted."""
    if older_than is None:
        older_than = dt.timedelta(hours=archive.settings.upload_abandon_hours)
    store = archive.store
    aborted = []
    for u, record in stale_multipart(archive, older_than, orphan_grace):
        store.abort_multipart(u["Key"], u["UploadId"])
        aborted.append(u["Key"])
        if record is not None:
            _set_state(archive, record.id, UploadState.ABORTED, expect=(UploadState.UPLOADING,), error="abandoned")
    # Records whose S3 upload is gone already (aborted elsewhere) and that are too old.
    cutoff = utcnow() - older_than
    with archive.catalog.transaction() as s:
        s.execute(update(Upload).where(Upload.state == UploadState.UPLOADING, Upload.created_at < cutoff)
                  .values(state=UploadState.ABORTED, error="abandoned", updated_at=utcnow()))
        # A completion the web process never finished (it died): its object has no asset.
        stuck = list(s.scalars(select(Upload).where(Upload.state == UploadState.COMPLETING,
                                                    Upload.updated_at < cutoff)))
    for record in stuck:
        store.delete_keys([record.key])
        if _set_state(archive, record.id, UploadState.ABORTED, expect=(UploadState.COMPLETING,),
                      error="completion interrupted"):
            aborted.append(record.key)
    if aborted:
        log.info("sweep: aborted %d unfinished upload(s)", len(aborted))
    return aborted


__all__ = ["Upload", "UploadRefused", "UploadNotFound", "CheckRefused", "create", "get", "sign_part", "list_parts",
           "complete", "check_upload", "record_check", "record_preview", "CHECK_KIND", "abort", "sweep", "stale_multipart", "direct_play", "object_key",
           "EXTENSIONS", "KINDS"]
