"""Slides in step with the talk, in a real browser: a webinar whose slide times the job
found (its frames are its deck's pages: tests/slide_media.py). The watch page's slide
panel follows playback, a click on a page seeks to its next appearance (else its first),
the timeline carries a marker per slide change, and a search hit in a page's text opens
the moment that page was on screen. Staff move a change in the review; it stays after a
reload and after the job runs again. Screenshots go to /tmp/shots-slidesync/."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from archive import pipeline, queries
from archive.context import Archive
from archive.importer import ImportRequest, PresentationInput, import_webinar
from archive.models import Job

from .browser import browser_page
from .conftest import make_settings
from .services import free_port
from .slide_media import SCHEDULE, make_synced_talk, process
from .staff import sign_in_page, staff_app

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-slidesync")


@dataclasses.dataclass
class Synced:
    archive: Archive
    url: str
    watch: object  # Webinar: its slide times as found
    review: object  # Webinar: the same talk, for staff to change


@pytest.fixture(scope="module")
def synced(minio, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synced-site")
    archive = Archive.from_settings(make_settings(minio, tmp))
    archive.setup()
    deck, video, _ = make_synced_talk(tmp / "media")
    made = [import_webinar(archive, ImportRequest(
        title=title, recording=video, presentations=[PresentationInput("Open data, in step", slides=deck)]))
        for title in ("Slides in step", "Slides to review")]
    process(archive)
    with archive.catalog.session() as s:
        watch, review = (queries.get(s, w.id) for w in made)
    assert all(p.slide_timeline for w in (watch, review) for p in w.presentations)
    app = staff_app(archive)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Synced(archive, f"http://127.0.0.1:{server.server_port}", watch, review)
    server.shutdown()
    thread.join(timeout=10)
    archive.close()


def _found(w) -> list[dict]:
    return w.presentations[0].slide_timeline["segments"]


def _seek(page, t: float) -> None:
    page.locator("#player").evaluate(f"m => {{ m.currentTime = {t}; }}")


def _on_screen(page, n: int) -> None:
    expect(page.locator("#slide-now img")).to_have_attribute("data-page", str(n))
    expect(page.locator(".slides-viewer ol.strip button.on-screen")).to_have_attribute("data-page", str(n))
    expect(page.locator(".slides-viewer")).to_have_attribute("data-page", str(n))


def test_the_slide_panel_follows_playback_and_seeks(synced, tmp_path):
    found = _found(synced.watch)
    starts = {}
    for s in found:
        starts.setdefault(s["page"], []).append(s["start"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page(tmp_path / "profile") as page:
        page.goto(f"{synced.url}/webinars/{synced.watch.id}?engine=mp4")
        page.locator("#player").evaluate("m => { m.muted = true; }")
        page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
        # A marker on the timeline per slide change (the first page, at 0:00, needs none).
        markers = page.locator(".slide-markers .slide-marker")
        expect(markers).to_have_count(len(SCHEDULE) - 1)
        assert [float(t) for t in markers.evaluate_all("ms => ms.map(m => m.dataset.time)")] == \
            [s["start"] for s in found[1:]]

        # Playing: the panel follows from page 1 to page 2.
        _on_screen(page, 1)
        _seek(page, found[1]["start"] - 0.5)
        page.locator("media-play-button").click()
        page.wait_for_function(f"""() => {{ const m = document.querySelector('#player');
            if (m.currentTime > {found[1]['start'] + 0.2}) {{ m.pause(); return true; }} return false; }}""")
        _on_screen(page, 2)
        # From here a seek does not start playing, so that the time stays where it was put.
        page.locator("#player").evaluate("m => { m.play = () => Promise.resolve(); }")

        # A click on page 3 plays from where it is shown; on page 2 (shown before and after
        # now) from its next appearance; past page 3's only one, page 3 plays from its first.
        _seek(page, 1.0)
        page.locator('.slides-viewer ol.strip button[data-page="3"]').click()
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {starts[3][0]}) < 0.4")
        _on_screen(page, 3)
        page.locator('.slides-viewer ol.strip button[data-page="2"]').click()
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {starts[2][1]}) < 0.4")
        _seek(page, 12.5)
        page.locator('.slides-viewer ol.strip button[data-page="3"]').click()
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {starts[3][0]}) < 0.4")
        _seek(page, (found[2]["start"] + found[2]["end"]) / 2)
        _on_screen(page, 3)
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            page.screenshot(path=SHOTS / f"watch-{width}.png", full_page=True)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.set_viewport_size({"width": 1280, "height": 900})
        beside = page.evaluate("""() => {
            const v = document.querySelector('media-controller').getBoundingClientRect();
            const s = document.querySelector('#slide-now').getBoundingClientRect();
            return s.left >= v.right && s.top < v.bottom; }""")
        assert beside, "on a wide screen the slide on screen is beside the video"

        # Titled pages are chapters; a search hit in a page's text opens the moment it was shown.
        chapters = page.request.get(f"{synced.url}/webinars/{synced.watch.id}/chapters.vtt").text()
        assert "Marmoset results" in chapters and "Why open data" in chapters
        page.goto(f"{synced.url}/search?q=marmoset")
        hit = page.locator(f"a[href*='/webinars/{synced.watch.id}?'][href*='t=']").first
        expect(hit).to_be_visible()
        hit.click()
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {starts[3][0]}) < 1.0")
        _on_screen(page, 3)


def test_staff_move_a_change_and_it_stays(synced, tmp_path):
    w = synced.review
    p = w.presentations[0]
    found = _found(w)
    moved = round(found[2]["start"] + 0.7, 1)
    review = f"{synced.url}/staff/webinars/{w.id}/presentations/{p.id}/slides"
    with browser_page(tmp_path / "profile") as page:
        sign_in_page(page, synced.url)
        page.goto(f"{synced.url}/staff/webinars/{w.id}/edit")
        page.get_by_role("link", name="Review the slide changes").click()
        assert page.url == review
        changes = page.locator("li.slide-change")
        expect(changes).to_have_count(len(SCHEDULE))
        expect(changes.nth(2).locator("img")).to_have_count(2)  # the recording's frame, the page
        assert changes.nth(2).locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")
        changes.nth(2).get_by_label("Move to").fill(f"0:0{moved}")
        changes.nth(2).get_by_role("button", name="Move", exact=True).click()
        expect(page.locator(".flash.ok")).to_have_text("Moved the slide change.")
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=SHOTS / f"review-{width}.png", full_page=True)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.reload()
        expect(page.locator("li.slide-change").nth(2)).to_have_attribute("data-start", str(moved))

        with synced.archive.catalog.session() as s:
            job = s.scalar(select(Job).where(Job.kind == "align_slides", Job.asset_id == p.deck_asset_id))
        pipeline.retry(synced.archive.catalog, job.id)
        process(synced.archive)
        page.reload()
        expect(page.locator("li.slide-change").nth(2)).to_have_attribute("data-start", str(moved))
        with synced.archive.catalog.session() as s:
            assert s.get(Job, job.id).state == "done"
