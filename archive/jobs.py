"""The job queue: the jobs table itself, claimed with leases.

A worker claims a row with one conditional UPDATE (safe on SQLite and PostgreSQL,
and across machines), renews its lease with a heartbeat while it works, and ends
the row in `done` or `failed`. A row whose lease ran out (its worker died) is
claimed again; after `max_attempts` it is failed with the reason.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Callable

from sqlalchemy import and_, or_, select, update

from .catalog import Catalog
from .models import Job, utcnow

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """Known-bad input: the job fails at once, without retries."""


def enqueue(session, asset_id: str, kind: str, max_attempts: int = 3) -> Job:
    job = Job(asset_id=asset_id, kind=kind, max_attempts=max_attempts, state="queued")
    session.add(job)
    return job


def _claimable(now: dt.datetime):
    return and_(
        Job.run_after <= now,
        or_(Job.state == "queued", and_(Job.state == "running", Job.lease_expires_at < now)),
    )


def fail_exhausted(catalog: Catalog) -> list[int]:
    """Jobs whose worker died on their last attempt: fail them with the reason."""
    now = utcnow()
    with catalog.transaction() as s:
        rows = s.scalars(select(Job).where(Job.state == "running", Job.lease_expires_at < now,
                                           Job.attempts >= Job.max_attempts)).all()
        for job in rows:
            job.state = "failed"
            job.finished_at = now
            job.lease_owner = None
            job.error = job.error or (f"the worker stopped during each of {job.attempts} attempts "
                                      "(killed, out of memory or timed out)")
        return [j.id for j in rows]


def claim(catalog: Catalog, owner: str, lease_seconds: int) -> Job | None:
    """Take the oldest claimable job, or None. Exactly one worker wins each row."""
    fail_exhausted(catalog)
    now = utcnow()
    with catalog.session() as s:
        candidates = s.scalars(
            select(Job.id).where(_claimable(now), Job.attempts < Job.max_attempts)
            .order_by(Job.created_at, Job.id).limit(5)
        ).all()
        for job_id in candidates:
            result = s.execute(
                update(Job)
                .where(Job.id == job_id, _claimable(now), Job.attempts < Job.max_attempts)
                .values(state="running", lease_owner=owner, attempts=Job.attempts + 1,
                        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
                        started_at=now, progress=0)
            )
            s.commit()
            if result.rowcount == 1:
                return s.get(Job, job_id)
    return None


def heartbeat(catalog: Catalog, job_id: int, owner: str, lease_seconds: int,
              progress: int | None = None) -> bool:
    """Extend the lease; False when the job is no longer ours."""
    values: dict = {"lease_expires_at": utcnow() + dt.timedelta(seconds=lease_seconds)}
    if progress is not None:
        values["progress"] = progress
    with catalog.transaction() as s:
        r = s.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner,
                                        Job.state == "running").values(**values))
        return r.rowcount == 1


def finish(catalog: Catalog, job_id: int, owner: str, error: str | None = None,
           log_tail: str | None = None, permanent: bool = False,
           retry_delay: float = 5.0) -> str:
    """Record the outcome; returns the job's new state."""
    now = utcnow()
    with catalog.transaction() as s:
        job = s.get(Job, job_id)
        if job is None or job.lease_owner != owner:
            return job.state if job else "gone"
        job.log_tail = log_tail
        job.lease_owner = None
        job.lease_expires_at = None
        if error is None:
            job.state, job.progress, job.error, job.finished_at = "done", 100, None, now
        elif permanent or job.attempts >= job.max_attempts:
            job.state, job.error, job.finished_at = "failed", error, now
        else:
            job.state, job.error = "queued", error
            job.run_after = now + dt.timedelta(seconds=retry_delay * job.attempts)
        return job.state


def retry(catalog: Catalog, job_id: int) -> None:
    """Put a failed job back in the queue with a fresh set of attempts."""
    with catalog.transaction() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        job.state, job.attempts, job.error, job.run_after = "queued", 0, None, utcnow()
        job.finished_at = None


class Heartbeat:
    """Renews a job's lease in the background while the work runs."""

    def __init__(self, catalog: Catalog, job_id: int, owner: str, lease_seconds: int):
        self._args = (catalog, job_id, owner, lease_seconds)
        self._stop = threading.Event()
        self._progress: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{job_id}")

    def progress(self, fraction: float) -> None:
        self._progress = max(0, min(100, int(fraction * 100)))

    def _run(self) -> None:
        interval = max(1.0, self._args[3] / 3)
        while not self._stop.wait(interval):
            try:
                heartbeat(*self._args, progress=self._progress)
            except Exception as e:  # the next beat retries; the lease outlasts two misses
                log.warning("heartbeat for job %s failed: %s", self._args[1], e)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


Handler = Callable[[Job, Heartbeat], None]
