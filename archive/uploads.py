"""Browser uploads straight to S3: the server's side of a presigned multipart upload.

The browser sends the bytes to S3 itself; the server decides the key, signs the parts of
the uploads it issued to that user only, and confirms completion with HEAD (the size).
The upload is then `checking`: a worker claims the check (a lease on the upload's row,
as jobs have, so that a worker killed mid-check is replaced), runs the checks `import`
runs, and only then records the asset and queues its processing, or refuses the file:
its object is deleted and the reason kept on the upload. A web request never reads the
file. Unfinished uploads are aborted by `sweep` (MinIO has no lifecycle rule for them).
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
from urllib.parse import quote

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from . import importer, pipeline, queries, webinars
from .context import Archive
from .jobs import LeaseKeeper
from .models import Asset, Base, Webinar, new_id, utcnow
from .storage import StorageError

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
STATES = ("uploading", "completing", "checking", "done", "refused", "aborted")


class UploadRefused(Exception):
    """The request cannot be served; the message is a sentence for the user."""


class UploadNotFound(UploadRefused):
    """No such upload for this user (another user's upload looks the same)."""


class Upload(Base):
    """One file on its way from a browser to S3. Its id becomes the asset's id."""

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
    state: Mapped[str] = mapped_column(String(16), default="uploading", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # The check's lease while `checking` (see claim_check): who holds it, until when (or,
    # with no holder, when the next attempt may start) and how many attempts began.
    check_owner: Mapped[str | None] = mapped_column(String(200))
    check_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def as_dict(self) -> dict:
        d = {"id": self.id, "webinar": self.webinar_id, "kind": self.kind, "filename": self.filename,
             "size": self.size, "state": self.state, "key": self.key}
        if self.error:
            d["error"] = self.error
        return d


def object_key(webinar_id: str, asset_id: str, ext: str) -> str:
    """Where the original lands: made from ids only, never from the user's file name."""
    return f"webinars/{webinar_id}/originals/{asset_id}/original.{ext}"


def size_limit(settings, kind: str) -> int:
    mb = {"recording": settings.upload_max_recording_mb, "slides": settings.upload_max_slides_mb,
          "captions": settings.upload_max_captions_mb}[kind]
    return mb * 1_000_000


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.0f} MB"


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


def create(archive: Archive, owner: str, webinar_id: str, kind: str, filename: str, size: int,
           language: str | None = None, replaces: str | None = None) -> Upload:
    """Check what can be checked before any byte is sent and start the multipart upload.
    `replaces` names a file of the same webinar and kind that the new one replaces once
    it is processed; a new recording replaces the webinar's recording by itself."""
    if not owner:
        raise UploadRefused("sign in to upload")
    if kind not in KINDS:
        raise UploadRefused(f"a file is a recording, slides or captions, not {kind!r}")
    filename = (filename or "").strip().replace("/", "_").replace("\\", "_")[:400]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    allowed = EXTENSIONS[kind]
    if ext not in allowed:
        raise UploadRefused(f"{filename or 'the file'}: {kind} must be one of "
                            f"{', '.join('.' + e for e in allowed)}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise UploadRefused(f"{filename}: the file is empty")
    limit = size_limit(archive.settings, kind)
    if size > limit:
        raise UploadRefused(f"{filename}: {_mb(size)} is more than the {_mb(limit)} accepted for {kind}")
    if kind == "captions" and not language:
        raise UploadRefused(f"{filename}: captions need a language")
    with archive.catalog.session() as s:
        webinar = s.get(Webinar, webinar_id)
        if webinar is None:
            raise UploadRefused("no such webinar")
        if replaces:
            if _replaceable(s, webinar_id, kind, replaces) is None:
                raise UploadRefused(f"{filename}: the file to replace is not a {kind} file of this webinar")
        elif kind == "recording" and webinar.recording is not None:
            replaces = webinar.recording.id
    upload_id = new_id()
    key = object_key(webinar_id, upload_id, ext)
    metadata = {"filename": quote(filename, safe=""), "owner": quote(owner, safe="")}
    if replaces:  # kept with the object, read back when the upload completes
        metadata["replaces"] = replaces
    s3_id = archive.store.create_multipart(key, allowed[ext], metadata=metadata)
    record = Upload(id=upload_id, owner=owner, webinar_id=webinar_id, kind=kind, filename=filename, ext=ext,
                    language=language if kind == "captions" else None, size=size,
                    content_type=allowed[ext], key=key, s3_upload_id=s3_id, state="uploading")
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
        raise UploadNotFound("no such upload")
    return record


def _uploading(archive: Archive, upload_id: str, owner: str) -> Upload:
    record = get(archive, upload_id, owner)
    if record.state != "uploading":
        raise UploadRefused(f"{record.filename}: the upload is {record.state}")
    return record


def sign_part(archive: Archive, upload_id: str, owner: str, part_number: int,
              preferred: int = PART_BYTES) -> str:
    """A presigned PUT for one part of one of this user's unfinished uploads: only the parts
    its announced size needs, each with its length signed in (S3 refuses any other), so
    nothing beyond the announced size can be stored. `preferred` is the one given to
    part_size when the upload was created."""
    if not isinstance(part_number, int) or isinstance(part_number, bool) or not 1 <= part_number <= MAX_PARTS:
        raise UploadRefused(f"a part number is 1 to {MAX_PARTS}")
    record = _uploading(archive, upload_id, owner)
    part = part_size(record.size, preferred)
    count = part_count(record.size, part)
    if part_number > count:
        raise UploadRefused(f"{record.filename}: {record.size} bytes make {count} part(s), not {part_number}")
    length = min(part, record.size - (part_number - 1) * part)
    return archive.store.presign_upload_part(record.key, record.s3_upload_id, part_number, length)


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
        raise UploadRefused("the upload names no parts")
    out = []
    for p in parts:
        if not isinstance(p, dict) or not isinstance(p.get("PartNumber"), int) or not isinstance(p.get("ETag"), str):
            raise UploadRefused("each part needs a PartNumber and an ETag")
        out.append({"PartNumber": p["PartNumber"], "ETag": p["ETag"]})
    numbers = [p["PartNumber"] for p in out]
    if numbers != sorted(set(numbers)) or not 1 <= numbers[0] or numbers[-1] > MAX_PARTS:
        raise UploadRefused("parts must be numbered 1 to 10000, ascending, once each")
    return out


def direct_play(info: dict) -> bool:
    """Can a browser play the original as it is (H.264 4:2:0 + AAC in MP4/MOV, AAC or MP3 audio)?"""
    video, audio, demuxer = info.get("video_codec"), info.get("audio_codec"), info.get("demuxer")
    if video is not None:
        return (demuxer == "mov" and video == "h264" and info.get("pix_fmt") in ("yuv420p", "yuvj420p")
                and audio in (None, "aac"))
    return (demuxer == "mov" and audio == "aac") or (demuxer == "mp3" and audio == "mp3")


def complete(archive: Archive, upload_id: str, owner: str, parts) -> Upload:
    """Join the parts and confirm the size with HEAD, then leave the content's check to a
    worker (the upload becomes `checking`; see check_next). A size that is not the one
    announced is refused here: the object is deleted and UploadRefused says why. Asked
    again, the answer is the upload's state (`checking`, `done`), or the refusal."""
    record = get(archive, upload_id, owner)
    if record.state in ("checking", "done"):  # the browser asked twice: the answer stands
        return record
    if record.state == "refused":
        raise UploadRefused(record.error or f"{record.filename} was refused")
    parts = _check_parts(parts)
    if not _set_state(archive, record.id, "completing", expect=("uploading",)):
        raise UploadRefused(f"{record.filename}: the upload is {get(archive, upload_id, owner).state}")
    store = archive.store
    try:
        store.complete_multipart(record.key, record.s3_upload_id, parts)
    except StorageError as e:
        # The parts are still there: the browser may send what is missing and try again.
        log.warning("completing upload %s failed: %s", record.id, e)
        _set_state(archive, record.id, "uploading", expect=("completing",))
        raise UploadRefused(f"{record.filename}: the upload could not be completed; some parts are missing "
                            "or damaged") from e
    try:
        head = store.head(record.key)
        if head is None or head["size"] != record.size:
            got = "nothing" if head is None else f"{head['size']} bytes"
            raise importer.ImportRejected(f"{record.filename}: announced {record.size} bytes, S3 holds {got}")
        with archive.catalog.transaction() as s:
            s.execute(update(Upload).where(Upload.id == record.id, Upload.state == "completing")
                      .values(state="checking", error=None, check_owner=None, check_expires_at=None,
                              check_attempts=0, updated_at=utcnow()))
    except importer.ImportRejected as e:
        _refuse(archive, record, str(e))
        raise UploadRefused(str(e)) from e
    except BaseException:
        # Not the file's fault (storage, database): the object goes, the user may try again.
        _refuse(archive, record, f"{record.filename}: the upload could not be recorded; try again")
        raise
    # Wakes an idle worker at once (the value is only a wake-up); the table is the truth.
    archive.catalog.queue.push([record.id])
    return get(archive, upload_id, owner)


def _refuse(archive: Archive, record: Upload, reason: str) -> None:
    log.info("upload %s refused: %s", record.id, reason)
    try:
        archive.store.delete_keys([record.key])
    finally:
        _set_state(archive, record.id, "refused", expect=("completing",), error=reason)


# --- The check, in a worker -------------------------------------------------------------

def _checkable(now: dt.datetime):
    """Waiting for its check: never claimed, its lease ran out (the worker died), or its
    retry is due."""
    return and_(Upload.state == "checking",
                or_(Upload.check_expires_at.is_(None), Upload.check_expires_at < now))


def _held(upload_id: str, owner: str, attempt: int):
    return and_(Upload.id == upload_id, Upload.state == "checking", Upload.check_owner == owner,
                Upload.check_attempts == attempt)


def claim_check(archive: Archive, owner: str) -> Upload | None:
    """Take the oldest upload waiting for its check, or None. One conditional UPDATE per
    candidate, as jobs.claim does: exactly one worker wins each upload, on SQLite and
    PostgreSQL alike. The lease lasts `job_lease_seconds` and is renewed while the check
    runs; a worker that dies leaves it to run out, and another worker takes the upload."""
    settings = archive.settings
    _refuse_exhausted(archive)
    now = utcnow()
    with archive.catalog.session() as s:
        candidates = s.scalars(select(Upload.id).where(_checkable(now),
                                                       Upload.check_attempts < settings.job_max_attempts)
                               .order_by(Upload.created_at, Upload.id).limit(5)).all()
        for upload_id in candidates:
            result = s.execute(
                update(Upload)
                .where(Upload.id == upload_id, _checkable(now), Upload.check_attempts < settings.job_max_attempts)
                .values(check_owner=owner, check_attempts=Upload.check_attempts + 1,
                        check_expires_at=now + dt.timedelta(seconds=settings.job_lease_seconds)))
            if result.rowcount != 1:
                s.rollback()
                continue
            record = s.get(Upload, upload_id, populate_existing=True)
            s.commit()
            return record
    return None


def _refuse_exhausted(archive: Archive) -> None:
    """Uploads whose worker died during the last attempt of their check: refused."""
    now = utcnow()
    stale = and_(Upload.state == "checking", Upload.check_owner.is_not(None), Upload.check_expires_at < now,
                 Upload.check_attempts >= archive.settings.job_max_attempts)
    with archive.catalog.session() as s:
        found = list(s.scalars(select(Upload).where(stale)))
    for record in found:
        reason = (f"{record.filename}: the check stopped during its last attempt (the worker was killed, "
                  "ran out of memory or over a time limit); upload it again")
        with archive.catalog.transaction() as s:
            r = s.execute(update(Upload).where(Upload.id == record.id, stale)
                          .values(state="refused", error=reason, check_owner=None, updated_at=utcnow()))
            if r.rowcount == 1:  # deleted inside the transaction: a failed delete leaves it checking
                archive.store.delete_keys([record.key])
                log.warning("upload %s refused: %s", record.id, reason)


class _Lease(LeaseKeeper):
    """Renews the check's lease in the background while the file is fetched and checked."""

    def __init__(self, archive: Archive, record: Upload, owner: str):
        super().__init__(archive.settings.job_lease_seconds, f"check-{record.id}")
        self.archive, self.where = archive, _held(record.id, owner, record.check_attempts)
        self.what = f"lease of the check of upload {record.id}"

    def renew(self) -> bool:
        with self.archive.catalog.transaction() as s:
            r = s.execute(update(Upload).where(self.where, Upload.check_expires_at >= utcnow())
                          .values(check_expires_at=utcnow() + dt.timedelta(seconds=self.lease_seconds)))
            return r.rowcount == 1


def run_check(archive: Archive, record: Upload, owner: str) -> str:
    """Check a claimed upload as `import` checks a file, then record the asset and queue its
    first job in one transaction, or refuse the file (its object is deleted). Returns the
    upload's new state: done, refused, checking (another attempt is due) or `lost` (another
    worker holds the check now: this one changed nothing)."""
    attempt = record.check_attempts
    work = archive.settings.work_dir
    scratch = work / f"upload-{record.id}-{attempt}"
    store = archive.store
    try:
        with _Lease(archive, record, owner):
            for earlier in work.glob(f"upload-{record.id}-*"):  # what a killed attempt left
                shutil.rmtree(earlier, ignore_errors=True)
            head = store.head(record.key)
            if head is None or head["size"] != record.size:
                got = "nothing" if head is None else f"{head['size']} bytes"
                raise importer.ImportRejected(f"{record.filename}: announced {record.size} bytes, S3 holds {got}")
            scratch.mkdir(parents=True)
            local = scratch / f"original.{record.ext}"
            store.download_file(record.key, local)
            checked = importer.check_file(record.kind, local, archive.settings, name=record.filename,
                                           language=record.language)
            if record.kind == "slides" and checked.ext != record.ext:
                raise importer.ImportRejected(f"{record.filename}: the file is {checked.ext.upper()}, "
                                              f"not .{record.ext}; rename it and upload it again")
            info = dict(checked.info)
            if record.kind == "recording" and direct_play(info):
                info["direct_play"] = True
            if head["metadata"].get("replaces"):
                info["replaces"] = head["metadata"]["replaces"]
            state = "done" if _record_asset(archive, record, owner, checked, info) else "lost"
    except importer.ImportRejected as e:
        state = _refuse_checked(archive, record, owner, str(e))
    except Exception as e:  # not the file's fault (storage, database): tried again
        log.exception("checking upload %s failed", record.id)
        state = _retry_or_refuse(archive, record, owner, f"{type(e).__name__}: {e}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("upload %s (%s): %s", record.id, record.filename, state)
    return state


def check_next(archive: Archive, owner: str) -> bool:
    """Claim one upload waiting for its check and run it; False when none was waiting."""
    record = claim_check(archive, owner)
    if record is None:
        return False
    run_check(archive, record, owner)
    return True


def _record_asset(archive: Archive, record: Upload, owner: str, checked: importer.Checked, info: dict) -> bool:
    """The asset and its first job, and the upload `done`, in one transaction; False (and
    nothing written) when this worker no longer holds the check."""
    with archive.catalog.transaction() as s:
        # A write first: it checks the lease and takes the write lock (SQLite) or the row
        # lock (PostgreSQL), so a worker that lost the check adds no second asset.
        held = s.execute(update(Upload).where(_held(record.id, owner, record.check_attempts))
                         .values(state="done", error=None, check_owner=None, updated_at=utcnow())
                         .execution_options(synchronize_session=False))
        if held.rowcount != 1:
            return False
        if info.get("replaces") and _replaceable(s, record.webinar_id, record.kind, info["replaces"]) is None:
            info = {k: v for k, v in info.items() if k != "replaces"}  # removed meanwhile: simply added
        position = s.scalar(select(func.coalesce(func.max(Asset.position), -1))
                            .where(Asset.webinar_id == record.webinar_id)) + 1
        asset = Asset(id=record.id, webinar_id=record.webinar_id, kind=record.kind, position=position,
                      original_filename=record.filename, original_ext=record.ext,
                      content_type=checked.content_type, size=record.size, sha256=checked.sha256,
                      status="queued", info=info, outputs={})
        s.add(asset)
        s.flush()
        pipeline.start(s, asset, archive.settings.job_max_attempts)
    with archive.catalog.session() as s:
        webinar = queries.get(s, record.webinar_id)
    if webinar is not None:
        try:
            webinars.write_manifest(archive, webinar)
        except StorageError as e:  # the worker rewrites it after each job
            log.warning("manifest of %s not written: %s", record.webinar_id, e)
    return True


def _refuse_checked(archive: Archive, record: Upload, owner: str, reason: str) -> str:
    """The file failed its check: refused with the reason, its object deleted (inside the
    transaction: a failed delete leaves the upload to be checked again)."""
    with archive.catalog.transaction() as s:
        r = s.execute(update(Upload).where(_held(record.id, owner, record.check_attempts))
                      .values(state="refused", error=reason, check_owner=None, updated_at=utcnow()))
        if r.rowcount != 1:
            return "lost"
        archive.store.delete_keys([record.key])
    log.info("upload %s refused: %s", record.id, reason)
    return "refused"


def _retry_or_refuse(archive: Archive, record: Upload, owner: str, error: str) -> str:
    """Another attempt after a delay, as a failed job gets; after the last one, refused."""
    settings = archive.settings
    if record.check_attempts >= settings.job_max_attempts:
        try:
            return _refuse_checked(archive, record, owner,
                                   f"{record.filename}: the file could not be checked; upload it again")
        except Exception:
            log.exception("refusing upload %s failed", record.id)  # its lease runs out: refused then
            return "checking"
    delay = dt.timedelta(seconds=settings.job_retry_delay_seconds * record.check_attempts)
    with archive.catalog.transaction() as s:
        r = s.execute(update(Upload).where(_held(record.id, owner, record.check_attempts))
                      .values(check_owner=None, check_expires_at=utcnow() + delay))
        return "checking" if r.rowcount == 1 else "lost"


def abort(archive: Archive, upload_id: str, owner: str) -> Upload:
    """The user cancelled: the parts are dropped."""
    record = get(archive, upload_id, owner)
    if record.state in ("aborted", "refused"):
        return record
    if record.state != "uploading":
        raise UploadRefused(f"{record.filename}: the upload is {record.state}")
    archive.store.abort_multipart(record.key, record.s3_upload_id)
    _set_state(archive, record.id, "aborted", expect=("uploading",), error="cancelled")
    return get(archive, upload_id, owner)


def sweep(archive: Archive, older_than: dt.timedelta | None = None,
          orphan_grace: dt.timedelta = dt.timedelta(hours=1)) -> list[str]:
    """Abort unfinished multipart uploads under webinars/ that no live upload record
    holds, or that are older than the limit (Settings.upload_abandon_hours), and mark
    their records aborted. An upload without a record is left alone for `orphan_grace`:
    it may be a CLI import in progress. Returns the keys aborted."""
    if older_than is None:
        older_than = dt.timedelta(hours=archive.settings.upload_abandon_hours)
    now = dt.datetime.now(dt.timezone.utc)
    store = archive.store
    with archive.catalog.session() as s:
        records = {r.s3_upload_id: r for r in s.scalars(select(Upload))}
    aborted = []
    for u in store.list_multipart_uploads("webinars/"):
        started = u["Initiated"]
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.timezone.utc)
        age = now - started
        record = records.get(u["UploadId"])
        live = record is not None and record.key == u["Key"] and record.state in ("uploading", "completing")
        if (record is None and age > orphan_grace) or (record is not None and not live) or age > older_than:
            store.abort_multipart(u["Key"], u["UploadId"])
            aborted.append(u["Key"])
            if record is not None:
                _set_state(archive, record.id, "aborted", expect=("uploading",), error="abandoned")
    # Records whose S3 upload is gone already (aborted elsewhere) and that are too old.
    cutoff = utcnow() - older_than
    with archive.catalog.transaction() as s:
        s.execute(update(Upload).where(Upload.state == "uploading", Upload.created_at < cutoff)
                  .values(state="aborted", error="abandoned", updated_at=utcnow()))
        # A completion the web process never finished (it died): its object has no asset.
        stuck = list(s.scalars(select(Upload).where(Upload.state == "completing", Upload.updated_at < cutoff)))
    for record in stuck:
        store.delete_keys([record.key])
        if _set_state(archive, record.id, "aborted", expect=("completing",), error="completion interrupted"):
            aborted.append(record.key)
    if aborted:
        log.info("sweep: aborted %d unfinished upload(s)", len(aborted))
    return aborted


__all__ = ["Upload", "UploadRefused", "UploadNotFound", "create", "get", "sign_part", "list_parts",
           "complete", "claim_check", "run_check", "check_next", "abort", "sweep", "direct_play", "object_key", "EXTENSIONS", "KINDS"]
