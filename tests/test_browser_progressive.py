"""Watching a recording while it is encoded (hls.js, as browsers without native HLS do):
its start plays while the encode runs ahead; a seek past what exists says so in a
sentence; once the playlist is closed, a seek anywhere plays."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job
from archive.worker import Worker

from .archive.conftest import wait_for
from .conftest import make_settings
from .media_inputs import ffmpeg

SHOTS = Path("/tmp/shots-progressive")
SECONDS = 24


@pytest.fixture
def settings(minio, tmp_path):
    # The encode reads its source at twice real time: 12 s for 24 s, time to watch it run.
    return make_settings(minio, tmp_path, WEBINAR_ARCHIVE_PROGRESSIVE_READRATE="2")


@pytest.fixture
def hevc_like(tmp_path) -> Path:
    """24 s of 640x360 MPEG-2 with MP2 sound in MKV: a recording browsers cannot play."""
    path = tmp_path / "hall.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=640x360:r=25:d={SECONDS}", "-f", "lavfi", "-i",
           f"sine=f=440:d={SECONDS}", "-c:v", "mpeg2video", "-q:v", "4", "-g", "12", "-c:a", "mp2", str(path))
    return path


def _player(page, expression: str):
    return page.locator("#player").evaluate(expression)


def test_a_recording_plays_while_it_is_encoded(archive, live_server, page, hevc_like):
    w = import_webinar(archive, ImportRequest(title="Encoded as we watch", recording=hevc_like))
    with archive.catalog.session() as s:
        asset_id = s.query(Asset).filter(Asset.webinar_id == w.id).one().id
    worker = Worker(archive, name="test-worker")
    # The job that makes it watchable, alone (the renditions that follow are not this test's).
    running = threading.Thread(target=lambda: worker.run_once(kinds={"process_recording"}), daemon=True)
    running.start()
    try:
        def job_state() -> str:
            with archive.catalog.session() as s:
                return s.query(Job).filter(Job.asset_id == asset_id, Job.kind == "process_recording").one().state

        def watchable() -> bool:
            with archive.catalog.session() as s:
                return s.get(Asset, asset_id).status == "ready"

        wait_for(watchable, 60, "the recording to be watchable", interval=0.2)
        assert job_state() == "running"  # watchable while the encode runs
        page.goto(f"{live_server}/webinars/{w.id}?engine=hlsjs")
        page.locator("#player").evaluate("m => { m.muted = true; }")
        notice = page.locator("#preparing")
        expect(notice).to_contain_text("% ready")
        expect(notice).to_contain_text("you can watch it from the start now")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "preparing-1280.png", full_page=True)
        page.locator("media-play-button").click()
        page.wait_for_function("() => document.querySelector('#player').currentTime > 1", timeout=20_000)
        assert job_state() == "running", "the encode should still be running while the start plays"
        assert _player(page, "m => m.dataset.engine") == "hls.js"

        # Past what exists: the browser stops at the end of what it knows; the page says why.
        _player(page, "m => { m.currentTime = 10000; }")
        not_yet = page.locator("#not-yet")
        expect(not_yet).to_be_visible()
        expect(not_yet).to_contain_text("The rest of this recording is still being prepared")
        expect(not_yet).to_contain_text("% ready")
        page.set_viewport_size({"width": 360, "height": 800})
        page.screenshot(path=SHOTS / "preparing-360.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 1000})

        # Once the encode is done the playlist is closed: the notice goes, any seek plays.
        wait_for(lambda: job_state() == "done", 90, "the encode to end", interval=0.3)
        page.wait_for_function("() => document.querySelector('#player').dataset.preparing === 'done'",
                               timeout=20_000)
        expect(notice).to_be_hidden()
        page.wait_for_function(f"() => document.querySelector('#player').duration > {SECONDS - 1}", timeout=30_000)
        _player(page, f"m => {{ m.currentTime = {SECONDS - 4}; m.play(); }}")
        page.wait_for_function(f"() => document.querySelector('#player').currentTime > {SECONDS - 3.5}",
                               timeout=20_000)
        expect(not_yet).to_be_hidden()
    finally:
        worker.stopping.set()
        running.join(timeout=120)
