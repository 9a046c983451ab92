"""`webinar-archive check`: the catalog and the bucket compared, and what is safe repaired.

What is looked for (one `Finding` each):
- objects the catalog names that the bucket lacks (originals, outputs, speakers' photos);
- objects nobody owns: under a webinar, file or speaker that has no row, or not named by
  its row (an old all-slides ZIP, a photo replaced), or anything else in the bucket;
- originals that changed: their size differs from the catalog's, or (with `checksums`,
  which reads every original once) their SHA-256 does;
- jobs still `running` past their lease (their worker died);
- unfinished multipart uploads that no live upload holds (archive/uploads.stale_multipart);
- manifests missing or out of date (archive/webinars.manifest).

The bucket is listed before the catalog is read: an object the catalog names that is
not in the listing is looked at again (HEAD) before it is reported missing, and an
object without an owner is removed only once it is older than `grace` (an import or a
job may have uploaded it and not yet committed its row).

`repair` fixes what needs no judgement: orphans older than `grace` are deleted, stale
multipart uploads aborted, expired jobs queued again (or failed, on their last attempt),
manifests rewritten. Missing objects and changed originals are left for a person: the
report says so.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from sqlalchemy import select, update

from . import jobs, pipeline, queries, uploads, webinars
from .context import Archive
from .handlers.bundle import BUNDLES
from .models import Asset, Job, Speaker, Upload, Webinar, utcnow
from .states import AssetStatus, JobState, UploadState
from .storage import StorageError

log = logging.getLogger(__name__)

DEFAULT_GRACE = dt.timedelta(hours=24)


class Finding(StrEnum):
    MISSING_OBJECT = "missing_object"
    ORPHAN_OBJECT = "orphan_object"
    CHANGED_ORIGINAL = "changed_original"
    EXPIRED_LEASE = "expired_lease"
    STALE_UPLOAD = "stale_upload"  # an unfinished multipart upload nobody will finish
    STALE_MANIFEST = "stale_manifest"  # missing, unreadable or out of date


# What `repair` leaves for a person: the bucket lost something, or it changed.
FOR_A_PERSON = frozenset({Finding.MISSING_OBJECT, Finding.CHANGED_ORIGINAL})


@dataclass
class Problem:
    finding: Finding
    subject: str  # an object key, a job id, a webinar id
    detail: str
    repaired: bool = False
    left: str | None = None  # why repair left it (for a person, or too recent)

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Finding) else v) for k, v in asdict(self).items()}


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    webinars: int = 0
    objects: int = 0
    originals_hashed: int = 0
    repaired: bool = False  # whether repair ran
    # Objects nobody owns yet that are younger than the grace period: not judged (an
    # import or a job may be about to record them).
    recent: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem left: none found, or every one repaired."""
        return all(p.repaired for p in self.problems)

    def of(self, finding: Finding) -> list[Problem]:
        return [p for p in self.problems if p.finding == finding]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "webinars": self.webinars, "objects": self.objects,
                "originals_hashed": self.originals_hashed, "repaired": self.repaired, "recent": self.recent,
                "problems": [p.as_dict() for p in self.problems]}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _keys_in(value) -> set[str]:
    """Every object key named anywhere in an asset's outputs."""
    if isinstance(value, str):
        return {value} if value.startswith(("webinars/", "speakers/")) else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_keys_in(v) for v in value)) if value else set()
    return set()


_WEBINAR_KEY = re.compile(r"^webinars/([^/]+)/(?:(originals|media|slides|captions)/([^/]+)/)?")
_LIVE_UPLOADS = (UploadState.UPLOADING, UploadState.COMPLETING, UploadState.CHECKING)


@dataclass
class _Catalog:
    """What the catalog says the bucket holds, read in one session."""

    webinars: dict[str, Webinar]
    assets: dict[str, Asset]
    named: dict[str, str]  # key -> what names it ("asset X web", ...)
    uploads: set[str]  # ids of uploads still on their way (their originals are theirs)
    speakers: dict[str, str | None]  # id -> photo key

    def owner(self, key: str) -> str | None:
        """Who holds `key`, or None: an orphan."""
        if key in self.named:
            return self.named[key]
        m = _WEBINAR_KEY.match(key)
        if m:
            wid, folder, aid = m.groups()
            if wid not in self.webinars:
                return None
            if key == f"webinars/{wid}/manifest.json":
                return f"webinar {wid}"
            if folder is None or key.startswith(f"webinars/{wid}/{BUNDLES}"):
                return None  # an all-slides ZIP no deck names any more, or a stray key
            if aid in self.assets and self.assets[aid].webinar_id == wid:
                return f"asset {aid}"
            if folder == "originals" and aid in self.uploads:
                return f"upload {aid}"
            return None
        return None  # a speaker's photo no row names (replaced, or sent and never finished), or a stray key


