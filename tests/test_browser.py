"""A viewer's browser (Debian's chromium, driven by Playwright) against the running app:
the recording plays from MinIO and the slides download under their original name."""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from archive import queries
from archive.importer import ImportRequest, import_webinar

DECK_NAME = "Präsentation – Ana Müller.pdf"

# In the scale-out configuration too: gunicorn, two worker processes (scripts/test).
pytestmark = [pytest.mark.browser, pytest.mark.scaleout]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def webinar(archive, worker, inputs, tmp_path):
    deck = tmp_path / DECK_NAME
    shutil.copyfile(inputs["deck.pdf"], deck)
    w = import_webinar(archive, ImportRequest(
        title="Open data in practice", held_on=dt.date(2021, 6, 7), recording=inputs["h264_aac.mp4"],
        slides=[deck], description="A generated clip and a three-page deck."))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        w = queries.get(s, w.id)
    assert w.status == "ready", w.errors
    return w


def test_watch_the_recording_and_download_the_slides(live_server, webinar, page, inputs, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/")
    expect(page.locator("img.poster")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('img.poster').naturalWidth > 0", timeout=20_000)
    page.goto(f"{live_server}/webinars/{webinar.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open data in practice")

    video = page.locator("video#player")
    expect(video).to_be_visible()
    # Muted, so that the autoplay policy never stands between the click and the picture.
    video.evaluate("v => { v.muted = true; }")
    video.click()  # a viewer's click on the player starts it
    page.wait_for_function("() => document.querySelector('#player').currentTime > 1.2", timeout=20_000)
    state = video.evaluate("v => ({error: v.error && v.error.code, width: v.videoWidth, height: v.videoHeight,"
                           " duration: v.duration, paused: v.paused})")
    assert state["error"] is None
    assert (state["width"], state["height"]) == (320, 240)
    assert state["duration"] == pytest.approx(4, abs=0.2)
    assert not state["paused"]
    assert video.evaluate("v => v.dataset.engine") == "hls.js"  # MediaSource, from blob: URLs
    video.evaluate("v => v.pause()")

    # every slide thumbnail of the viewer's strip came from MinIO (through the app's redirect) and decoded
    thumbs = page.locator("ol.strip img")
    expect(thumbs).to_have_count(3)
    thumbs.last.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('ol.strip img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=20_000)

    page.screenshot(path=tmp_path / "webinar.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the slides").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == DECK_NAME
    saved = tmp_path / "downloads" / download.suggested_filename
    download.save_as(saved)
    assert _sha256(saved) == _sha256(inputs["deck.pdf"]) == webinar.decks[0].sha256
    assert errors == []
