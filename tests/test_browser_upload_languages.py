"""The uploader speaks the staff page's language (Debian's chromium through Playwright):
Uppy's own words from its language pack (@uppy/locales), ours from the catalogs, and a
refusal made in archive/ (in English) said in German on a German page. Sizes stay decimal.
Screenshots of the German and French upload pages are left in the test's tmp_path."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from archive import uploads
from archive.importer import ImportRequest, SpeakerInput, import_webinar
from archive.models import Webinar, new_id
from archive.states import Visibility
from archive.worker import Worker

from .browser import browser_context
from .staff import sign_in_page, staff_app_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_the_uploader_speaks_german_and_french(live_server, archive, inputs, tmp_path):
    wid = new_id()
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=wid, title="Sprachen", visibility=Visibility.DRAFT))
    fake = tmp_path / "vortrag.mp4"  # a text file under a recording's name: refused by its check
    fake.write_bytes(b"not a video at all\n" * 60_000)  # 1.14 MB (1.1 "MB" in Uppy's binary units)

    with browser_context(tmp_path / "profile", 1280, 900) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in_page(page, live_server)

        page.goto(f"{live_server}/staff/webinars/{wid}/upload?lang=fr")
        expect(page.locator(".uppy-Dashboard-AddFiles")).to_contain_text("Déposer les fichiers ici")
        listed = {kind: ", ".join(sorted(exts)) for kind, exts in uploads.EXTENSIONS.items()}
        expect(page.locator(".uppy-Dashboard-note")).to_have_text(
            f"Enregistrements ({listed['recording']}), diaporamas ({listed['slides']}), sous-titres ({listed['captions']})")
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=tmp_path / f"upload-fr-{width}.png", full_page=True)

        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{live_server}/staff/webinars/{wid}/upload?lang=de")
        expect(page.locator(".uppy-Dashboard-AddFiles")).to_contain_text("Dateien hier ablegen")
        expect(page.locator(".uppy-Dashboard-note")).to_contain_text("Aufzeichnungen (")
        page.locator("input.uppy-Dashboard-input").first.set_input_files([fake])
        item = page.locator(".uppy-Dashboard-Item", has_text="vortrag.mp4")
        expect(item.locator(".uppy-Dashboard-Item-statusSize")).to_have_text("1,1 MB")  # decimal, German sign

        checker = Worker(archive, "checker")
        result = page.locator("#upload-results li[data-file='vortrag.mp4']")
        for _ in range(600):
            checker.run_once(kinds={uploads.CHECK_KIND})
            if result.count():
                break
            page.wait_for_timeout(100)
        # archive/ refused it in English ("recording vortrag.mp4: not a readable recording: ...").
        expect(result).to_have_class("refused")
        expect(result).to_contain_text("Aufzeichnung vortrag.mp4: keine lesbare Aufzeichnung")
        assert result.inner_text().count("vortrag.mp4") == 1  # the file is named once
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=tmp_path / f"upload-de-{width}.png", full_page=True)

        # A speaker's photo field (photo.js) says its refusals in German too.
        other = import_webinar(archive, ImportRequest(title="Mit Foto", slides=[inputs["deck.pdf"]],
                                                      speakers=[SpeakerInput("Ada Lovelace")]))
        notes = tmp_path / "notizen.txt"
        notes.write_text("kein Bild")
        page.goto(f"{live_server}/staff/webinars/{other.id}/edit")
        page.locator(".photo-field input[type=file]").first.set_input_files(notes)
        expect(page.locator(".photo-field .photo-status").first).to_have_text(
            "notizen.txt: kein JPEG-, PNG- oder WebP-Bild.")
        assert errors == []
