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
import time
from typing import Any, Callable, Collection

from sqlalchemy import and_, case, event, func, inspect, or_, select, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .catalog import Catalog
from .models import Job, utcnow
from .states import JobState
from .wording import N_

log = logging.getLogger(__name__)

RETRYABLE = (JobState.FAILED, JobState.DONE)
_TO_PUSH = "jobs_to_push"


class PermanentError(Exception):
    """Known-bad input: the job fails at once, without retries."""


class JobStateError(Exception):
    """The job's state does not allow what was asked (a retry of a running job)."""


class LeaseLost(Exception):
    """This worker no longer holds the job (it stalled past its lease and another worker
    took it over): it must publish nothing more."""


# Called inside the claiming / finishing transaction (archive/pipeline.py provides them):
# (session, job) and (session, job, new state, outcome or None, error or None, whether
# the error is permanent: known-bad input rather than attempts run out).
OnClaimed = Callable[[Session, Job], None]
OnFinished = Callable[[Session, Job, str, Any, "str | None", bool], None]
# (session, job, partial outcome): what a running job has already made public (see publish).
OnPublished = Callable[[Session, Job, Any], None]


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


def enqueue(session: Session, asset_id: str | None, kind: str, max_attempts: int = 3,
            upload_id: str | None = None, partner_asset_id: str | None = None) -> Job:
    """Add a job of an asset (or, given `upload_id` instead, of an upload) to the session;
    workers hear of it when the session commits. `partner_asset_id`: the second asset of
    a job that needs two."""
    job = Job(asset_id=asset_id, upload_id=upload_id, partner_asset_id=partner_asset_id, kind=kind,
              max_attempts=max_attempts, state=JobState.QUEUED)
    session.add(job)
    _push_after_commit(session, job)
    return job


def _claimable(now: dt.datetime):
    return and_(
        Job.run_after <= now,
        or_(Job.state == JobState.QUEUED, and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now)),
    )


