"""The job queue in both configurations: SQLite with the embedded queue, and
PostgreSQL with Redis (the `backend` fixture runs each test against both)."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from archive import jobs, queries
from archive.catalog import Catalog
from archive.config import Settings
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar, new_id, utcnow
from archive.queue import LocalQueue, RedisQueue
from archive.worker import Worker

from ..services import archive_env, free_port
from .conftest import WEBINAR_ARCHIVE, WorkerProcess, wait_for


@pytest.fixture
def env(backend_env) -> dict[str, str]:
    return backend_env


@pytest.fixture
def settings(backend_settings) -> Settings:  # replaces tests/conftest.py's: `archive` and `worker` use it
    return backend_settings


def _make_jobs(archive: Archive, n: int, kind: str = "process_recording", max_attempts: int = 3) -> list[int]:
    """Catalog rows only (no files): enough for the queue's own behaviour."""
    w = Webinar(id=new_id(), title="Queue test")
    with archive.catalog.transaction() as s:
        s.add(w)
        queued = []
        for i in range(n):
            a = Asset(id=new_id(), webinar_id=w.id, kind="recording", position=i, original_filename=f"{i}.mp4",
                      original_ext="mp4", content_type="video/mp4", size=1, sha256="0" * 64, status="queued")
            s.add(a)
            s.flush()
            queued.append(jobs.enqueue(s, a.id, kind, max_attempts=max_attempts))
    return [j.id for j in queued]


def _job(archive: Archive, job_id: int) -> Job:
    with archive.catalog.session() as s:
        return s.get(Job, job_id)


def _webinar(archive: Archive, webinar_id: str) -> Webinar:
    with archive.catalog.session() as s:
        return queries.get(s, webinar_id)


def _work_dir_entries(archive: Archive) -> list[str]:
    return sorted(p.name for p in archive.settings.work_dir.iterdir())


def _import(archive: Archive, path) -> Webinar:
    return import_webinar(archive, ImportRequest(title="A webinar", recording=path))


def test_the_configuration_picks_the_queue(archive, backend):
    expected = RedisQueue if backend else LocalQueue
    assert isinstance(archive.catalog.queue, expected)
    assert archive.catalog.engine.dialect.name == ("postgresql" if backend else "sqlite")


def test_racing_workers_claim_each_job_exactly_once(archive, settings):
    ids = _make_jobs(archive, 30)
    names = ["w1", "w2", "w3"]
    start = threading.Barrier(len(names))

    def work(name: str) -> list[int]:
        catalog = Catalog(settings.database_url)  # its own engine and connections, as on another machine
        got = []
        try:
            start.wait()
            while (job := jobs.claim(catalog, name, 60)) is not None:
                got.append(job.id)
                assert jobs.finish(catalog, job.id, name, job.attempts) == "done"
        finally:
            catalog.dispose()
        return got

    with ThreadPoolExecutor(len(names)) as pool:
        claimed = dict(zip(names, pool.map(work, names)))
    everything = [i for got in claimed.values() for i in got]
    assert sorted(everything) == sorted(ids), claimed  # every job once, none twice
    with archive.catalog.session() as s:
        assert {(j.state, j.attempts) for j in s.query(Job)} == {("done", 1)}


def test_an_expired_lease_is_claimed_again_and_the_old_owner_is_shut_out(archive):
    [job_id] = _make_jobs(archive, 1)
    catalog = archive.catalog
    first = jobs.claim(catalog, "first", lease_seconds=1)
    assert (first.id, first.attempts, first.state) == (job_id, 1, "running")
    assert jobs.claim(catalog, "second", lease_seconds=60) is None  # leased
    assert jobs.next_due(catalog) == pytest.approx(1, abs=0.5)  # idle workers wake when it runs out

    wait_for(lambda: jobs.claim(catalog, "second", lease_seconds=60), 5, "the lease to run out")
    job = _job(archive, job_id)
    assert (job.state, job.lease_owner, job.attempts) == ("running", "second", 2)
    # The first worker comes back from its stall: it may no longer touch the job.
    assert jobs.heartbeat(catalog, job_id, "first", 60) is False
    assert jobs.finish(catalog, job_id, "first", 1, error="late result") == "running"
    assert jobs.finish(catalog, job_id, "second", 2) == "done"
    job = _job(archive, job_id)
    assert (job.state, job.error, job.progress, job.lease_owner) == ("done", None, 100, None)
    assert job.finished_at is not None and job.started_at is not None


def test_a_heartbeat_keeps_the_lease_and_reports_progress(archive):
    [job_id] = _make_jobs(archive, 1)
    catalog = archive.catalog
    jobs.claim(catalog, "busy", lease_seconds=2)
    with jobs.Heartbeat(catalog, job_id, "busy", 2) as hb:  # beats every second
        hb.progress(0.42)
        before = _job(archive, job_id).lease_expires_at
        wait_for(lambda: _job(archive, job_id).lease_expires_at > before + dt.timedelta(seconds=1.5),
                 5, "two heartbeats")
        assert jobs.claim(catalog, "other", lease_seconds=2) is None  # past the first lease, still held
        assert not hb.lost
    job = _job(archive, job_id)
    assert (job.state, job.lease_owner, job.progress) == ("running", "busy", 42)


