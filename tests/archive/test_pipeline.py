"""The job graph under forced interleavings, on SQLite and on PostgreSQL + Redis.

Two workers run in threads; a step is held at a gate (an Event the test opens) instead
of timed with sleeps. Whatever the order, nothing is lost: the asset's outputs are
merged in the transaction that finishes each job, follow-ups are queued in it, a worker
that lost its lease publishes nothing, and the webinar's page answers throughout.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from archive import hls, pipeline, uploads
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job, utcnow
from archive.worker import Worker
from web import create_app

from ..helpers import reload, work_dir_entries
from ..media_inputs import ffmpeg
from .conftest import wait_for
from .test_uploads import send

WAIT = 120  # seconds a gate or a thread may take before the test fails (never slept)


@pytest.fixture
def settings(backend_settings):  # every test here runs on both catalog backends
    return backend_settings


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """960x540 H.264/AAC: the ladder makes two rungs (360p, 540p)."""
    path = tmp_path_factory.mktemp("pipeline") / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=960x540:r=25:d=4", "-f", "lavfi", "-i", "sine=f=440:d=4",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(path))
    return path


class Gate:
    """Holds a job's handler at one point until the test opens it."""

    def __init__(self):
        self.reached = threading.Event()
        self.opened = threading.Event()

    def hold(self) -> None:
        self.reached.set()
        assert self.opened.wait(WAIT), "the gate was never opened"

    def wait_reached(self) -> None:
        assert self.reached.wait(WAIT), "the held step was never reached"


def gated(kind: str, gate: Gate, before: bool) -> dict[str, pipeline.JobKind]:
    """The real graph, with `kind`'s handler held at `gate` before it starts or after
    it made its outputs (and before the worker saves them)."""
    real = pipeline.GRAPH[kind]

    def handler(archive, asset, hb):
        if before:
            gate.hold()
            return real.handler(archive, asset, hb)
        outcome = real.handler(archive, asset, hb)
        gate.hold()
        return outcome

    return {**pipeline.GRAPH, kind: dataclasses.replace(real, handler=handler)}


class InThread:
    def __init__(self, worker: Worker):
        self.worker, self.result, self.error = worker, None, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.result = self.worker.run_once()
        except BaseException as e:  # surfaced by join()
            self.error = e

    def join(self):
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the worker did not finish"
        if self.error:
            raise self.error
        return self.result


def _job(archive, kind: str) -> Job:
    with archive.catalog.session() as s:
        return s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc())).first()


def _renditions(archive, webinar_id: str) -> list[str]:
    """The rendition names the served master playlist lists."""
    rec = reload(archive, webinar_id).recording
    return sorted(r["name"] for r in hls.playable(rec.outputs.get("renditions") or {}))


def _page_ok(client, webinar_id: str) -> None:
    assert client.get(f"/webinars/{webinar_id}").status_code == 200
    assert client.get(f"/api/webinars/{webinar_id}").status_code == 200


@pytest.fixture
def client(archive):
    return create_app(archive, {"TESTING": True}).test_client()


def test_a_follow_up_is_queued_only_with_the_saved_result(archive, clip, client):
    w = import_webinar(archive, ImportRequest(title="Held", recording=clip))
    gate = Gate()
    first = InThread(Worker(archive, "first", graph=gated("process_recording", gate, before=False)))
    gate.wait_reached()  # the fast path has made its files; the worker has not saved them
    # Nothing can run ahead of the saved row: the follow-up does not exist yet.
    assert Worker(archive, "second").run_once() is False
    assert reload(archive, w.id).recording.status == "processing"
    _page_ok(client, w.id)
    gate.opened.set()
    assert first.join() is True
    rec = reload(archive, w.id).recording
    assert rec.status == "ready" and {"web", "poster", "renditions"} <= set(rec.outputs)
    assert _job(archive, "recording_renditions").state == "queued"  # queued in the same transaction

    Worker(archive, "second").run_until_idle()
    rec = reload(archive, w.id).recording
    assert {"web", "poster", "renditions", "audio_m4a", "audio_mp3", "storyboard"} <= set(rec.outputs)
    assert _renditions(archive, w.id) == ["360p", "540p"]
    _page_ok(client, w.id)


