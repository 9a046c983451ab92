"""Faults, one test each, with real processes where the fault is a process's (see
docs/faults.md for the whole table, with the tests elsewhere that cover the others).

Each ends with the archive consistent: `check` finds nothing left, or finds exactly the
leftovers the fault made and `--repair` removes them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive import consistency, decks, jobs, libreoffice, pipeline, removal, runner, uploads
from archive.config import Settings
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar
from archive.worker import Worker
from web import create_app
from werkzeug.serving import make_server

from ..helpers import reload
from ..media_inputs import ffmpeg
from ..services import (MINIO_PASSWORD, MINIO_USER, MinioServer, PostgresServer, archive_env, free_port, minio_binary,
                        stop_process, wait_http)
from .conftest import WEBINAR_ARCHIVE, WorkerProcess, wait_for
from .deck_inputs import deck_files, listener  # noqa: F401
from .test_removal import other_deck  # noqa: F401
from .test_uploads import send
from .test_pipeline import Gate, InThread, gated

NOW = dt.timedelta(0)  # judge every object at once (no grace period)


def _objects(archive, prefix: str = "webinars/") -> list[str]:
    return sorted(archive.store.list_keys(prefix))


def test_an_import_killed_between_upload_and_commit_leaves_an_orphan_that_repair_removes(minio, tmp_path, inputs):
    """`webinar-archive import` is SIGKILLed once its original is in the bucket and while
    its commit waits for the catalog (held by the test): the object has no row."""
    env = archive_env(minio, tmp_path)
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    held = sqlite3.connect(archive.settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        held.execute("BEGIN IMMEDIATE")  # the import's commit waits (busy timeout) behind this
        proc = subprocess.Popen([str(WEBINAR_ARCHIVE), "import", "--title", "Killed", "--recording",
                                 str(inputs["h264_aac.mp4"])], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(lambda: any("/originals/" in k for k in _objects(archive)), 60, "the original to be uploaded")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        held.execute("ROLLBACK")
        with archive.catalog.session() as s:
            assert s.scalar(select(func.count()).select_from(Webinar)) == 0
        left = _objects(archive)
        assert left and all("/originals/" in k for k in left)

        found = consistency.check(archive, grace=NOW)
        assert sorted(p.subject for p in found.of(consistency.Finding.ORPHAN_OBJECT)) == left
        assert not found.ok
        # Within the grace period the same objects are not judged: the import may still commit.
        assert consistency.check(archive).ok
        assert consistency.check(archive, repair=True, grace=NOW).ok
        assert _objects(archive) == [] and consistency.check(archive, grace=NOW).problems == []
    finally:
        held.close()
        archive.close()


def test_a_deletion_that_stopped_after_its_commit_leaves_orphans_that_repair_removes(archive, inputs, monkeypatch):
    """The rows went; the process died before the objects did."""
    w = import_webinar(archive, ImportRequest(title="Half deleted", slides=[inputs["deck.pdf"]]))
    Worker(archive, "w").run_until_idle()
    with monkeypatch.context() as m:
        m.setattr(removal, "_delete_prefixes", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
        with pytest.raises(SystemExit):
            removal.delete_webinar(archive, w.id)
    left = _objects(archive, w.prefix)
    assert left
    found = consistency.check(archive, grace=NOW)
    assert sorted(p.subject for p in found.problems) == left
    assert consistency.check(archive, repair=True, grace=NOW).ok
    assert _objects(archive, w.prefix) == []


@pytest.fixture
def settings(backend_settings):  # the tests that take `archive` run on both catalog backends
    return backend_settings


@pytest.fixture(scope="module")
def vtt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("captions") / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello marmalade\n")
    return path


def test_a_job_delivered_twice_gives_one_result_and_one_follow_up(archive, inputs):
    """Two workers run the same kind for one asset (a duplicate delivery) and finish at the
    same moment: outputs are the same keys, and the follow-up is queued once."""
    w = import_webinar(archive, ImportRequest(title="Twice", recording=inputs["h264_aac.mp4"]))
    asset_id = reload(archive, w.id).recording.id
    with archive.catalog.transaction() as s:
        jobs.enqueue(s, asset_id, "process_recording")  # the same work, delivered again
    gates = [Gate(), Gate()]
    running = []
    for i, gate in enumerate(gates):
        running.append(InThread(Worker(archive, f"w{i}", graph=gated("process_recording", gate, before=False))))
        gate.wait_reached()  # both have made their outputs, neither has saved them
    for gate in gates:
        gate.opened.set()
    assert [r.join() for r in running] == [True, True]
    with archive.catalog.session() as s:
        kinds = sorted((j.kind, j.state) for j in s.scalars(select(Job).where(Job.asset_id == asset_id)))
    assert kinds == [("process_recording", "done"), ("process_recording", "done"), ("recording_renditions", "queued")]
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    assert w.status == "ready" and w.recording.outputs.get("audio_m4a")
    report = consistency.check(archive, grace=NOW)
    assert report.problems == [], consistency.summary(report)


def test_a_job_that_finally_fails_leaves_no_partial_outputs(archive, inputs):
    """The fast path made the webinar watchable; the renditions job writes one file and then
    fails on each attempt: its file goes, the served ones stay, and check finds nothing."""
    w = import_webinar(archive, ImportRequest(title="Partial", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_once()  # the fast path
    rec = reload(archive, w.id).recording
    served = _objects(archive, rec.derived_prefix)
    partial = rec.derived_key("audio.m4a")

    def half_then_fail(archive, asset, hb):
        archive.store.put_bytes(asset.derived_key("audio.m4a"), b"half an audio file", "audio/mp4")
        raise OSError("disk trouble")  # not the file's fault: retried, then failed

    graph = {**pipeline.GRAPH, "recording_renditions": dataclasses.replace(
        pipeline.GRAPH["recording_renditions"], handler=half_then_fail)}
    Worker(archive, "w", graph=graph).run_until_idle()
    with archive.catalog.session() as s:
        job = s.scalars(select(Job).where(Job.asset_id == rec.id, Job.kind == "recording_renditions")).one()
    assert job.state == "failed" and job.attempts == job.max_attempts
    assert archive.store.head(partial) is None
    assert _objects(archive, rec.derived_prefix) == served
    assert reload(archive, w.id).status == "ready"

    # A first job that fails: nothing of the file is served, nothing made from it stays.
    w2 = import_webinar(archive, ImportRequest(title="Broken", recording=inputs["vp9_opus.webm"]))
    rec2 = reload(archive, w2.id).recording

    def write_then_refuse(archive, asset, hb):
        archive.store.put_bytes(asset.derived_key("poster.jpg"), b"not yet", "image/jpeg")
        raise jobs.PermanentError("the encoder gave up")

    graph = {**pipeline.GRAPH, "process_recording": dataclasses.replace(
        pipeline.GRAPH["process_recording"], handler=write_then_refuse)}
    Worker(archive, "w", graph=graph).run_until_idle()
    assert reload(archive, w2.id).status == "failed"
    assert _objects(archive, rec2.derived_prefix) == []
    report = consistency.check(archive, grace=NOW)
    assert report.problems == [], consistency.summary(report)


# --- Faults of the services: MinIO, PostgreSQL, the scratch disk --------------------------

class OwnMinio:
    """A MinIO of this test's own, stopped and started again on its port and data folder."""

    def __init__(self, data: Path):
        self.data, self.port = data, free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        env = {**os.environ, "MINIO_ROOT_USER": MINIO_USER, "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
               "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}
        with open(self.data.parent / "minio.log", "ab") as log:
            self.proc = subprocess.Popen([str(minio_binary()), "server", "--quiet", "--address",
                                          f"127.0.0.1:{self.port}", "--console-address",
                                          f"127.0.0.1:{free_port()}", str(self.data)],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"{self.endpoint}/minio/health/live")

    bucket_user = MinioServer.bucket_user

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


def _jobs(archive) -> list[tuple[str, str, int, str | None]]:
    with archive.catalog.session() as s:
        return [(j.kind, j.state, j.attempts, j.error) for j in s.scalars(select(Job).order_by(Job.id))]


def _all_done(archive, worker) -> bool:
    states = {state for _, state, _, _ in _jobs(archive)}
    assert "failed" not in states, worker.output()
    return states == {"done"}


def test_minio_stopped_during_a_job_then_started_again(tmp_path, inputs):
    """The worker's attempt fails on S3 and is tried again once MinIO is back; no row names
    an object the bucket lacks, nothing is left over."""
    (tmp_path / "s3" / "data").mkdir(parents=True)
    s3 = OwnMinio(tmp_path / "s3" / "data")
    try:
        env = archive_env(s3, tmp_path, WEBINAR_ARCHIVE_JOB_RETRY_DELAY="1", WEBINAR_ARCHIVE_JOB_MAX_ATTEMPTS="5")
        archive = Archive.from_settings(Settings.from_env(env))
        archive.setup()
        w = import_webinar(archive, ImportRequest(title="S3 away", recording=inputs["vp9_opus.webm"]))
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            wait_for(lambda: any(state == "running" for _, state, _, _ in _jobs(archive)), 60, "a running job",
                     interval=0.02)
            s3.stop()  # its next read or write meets a closed port
            wait_for(lambda: any(error for _, _, _, error in _jobs(archive)), 90, "the attempt to fail")
            s3.start()
            wait_for(lambda: _all_done(archive, worker), 120, "every job to finish", interval=0.3)
        finally:
            assert worker.stop() == 0, worker.output()
        first = _jobs(archive)[0]
        assert first[0] == "process_recording" and first[2] >= 2  # tried again
        assert reload(archive, w.id).status == "ready"
        report = consistency.check(archive, grace=NOW)
        assert report.problems == [], consistency.summary(report)
        archive.close()
    finally:
        s3.stop()


@pytest.fixture(scope="module")
def big_recording(tmp_path_factory) -> Path:
    """About 3 MB of H.264/AAC: more than the scratch space the next test allows."""
    path = tmp_path_factory.mktemp("big") / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=3,noise=alls=60:allf=t", "-f", "lavfi",
           "-i", "sine=f=440:d=3", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "8", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(path))
    assert path.stat().st_size > 2 * SCRATCH_BYTES
    return path


