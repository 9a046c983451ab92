"""Caption files in the browser uploader (Debian's chromium through Playwright): they wait
for the Upload button with the language read from their name ("talk.de.srt": German),
which staff may change first; a file for a language the webinar has replaces that one, and
the page says so. Sizes are in the decimal units of every other page (1.6 MB for the file
below, where Uppy's own binary units said 1.5 "MB"). Screenshots of the upload page, the webinar's staff page and its
preview are left in the test's tmp_path at 1280 and 360 px."""
from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

from archive import uploads
from archive.formatting import file_size
from archive.importer import ImportRequest, import_webinar
from archive.models import Upload
from archive.states import Visibility
from archive.worker import Worker

from .browser import browser_context
from .helpers import reload
from .staff import sign_in_page, staff_app_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

CUE = "{n}\n00:{m:02d}:{s:02d},000 --> 00:{m:02d}:{s:02d},900\nZeile {n} der deutschen Untertitel\n\n"


def _srt(cues: int) -> str:
    return "".join(CUE.format(n=n + 1, m=(n // 60) % 60, s=n % 60) for n in range(cues))


def test_caption_files_wait_with_their_language_and_replace_one_of_the_same_language(
        live_server, archive, inputs, tmp_path):
    old = tmp_path / "talk.de.vtt"
    old.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHallo\n")
    w = import_webinar(archive, ImportRequest(title="Captions from the browser", recording=inputs["h264_aac.mp4"],
                                              captions=[("de", old)], visibility=Visibility.DRAFT))
    old_id = w.captions[0].id
    big = tmp_path / "talk.de.srt"  # about 1.55 MB: 1.5 "MB" in Uppy's binary units
    big.write_text(_srt(21_500))
    size = big.stat().st_size
    binary = f"{size / 1024 ** 2:.1f} MB"
    assert file_size(size) != binary
    notes = tmp_path / "notes.srt"  # no language in the name: English, changed to French below
    notes.write_text(_srt(3))

    def snap(page, name: str) -> None:
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=tmp_path / f"{name}-{width}.png", full_page=True)
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= width, f"{name} at {width} px scrolls sideways ({wide} px wide)"
        page.set_viewport_size({"width": 1280, "height": 900})

    with browser_context(tmp_path / "profile", 1280, 900) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in_page(page, live_server)
        page.goto(f"{live_server}/staff/webinars/{w.id}/upload")
        page.locator("input.uppy-Dashboard-input").first.set_input_files([big, notes])

        # Sizes as the staff pages write them; the files wait, with a note saying why.
        item = page.locator(".uppy-Dashboard-Item", has_text="talk.de.srt")
        expect(item.locator(".uppy-Dashboard-Item-statusSize")).to_have_text(file_size(size))
        expect(page.locator("#caption-note")).to_be_visible()
        page.wait_for_timeout(300)
        with archive.catalog.session() as s:
            assert s.query(Upload).count() == 0  # nothing sent before the Upload button
        snap(page, "upload-captions-waiting")

        # The language read from the name is in the file's card; the other one is changed.
        item.get_by_role("button", name="Edit file talk.de.srt").click()
        expect(page.get_by_role("textbox", name="Language")).to_have_value("de")
        page.get_by_role("button", name="Save changes").click()
        page.locator(".uppy-Dashboard-Item", has_text="notes.srt").get_by_role(
            "button", name="Edit file notes.srt").click()
        expect(page.get_by_role("textbox", name="Language")).to_have_value("en")
        page.get_by_role("textbox", name="Language").fill("fr")
        page.get_by_role("button", name="Save changes").click()
        page.locator(".uppy-StatusBar-actionBtn--upload").click()

        checker = Worker(archive, "checker")
        results = page.locator("#upload-results li")
        for _ in range(600):
            checker.run_once(kinds={uploads.CHECK_KIND})
            if results.count() == 2:
                break
            page.wait_for_timeout(100)
        expect(page.locator("#upload-results li[data-file='talk.de.srt']")).to_have_text(
            "talk.de.srt: received (captions in de); it replaces talk.de.vtt (the same language) once it is processed")
        expect(page.locator("#upload-results li[data-file='notes.srt']")).to_have_text(
            "notes.srt: received (captions in fr); it is being processed")
        snap(page, "upload-captions-received")

        now = reload(archive, w.id)
        added = {a.original_filename: a for a in now.assets if a.kind == "captions" and a.id != old_id}
        assert added["talk.de.srt"].info["language"] == "de" and added["talk.de.srt"].replaces == old_id
        assert added["notes.srt"].info["language"] == "fr" and added["notes.srt"].replaces is None
        assert math.isclose(added["talk.de.srt"].size, size)

        page.goto(f"{live_server}/staff/webinars/{w.id}")
        expect(page.locator(f"#file-{old_id} .language")).to_have_text("German")
        expect(page.locator(".job .place").first).to_contain_text("in the queue")
        snap(page, "staff-webinar")
        page.get_by_role("link", name="preview of the public page").click()
        expect(page.locator(".staff-preview")).to_contain_text("This webinar is a draft")
        footer = page.locator("footer.site")  # a signed-in staff member's footer, not "Staff login"
        expect(footer.get_by_role("link", name="Staff area")).to_be_visible()
        expect(footer.get_by_role("button", name="Log out")).to_be_visible()
        expect(footer).not_to_contain_text("Staff login")
        snap(page, "preview")
        assert errors == []