def test_a_worker_that_lost_its_lease_publishes_nothing_and_keeps_out_of_others_scratch(archive, clip, client):
    w = import_webinar(archive, ImportRequest(title="Taken over", recording=clip))
    rec_prefix = reload(archive, w.id).recording.derived_prefix
    stalled_gate, taker_gate = Gate(), Gate()
    stalled = InThread(Worker(archive, "stalled", graph=gated("process_recording", stalled_gate, before=True)))
    stalled_gate.wait_reached()
    job = _job(archive, "process_recording")
    assert (job.lease_owner, job.attempts) == ("stalled", 1)
    with archive.catalog.transaction() as s:  # the stall outlasts the lease
        s.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - dt.timedelta(seconds=1)))

    taker = InThread(Worker(archive, "taker", graph=gated("process_recording", taker_gate, before=True)))
    taker_gate.wait_reached()
    assert (_job(archive, "process_recording").lease_owner, _job(archive, "process_recording").attempts) == ("taker", 2)
    assert work_dir_entries(archive) == [f"job-{job.id}-1", f"job-{job.id}-2"]

    stalled_gate.opened.set()  # the stalled worker wakes, does its work, and finds the job gone
    assert stalled.join() is True
    assert list(archive.store.list_keys(rec_prefix)) == []  # published nothing
    assert work_dir_entries(archive) == [f"job-{job.id}-2"]  # emptied its own scratch, not the taker's
    job = _job(archive, "process_recording")
    assert (job.state, job.lease_owner) == ("running", "taker")
    _page_ok(client, w.id)

    taker_gate.opened.set()
    assert taker.join() is True
    job = _job(archive, "process_recording")
    assert (job.state, job.attempts) == ("done", 2)
    rec = reload(archive, w.id).recording
    assert rec.status == "ready" and archive.store.head(rec.outputs["web"]) is not None
    assert work_dir_entries(archive) == []


@pytest.mark.parametrize("order", ["fast path, then ladder", "ladder, then fast path"])
def test_retries_in_any_order_lose_no_rendition(archive, clip, client, order):
    w = import_webinar(archive, ImportRequest(title="Retried", recording=clip))
    Worker(archive, "w").run_until_idle()
    assert _renditions(archive, w.id) == ["360p", "540p"]
    before = reload(archive, w.id).recording.outputs

    kinds = ["process_recording", "recording_renditions"]
    if order.startswith("ladder"):
        kinds.reverse()
    for kind in kinds:
        pipeline.retry(archive.catalog, _job(archive, kind).id)
        Worker(archive, "w").run_until_idle()
        assert _renditions(archive, w.id) == ["360p", "540p"], kind
    rec = reload(archive, w.id).recording
    assert set(rec.outputs) == set(before) and set(rec.outputs["renditions"]) == {"source", "360p", "540p"}
    assert "#EXT-X-STREAM-INF" in client.get(f"/webinars/{w.id}/recording/{rec.id}/hls/master.m3u8").text


def test_two_jobs_of_one_asset_finishing_together_both_keep_their_outputs(archive, clip, client):
    """The ladder, retried, holds its result while a retried fast path finishes: the
    ladder's save must merge into the row the fast path just wrote, not over it."""
    w = import_webinar(archive, ImportRequest(title="Together", recording=clip))
    Worker(archive, "w").run_until_idle()
    rec = reload(archive, w.id).recording
    with archive.catalog.transaction() as s:  # forget the ladder's results, keep its job done
        row = s.get(Asset, rec.id)
        row.outputs = {k: v for k, v in row.outputs.items() if k not in ("audio_m4a", "audio_mp3", "storyboard")}
        row.outputs["renditions"] = {"source": row.outputs["renditions"]["source"]}
    pipeline.retry(archive.catalog, _job(archive, "recording_renditions").id)
    gate = Gate()
    ladder = InThread(Worker(archive, "ladder", graph=gated("recording_renditions", gate, before=False)))
    gate.wait_reached()
    pipeline.retry(archive.catalog, _job(archive, "process_recording").id)
    assert Worker(archive, "fast").run_once() is True  # the fast path, start to finish
    assert _job(archive, "process_recording").state == "done"
    _page_ok(client, w.id)
    gate.opened.set()
    assert ladder.join() is True
    rec = reload(archive, w.id).recording
    assert {"web", "poster", "audio_m4a", "audio_mp3", "storyboard"} <= set(rec.outputs)
    assert set(rec.outputs["renditions"]) == {"source", "360p", "540p"}
    assert rec.status == "ready"
    _page_ok(client, w.id)


def test_a_deck_is_processed_while_renditions_run_on_the_only_worker(archive, clip, inputs):
    """Quick work never waits behind slow work: the only worker runs the renditions, held
    for as long as the test likes, and a deck uploaded meanwhile is checked and made
    ready by the worker's quick lane."""
    w = import_webinar(archive, ImportRequest(title="Busy", recording=clip))
    gate = Gate()
    worker = Worker(archive, "only", graph=gated("recording_renditions", gate, before=True))
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        gate.wait_reached()  # the fast path is done; the renditions run (and hold)
        data = inputs["deck.pdf"].read_bytes()
        up = uploads.create(archive, "staff-1", w.id, "slides", "deck.pdf", len(data))
        assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
        deck = wait_for(lambda: next((a for a in reload(archive, w.id).assets
                                      if a.id == up.id and a.status == "ready"), None),
                        WAIT, "the deck to be ready")
        assert deck.info["page_count"] == 3
        assert _job(archive, "recording_renditions").state == "running"  # still held
        assert wait_for(lambda: _job(archive, "slides_bundle").state == "done", WAIT, "the slides' ZIP")
    finally:
        gate.opened.set()
        worker.stopping.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert _job(archive, "recording_renditions").state == "done"