SCRATCH_BYTES = 1024 * 1024


def _small_files():
    """The worker may write no file larger than SCRATCH_BYTES: its scratch disk is 'full'."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (SCRATCH_BYTES, SCRATCH_BYTES))


def test_a_full_scratch_disk_fails_the_job_cleanly_and_other_jobs_go_on(minio, tmp_path, postgres, inputs,
                                                                      big_recording, vtt):
    """The worker process may write files of at most 1 MB (RLIMIT_FSIZE: a write past it
    fails as on a full disk). The recording's download fails on every attempt; its job ends
    `failed` with the reason, its scratch goes, and the captions job after it is done."""
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_DATABASE_URL=postgres.create_database(),
                      WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0", WEBINAR_ARCHIVE_JOB_MAX_ATTEMPTS="2")
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    try:
        big = import_webinar(archive, ImportRequest(title="Too big for scratch", recording=big_recording))
        small = import_webinar(archive, ImportRequest(title="Slides and captions", slides=[inputs["deck.pdf"]],
                                                      captions=[("en", vtt)]))
        log = open(tmp_path / "worker.log", "wb")
        proc = subprocess.Popen([str(WEBINAR_ARCHIVE), "worker", "--until-idle"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_small_files, start_new_session=True)
        try:
            assert proc.wait(120) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
        big, small = reload(archive, big.id), reload(archive, small.id)
        assert big.status == "failed" and "File too large" in big.recording.error, big.recording.error
        assert small.status == "ready"
        assert list(archive.settings.work_dir.iterdir()) == []
        assert _objects(archive, big.recording.derived_prefix) == []
        report = consistency.check(archive, grace=NOW)
        assert report.problems == [], consistency.summary(report)
    finally:
        archive.close()


def test_postgres_restarted_under_load_answers_503_then_recovers_and_loses_no_job(minio, tmp_path, inputs):
    pg = PostgresServer()
    try:
        env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_DATABASE_URL=pg.create_database(),
                          WEBINAR_ARCHIVE_JOB_LEASE_SECONDS="3", WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0")
        archive = Archive.from_settings(Settings.from_env(env))
        archive.setup()
        w = import_webinar(archive, ImportRequest(title="Through a restart", recording=inputs["vp9_opus.webm"],
                                                  visibility="public"))
        server = make_server("127.0.0.1", 0, create_app(archive, {"TESTING": True}), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        codes: list[int] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                for path in ("/", f"/webinars/{w.id}", f"/api/webinars/{w.id}"):
                    try:
                        with urllib.request.urlopen(base + path, timeout=10) as r:
                            codes.append(r.status)
                    except urllib.error.HTTPError as e:
                        codes.append(e.code)
                        if e.code == 503:
                            assert e.headers["Retry-After"]

        loaders = [threading.Thread(target=load, daemon=True) for _ in range(3)]
        for t in loaders:
            t.start()
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            wait_for(lambda: any(state == "running" for _, state, _, _ in _jobs(archive)), 60, "a running job",
                     interval=0.02)
            pg.stop_server()
            wait_for(lambda: 503 in codes, 30, "a 503")
            pg.start_server()
            seen = len(codes)
            wait_for(lambda: len(codes) > seen + 30 and set(codes[-30:]) == {200}, 60, "the pages to recover")
            wait_for(lambda: _all_done(archive, worker), 120, "every job to finish", interval=0.3)
        finally:
            stop.set()
            for t in loaders:
                t.join(15)
            server.shutdown()
            assert worker.stop() == 0, worker.output()
        assert set(codes) == {200, 503}, sorted(set(codes))
        assert reload(archive, w.id).status == "ready"
        assert consistency.check(archive, grace=NOW).problems == []
        archive.close()
    finally:
        pg.stop()


def test_a_hanging_libreoffice_is_killed_at_its_limit_and_the_next_conversion_is_fine(deck_files, tmp_path):
    """(tests/archive/test_libreoffice.py shows that the killed conversion leaves no process
    and no file behind.) The next conversion, with the usual limit, works."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(libreoffice.ConversionTimedOut):
        libreoffice.convert_to_pdf(deck_files["talk.pptx"], tmp_path / "hung.pdf", decks.FORMATS["pptx"],
                                   runner.Limits(0.5, 4096, network=False), tmp_root=scratch)
    libreoffice.convert_to_pdf(deck_files["talk.pptx"], tmp_path / "deck.pdf", decks.FORMATS["pptx"],
                               runner.Limits(120, 4096, network=False), tmp_root=scratch)
    assert (tmp_path / "deck.pdf").read_bytes().startswith(b"%PDF")
    assert list(scratch.iterdir()) == [] and not (tmp_path / "hung.pdf").exists()


