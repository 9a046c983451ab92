"""The job queue: the jobs table itself, claimed with leases.

A worker claims a row with one conditional UPDATE (safe on SQLite and PostgreSQL,
and across machines), renews its lease with a heartbeat while it works, and ends
the row in `done` or `failed`. A row whose lease ran out (its worker died) is
claimed again; after `max_attempts` it is failed with the reason.

The table is the only truth. The catalog's `queue` (archive/queue.py: embedded, or
Redis for several machines) is told about each job once its transaction commits, so
that idle workers wake at once instead of waiting for their next look at the table.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Callable

from sqlalchemy import and_, event, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from .catalog import Catalog
from .models import Job, utcnow

log = logging.getLogger(__name__)

RETRYABLE = ("failed", "done")
_TO_PUSH = "jobs_to_push"


class PermanentError(Exception):
    """Known-bad input: the job fails at once, without retries."""


class JobStateError(Exception):
    """The job's state does not allow what was asked (a retry of a running job)."""


def _push_after_commit(session: Session, job: Job) -> None:
    """Tell the catalog's queue about `job` when (and only if) the session commits:
    a worker woken before the commit would not see the row."""
    if session.info.get("job_queue") is None:
        return
    session.info.setdefault(_TO_PUSH, []).append(job)
    if not event.contains(session, "after_commit", _on_commit):
        event.listen(session, "after_commit", _on_commit)
        event.listen(session, "after_rollback", _on_rollback)


def _on_commit(session: Session) -> None:
    # No SQL may run here: read the ids from the identity map, not the rows.
    identities = (inspect(job).identity for job in session.info.pop(_TO_PUSH, []))
    ids = [identity[0] for identity in identities if identity]
    if ids:
        session.info["job_queue"].push(ids)


def _on_rollback(session: Session) -> None:
    session.info.pop(_TO_PUSH, None)


def enqueue(session: Session, asset_id: str, kind: str, max_attempts: int = 3) -> Job:
    """Add a job to the session; workers hear of it when the session commits."""
    job = Job(asset_id=asset_id, kind=kind, max_attempts=max_attempts, state="queued")
    session.add(job)
    _push_after_commit(session, job)
    return job


def _claimable(now: dt.datetime):
    return and_(
        Job.run_after <= now,
        or_(Job.state == "queued", and_(Job.state == "running", Job.lease_expires_at < now)),
    )


def fail_exhausted(catalog: Catalog) -> list[int]:
    """Jobs whose worker died on their last attempt: fail them with the reason."""
    now = utcnow()
    stale = and_(Job.state == "running", Job.lease_expires_at < now, Job.attempts >= Job.max_attempts)
    failed = []
    with catalog.transaction() as s:
        for job_id, attempts, earlier in s.execute(select(Job.id, Job.attempts, Job.error).where(stale)).all():
            reason = (f"the worker stopped during attempt {attempts}, the last one "
                      "(killed, out of memory or over a time limit)")
            if earlier:
                reason += f"; the attempt before failed with: {earlier}"
            # Conditional: a worker that was only slow may have finished the job meanwhile.
            result = s.execute(update(Job).where(Job.id == job_id, stale)
                               .values(state="failed", finished_at=now, lease_owner=None, error=reason)
                               .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                failed.append(job_id)
    return failed


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
    """Record the outcome; returns the job's new state. A worker that lost its lease
    (it stalled past it and another worker took the job) changes nothing."""
    now = utcnow()
    with catalog.transaction() as s:
        job = s.get(Job, job_id)
        if job is None:
            return "gone"
        if job.lease_owner != owner or job.state != "running":
            return job.state
        values: dict = {"log_tail": log_tail, "lease_owner": None, "lease_expires_at": None}
        if error is None:
            values.update(state="done", progress=100, error=None, finished_at=now)
        elif permanent or job.attempts >= job.max_attempts:
            values.update(state="failed", error=error, finished_at=now)
        else:
            values.update(state="queued", error=error,
                          run_after=now + dt.timedelta(seconds=retry_delay * job.attempts))
        result = s.execute(
            update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.state == "running",
                              Job.attempts == job.attempts)
            .values(**values).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return s.scalar(select(Job.state).where(Job.id == job_id)) or "gone"
        return values["state"]


def retry(catalog: Catalog, job_id: int) -> Job:
    """Put a failed (or done) job back in the queue with a fresh set of attempts.
    Its asset, if this job had failed it, is queued again in the same transaction."""
    with catalog.transaction() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        if job.state not in RETRYABLE:
            raise JobStateError(f"job {job_id} is {job.state}; only a failed or done job can be retried")
        result = s.execute(
            update(Job).where(Job.id == job_id, Job.state == job.state)
            .values(state="queued", attempts=0, error=None, log_tail=None, progress=0,
                    run_after=utcnow(), started_at=None, finished_at=None)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise JobStateError(f"job {job_id} changed while it was being retried; try again")
        s.refresh(job)
        if job.asset.status == "failed":
            job.asset.status, job.asset.error = "queued", None
        _push_after_commit(s, job)
    return job


def next_due(catalog: Catalog, leases: bool = True) -> float | None:
    """Seconds until a waiting job can be claimed (a delayed retry; with `leases`, a
    running job whose lease runs out), or None when no job is waiting."""
    now = utcnow()
    with catalog.session() as s:
        times = [s.scalar(select(func.min(Job.run_after)).where(
            Job.state == "queued", Job.attempts < Job.max_attempts))]
        if leases:
            times.append(s.scalar(select(func.min(Job.lease_expires_at)).where(Job.state == "running")))
    times = [t for t in times if t is not None]
    return max(0.0, (min(times) - now).total_seconds()) if times else None


def held(catalog: Catalog, job_ids) -> set[int]:
    """Which of these jobs a worker holds now (running, lease not run out)."""
    with catalog.session() as s:
        return set(s.scalars(select(Job.id).where(
            Job.id.in_(list(job_ids)), Job.state == "running", Job.lease_expires_at >= utcnow())))


class Heartbeat:
    """Renews a job's lease in the background while the work runs."""

    def __init__(self, catalog: Catalog, job_id: int, owner: str, lease_seconds: int):
        self._args = (catalog, job_id, owner, lease_seconds)
        self._stop = threading.Event()
        self._progress: int | None = None
        self.lost = False  # a heartbeat found the job taken over by another worker
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{job_id}")

    def progress(self, fraction: float) -> None:
        self._progress = max(0, min(100, int(fraction * 100)))

    def _run(self) -> None:
        interval = max(1.0, self._args[3] / 3)
        while not self._stop.wait(interval):
            try:
                ours = heartbeat(*self._args, progress=self._progress)
            except Exception as e:  # the next beat retries; the lease outlasts two misses
                log.warning("heartbeat for job %s failed: %s", self._args[1], e)
                continue
            if not ours and not self.lost:
                log.warning("job %s: lease lost; another worker may be running it", self._args[1])
                self.lost = True

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


Handler = Callable[[Job, Heartbeat], None]
