"""A staff member's browser (Debian's chromium through Playwright): log in through the
form, read a failure on the job dashboard, retry it and watch the page follow the job;
every staff page fits a 360 px phone screen without sideways scrolling. Screenshots of
each page at 1280 and 360 px are left in the test's tmp_path."""
from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from archive import editing
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset

from ..browser import axe_violations, browser_context, browser_page
from ..staff import add_speakers_in_page, sign_in_page
from .staff_client import PASSWORD, add_user

pytestmark = pytest.mark.browser
BAD = b"This is a text file, not a recording.\n" * 10


@pytest.fixture
def browser(tmp_path):
    with browser_context(tmp_path / "chromium-profile", 1280, 900) as context:
        yield context


@pytest.fixture
def catalog_state(archive, worker, inputs):
    """One webinar that plays (with a warning), one whose upload is not media at all."""
    add_user(archive, "admin@example.org", "admin")
    add_user(archive, "a.very.long.editor.address@department.example.org", "editor")
    ok = import_webinar(archive, ImportRequest(title="Open data in practice", recording=inputs["h264_aac.mp4"]))
    bad = import_webinar(archive, ImportRequest(title="Broken upload", recording=inputs["h264_aac.mp4"]))
    archive.store.put_bytes(bad.recording.original_key, BAD, "video/mp4")
    with archive.catalog.transaction() as s:
        s.get(Asset, bad.recording.id).sha256 = hashlib.sha256(BAD).hexdigest()
    worker.run_until_idle()
    with archive.catalog.transaction() as s:
        a = s.get(Asset, ok.recording.id)
        a.info = {**a.info, "warnings": {"process_recording": ["3 damaged frames near 0:02; they were skipped."]}}
    return ok, bad


def test_log_in_read_the_failure_retry_and_every_page_fits_a_phone(live_server, browser, catalog_state, worker,
                                                                   tmp_path):
    ok, bad = catalog_state
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def snap(name: str) -> None:
        """Screenshots at 1280 and 360 px; at neither may the page scroll sideways."""
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=tmp_path / f"staff-{name}-{width}.png", full_page=True)
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= width, f"{name} at {width} px scrolls sideways ({wide} px wide)"
        page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Staff login").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff login")
    snap("login")
    page.get_by_label("E-mail address").fill("admin@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    snap("login-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webinars")
    expect(page.locator(".webinar-row", has_text="Broken upload").locator(".state")).to_have_text("failed")
    expect(page.locator(".webinar-row", has_text="Open data in practice").locator(".state")).to_have_text(
        "ready, with warnings")
    snap("webinars")

    page.get_by_role("link", name="Jobs", exact=True).click()
    failed = page.locator("li.job.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".reason")).to_contain_text("not a readable recording")
    failed.get_by_text("The tool's message").click()
    expect(failed.locator("details pre")).to_contain_text("moov atom not found")
    expect(page.locator("li.job", has_text="Open data in practice").locator(".warning")).to_have_text(
        "Warning: 3 damaged frames near 0:02; they were skipped.")
    snap("jobs")
    page.goto(f"{live_server}/staff/webinars/{bad.id}")
    snap("webinar-failed")
    page.goto(f"{live_server}/staff/webinars/{ok.id}")
    snap("webinar-warnings")
    page.goto(f"{live_server}/staff/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    snap("users")

    page.goto(f"{live_server}/staff/jobs?state=failed")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash.ok")).to_contain_text("is queued again")
    expect(page.locator("li.job")).to_have_count(0)  # back on the failed ones: none left
    page.get_by_role("link", name="queued (1)").click()
    expect(page.locator("li.job.queued")).to_have_count(1)
    snap("jobs-retried")
    # The page follows the queued job by itself (staff.js polls /staff/jobs.json) and
    # shows its new state when a worker has taken it: the input is still not media.
    page.goto(f"{live_server}/staff/webinars/{bad.id}")
    expect(page.locator("li.job.queued progress")).to_have_count(1)
    worker.run_until_idle()
    expect(page.locator("li.job.failed .reason")).to_contain_text("not a readable recording", timeout=20_000)

    # A new webinar through the forms: refused input stays in the form, beside its message.
    page.goto(f"{live_server}/staff/")
    page.get_by_role("link", name="New webinar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New webinar")
    snap("webinar-new")
    page.get_by_label("Description").fill("Kept while the title is missing")
    page.get_by_role("button", name="Create webinar").click()
    expect(page.get_by_role("alert")).to_have_text("Title: a webinar needs a title.")
    expect(page.get_by_label("Description")).to_have_value("Kept while the title is missing")
    snap("webinar-new-refused")
    page.get_by_label("Title").fill("Harbours and tides")
    page.get_by_role("button", name="Create webinar").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit “Harbours and tides”")
    add_speakers_in_page(page, (("Anna Schmidt", "TU Berlin"), ("Bartholomew Okafor-Lindqvist", "Harbour Lab")))
    page.get_by_label("Start times, one line per presentation, in order").fill(
        "00:00 Welcome\n12:30 Anna Schmidt – Results")
    page.get_by_role("button", name="Set start times").click()
    expect(page.locator("legend", has_text="Presentation 2")).to_have_text(
        "Presentation 2: Anna Schmidt – Results")
    snap("webinar-edit")
    page.get_by_label("Start times, one line per presentation, in order").fill("00:00 Welcome")
    page.get_by_role("button", name="Set start times").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Timestamps: 1 line for 2 presentations; give one line per presentation, in order.")
    snap("webinar-edit-refused")
    page.goto(f"{live_server}/staff/webinars/{ok.id}/edit")
    snap("webinar-edit-with-files")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff login")
    page.goto(f"{live_server}/staff/users")
    expect(page).to_have_url(f"{live_server}/staff/login?next=/staff/users")
    assert errors == []


def test_the_webinar_forms_pass_axe_at_both_widths(live_server, archive, inputs, tmp_path):
    """axe-core's WCAG 2.1 A/AA checks on the forms, filled and refused, at 1280 and 360 px."""
    add_user(archive, "editor@example.org", "editor")
    w = import_webinar(archive, ImportRequest(title="Open data in practice", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    editing.add_speaker(archive, w.id, editing.SpeakerForm("Anna Schmidt", "TU Berlin"))
    editing.set_start_times(archive, w.id, "00:00 Welcome\n00:02 Results")
    for width in (1280, 360):
        with browser_page(tmp_path / f"profile-{width}", width=width, height=900, axe=True) as page:
            sign_in_page(page, live_server, "editor@example.org")
            found = {}
            page.goto(f"{live_server}/staff/webinars/new")
            found["new"] = axe_violations(page)
            page.get_by_role("button", name="Create webinar").click()
            expect(page.get_by_role("alert")).to_have_text("Title: a webinar needs a title.")
            found["new refused"] = axe_violations(page)
            page.goto(f"{live_server}/staff/webinars/{w.id}/edit")
            found["edit"] = axe_violations(page)
            page.get_by_label("Start times, one line per presentation, in order").fill("0:00 one line")
            page.get_by_role("button", name="Set start times").click()
            expect(page.get_by_role("alert")).to_contain_text("1 line for 2 presentations")
            found["edit refused"] = axe_violations(page)
            assert {k: v for k, v in found.items() if v} == {}, width