def test_two_tabs_uploading_a_deck_for_one_webinar_overwrite_nothing(archive, inputs, other_deck, webinar_id):
    """Two uploads of a deck, their parts interleaved: each has its own server-made key, so
    neither overwrites the other; both are recorded with the checksum of their own bytes.
    (Two *replacements* of one file: tests/archive/test_removal.py, the last one processed
    takes over and the earlier one is removed, never mixed.)"""
    first, second = inputs["deck.pdf"].read_bytes(), other_deck.read_bytes()
    a = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", len(first))
    b = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", len(second))
    assert a.key != b.key
    parts_b = send(archive, b, second)
    parts_a = send(archive, a, first)
    assert uploads.complete(archive, b.id, "staff-1", parts_b).state == "checking"
    assert uploads.complete(archive, a.id, "staff-1", parts_a).state == "checking"
    Worker(archive, "w").run_until_idle()
    with archive.catalog.session() as s:
        got = {x.id: x.sha256 for x in s.scalars(select(Asset).where(Asset.webinar_id == webinar_id))}
    assert got == {a.id: hashlib.sha256(first).hexdigest(), b.id: hashlib.sha256(second).hexdigest()}
    assert archive.store.sha256_of(a.key) == got[a.id] and archive.store.sha256_of(b.key) == got[b.id]
    report = consistency.check(archive, checksums=True, grace=NOW)
    assert report.problems == [], consistency.summary(report)


