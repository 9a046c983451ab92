"""What is left behind, swept; the worker (when idle) and `webinar-archive sweep` both call these.

- `scratch`: the scratch folders of job attempts no worker holds (`job-<id>-<attempt>`: a
  killed worker's, or one taken over by another worker), and the `upload-<id>-<n>` folders
  the check of an upload used before it was a job.
- `periodic`: unfinished multipart uploads (MinIO has no lifecycle rule for them),
  speakers' photos sent but never finished, files a processed replacement took over
  before a crash.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import jobs, photos, removal, uploads
from .context import Archive

log = logging.getLogger(__name__)

# A job's scratch folder: job-<id>-<attempt>, so that a worker that lost its lease and a
# worker that took the job over never share (or empty) one another's.
_JOB_DIR = re.compile(r"^job-(\d+)-(\d+)$")
_OLD_CHECK_DIR = re.compile(r"^upload-[0-9a-z]+-\d+$")


def job_dir(work_dir: Path, job_id: int, attempt: int) -> Path:
    return work_dir / f"job-{job_id}-{attempt}"


def remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:  # the next sweep tries again
        log.warning("could not remove %s: %s", path, e)


def scratch(archive: Archive) -> list[str]:
    """Remove the scratch folders of attempts that no worker holds. Returns their names."""
    work = archive.settings.work_dir
    try:
        entries = list(work.iterdir())
    except FileNotFoundError:
        return []
    found = {(int(m.group(1)), int(m.group(2))): p for p in entries if (m := _JOB_DIR.match(p.name))}
    gone = [p for p in entries if _OLD_CHECK_DIR.match(p.name)]
    if found:
        held = jobs.held(archive.catalog, {job_id for job_id, _ in found})
        gone += [path for (job_id, attempt), path in found.items() if held.get(job_id) != attempt]
    for path in gone:
        remove(path)
    return sorted(p.name for p in gone)


@dataclass
class Swept:
    uploads: list[str] = field(default_factory=list)  # keys of the multipart uploads aborted
    replaced: list[str] = field(default_factory=list)  # ids of replaced files removed
    photos: list[str] = field(default_factory=list)  # keys of unfinished speaker photos deleted


def periodic(archive: Archive, upload_age: dt.timedelta | None = None) -> Swept:
    """The sweeps that look at the bucket, in turn. `upload_age`: abort unfinished uploads
    older than this too (default Settings.upload_abandon_hours)."""
    return Swept(uploads=uploads.sweep(archive, upload_age),
                 replaced=removal.purge_replaced(archive),
                 photos=photos.sweep_incoming(archive))


__all__ = ["Swept", "periodic", "scratch", "job_dir", "remove"]
