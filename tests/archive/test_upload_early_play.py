"""Early direct play: a browser-playable upload plays from its first and last bytes while
its one full read (and SHA-256) and its check run; a file whose full check fails is taken
down again and staff are told. The check's full read is held at a gate, so each state is
seen without timing."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from archive import queries, uploads
from archive.models import Asset, Job
from archive.worker import Worker

from ..helpers import work_dir_entries
from .conftest import wait_for
from .test_uploads import send


class HeldRead:
    """The store's full read of an upload waits until `release()`; ranged reads are counted."""

    def __init__(self, store, monkeypatch, before_full_read=None):
        self.gate, self.full_reads, self.ranges = threading.Event(), 0, []
        full, ranged = store.download_hashed, store.read_range

        def download_hashed(key, path, *args, **kwargs):
            self.full_reads += 1
            assert self.gate.wait(60), "the test never released the full read"
            if before_full_read is not None:
                before_full_read(key)
            return full(key, path, *args, **kwargs)

        def read_range(key, start, length):
            self.ranges.append(length)
            return ranged(key, start, length)

        monkeypatch.setattr(store, "download_hashed", download_hashed)
        monkeypatch.setattr(store, "read_range", read_range)

    def release(self) -> None:
        self.gate.set()


def _upload(archive, webinar_id, data: bytes, monkeypatch) -> uploads.Upload:
    # Each end read is an eighth of this small file (16 MiB of a real one).
    monkeypatch.setattr(uploads, "PREVIEW_BYTES", len(data) // 8)
    up = uploads.create(archive, "staff-1", webinar_id, "recording", "talk.mp4", len(data))
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    return up


def _check_in_thread(archive) -> threading.Thread:
    thread = threading.Thread(target=Worker(archive, "checker").run_once, kwargs={"kinds": {uploads.CHECK_KIND}})
    thread.start()
    return thread


def _recording(archive, webinar_id):
    with archive.catalog.session() as s:
        return queries.get(s, webinar_id).recording


def test_a_playable_upload_plays_before_its_full_read_ends(archive, webinar_id, inputs, monkeypatch):
    data = Path(inputs["h264_aac.mp4"]).read_bytes()
    held = HeldRead(archive.store, monkeypatch)
    up = _upload(archive, webinar_id, data, monkeypatch)
    thread = _check_in_thread(archive)
    try:
        rec = wait_for(lambda: _recording(archive, webinar_id), 60, "the upload to play")
        # Watchable: the page plays the original; not verified, nothing derived made yet.
        assert rec.id == up.id and rec.plays_direct and rec.info["kind"] == "video"
        assert rec.sha256 is None and not rec.verified
        assert uploads.get(archive, up.id, "staff-1").state == "checking"
        with archive.catalog.session() as s:
            assert s.query(Job).filter_by(asset_id=up.id).count() == 0
        assert held.full_reads == 1 and held.ranges == [len(data) // 8] * 2
    finally:
        held.release()
        thread.join(60)
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    with archive.catalog.session() as s:
        asset = s.get(Asset, up.id)
        first = s.query(Job).filter_by(asset_id=up.id).one()
    assert asset.sha256 == hashlib.sha256(data).hexdigest() and asset.verified
    assert asset.plays_direct and asset.info["duration"] == pytest.approx(4, abs=0.2)
    assert first.kind == "process_recording"
    assert held.full_reads == 1  # read from S3 once
    assert work_dir_entries(archive) == []


def test_an_upload_that_played_and_fails_its_full_check_is_taken_down(archive, webinar_id, inputs,
                                                                      monkeypatch):
    """Its first and last bytes play; what the full read finds is no recording (here the
    object is overwritten with zeros between the two): the check refuses it, and the
    webinar leaves the watchable state."""
    data = Path(inputs["h264_aac.mp4"]).read_bytes()

    def damage(key: str) -> None:
        archive.store.put_bytes(key, b"\0" * len(data), "video/mp4")

    held = HeldRead(archive.store, monkeypatch, before_full_read=damage)
    up = _upload(archive, webinar_id, data, monkeypatch)
    thread = _check_in_thread(archive)
    try:
        assert wait_for(lambda: _recording(archive, webinar_id), 60, "the upload to play").plays_direct
    finally:
        held.release()
        thread.join(60)
    refused = uploads.get(archive, up.id, "staff-1")
    assert refused.state == "refused" and "not a readable recording" in refused.error
    with archive.catalog.session() as s:
        asset = s.get(Asset, up.id)
        webinar = queries.get(s, webinar_id)
        assert s.query(Job).filter_by(asset_id=up.id).count() == 0  # nothing derived
        # Out of the watchable state: hidden from visitors, the reason on the file for staff.
        assert asset.status == "failed" and "not a readable recording" in asset.error
        assert not asset.plays_direct and webinar.recording is asset and webinar.status == "failed"
    assert archive.store.head(up.key) is None  # the refused object goes, as for any refusal
    assert work_dir_entries(archive) == []