def _read_catalog(archive: Archive) -> _Catalog:
    with archive.catalog.session() as s:
        ws = {w.id: w for w in (queries.get(s, wid) for wid in s.scalars(select(Webinar.id))) if w is not None}
        assets = {a.id: a for w in ws.values() for a in w.assets}
        live = set(s.scalars(select(Upload.id).where(Upload.state.in_(_LIVE_UPLOADS))))
        speakers = dict(s.execute(select(Speaker.id, Speaker.photo_key)).all())
    named: dict[str, str] = {}
    for a in assets.values():
        named[a.original_key] = f"asset {a.id} original"
        for key in _keys_in(a.outputs or {}):
            named.setdefault(key, f"asset {a.id} output")
    for sid, photo in speakers.items():
        if photo:
            named[photo] = f"speaker {sid} photo"
    return _Catalog(ws, assets, named, live, speakers)


def check(archive: Archive, *, checksums: bool = False, repair: bool = False,
          grace: dt.timedelta = DEFAULT_GRACE) -> Report:
    """Compare the catalog and the bucket; with `repair`, fix what is safe (see the module)."""
    report = Report(repaired=repair)
    store = archive.store
    now = dt.datetime.now(dt.timezone.utc)
    listed = store.list_objects("")  # first: see the module
    cat = _read_catalog(archive)
    report.webinars, report.objects = len(cat.webinars), len(listed)

    # Objects the catalog names that the bucket lacks.
    for key, who in sorted(cat.named.items()):
        if key in listed:
            continue
        asset = cat.assets.get(who.split()[1]) if who.startswith("asset ") else None
        if asset is not None and asset.status == AssetStatus.REMOVING:
            continue  # on its way out
        if store.head(key) is None:
            report.problems.append(Problem(Finding.MISSING_OBJECT, key, f"{who} is not in the bucket",
                                           left="restore it from a backup, or remove or replace the file"))

    # Objects nobody owns.
    for key, (size, modified) in sorted(listed.items()):
        if cat.owner(key) is None:
            age = now - _aware(modified)
            if age < grace:
                report.recent.append(key)
            else:
                report.problems.append(Problem(Finding.ORPHAN_OBJECT, key, f"{size} bytes, nothing in the "
                                                                           f"catalog holds it ({_age(age)} old)"))

    # Originals that changed.
    for a in sorted(cat.assets.values(), key=lambda a: a.id):
        if a.status == AssetStatus.REMOVING or a.original_key not in listed:
            continue
        size = listed[a.original_key][0]
        if size != a.size:
            report.problems.append(Problem(Finding.CHANGED_ORIGINAL, a.original_key,
                                           f"{size} bytes in the bucket, {a.size} in the catalog",
                                           left="restore the original from a backup"))
        elif checksums and a.verified:  # unverified: its check reads it now
            digest = store.sha256_of(a.original_key)
            report.originals_hashed += 1
            if digest != a.sha256:
                report.problems.append(Problem(Finding.CHANGED_ORIGINAL, a.original_key,
                                               f"SHA-256 {digest[:12]}…, the catalog recorded {a.sha256[:12]}…",
                                               left="restore the original from a backup"))

    # Jobs past their lease.
    with archive.catalog.session() as s:
        expired = s.execute(select(Job.id, Job.kind, Job.lease_owner, Job.lease_expires_at, Job.attempts,
                                   Job.max_attempts).where(Job.state == JobState.RUNNING,
                                                           Job.lease_expires_at < utcnow())).all()
    for job_id, kind, owner, expires, attempts, most in expired:
        report.problems.append(Problem(Finding.EXPIRED_LEASE, str(job_id),
                                       f"{kind}, attempt {attempts} of {most}, held by {owner} until "
                                       f"{expires:%Y-%m-%d %H:%M:%S} UTC"))

    # Unfinished multipart uploads nobody will finish.
    stale_uploads = uploads.stale_multipart(archive, orphan_grace=grace)
    for u, record in stale_uploads:
        why = "no upload record" if record is None else f"its upload is {record.state}"
        report.problems.append(Problem(Finding.STALE_UPLOAD, u["Key"],
                                       f"started {u['Initiated']:%Y-%m-%d %H:%M} UTC, {why}"))

    # Manifests.
    for wid, w in sorted(cat.webinars.items()):
        why = _manifest_differs(archive, w, w.manifest_key in listed)
        if why:
            report.problems.append(Problem(Finding.STALE_MANIFEST, w.manifest_key, why))

    if repair:
        _repair(archive, report, grace)
    return report


