"""The scale-out configuration as it runs on several machines: a PostgreSQL catalog, Redis
wake-ups and two `webinar-archive worker` processes, each with its own scratch folder,
racing for the same jobs table. Every job runs exactly once. (It runs in every run of
the suite; the tests marked `scaleout` run in this configuration as well, see
tests/conftest.py.)"""
from __future__ import annotations

from collections import Counter

from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Job
from archive.states import JobState

from ..conftest import make_settings
from ..services import WorkerProcesses


def test_two_worker_processes_never_run_one_job_twice(minio, postgres, catalog_template, redis_server, inputs,
                                                      tmp_path):
    settings = make_settings(minio, tmp_path / "archive", WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0",
                             WEBINAR_ARCHIVE_DATABASE_URL=postgres.create_database(template=catalog_template),
                             WEBINAR_ARCHIVE_REDIS_URL=redis_server.url)
    captions = tmp_path / "talk.vtt"
    captions.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n")
    archive = Archive.from_settings(settings)
    archive.setup()
    workers = WorkerProcesses(archive, tmp_path / "workers", count=2)
    try:
        workers.start()  # idle, waiting on Redis, before any job exists
        for n in range(3):  # each a deck (a quick job and its follow-up) and captions
            import_webinar(archive, ImportRequest(title=f"Raced {n}", slides=[inputs["deck.pdf"]],
                                                  captions=[("en", captions)]))
        workers.run_until_idle(timeout=300)  # asserts no (job, attempt) was logged twice
        with archive.catalog.session() as s:
            done = {j.id: (j.state, j.attempts) for j in s.query(Job)}
        assert len(done) >= 6
        assert set(done.values()) == {(JobState.DONE, 1)}, done
        runs = workers.runs()
        assert sorted(job for job, _ in runs) == sorted(done)  # each job run once, by one worker
        per_worker = Counter(i for i, log in enumerate(workers.logs)
                             for _ in WorkerProcesses.RUN.findall(log.read_bytes()))
        assert len(per_worker) == 2, f"one worker ran every job: {per_worker}"  # they did race
    finally:
        workers.stop()
        archive.close()