def test_a_job_over_its_memory_limit_fails_with_the_reason_and_is_not_retried(minio, tmp_path, inputs):
    """`webinar-archive worker` whose ffmpeg and ffprobe may map 100 MB: too little (ffprobe
    cannot even map its libraries). The job fails at once with that reason, not blamed on
    the file (it said "not a readable recording" before), and the worker ends
    (--until-idle) instead of trying forever."""
    env = archive_env(minio, tmp_path, WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0")
    archive = Archive.from_settings(Settings.from_env(env))
    archive.setup()
    try:
        w = import_webinar(archive, ImportRequest(title="Too big for its limit", recording=inputs["vp9_opus.webm"]))
        done = subprocess.run([str(WEBINAR_ARCHIVE), "worker", "--until-idle"],
                              env={**env, "WEBINAR_ARCHIVE_FFMPEG_MEMORY_MB": "100"}, capture_output=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        [(kind, state, attempts, error)] = _jobs(archive)
        assert (kind, state, attempts) == ("process_recording", "failed", 1), error
        assert "more than its 100 MB memory limit" in error and "not a readable" not in error
        w = reload(archive, w.id)
        assert w.status == "failed" and _objects(archive, w.recording.derived_prefix) == []
        assert consistency.check(archive, grace=NOW).problems == []
    finally:
        archive.close()
