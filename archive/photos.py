"""A speaker's photo from the browser: the bytes go straight to S3 in one presigned POST.

`start` issues an incoming key under the speaker's prefix and a form whose policy holds
S3 to that key, an image type and PHOTO_MAX_BYTES. `finish` takes only a key it could
have issued for that speaker, checks the file as the CLI import does (intake.check_photo),
copies it on the server to its final key (its checksum in the name, so stored objects
never change), records it in one transaction and rewrites the manifests of every
webinar that lists the speaker. The incoming object is deleted whatever the outcome.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import select

from . import queries, webinars
from .context import Archive
from .formatting import file_size
from .intake import PHOTO_FORMATS, PHOTO_MAX_BYTES, ImportRejected, check_photo
from .models import Speaker, WebinarSpeaker
from .storage import StorageError
from .wording import N_

log = logging.getLogger(__name__)

UPLOAD_SECONDS = 600  # how long the browser may take to send the file after `start`
ACCEPT = sorted(content_type for _, content_type in PHOTO_FORMATS.values())
_INCOMING = "incoming/"
_NAME = re.compile(r"[0-9a-f]{32}")


class SpeakerNotFound(LookupError):
    pass


class PhotoRefused(ValueError):
    """The photo cannot be used; the message is a sentence for the staff page."""


def _speaker(archive: Archive, speaker_id: str) -> Speaker:
    with archive.catalog.session() as s:
        row = s.get(Speaker, speaker_id)
    if row is None:
        raise SpeakerNotFound(speaker_id)
    return row


def start(archive: Archive, speaker_id: str) -> dict:
    """A form for one browser POST to S3: {"url", "fields", "key"}. The browser adds a
    Content-Type field (image/...) and the file, last."""
    sp = _speaker(archive, speaker_id)
    key = f"{sp.prefix}{_INCOMING}{secrets.token_hex(16)}"
    form = archive.store.presigned_post(key, "image/", PHOTO_MAX_BYTES, expires=UPLOAD_SECONDS)
    return {**form, "key": key}


def issued(speaker: Speaker, key: object) -> bool:
    """True when `key` has the shape of a key `start` issued for this speaker."""
    if not isinstance(key, str):
        return False
    head = f"{speaker.prefix}{_INCOMING}"
    return key.startswith(head) and _NAME.fullmatch(key[len(head):]) is not None


def finish(archive: Archive, speaker_id: str, key: object) -> Speaker:
    """Check the uploaded file and make it the speaker's photo; PhotoRefused says why not."""
    sp = _speaker(archive, speaker_id)
    if not isinstance(key, str) or not issued(sp, key):
        raise PhotoRefused(N_("Photo: this upload was not started for this speaker; choose the file again."))
    try:
        final, checked = _check_and_copy(archive, sp, key)
    finally:
        try:
            archive.store.delete_keys([key])
        except StorageError as e:  # a stray incoming object harms nobody; it is logged
            log.warning("incoming photo %s not deleted: %s", key, e)
    with archive.catalog.transaction() as s:
        row = s.get(Speaker, speaker_id)
        if row is None:  # deleted meanwhile
            archive.store.delete_keys([final])
            raise SpeakerNotFound(speaker_id)
        row.photo_key, row.photo_sha256, row.photo_content_type = final, checked.sha256, checked.content_type
        listed = _webinars_of(s, speaker_id)
    rewrite_manifests(archive, listed)
    return _speaker(archive, speaker_id)


def _check_and_copy(archive: Archive, sp: Speaker, key: str):
    found = archive.store.head(key)
    if found is None:
        raise PhotoRefused(N_("Photo: the file did not arrive in the file store; choose it again."))
    if found["size"] > PHOTO_MAX_BYTES:
        raise PhotoRefused(N_("Photo: the file is larger than %(size)s.", size=file_size(PHOTO_MAX_BYTES)))
    archive.settings.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="photo-") as tmp:
        path = Path(tmp) / "upload"
        archive.store.download_hashed(key, path)
        try:
            checked = check_photo(sp.name, path)
        except ImportRejected as e:
            raise PhotoRefused(_sentence(str(e), sp.name, path)) from e
    final = sp.photo_key_for(checked.sha256, checked.ext)
    archive.store.copy(key, final, checked.content_type)
    return final, checked


def _sentence(reason: str, name: str, path: Path) -> str:
    """The import check's reason without the file's place on this machine."""
    where = N_("speaker %(name)s photo %(file)s", name=repr(name), file=path.name) + ": "
    reason = reason[len(where):] if reason.startswith(where) else reason
    for place in (f" '{path}'", f" {path}", str(path)):
        reason = reason.replace(place, "")
    reason = reason.replace(" ()", "")
    return N_("Photo: %(reason)s.", reason=reason.rstrip("."))


def remove_photo(archive: Archive, speaker_id: str) -> Speaker:
    """The speaker has no photo any more; their photo objects are deleted once the
    manifests that named them are rewritten."""
    with archive.catalog.transaction() as s:
        row = s.get(Speaker, speaker_id)
        if row is None:
            raise SpeakerNotFound(speaker_id)
        had = row.photo_key is not None
        row.photo_key = row.photo_sha256 = row.photo_content_type = None
        listed = _webinars_of(s, speaker_id)
        prefix = row.prefix
    if had:
        rewrite_manifests(archive, listed)
    sp = _speaker(archive, speaker_id)
    # A photo set since (another tab) stays; every earlier one goes.
    old = [k for k in archive.store.list_keys(f"{prefix}photo-") if k != sp.photo_key]
    archive.store.delete_keys(old)
    return sp


def sweep_incoming(archive: Archive, older_than: dt.timedelta = dt.timedelta(hours=1)) -> list[str]:
    """Delete incoming photos nobody finished (a tab closed after the POST to S3): the
    form lives UPLOAD_SECONDS, and `finish` follows the upload at once. Returns the keys."""
    now = dt.datetime.now(dt.timezone.utc)
    stale = [key for key, changed in archive.store.list_modified("speakers/").items()
             if f"/{_INCOMING}" in key and now - _aware(changed) > older_than]
    archive.store.delete_keys(stale)
    if stale:
        log.info("sweep: deleted %d abandoned speaker photo upload(s)", len(stale))
    return stale


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _webinars_of(s, speaker_id: str) -> set[str]:
    return set(s.scalars(select(WebinarSpeaker.webinar_id).where(WebinarSpeaker.speaker_id == speaker_id)))


def rewrite_manifests(archive: Archive, webinar_ids: set[str]) -> None:
    """The manifests of these webinars, written again from the catalog (a failure is
    logged: the catalog holds the change and the next edit or job writes it again)."""
    with archive.catalog.session() as s:
        rows = [queries.get(s, wid) for wid in sorted(webinar_ids)]
    for row in rows:
        if row is None:
            continue
        try:
            webinars.write_manifest(archive, row)
        except StorageError as e:
            log.warning("manifest of %s not written: %s", row.id, e)
