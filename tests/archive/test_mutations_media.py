"""Byte-level mutants of small valid MP4, MKV and WebM recordings: each ends accepted or
refused with a sentence (MediaRejected at the probe, ImportRejected at import, a failed
job with a reason in the worker), never a traceback, a hang or a retry loop."""
from __future__ import annotations

import random
import re

import pytest

from archive import probe, queries
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.media import MediaRejected, ToolLimits
from archive.models import Job

from ..media_inputs import ffmpeg
from ..mutations import mutants

PER_CONTAINER = 80  # 240 mutants in all
SEEDS = {"mp4": 61, "mkv": 62, "webm": 63}
WORKER_SAMPLE = 6  # accepted mutants that also go through the fast path on MinIO
LIMITS = ToolLimits(ffmpeg_seconds=60, probe_seconds=10, memory_mb=1024)

SOURCES = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "libmp3lame"],
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "100k", "-c:a", "libopus"],
}


@pytest.fixture(scope="module")
def parents(tmp_path_factory):
    d = tmp_path_factory.mktemp("parents")
    made = {}
    for ext, codecs in SOURCES.items():
        made[ext] = d / f"parent.{ext}"
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=1", "-f", "lavfi", "-i", "sine=d=1",
               *codecs, "-shortest", str(made[ext]))
    return made


def test_mutants_end_accepted_or_refused(archive, worker, parents, tmp_path):
    accepted, refused = [], 0
    for ext, parent in parents.items():
        data = parent.read_bytes()
        for i, mutant in mutants(data, PER_CONTAINER, seed=SEEDS[ext]):
            path = tmp_path / f"{ext}-{i:03d}.{ext}"
            path.write_bytes(mutant)
            try:
                probe.probe(path, LIMITS)
            except MediaRejected as e:
                assert str(e) and "Traceback" not in str(e)
                refused += 1
                path.unlink()
                continue
            accepted.append(path)
    assert accepted and refused  # the mutants do exercise both ends
    rng = random.Random(6)
    for path in rng.sample(accepted, min(WORKER_SAMPLE, len(accepted))):
        try:
            w = import_webinar(archive, ImportRequest(title=f"Mutant {path.name}", recording=path))
        except ImportRejected as e:
            assert str(e)
            continue
        worker.run_until_idle()
        with archive.catalog.session() as s:
            asset_id = queries.get(s, w.id).recording.id
            job = s.query(Job).filter(Job.asset_id == asset_id, Job.kind == "process_recording").one()
            assert job.state in ("done", "failed"), (path.name, job.state)
            if job.state == "failed":  # a sentence, not an exception's name, and not retried
                assert job.error and not re.match(r"[A-Z]\w*(Error|Exception)\b", job.error), job.error
                assert job.attempts == 1, (path.name, job.error)
