"""A worker killed with SIGKILL in the middle of an ffmpeg encode: its ffmpeg dies with
it, and another worker takes the job over once the lease runs out and finishes it."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from archive import queries
from archive.config import Settings
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Job

from ..media_inputs import ffmpeg
from ..services import archive_env
from .conftest import WorkerProcess, wait_for


@pytest.fixture(scope="module")
def long_vp9(tmp_path_factory) -> Path:
    """16 s of noisy 640x360 VP9/Opus: about 3 s of x264 work on this 2-core machine,
    long enough to be caught in the middle."""
    path = tmp_path_factory.mktemp("long") / "talk.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=16,noise=alls=30:allf=t",
           "-f", "lavfi", "-i", "sine=f=440:d=16", "-c:v", "libvpx-vp9", "-deadline", "realtime",
           "-cpu-used", "8", "-b:v", "800k", "-c:a", "libopus", "-shortest", str(path))
    return path


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _gone(pid: int) -> bool:
    """Exited, or a zombie nobody has reaped yet (it runs no more)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_a_worker_killed_mid_ffmpeg_is_replaced_and_the_job_finishes(minio, tmp_path, backend, long_vp9):
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_JOB_LEASE_SECONDS="3", **backend)
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    try:
        w = import_webinar(archive, ImportRequest(title="A long talk", recording=long_vp9))

        def running_job() -> Job | None:
            with archive.catalog.session() as s:
                return s.query(Job).filter(Job.kind == "process_recording", Job.state == "running").first()

        first = WorkerProcess(env, tmp_path / "worker-1.log")
        try:
            def encoding() -> int | None:  # the x264 encode of the web rendition, not a quick probe
                return next((pid for pid in _children(first.pid) if "libx264" in _cmdline(pid)), None)

            encoder = wait_for(lambda: running_job() and encoding(), 60, "the worker to be encoding")
            os.kill(first.pid, signal.SIGKILL)  # the worker alone, as the OOM killer would
            first.proc.wait()
            # prctl(PR_SET_PDEATHSIG) in run_ffmpeg: the encoder dies with its worker.
            wait_for(lambda: _gone(encoder), 10, f"the orphaned ffmpeg {encoder} to die")
        finally:
            first.kill_group()
        job = running_job()
        assert job is not None and job.attempts == 1, "the killed worker's job should still hold its lease"
        assert (archive.settings.work_dir / f"job-{job.id}-{job.attempts}").exists()  # what the dead worker left

        second = WorkerProcess(env, tmp_path / "worker-2.log")
        try:
            def all_done() -> bool:
                with archive.catalog.session() as s:
                    states = {j.state for j in s.query(Job)}
                assert "failed" not in states, second.output()
                return states == {"done"}

            wait_for(all_done, 180, "the second worker to finish every job", interval=0.5)
        finally:
            assert second.stop() == 0, second.output()

        with archive.catalog.session() as s:
            job = s.get(Job, job.id)
            w = queries.get(s, w.id)
        assert (job.state, job.attempts) == ("done", 2)
        assert w.status == "ready", w.errors
        assert archive.store.head(w.recording.outputs["web"]) is not None
        assert list(archive.settings.work_dir.iterdir()) == []
    finally:
        archive.close()