def _manifest_differs(archive: Archive, w: Webinar, listed: bool) -> str | None:
    if not listed:
        return "missing"
    try:
        stored = json.loads(archive.store.get_bytes(w.manifest_key))
    except (StorageError, ValueError) as e:
        return f"unreadable: {e}"
    if stored != json.loads(json.dumps(webinars.manifest(w))):
        return "out of date" if stored.get("format") == webinars.FORMAT else f"format {stored.get('format')}"
    return None


def _age(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _repair(archive: Archive, report: Report, grace: dt.timedelta) -> None:
    store = archive.store
    on_finished = functools.partial(pipeline.on_finished, store=store)
    # Read again before deleting: a row committed since the first look makes an object its own.
    now_owned = _read_catalog(archive) if report.of(Finding.ORPHAN_OBJECT) else None
    for p in report.problems:
        if p.finding in FOR_A_PERSON:
            continue
        try:
            if p.finding == Finding.ORPHAN_OBJECT:
                if now_owned.owner(p.subject) is None:
                    store.delete_keys([p.subject])
                    p.repaired = True
                else:
                    p.detail += "; recorded meanwhile, kept"
                    p.repaired = True
            elif p.finding == Finding.STALE_UPLOAD:
                p.repaired = _abort_stale(archive, p.subject, grace)
            elif p.finding == Finding.EXPIRED_LEASE:
                jobs.requeue_expired(archive.catalog, int(p.subject), on_finished)
                p.repaired = True
            elif p.finding == Finding.STALE_MANIFEST:
                wid = p.subject.split("/")[1]
                with archive.catalog.session() as s:
                    w = queries.get(s, wid)
                if w is not None:
                    webinars.write_manifest(archive, w)
                p.repaired = True
        except StorageError as e:
            p.left = f"repair failed: {e}"


def _abort_stale(archive: Archive, key: str, grace: dt.timedelta) -> bool:
    for u, record in uploads.stale_multipart(archive, orphan_grace=grace):
        if u["Key"] == key:
            archive.store.abort_multipart(u["Key"], u["UploadId"])
            if record is not None:
                with archive.catalog.transaction() as s:
                    s.execute(update(Upload).where(Upload.id == record.id, Upload.state == UploadState.UPLOADING)
                              .values(state=UploadState.ABORTED, error="abandoned", updated_at=utcnow()))
    return True


def summary(report: Report) -> list[str]:
    """The report as lines for a terminal."""
    lines = [f"checked {report.webinars} webinar(s), {report.objects} object(s)"
             + (f", {report.originals_hashed} original(s) hashed" if report.originals_hashed else "")]
    for finding in Finding:
        found = report.of(finding)
        if not found:
            continue
        lines.append(f"{finding.value.replace('_', ' ')}: {len(found)}")
        for p in found:
            state = "repaired" if p.repaired else ("left: " + p.left if p.left else "")
            lines.append(f"  {p.subject}: {p.detail}" + (f" [{state}]" if state else ""))
    if report.recent:
        lines.append(f"{len(report.recent)} recent object(s) no row holds yet, not judged before they are "
                     "older than the grace period")
    if not report.problems:
        lines.append("no problems found")
    elif report.ok:
        lines.append("every problem repaired")
    else:
        left = [p for p in report.problems if not p.repaired]
        lines.append(f"{len(left)} problem(s) left" + ("" if report.repaired else " (--repair fixes the safe ones)"))
    return lines


__all__ = ["Finding", "Problem", "Report", "check", "summary", "FOR_A_PERSON", "DEFAULT_GRACE"]