def fail_exhausted(catalog: Catalog, on_finished: OnFinished | None = None) -> list[int]:
    """Jobs whose worker died on their last attempt: fail them with the reason (and
    their asset, through `on_finished`, in the same transaction)."""
    now = utcnow()
    stale = and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now, Job.attempts >= Job.max_attempts)
    failed = []
    with catalog.transaction() as s:
        for job_id, attempts, earlier in s.execute(select(Job.id, Job.attempts, Job.error).where(stale)).all():
            reason = (f"the worker stopped during attempt {attempts}, the last one "
                      "(killed, out of memory or over a time limit)")
            if earlier:
                reason += f"; the attempt before failed with: {earlier}"
            # Conditional: a worker that was only slow may have finished the job meanwhile.
            result = s.execute(update(Job).where(Job.id == job_id, stale)
                               .values(state=JobState.FAILED, finished_at=now, lease_owner=None, error=reason)
                               .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                failed.append(job_id)
                if on_finished is not None:
                    on_finished(s, s.get(Job, job_id, populate_existing=True), JobState.FAILED, None, reason, False)
    return failed


def requeue_expired(catalog: Catalog, job_id: int, on_finished: OnFinished | None = None) -> str | None:
    """A job still `running` past its lease (its worker died), queued again at once (the
    attempt it used counts), or failed with the reason when that was its last attempt.
    Returns its new state, or None when it was not expired (a worker holds it)."""
    now = utcnow()
    stale = and_(Job.id == job_id, Job.state == JobState.RUNNING, Job.lease_expires_at < now)
    with catalog.transaction() as s:
        moved = s.execute(update(Job).where(stale, Job.attempts < Job.max_attempts)
                          .values(state=JobState.QUEUED, lease_owner=None, lease_expires_at=None, run_after=now)
                          .execution_options(synchronize_session=False)).rowcount
        if moved:
            job = s.get(Job, job_id, populate_existing=True)
            _push_after_commit(s, job)
            if on_finished is not None:
                on_finished(s, job, JobState.QUEUED, None, None, False)
            return JobState.QUEUED
    return JobState.FAILED if job_id in fail_exhausted(catalog, on_finished) else None


def _of_kinds(kinds: Collection[str] | None):
    return Job.kind.in_(list(kinds)) if kinds is not None else true()


def claim(catalog: Catalog, owner: str, lease_seconds: int, on_claimed: OnClaimed | None = None,
          on_finished: OnFinished | None = None, kinds: Collection[str] | None = None,
          first: Collection[str] = (), job_id: int | None = None) -> Job | None:
    """Take the oldest claimable job, or None: only of `kinds` when given, jobs of the kinds
    in `first` before the others, only job `job_id` when given. Exactly one worker wins
    each row; `on_claimed` runs in the claiming transaction."""
    fail_exhausted(catalog, on_finished)
    now = utcnow()
    query = select(Job.id).where(_claimable(now), Job.attempts < Job.max_attempts, _of_kinds(kinds))
    if job_id is not None:
        query = query.where(Job.id == job_id)
    if first:
        query = query.order_by(case((Job.kind.in_(list(first)), 0), else_=1))
    with catalog.session() as s:
        candidates = s.scalars(query.order_by(Job.created_at, Job.id).limit(5)).all()
        for candidate in candidates:
            result = s.execute(
                update(Job)
                .where(Job.id == candidate, _claimable(now), Job.attempts < Job.max_attempts)
                .values(state=JobState.RUNNING, lease_owner=owner, attempts=Job.attempts + 1,
                        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
                        started_at=now, progress=0)
            )
            if result.rowcount != 1:
                s.rollback()
                continue
            job = s.get(Job, candidate, populate_existing=True)
            if on_claimed is not None:
                on_claimed(s, job)
            s.commit()
            return job
    return None


def heartbeat(catalog: Catalog, job_id: int, owner: str, lease_seconds: int,
              progress: int | None = None, attempt: int | None = None) -> bool:
    """Extend the lease; False when the job is no longer ours (nor, given `attempt`,
    the same attempt: a worker that reclaimed its own job after losing it)."""
    values: dict = {"lease_expires_at": utcnow() + dt.timedelta(seconds=lease_seconds)}
    if progress is not None:
        values["progress"] = progress
    with catalog.transaction() as s:
        where = [Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING,
                 Job.lease_expires_at >= utcnow()]
        if attempt is not None:
            where.append(Job.attempts == attempt)
        r = s.execute(update(Job).where(*where).values(**values))
        return r.rowcount == 1


DEADLOCK_TRIES = 3


def _again_after_deadlock(transaction: Callable[[], Any]) -> Any:
    """Run `transaction` again when PostgreSQL ended it to break a deadlock (SQLSTATE
    40P01: another transaction held a row this one needed, and the reverse); nothing of
    the aborted try was written, so trying again is safe. Other errors pass through."""
    for n in range(1, DEADLOCK_TRIES + 1):
        try:
            return transaction()
        except OperationalError as e:
            if getattr(e.orig, "sqlstate", None) != "40P01" or n == DEADLOCK_TRIES:
                raise
            log.warning("the catalog ended a deadlock; trying the transaction again (%s of %s)",
                        n + 1, DEADLOCK_TRIES)
            time.sleep(0.05 * n)


def finish(catalog: Catalog, job_id: int, owner: str, attempt: int, error: str | None = None,
           log_tail: str | None = None, permanent: bool = False, retry_delay: float = 5.0,
           outcome: Any = None, on_finished: OnFinished | None = None) -> str:
    """Record the outcome of attempt `attempt`; returns the job's new state. `on_finished`
    applies it to the asset in the same transaction. A worker that lost its lease (it
    stalled past it and another worker took the job) changes nothing. Two jobs of one
    asset finishing together may deadlock on PostgreSQL: the transaction is tried again."""
    return _again_after_deadlock(lambda: _finish(catalog, job_id, owner, attempt, error, log_tail,
                                                 permanent, retry_delay, outcome, on_finished))


def _finish(catalog: Catalog, job_id: int, owner: str, attempt: int, error: str | None,
            log_tail: str | None, permanent: bool, retry_delay: float,
            outcome: Any, on_finished: OnFinished | None) -> str:
    now = utcnow()
    mine = and_(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING, Job.attempts == attempt)
    with catalog.transaction() as s:
        # A write first: it checks the lease and takes the write lock (SQLite) or the row
        # lock (PostgreSQL), so everything read below is the latest committed state.
        held = s.execute(update(Job).where(mine).values(lease_expires_at=Job.lease_expires_at)
                         .execution_options(synchronize_session=False))
        if held.rowcount != 1:
            return s.scalar(select(Job.state).where(Job.id == job_id)) or "gone"
        job = s.get(Job, job_id, populate_existing=True)
        values: dict = {"log_tail": log_tail, "lease_owner": None, "lease_expires_at": None}
        if error is None:
            values.update(state=JobState.DONE, progress=100, error=None, finished_at=now)
        elif permanent or job.attempts >= job.max_attempts:
            values.update(state=JobState.FAILED, error=error, finished_at=now)
        else:
            values.update(state=JobState.QUEUED, error=error,
                          run_after=now + dt.timedelta(seconds=retry_delay * job.attempts))
        for key, value in values.items():
            setattr(job, key, value)
        if values["state"] == JobState.QUEUED:
            _push_after_commit(s, job)
        if on_finished is not None:
            on_finished(s, job, values["state"], outcome, error, permanent and error is not None)
        return values["state"]


def publish(catalog: Catalog, job_id: int, owner: str, attempt: int, outcome: Any,
            on_published: OnPublished) -> bool:
    """Record what a running job has already published (a recording watchable before its
    encode ends): `on_published` applies `outcome` to the asset in a transaction that first
    checks the lease, as `finish` does. False when the job is no longer this attempt's."""
    return _again_after_deadlock(lambda: _publish(catalog, job_id, owner, attempt, outcome, on_published))


def _publish(catalog: Catalog, job_id: int, owner: str, attempt: int, outcome: Any,
             on_published: OnPublished) -> bool:
    mine = and_(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING, Job.attempts == attempt)
    with catalog.transaction() as s:
        held = s.execute(update(Job).where(mine).values(lease_expires_at=Job.lease_expires_at)
                         .execution_options(synchronize_session=False))
        if held.rowcount != 1:
            return False
        on_published(s, s.get(Job, job_id, populate_existing=True), outcome)
        return True


def retry(catalog: Catalog, job_id: int, on_retried: OnClaimed | None = None) -> Job:
    """Put a failed (or done) job back in the queue with a fresh set of attempts.
    `on_retried` (its asset, if this job had failed it) runs in the same transaction."""
    with catalog.transaction() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        if job.state not in RETRYABLE:
            raise JobStateError(N_("job %(id)s is %(state)s; only a failed or done job can be retried", id=job_id,
                                    state=job.state))
        result = s.execute(
            update(Job).where(Job.id == job_id, Job.state == job.state)
            .values(state=JobState.QUEUED, attempts=0, error=None, log_tail=None, progress=0,
                    run_after=utcnow(), started_at=None, finished_at=None)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise JobStateError(N_("job %(id)s changed while it was being retried; try again", id=job_id))
        s.refresh(job)
        if on_retried is not None:
            on_retried(s, job)
        _push_after_commit(s, job)
    return job


def next_due(catalog: Catalog, leases: bool = True, kinds: Collection[str] | None = None) -> float | None:
    """Seconds until a waiting job (of `kinds`, when given) can be claimed (a delayed retry;
    with `leases`, a running job whose lease runs out), or None when no job is waiting."""
    now = utcnow()
    with catalog.session() as s:
        times = [s.scalar(select(func.min(Job.run_after)).where(
            Job.state == JobState.QUEUED, Job.attempts < Job.max_attempts, _of_kinds(kinds)))]
        if leases:
            times.append(s.scalar(select(func.min(Job.lease_expires_at)).where(
                Job.state == JobState.RUNNING, _of_kinds(kinds))))
    times = [t for t in times if t is not None]
    return max(0.0, (min(times) - now).total_seconds()) if times else None


def held(catalog: Catalog, job_ids) -> dict[int, int]:
    """Which of these jobs a worker holds now (running, lease not run out): id -> attempt."""
    with catalog.session() as s:
        return dict(s.execute(select(Job.id, Job.attempts).where(
            Job.id.in_(list(job_ids)), Job.state == JobState.RUNNING, Job.lease_expires_at >= utcnow())).all())


class LeaseKeeper:
    """Renews a lease in the background (a third of its length apart) while work runs
    under it: a `with` block. Subclasses say how (`renew`: False once it is no longer
    ours); `lost` tells that another worker took it over, and renewing stops."""

    what = "lease"  # for the log: whose lease this is

    def __init__(self, lease_seconds: float, name: str):
        self.lease_seconds = lease_seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def renew(self) -> bool:
        raise NotImplementedError

    def _run(self) -> None:
        while not self.lost and not self._stop.wait(max(1.0, self.lease_seconds / 3)):
            try:
                ours = self.renew()
            except Exception as e:  # the next beat retries; the lease outlasts two misses
                log.warning("renewing the %s failed: %s", self.what, e)
                continue
            if not ours and not self.lost:
                log.warning("%s lost; another worker may have it", self.what)
                self.lost = True

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Heartbeat(LeaseKeeper):
    """Renews a job's lease in the background while the work runs."""

    def __init__(self, catalog: Catalog, job_id: int, owner: str, lease_seconds: int, attempt: int | None = None,
                 on_published: OnPublished | None = None):
        super().__init__(lease_seconds, f"heartbeat-{job_id}")
        self._args = (catalog, job_id, owner, lease_seconds)
        self.what = f"lease of job {job_id}"
        self.attempt = attempt
        self._progress: int | None = None
        self._on_published = on_published

    def renew(self) -> bool:
        return heartbeat(*self._args, progress=self._progress, attempt=self.attempt)

    def check(self) -> None:
        """Raise LeaseLost unless this worker still holds the job: called before
        publishing, so a worker that was taken over writes nothing more."""
        if self.lost or not self.renew():
            self.lost = True
            raise LeaseLost(f"job {self._args[1]}: the lease was lost; another worker runs it now")

    def progress(self, fraction: float) -> None:
        self._progress = max(0, min(100, int(fraction * 100)))

    def publish(self, outcome: Any) -> None:
        """Make part of the job's outcome public now (the pipeline's on_published applies
        it), before the job ends; raise LeaseLost when the job is no longer ours."""
        if self._on_published is None or self.attempt is None:
            return  # run outside a worker (a test's handler call): the job's end records it all
        catalog, job_id, owner, _ = self._args
        if self.lost or not publish(catalog, job_id, owner, self.attempt, outcome, self._on_published):
            self.lost = True
            raise LeaseLost(f"job {job_id}: the lease was lost; another worker runs it now")

