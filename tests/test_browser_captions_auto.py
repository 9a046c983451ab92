"""Automatic captions in a viewer's browser: the player's captions menu offers the
recognizer's track as "English (automatic)", and the transcript panel follows it.
Screenshots go to /tmp/shots-captions-auto/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from archive import queries
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.worker import Worker

from .conftest import make_settings
from .speech_inputs import make_talk, whisper_dir

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-captions-auto")


@pytest.fixture
def archive(minio, tmp_path):
    a = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_TRANSCRIBE_MODEL=whisper_dir()))
    a.setup()
    yield a
    a.close()


def test_the_captions_menu_offers_the_automatic_track_and_the_transcript_follows(archive, live_server, page,
                                                                                 tmp_path):
    talk = make_talk(tmp_path / "talk")
    de = tmp_path / "de.vtt"
    de.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:10.000\nWillkommen zu diesem Vortrag.\n")
    w = import_webinar(archive, ImportRequest(title="Drawing for slides", recording=talk.recording, language="en",
                                              slides=[talk.deck], captions=[("de", de)]))
    Worker(archive, name="test-worker").run_until_idle()
    with archive.catalog.session() as s:
        assert [c.automatic for c in queries.get(s, w.id).captions] == [False, True]
    page.goto(f"{live_server}/webinars/{w.id}")
    cues = page.locator("#transcript-cues li")
    expect(cues.first).to_contain_text("Willkommen")
    page.locator("media-settings-menu-button").click()
    page.locator("media-settings-menu media-settings-menu-item", has_text="Captions").click()
    item = page.locator("media-captions-menu media-chrome-menu-item", has_text="English (automatic)")
    expect(item).to_be_visible()
    item.click()
    expect(page.locator("#transcript-cues")).to_have_attribute("data-lang", "en")
    expect(page.locator("#transcript-cues")).to_contain_text("pineapple")
    expect(page.locator("#transcript-cues")).to_contain_text("TikZ")
    page.keyboard.press("Escape")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SHOTS / f"watch-{width}.png", full_page=True)