def test_a_job_failing_every_attempt_ends_failed_and_the_cli_retries_it(archive, worker, env, inputs):
    w = _import(archive, inputs["h264_aac.mp4"])
    key = w.recording.original_key
    original = archive.store.get_bytes(key)
    archive.store.delete_keys([key])  # every attempt now fails to fetch it: a passing trouble, retried

    worker.run_until_idle()  # waits out the (zero) retry delays between attempts

    with archive.catalog.session() as s:
        job = s.query(Job).one()
    assert (job.state, job.attempts, job.max_attempts) == ("failed", 3, 3)
    assert job.error and job.finished_at is not None
    w = _webinar(archive, w.id)
    assert w.status == "failed" and w.recording.error == job.error
    assert _work_dir_entries(archive) == []

    archive.store.put_bytes(key, original, "video/mp4")  # the operator fixes the cause
    cli = subprocess.run([str(WEBINAR_ARCHIVE), "jobs", "--retry", str(job.id)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"job {job.id} queued again" in cli.stdout
    job = _job(archive, job.id)
    assert (job.state, job.attempts, job.error) == ("queued", 0, None)
    assert _webinar(archive, w.id).recording.status == "queued"

    worker.run_until_idle()
    assert _webinar(archive, w.id).status == "ready"
    job = _job(archive, job.id)
    assert (job.state, job.attempts) == ("done", 1)
    assert _work_dir_entries(archive) == []


def test_quick_kinds_are_claimed_before_older_slow_ones(archive):
    [slow] = _make_jobs(archive, 1, kind="recording_renditions")
    [quick] = _make_jobs(archive, 1, kind="process_slides")
    lanes = Worker(archive, "w").lanes
    assert lanes["quick"] >= {"check_upload", "process_recording", "process_slides", "process_captions",
                              "slides_bundle"} and "recording_renditions" not in lanes["quick"]
    assert jobs.claim(archive.catalog, "w", 60, first=lanes["quick"]).id == quick  # the older slow one waits
    assert jobs.claim(archive.catalog, "w", 60, kinds=lanes["quick"]) is None  # the quick lane leaves it
    assert jobs.claim(archive.catalog, "w", 60, kinds=lanes["any"]).id == slow


def test_only_a_finished_job_can_be_retried(archive, env):
    [job_id] = _make_jobs(archive, 1)
    with pytest.raises(jobs.JobStateError, match="queued"):
        jobs.retry(archive.catalog, job_id)
    jobs.claim(archive.catalog, "w", 60)
    with pytest.raises(jobs.JobStateError, match="running"):
        jobs.retry(archive.catalog, job_id)
    cli = subprocess.run([str(WEBINAR_ARCHIVE), "jobs", "--retry", str(job_id + 1000)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and f"no job {job_id + 1000}" in cli.stderr


def test_a_worker_dying_on_the_last_attempt_fails_the_job_and_its_files_go(archive, worker):
    [job_id] = _make_jobs(archive, 1, max_attempts=1)
    jobs.claim(archive.catalog, "doomed", lease_seconds=1)
    # What a worker killed mid-job leaves on this machine's disk.
    leftover = archive.settings.work_dir / f"job-{job_id}-1"
    (leftover / "rec-x").mkdir(parents=True)
    (leftover / "rec-x" / "web.mp4").write_bytes(b"half a file")

    assert worker.run_once() is False  # the lease is still held: nothing to claim, nothing swept
    assert leftover.exists()
    with archive.catalog.transaction() as s:  # the lease runs out
        s.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert worker.run_once() is False  # out of attempts: failed, not claimed

    job = _job(archive, job_id)
    assert (job.state, job.attempts) == ("failed", 1)
    assert "worker stopped" in job.error
    with archive.catalog.session() as s:
        asset = s.get(Asset, job.asset_id)
        assert (asset.status, asset.error) == ("failed", job.error)
    assert _work_dir_entries(archive) == []


def test_known_bad_input_fails_at_once_without_retries(archive, worker, inputs):
    w = _import(archive, inputs["h264_aac.mp4"])
    bad = b"This is a text file, not a recording.\n" * 10
    archive.store.put_bytes(w.recording.original_key, bad, "video/mp4")
    with archive.catalog.transaction() as s:  # a consistent original: only its content is wrong
        s.get(Asset, w.recording.id).sha256 = hashlib.sha256(bad).hexdigest()

    worker.run_until_idle()

    with archive.catalog.session() as s:
        job = s.query(Job).one()
    assert (job.state, job.attempts, job.max_attempts) == ("failed", 1, 3)
    assert "not a readable recording" in job.error
    w = _webinar(archive, w.id)
    assert w.status == "failed" and "not a readable recording" in w.recording.error
    assert _work_dir_entries(archive) == []


def test_a_new_job_wakes_an_idle_worker(archive, backend, env, inputs, tmp_path):
    """Idle workers look in the table only every 5 minutes here: the queue must wake them."""
    env = {**env, "WEBINAR_ARCHIVE_WORKER_POLL_SECONDS": "300"}
    if backend:  # another process, reached through Redis only
        proc = WorkerProcess(env, tmp_path / "worker.log")
        stop = proc.stop
        redis = archive.catalog.queue.redis
        wait_for(lambda: any(c["cmd"] == "blpop" for c in redis.client_list()), 30, "the worker to block on Redis")
    else:  # the embedded queue wakes a worker in the same process
        in_process = Worker(Archive(Settings.from_env(env), archive.catalog, archive.store), name="idle")
        # Every lane past its first look at the (empty) table, blocked on the queue: idle now.
        queue, waiting, all_idle = archive.catalog.queue, set(), threading.Event()
        real_wait = queue.wait

        def wait(timeout: float) -> bool:
            waiting.add(threading.current_thread().name)
            if len(waiting) == len(in_process.lanes):
                all_idle.set()
            return real_wait(timeout)

        queue.wait = wait
        thread = threading.Thread(target=in_process.run_forever)
        thread.start()
        stop = lambda: (in_process.stopping.set(), thread.join(30))  # noqa: E731
        assert all_idle.wait(30), "the worker's lanes never went idle"
    try:
        w = _import(archive, inputs["h264_aac.mp4"])
        wait_for(lambda: _webinar(archive, w.id).status == "ready", 60, "the webinar to be ready")
    finally:
        stop()
    with archive.catalog.session() as s:
        first = s.query(Job).order_by(Job.id).first()
    assert (first.started_at - first.created_at).total_seconds() < 30  # not the 300 s poll


def test_the_embedded_queue_wakes_a_worker_of_another_process(minio, tmp_path, inputs):
    """One machine, no Redis: the worker polls the table only every 5 minutes here, and a
    job committed by another process (as the web process commits an upload's check) is
    still claimed at once, through the worker's socket in the data folder."""
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_WORKER_POLL_SECONDS="300")
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    wake = archive.settings.data_dir / "wake"
    proc = WorkerProcess(env, tmp_path / "worker.log")
    try:
        # Its lanes past their first look at the (empty) table, waiting on their socket.
        wait_for(lambda: wake.is_dir() and any(wake.iterdir()), 30, "the worker to wait on its socket")
        w = _import(archive, inputs["h264_aac.mp4"])
        wait_for(lambda: _webinar(archive, w.id).status == "ready", 60, "the webinar to be ready")
    finally:
        proc.stop()
        archive.close()
    assert not any(wake.iterdir())  # a stopped worker leaves no socket behind


def test_a_lost_redis_message_does_not_strand_a_job(minio, tmp_path, postgres, redis_server, inputs):
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_DATABASE_URL=postgres.create_database(),
                      WEBINAR_ARCHIVE_REDIS_URL=redis_server.url, WEBINAR_ARCHIVE_WORKER_POLL_SECONDS="2")
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    # The same catalog, but nothing reaches Redis: as if the message were lost.
    mute = Archive(archive.settings, Catalog(archive.settings.database_url), archive.store)
    proc = WorkerProcess(env, tmp_path / "worker.log")
    try:
        redis = archive.catalog.queue.redis
        wait_for(lambda: any(c["cmd"] == "blpop" for c in redis.client_list()), 30, "the worker to block on Redis")
        w = _import(mute, inputs["h264_aac.mp4"])
        assert redis.llen(archive.catalog.queue.key) == 0
        wait_for(lambda: _webinar(archive, w.id).status == "ready", 60, "the periodic scan to find the job")
    finally:
        proc.stop()
        mute.catalog.dispose()
        archive.close()


def test_an_unreachable_redis_slows_the_queue_but_never_stops_it(minio, tmp_path, inputs, caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_REDIS_URL=closed, WEBINAR_ARCHIVE_WORKER_POLL_SECONDS="0.5")
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    worker = Worker(archive, name="no-redis")
    thread = threading.Thread(target=worker.run_forever)
    try:
        with caplog.at_level(logging.WARNING, logger="archive.queue"):
            w = _import(archive, inputs["h264_aac.mp4"])  # the push fails; the import does not
            thread.start()
            wait_for(lambda: _webinar(archive, w.id).status == "ready", 60, "the webinar to be ready")
    finally:
        worker.stopping.set()
        if thread.is_alive():
            thread.join(30)
        archive.close()
    assert "Redis push failed" in caplog.text


def test_the_embedded_default_needs_no_redis_package(minio, tmp_path):
    env = archive_env(minio, tmp_path)
    code = ("import sys; from archive.config import Settings; from archive.context import Archive; "
            "a = Archive.from_settings(Settings.from_env()); a.setup(); "
            "from archive.worker import Worker; Worker(a).run_until_idle(); a.close(); "
            "assert 'redis' not in sys.modules, 'redis was imported'")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
