"""WCAG 2.1 AA on every public and staff page: axe-core (the version scripts/lib.sh pins)
in Debian's chromium finds no serious or critical violation, at a desktop width and at a
phone's. Staff pages are looked at signed in as an admin (who sees every staff page)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PIL import Image

from archive.context import Archive
from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.worker import Worker
from web import create_app

from .browser import axe_violations, browser_page
from .conftest import make_settings
from .staff import sign_in_page
from .web.staff_client import add_user

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(minio, inputs, tmp_path_factory):
    """A live app with a video webinar (slides, captions), an audio-only one and a
    slides-only one, all processed."""
    import threading

    from werkzeug.serving import make_server

    from .services import free_port

    archive = Archive.from_settings(make_settings(minio, tmp_path_factory.mktemp("a11y")))
    archive.setup()
    vtt = tmp_path_factory.mktemp("vtt") / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello and welcome.\n")
    photo = vtt.parent / "ada.png"
    Image.new("RGB", (64, 64), (40, 90, 160)).save(photo)
    ids = {
        "video": import_webinar(archive, ImportRequest(
            title="Open data in practice", recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]],
            captions=[("en", vtt)], description="What cities learnt from opening their data.",
            held_on=dt.date(2021, 6, 7), language="en", series="Open data", tags=["Open data", "Cities"],
            speakers=[SpeakerInput("Ada Lovelace", organisation="Analytical Engines Ltd",
                                   bio="Writes *programs* for engines.", photo=photo),
                      SpeakerInput("Grace Hopper")],
            presentations=[PresentationInput("Why open data", speakers=["Ada Lovelace"], start=1),
                           PresentationInput("Cities that did it", speakers=["Grace Hopper"])])).id,
        "audio": import_webinar(archive, ImportRequest(title="A talk, audio only", recording=inputs["audio.m4a"],
                                                       held_on=dt.date(2022, 3, 1), language="de",
                                                       series="Open data")).id,
        "slides": import_webinar(archive, ImportRequest(title="Slides only", slides=[inputs["deck.pdf"]])).id,
        "draft": import_webinar(archive, ImportRequest(title="Not out yet", slides=[inputs["deck.pdf"]],
                                                       visibility="draft")).id,
    }
    Worker(archive, "w").run_until_idle()
    add_user(archive, ADMIN, "admin")
    app = create_app(archive, {"TESTING": True})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", ids
    server.shutdown()
    thread.join(10)
    archive.close()


ADMIN = "admin@example.org"
SHOTS = Path("/tmp/shots-a11y")  # pages changed for accessibility, for a look
SHOT = ("search", "video", "staff edit", "staff upload", "preview", "staff upload fr", "staff upload de")
PAGES = [("home", "/"), ("video", "/webinars/{video}"), ("audio", "/webinars/{audio}"),
         ("slides", "/webinars/{slides}"), ("embed", "/embed/{video}"), ("embed audio", "/embed/{audio}"),
         ("missing", "/webinars/nosuchthing"),
         ("filtered", "/?language=en&year=2021"), ("series index", "/series"), ("series", "/series/open-data"),
         ("topics", "/tags"), ("topic", "/tags/cities"), ("speakers", "/speakers"),
         ("speaker", "/speakers/ada-lovelace"), ("search", "/search?q=open+data"), ("search none", "/search?q=zzzz"),
         ("staff login", "/staff/login")]
STAFF_PAGES = [("staff home", "/staff/"), ("staff jobs", "/staff/jobs"), ("staff webinar", "/staff/webinars/{video}"),
               ("staff new", "/staff/webinars/new"), ("staff edit", "/staff/webinars/{video}/edit"),
               ("staff upload", "/staff/webinars/{video}/upload"), ("staff delete", "/staff/webinars/{video}/delete"),
               ("staff statistics", "/staff/statistics"), ("staff users", "/staff/users"),
               ("preview", "/webinars/{draft}"),  # a draft, seen by staff: banner and a staff footer
               ("staff upload fr", "/staff/webinars/{video}/upload?lang=fr"),  # Uppy's French pack
               ("staff upload de", "/staff/webinars/{video}/upload?lang=de")]


@pytest.mark.parametrize("width", [1280, 360])
def test_public_and_staff_pages_have_no_serious_accessibility_violation(site, tmp_path, width):
    base, ids = site
    found = {}
    with browser_page(tmp_path / "profile", width=width, height=900, axe=True) as page:
        for name, path in PAGES + [("sign in", None)] + STAFF_PAGES:
            if path is None:
                sign_in_page(page, base, ADMIN)
                continue
            response = page.goto(base + path.format(**ids))
            assert response.status == (404 if name == "missing" else 200), name
            assert response.url == base + path.format(**ids), name  # not sent to the login form
            page.wait_for_load_state("networkidle")
            if name in SHOT:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
            violations = axe_violations(page)
            if violations:
                found[name] = violations
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
