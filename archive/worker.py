"""The worker: claims jobs from the catalog and runs them until told to stop."""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

from . import jobs, media, photos, pipeline, queries, removal, uploads, webinars
from .context import Archive
from .models import Asset

log = logging.getLogger(__name__)

# A job's scratch folder: job-<id>-<attempt>, so that a worker that lost its lease and a
# worker that took the job over never share (or empty) one another's.
_JOB_DIR = re.compile(r"^job-(\d+)-(\d+)$")
UPLOAD_SWEEP_SECONDS = 600


def _remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:  # the next sweep tries again
        log.warning("could not remove %s: %s", path, e)


class Worker:
    def __init__(self, archive: Archive, name: str | None = None,
                 graph: dict[str, pipeline.JobKind] | None = None):
        self.archive = archive
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.graph = graph if graph is not None else pipeline.GRAPH
        self.stopping = threading.Event()
        self._next_upload_sweep = 0.0  # monotonic time of the next abandoned-upload sweep

    def run_once(self) -> bool:
        """Check one finished browser upload, or else claim and run one job; False when
        there was neither. Checks come first: someone waits for their answer, and they
        hold up the file's processing."""
        if uploads.check_next(self.archive, self.owner):
            return True
        s = self.archive.settings
        job = jobs.claim(self.archive.catalog, self.owner, s.job_lease_seconds,
                         on_claimed=pipeline.on_claimed, on_finished=pipeline.on_finished)
        if job is None:
            self._sweep_work_dir()
            return False
        attempt = job.attempts
        log.info("job %s (%s, asset %s): attempt %s", job.id, job.kind, job.asset_id, attempt)
        error, tail, permanent, outcome, lost = None, None, False, None, False
        job_dir = s.work_dir / f"job-{job.id}-{attempt}"
        with jobs.Heartbeat(self.archive.catalog, job.id, self.owner, s.job_lease_seconds, attempt) as hb:
            with self.archive.catalog.session() as session:
                asset = session.get(Asset, job.asset_id)
            kind = self.graph.get(job.kind)
            try:
                if kind is None:
                    raise jobs.PermanentError(f"unknown job kind {job.kind!r}")
                if asset is None:
                    raise jobs.PermanentError("the file was deleted")
                _remove(job_dir)
                job_dir.mkdir(parents=True)
                scoped = dataclasses.replace(self.archive, settings=s.with_(work_dir=job_dir))
                outcome = kind.handler(scoped, asset, hb)
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
            finally:
                _remove(job_dir)
        if lost:  # the job was taken over, or its file deleted: then what it made goes too
            if asset is not None:
                removal.discard_if_deleted(self.archive, asset)
            return True
        state = jobs.finish(self.archive.catalog, job.id, self.owner, attempt, error, tail, permanent,
                            retry_delay=s.job_retry_delay_seconds, outcome=outcome,
                            on_finished=pipeline.on_finished)
        log.info("job %s: %s%s", job.id, state, f" ({error})" if error else "")
        if state == "gone" and asset is not None:  # its file was deleted while it ran
            removal.discard_if_deleted(self.archive, asset, outcome.outputs if outcome is not None else None)
        if state in ("done", "failed"):
            if state == "done" and asset is not None:  # a replacement took over: the old file goes
                removal.purge_replaced(self.archive, asset.webinar_id)
            self._write_manifest(job.asset_id)
        return True

    def _write_manifest(self, asset_id: str) -> None:
        """The bucket's copy of the webinar's description; rewritten after each job, so
        it is at most one job behind the catalog if the worker dies in between."""
        with self.archive.catalog.session() as s:
            asset = s.get(Asset, asset_id)
            webinar = queries.get(s, asset.webinar_id) if asset is not None else None
        if webinar is not None:
            webinars.write_manifest(self.archive, webinar)

    def _sweep_work_dir(self) -> None:
        """Remove the scratch space of attempts that no worker holds: what a killed worker left."""
        try:
            found = {(int(m.group(1)), int(m.group(2))): p for p in self.archive.settings.work_dir.iterdir()
                     if (m := _JOB_DIR.match(p.name))}
        except FileNotFoundError:
            return
        if found:
            held = jobs.held(self.archive.catalog, {job_id for job_id, _ in found})
            for (job_id, attempt), path in found.items():
                if held.get(job_id) != attempt:
                    _remove(path)

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
        log.info("worker %s started (%s)", self.owner, type(self.archive.catalog.queue).__name__)
        while not self.stopping.is_set():
            try:
                if not self.run_once():
                    self._idle()
            except Exception:
                log.exception("worker loop error; continuing")
                self.stopping.wait(self.archive.settings.worker_poll_seconds)
        log.info("worker %s stopped", self.owner)

    def _idle(self) -> None:
        """Wait until the queue wakes us, a waiting job comes due (a delayed retry, a
        dead worker's lease) or the next look at the jobs table, whichever is first."""
        if time.monotonic() >= self._next_upload_sweep:  # MinIO has no lifecycle rule for these
            self._next_upload_sweep = time.monotonic() + UPLOAD_SWEEP_SECONDS
            uploads.sweep(self.archive)
            photos.sweep_incoming(self.archive)  # speakers' photos sent but never finished
            removal.purge_replaced(self.archive)  # what a crash after a replacement's commit left
        wait = self.archive.settings.worker_poll_seconds
        due = jobs.next_due(self.archive.catalog)
        if due is not None:
            wait = min(wait, due + 0.05)
        deadline = time.monotonic() + wait
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            # short blocks, so that a stop request is seen within a second
            if left <= 0 or self.archive.catalog.queue.wait(min(left, 1.0)):
                return
