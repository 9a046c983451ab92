"""The worker: claims jobs from the catalog and runs them until told to stop.

Every kind of work, the check of a browser upload included, is a job of the graph
(archive/pipeline.py), claimed, leased and finished the one way (archive/jobs.py).
`run_forever` runs two lanes: one takes any kind (quick ones first), the other only
quick kinds, so a long renditions job never holds up a deck or an upload's check.
The check of an upload hands its local, already hashed copy of the file to the
asset's first job, which the same lane runs straight after (when no other worker
claimed it first): the file is read from S3 once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Collection

from sqlalchemy import select

from . import jobs, media, pipeline, queries, removal, runner, sweep, webinars
from .context import Archive
from .handlers.common import Outcome, handed_path
from .models import Asset, Job, Upload
from .states import JobState
from .storage import StorageError

log = logging.getLogger(__name__)

PERIODIC_SWEEP_SECONDS = 600


def lower_priority(niceness: int) -> int:
    """Lower this process's CPU priority by `niceness` (Settings.worker_nice), for good:
    the children it starts inherit it (each tool's own session too: runner.session_nice),
    and so does this process's session where the worker leads it (started on its own, as
    by a service manager without cgroups). Returns the niceness now in force."""
    now = os.nice(max(0, niceness))
    runner.session_nice(now)
    return now


class Worker:
    def __init__(self, archive: Archive, name: str | None = None,
                 graph: dict[str, pipeline.JobKind] | None = None):
        self.archive = archive
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.graph = graph if graph is not None else pipeline.GRAPH
        self.quick = pipeline.quick_kinds(self.graph)
        # The lanes run_forever runs: any kind, and quick kinds only.
        self.lanes: dict[str, frozenset[str] | None] = {"any": None, "quick": self.quick}
        self.stopping = threading.Event()
        self._on_finished = functools.partial(pipeline.on_finished, store=archive.store,
                                              settings=archive.settings)
        # Held while a check's file is handed on (its folder belongs to no running job for
        # a moment) and while scratch is swept, so that another lane never sweeps it away.
        self._handing = threading.Lock()
        self._pokes: dict[str, threading.Event] = {}
        self._next_sweep = 0.0  # monotonic time of the next periodic sweep

    def _claim(self, kinds: Collection[str] | None, job_id: int | None = None) -> Job | None:
        return jobs.claim(self.archive.catalog, self.owner, self.archive.settings.job_lease_seconds,
                          on_claimed=pipeline.on_claimed, on_finished=self._on_finished,
                          kinds=kinds, first=self.quick, job_id=job_id)

    def run_once(self, kinds: Collection[str] | None = None) -> bool:
        """Claim one job (of `kinds`, when given; quick kinds first) and run it, and the
        job it hands its file on to; False when none was waiting."""
        job = self._claim(kinds)
        if job is None:
            with self._handing:
                sweep.scratch(self.archive)
            return False
        prepared = False
        while job is not None:
            job, prepared = self._run(job, kinds, prepared)
        return True

    def _subject(self, job: Job) -> Asset | Upload | None:
        with self.archive.catalog.session() as session:
            if job.upload_id is not None:
                return session.get(Upload, job.upload_id)
            return session.get(Asset, job.asset_id)

    def _run(self, job: Job, kinds: Collection[str] | None, prepared: bool) -> tuple[Job | None, bool]:
        """Run a claimed job and finish it. `prepared`: its scratch folder was made by the
        hand-off (the file is in it). Returns the job it handed its file on to, if any."""
        s = self.archive.settings
        attempt = job.attempts
        log.info("job %s (%s, %s %s): attempt %s", job.id, job.kind, "upload" if job.upload_id else "asset",
                 job.upload_id or job.asset_id, attempt)
        error, tail, permanent, lost = None, None, False, False
        outcome: Outcome | None = None
        job_dir = sweep.job_dir(s.work_dir, job.id, attempt)
        try:
            with jobs.Heartbeat(self.archive.catalog, job.id, self.owner, s.job_lease_seconds, attempt,
                                on_published=pipeline.on_published) as hb:
                subject = self._subject(job)
                kind = self.graph.get(job.kind)
                try:
                    if kind is None:
                        raise jobs.PermanentError(f"unknown job kind {job.kind!r}")
                    if subject is None:
                        raise jobs.PermanentError("the file was deleted")
                    if not prepared:
                        sweep.remove(job_dir)
                        job_dir.mkdir(parents=True)
                    scoped = dataclasses.replace(self.archive, settings=s.with_(work_dir=job_dir))
                    outcome = kind.handler(scoped, subject, hb)
                except jobs.LeaseLost as e:
                    log.warning("%s; publishing nothing", e)
                    lost = True
                except media.MediaError as e:
                    error, permanent, tail = str(e), e.permanent, e.log
                except Exception as e:
                    if kind is not None and isinstance(e, kind.permanent):
                        error, permanent = str(e), True
                        tail = getattr(e, "log", None)
                    else:  # anything else may be passing (network, disk): retried
                        log.exception("job %s failed", job.id)
                        error = f"{type(e).__name__}: {e}"
            asset = subject if isinstance(subject, Asset) else None
            if lost:  # the job was taken over, or its file deleted: then what it made goes too
                if asset is not None:
                    removal.discard_if_deleted(self.archive, asset)
                return None, False
            original = outcome.original if outcome is not None and error is None else None
            follow = None
            with self._handing if original is not None else contextlib.nullcontext():
                state = jobs.finish(self.archive.catalog, job.id, self.owner, attempt, error, tail, permanent,
                                    retry_delay=s.job_retry_delay_seconds, outcome=outcome,
                                    on_finished=self._on_finished)
                if state == JobState.DONE and original is not None and job.upload_id is not None:
                    follow = self._hand_on(job.upload_id, original.path, kinds)
            log.info("job %s: %s%s", job.id, state, f" ({error})" if error else "")
            if state == "gone" and asset is not None:  # its file was deleted while it ran
                removal.discard_if_deleted(self.archive, asset, outcome.outputs if outcome is not None else None)
            if state in (JobState.DONE, JobState.FAILED):
                if state == JobState.DONE and asset is not None:  # a replacement took over: the old file goes
                    removal.purge_replaced(self.archive, asset.webinar_id)
                if state == JobState.FAILED and asset is not None:  # no partial outputs stay behind
                    try:
                        removal.discard_unnamed(self.archive, asset.id)
                    except StorageError as e:  # `check --repair` finds them later
                        log.warning("partial outputs of asset %s not deleted: %s", asset.id, e)
                # A check's upload id is its asset's id.
                self._write_manifest(job.asset_id or job.upload_id)
            return follow, follow is not None
        finally:
            sweep.remove(job_dir)

    def _hand_on(self, asset_id: str, original: Path, kinds: Collection[str] | None) -> Job | None:
        """Claim the first job of the asset a check just added, by id with the usual
        conditional claim, and put the checked file in its scratch folder. None when
        another worker got it first (it downloads the file) or this lane does not run it."""
        with self.archive.catalog.session() as s:
            first = s.scalar(select(Job.id).where(Job.asset_id == asset_id, Job.state == JobState.QUEUED)
                             .order_by(Job.id).limit(1))
        job = self._claim(kinds, job_id=first) if first is not None else None
        if job is None:
            return None
        target = sweep.job_dir(self.archive.settings.work_dir, job.id, job.attempts)
        sweep.remove(target)
        target.mkdir(parents=True)
        try:
            original.replace(handed_path(target, asset_id))
        except OSError as e:  # the job downloads the file instead
            log.warning("handing %s on to job %s failed: %s", original, job.id, e)
        return job

    def _write_manifest(self, asset_id: str | None) -> None:
        """The bucket's copy of the webinar's description; rewritten after each job, so
        it is at most one job behind the catalog if the worker dies in between."""
        with self.archive.catalog.session() as s:
            asset = s.get(Asset, asset_id) if asset_id is not None else None
            webinar = queries.get(s, asset.webinar_id) if asset is not None else None
        if webinar is not None:
            webinars.write_manifest(self.archive, webinar)

    def run_until_idle(self, timeout: float = 600) -> None:
        """Run jobs until none is left, waiting for delayed retries (tests, `worker
        --until-idle`). Jobs that other workers hold are theirs: not waited for."""
        deadline = time.monotonic() + timeout
        while not self.stopping.is_set():
            if not self.run_once():
                due = jobs.next_due(self.archive.catalog, leases=False)
                if due is None:
                    return
                self.stopping.wait(min(due + 0.05, self.archive.settings.worker_poll_seconds))
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still queued after the time limit")

    def run_forever(self) -> None:
        """Run every lane until `stopping` is set: the first in this thread, the others in
        threads of their own."""
        log.info("worker %s started (%s; lanes %s)", self.owner, type(self.archive.catalog.queue).__name__,
                 ", ".join(self.lanes))
        self._pokes = {name: threading.Event() for name in self.lanes}
        (first, first_kinds), *others = self.lanes.items()
        threads = [threading.Thread(target=self._lane, args=(name, kinds), daemon=True,
                                    name=f"worker-{name}") for name, kinds in others]
        for thread in threads:
            thread.start()
        try:
            self._lane(first, first_kinds)
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join()
        log.info("worker %s stopped", self.owner)

    def _lane(self, name: str, kinds: Collection[str] | None) -> None:
        while not self.stopping.is_set():
            try:
                if not self.run_once(kinds):
                    self._idle(kinds, name)
            except Exception:
                log.exception("worker loop error (lane %s); continuing", name)
                self.stopping.wait(self.archive.settings.worker_poll_seconds)

    def _idle(self, kinds: Collection[str] | None = None, lane: str | None = None) -> None:
        """Wait until the queue wakes us, a waiting job comes due (a delayed retry, a
        dead worker's lease) or the next look at the jobs table, whichever is first."""
        if kinds is None and time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + PERIODIC_SWEEP_SECONDS
            sweep.periodic(self.archive)
        wait = self.archive.settings.worker_poll_seconds
        due = jobs.next_due(self.archive.catalog, kinds=kinds)
        if due is not None:
            wait = min(wait, due + 0.05)
        poke = self._pokes.get(lane) if lane is not None else None
        deadline = time.monotonic() + wait
        while not self.stopping.is_set():
            if poke is not None and poke.is_set():
                poke.clear()
                return
            left = deadline - time.monotonic()
            # short blocks, so that a stop request is seen within a second
            if left <= 0:
                return
            if self.archive.catalog.queue.wait(min(left, 1.0)):
                # A wake-up (with Redis, taken off the list by one lane only) may be for
                # a kind another lane runs: every lane looks.
                for other in self._pokes.values():
                    other.set()
                if poke is not None:
                    poke.clear()
                return
