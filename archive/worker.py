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

from . import jobs, media, webinars
from .context import Archive
from .models import Asset, Job
from .processing import HANDLERS, PERMANENT, WATCHABLE_KINDS

log = logging.getLogger(__name__)

_JOB_DIR = re.compile(r"^job-(\d+)$")


def _remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:  # the next sweep tries again
        log.warning("could not remove %s: %s", path, e)


class Worker:
    def __init__(self, archive: Archive, name: str | None = None):
        self.archive = archive
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.stopping = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one job; False when there was none to claim."""
        s = self.archive.settings
        job = jobs.claim(self.archive.catalog, self.owner, s.job_lease_seconds)
        if job is None:
            self._sync_failed_assets()
            self._sweep_work_dir()
            return False
        log.info("job %s (%s, asset %s): attempt %s", job.id, job.kind, job.asset_id, job.attempts)
        watchable = job.kind in WATCHABLE_KINDS  # later renditions never hide a ready asset
        if watchable:
            self._set_asset(job.asset_id, status="processing")
        error, tail, permanent, result = None, None, False, None
        # The job's own scratch space, emptied before (a killed attempt may have left
        # files there) and after; the handler's temporary files all live inside it.
        job_dir = self._job_dir(job.id)
        with jobs.Heartbeat(self.archive.catalog, job.id, self.owner, s.job_lease_seconds) as hb:
            with self.archive.catalog.session() as session:
                asset = session.get(Asset, job.asset_id)
            try:
                handler = HANDLERS.get(job.kind)
                if handler is None:
                    raise jobs.PermanentError(f"unknown job kind {job.kind!r}")
                _remove(job_dir)
                job_dir.mkdir(parents=True)
                scoped = dataclasses.replace(self.archive, settings=s.with_(work_dir=job_dir))
                result = handler(scoped, asset, hb)
            except PERMANENT as e:
                error, permanent = str(e), True
                tail = getattr(e, "log", None)
            except media.MediaError as e:
                error, permanent, tail = str(e), e.permanent, e.log
            except Exception as e:  # anything else may be passing (network, disk): retried
                log.exception("job %s failed", job.id)
                error = f"{type(e).__name__}: {e}"
            finally:
                _remove(job_dir)
        if result is not None:
            info, outputs = result
            self._set_asset(job.asset_id, status="ready", error=None, info=info, outputs=outputs)
        state = jobs.finish(self.archive.catalog, job.id, self.owner, error, tail, permanent,
                            retry_delay=s.job_retry_delay_seconds)
        if state == "failed" and watchable:
            self._set_asset(job.asset_id, status="failed", error=error)
        elif state == "failed":
            self._note_later_failure(job.asset_id, job.kind, error)
        elif state == "queued" and watchable:
            self._set_asset(job.asset_id, status="queued")
        log.info("job %s: %s%s", job.id, state, f" ({error})" if error else "")
        return True

    def _set_asset(self, asset_id: str, **values) -> None:
        with self.archive.catalog.transaction() as s:
            asset = s.get(Asset, asset_id)
            if asset is None:
                return
            for k, v in values.items():
                setattr(asset, k, v)
            s.flush()
            webinar = webinars.get(s, asset.webinar_id)
            manifest_due = values.get("status") in ("ready", "failed")
        if manifest_due:
            webinars.write_manifest(self.archive, webinar)

    def _job_dir(self, job_id: int) -> Path:
        return self.archive.settings.work_dir / f"job-{job_id}"

    def _sweep_work_dir(self) -> None:
        """Remove the scratch space of jobs that no worker holds: what a killed worker left."""
        try:
            found = {int(m.group(1)): p for p in self.archive.settings.work_dir.iterdir()
                     if (m := _JOB_DIR.match(p.name))}
        except FileNotFoundError:
            return
        if found:
            held = jobs.held(self.archive.catalog, found)
            for job_id, path in found.items():
                if job_id not in held:
                    _remove(path)

    def _note_later_failure(self, asset_id: str, kind: str, error: str | None) -> None:
        with self.archive.catalog.session() as s:
            asset = s.get(Asset, asset_id)
            info = dict(asset.info) if asset else {}
        info.setdefault("failures", {})[kind] = error
        self._set_asset(asset_id, info=info)

    def _sync_failed_assets(self) -> None:
        """Assets whose jobs were failed because their worker died: mark them failed too."""
        with self.archive.catalog.session() as s:
            rows = s.query(Job.asset_id, Job.error).join(Asset).filter(
                Job.state == "failed", Job.kind.in_(WATCHABLE_KINDS),
                Asset.status.in_(("queued", "processing"))).all()
        for asset_id, error in rows:
            self._set_asset(asset_id, status="failed", error=error)

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
