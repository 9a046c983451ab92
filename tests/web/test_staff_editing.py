"""The staff forms that put a webinar online (web/staff/webinars.py), through the test
client with CSRF on: create, edit every field, speakers, presentations, pasted start
times, publish; refused input is shown next to its form with what was typed kept."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from archive.importer import ImportRequest, import_webinar

from ..helpers import reload
from .staff_client import add_user, csrf_token, login, post

FIELDS = ("title", "description", "series_id", "new_series", "tags", "language", "date", "time", "timezone",
          "visibility", "publish_at")


@pytest.fixture
def editor(client, archive):
    add_user(archive, "editor@example.org", "editor")
    assert login(client, "editor@example.org").status_code == 302
    return client


@pytest.fixture
def imported(archive, inputs):
    """A public webinar with a recording and a deck, as the CLI imports it."""
    return import_webinar(archive, ImportRequest(title="Imported talk", recording=inputs["h264_aac.mp4"],
                                                 slides=[inputs["deck.pdf"]]))


def _form(**kw) -> dict:
    return {**{f: "" for f in FIELDS}, "title": "Open data in practice", "visibility": "draft", **kw}


def _text(r) -> str:
    return html.unescape(r.get_data(as_text=True))


def _flashes(client, url: str) -> str:
    return _text(client.get(url))


def _value(page: str, element_id: str) -> str:
    """The value of an <input> or the text of a <textarea> in the page."""
    m = re.search(rf'<input id="{element_id}"[^>]*value="([^"]*)"', page)
    if m:
        return html.unescape(m.group(1))
    m = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, f"no field {element_id}"
    return html.unescape(m.group(1))


def _search(client, words: str) -> str:
    return _text(client.get("/search", query_string={"q": words}))


def test_new_webinar_from_the_home_page_then_every_field_edited(editor, archive, imported):
    home = _text(editor.get("/staff/"))
    assert 'href="/staff/webinars/new"' in home and "New webinar" in home
    assert 'name="q" value=""' in home  # the header's search box is empty, not the template's helpers
    page = _text(editor.get("/staff/webinars/new"))
    for label in ("Title", "Description", "Language", "Series", "Or a new series", "Tags", "Date", "Start time",
                  "Time zone", "Visibility", "Publish at (optional)"):
        assert re.search(rf'<label for="details-\w+">{re.escape(label)}</label>', page), label
    assert page.count("<fieldset>") == 4 and 'name="csrf_token"' in page

    r = post(editor, "/staff/webinars/new", _form(
        description="Cities *share* data", new_series="Open data", tags="cities, open data", language="en",
        date="2026-06-07", time="14:00", timezone="Europe/Berlin"))
    assert r.status_code == 302
    wid = r.location.split("/")[-2]
    assert r.location == f"/staff/webinars/{wid}/edit"
    page = _flashes(editor, r.location)
    assert "Created “Open data in practice”." in page
    w = reload(archive, wid)
    assert (w.title, w.series.title, [t.slug for t in w.tags], w.language) == (
        "Open data in practice", "Open data", ["cities", "open-data"], "en")
    assert (w.starts_at, w.held_on, w.visibility) == (dt.datetime(2026, 6, 7, 12, 0), dt.date(2026, 6, 7), "draft")
    assert _value(page, "details-time") == "14:00" and _value(page, "details-timezone") == "Europe/Berlin"
    assert re.search(rf'<option value="{w.series.id}" selected>Open data</option>', page)

    # Every field of an imported (public) webinar, changed through the form.
    series_id = w.series.id
    edit = f"/staff/webinars/{imported.id}/edit"
    r = post(editor, edit, _form(title="Tidal energy for harbours", description="Waves **and** tides",
                                 series_id=series_id, tags="energy, sea", language="pt-BR", date="2025-01-15",
                                 time="09:30", timezone="America/Sao_Paulo", visibility="public",
                                 publish_at="2025-01-16T08:00"))
    assert (r.status_code, r.location) == (302, f"{edit}#details")
    assert "Saved the details." in _flashes(editor, edit)
    w = reload(archive, imported.id)
    assert (w.title, w.description, w.series_id, [t.name for t in w.tags], w.language) == (
        "Tidal energy for harbours", "Waves **and** tides", series_id, ["energy", "sea"], "pt-BR")
    assert (w.held_on, w.starts_at, w.timezone) == (dt.date(2025, 1, 15), dt.datetime(2025, 1, 15, 12, 30),
                                                    "America/Sao_Paulo")
    assert (w.visibility, w.publish_at) == ("public", dt.datetime(2025, 1, 16, 11, 0))
    found = _search(editor, "harbours")
    assert f'/webinars/{imported.id}' in found and "Imported talk" not in found
    assert f'/webinars/{imported.id}' not in _search(editor, "imported")
    assert "Tidal energy for harbours" in _text(editor.get(f"/webinars/{imported.id}"))

    # Private after an edit: not reachable by a visitor, not found.
    post(editor, edit, _form(title="Tidal energy for harbours", visibility="private"))
    visitor = editor.application.test_client()
    assert visitor.get(f"/webinars/{imported.id}").status_code == 404
    assert f'/webinars/{imported.id}' not in _search(visitor, "harbours")


def test_refused_details_are_shown_next_to_the_form_with_the_input_kept(editor, archive, imported):
    r = post(editor, "/staff/webinars/new", _form(title=" ", description="My *careful* notes", tags="a, b"))
    assert r.status_code == 200
    page = _text(r)
    assert '<p class="form-error" role="alert" id="details-error">Title: a webinar needs a title.</p>' in page
    assert re.search(r'<input id="details-title"[^>]*aria-invalid="true"', page)
    assert _value(page, "details-description") == "My *careful* notes" and _value(page, "details-tags") == "a, b"

    edit = f"/staff/webinars/{imported.id}/edit"
    r = post(editor, edit, _form(title="Kept title", date="2025-01-15", time="09:30", timezone="Mars/Olympus"))
    page = _text(r)
    assert r.status_code == 200 and "Time zone: 'Mars/Olympus' is not an IANA time zone" in page
    assert _value(page, "details-title") == "Kept title" and _value(page, "details-timezone") == "Mars/Olympus"
    assert reload(archive, imported.id).title == "Imported talk"

    r = post(editor, "/staff/webinars/new", _form(visibility="public"))
    assert "Visibility: this webinar has no recording and no slides yet" in _text(r)
    assert editor.get("/staff/webinars/nosuchwebinar/edit").status_code == 404


def test_speakers_added_edited_moved_and_removed(editor, archive, imported):
    edit = f"/staff/webinars/{imported.id}/edit"
    for name, org in (("Anna Schmidt", "TU Berlin"), ("Ben Okafor", "")):
        r = post(editor, f"/staff/webinars/{imported.id}/speakers/add", {"name": name, "organisation": org,
                                                                          "bio": ""})
        assert (r.status_code, r.location) == (302, f"{edit}#speakers")
    page = _flashes(editor, edit)
    assert "Added Ben Okafor." in page
    assert "<legend>Speaker 1: Anna Schmidt</legend>" in page and "<legend>Speaker 2: Ben Okafor</legend>" in page
    anna, ben = [sp.id for sp in reload(archive, imported.id).speakers]

    r = post(editor, f"/staff/webinars/{imported.id}/speakers/add", {"name": "", "organisation": "Kept Org",
                                                                      "bio": "Kept bio"})
    page = _text(r)
    assert r.status_code == 200 and "Name: a speaker needs a name." in page
    assert _value(page, "speaker-new-organisation") == "Kept Org" and _value(page, "speaker-new-bio") == "Kept bio"

    post(editor, f"/staff/webinars/{imported.id}/speakers/save",
         {"speaker_id": ben, "name": "Ben Okafor", "organisation": "Harbour Lab", "bio": "Builds *tide* models."})
    post(editor, f"/staff/webinars/{imported.id}/speakers/move", {"speaker_id": ben, "direction": "up"})
    w = reload(archive, imported.id)
    assert [(sp.name, sp.organisation) for sp in w.speakers] == [("Ben Okafor", "Harbour Lab"),
                                                                  ("Anna Schmidt", "TU Berlin")]
    assert f'/webinars/{imported.id}' in _search(editor, "harbour lab")
    r = post(editor, f"/staff/webinars/{imported.id}/speakers/save",
             {"speaker_id": anna, "name": "ben okafor", "organisation": "", "bio": ""})
    assert "Name: another speaker is called Ben Okafor" in _text(r)
    assert _value(_text(r), f"speaker-{anna}-name") == "ben okafor"

    r = post(editor, f"/staff/webinars/{imported.id}/speakers/remove", {"speaker_id": ben})
    assert "Removed the speaker from this webinar." in _flashes(editor, r.location)
    assert [sp.name for sp in reload(archive, imported.id).speakers] == ["Anna Schmidt"]
    assert f'/webinars/{imported.id}' not in _search(editor, "harbour lab")
    r = post(editor, f"/staff/webinars/{imported.id}/speakers/remove", {"speaker_id": ben})  # a stale page
    assert (r.status_code, r.location) == (302, f"{edit}#speakers")
    assert "Speaker: not a speaker of this webinar (reload the page)." in _flashes(editor, edit)


def test_presentations_and_pasted_start_times(editor, archive, imported):
    base = f"/staff/webinars/{imported.id}"
    post(editor, f"{base}/speakers/add", {"name": "Anna Schmidt"})
    post(editor, f"{base}/speakers/add", {"name": "Ben Okafor"})
    anna, ben = [sp.id for sp in reload(archive, imported.id).speakers]
    deck = imported.decks[0].id
    r = post(editor, f"{base}/presentations/add", {"title": "Welcome", "start": "0:00"})
    assert (r.status_code, r.location) == (302, f"{base}/edit#presentations")
    r = editor.post(f"{base}/presentations/add", data={
        "title": "Results", "speaker_ids": [anna, ben], "deck_id": deck, "start": "1",
        "csrf_token": _token(editor, base)})
    assert r.status_code == 302
    page = _flashes(editor, f"{base}/edit")
    assert "Added “Results”." in page and "<legend>Presentation 2: Results</legend>" in page
    assert re.search(rf'<option value="{deck}" selected>', page)
    first, second = reload(archive, imported.id).presentations
    assert ([sp.name for sp in second.speakers], second.deck_asset_id, second.start_seconds) == (
        ["Anna Schmidt", "Ben Okafor"], deck, 1.0)

    r = editor.post(f"{base}/presentations/save", data={
        "presentation_id": second.id, "title": "Results on flooding", "speaker_ids": [ben], "deck_id": deck,
        "start": "99:99", "csrf_token": _token(editor, base)})
    page = _text(r)
    assert r.status_code == 200 and "Start: '99:99' is not a time" in page
    assert _value(page, f"presentation-{second.id}-title") == "Results on flooding"
    assert re.search(rf'value="{ben}" checked', page) and not re.search(rf'value="{anna}" checked', page)
    post(editor, f"{base}/presentations/save", {"presentation_id": second.id, "title": "Results on flooding",
                                                "start": "0:02"})
    post(editor, f"{base}/presentations/move", {"presentation_id": second.id, "direction": "up"})
    w = reload(archive, imported.id)
    assert [(p.title, p.start_seconds, p.speakers, p.deck_asset_id) for p in w.presentations] == [
        ("Results on flooding", 2.0, [], None), ("Welcome", 0.0, [], None)]
    assert f'/webinars/{imported.id}' in _search(editor, "flooding")

    # All the start times at once: the box holds them as they are.
    page = _text(editor.get(f"{base}/edit"))
    assert _value(page, "timestamps-text") == "0:02 Results on flooding\n0:00 Welcome"
    r = post(editor, f"{base}/timestamps", {"timestamps": "00:00 Results\n0:03 Welcome"})
    assert (r.status_code, r.location) == (302, f"{base}/edit#presentations")
    assert "Saved the start times." in _flashes(editor, r.location)
    assert [p.start_seconds for p in reload(archive, imported.id).presentations] == [0.0, 3.0]
    for bad, message in [("0:00 only one", "Timestamps: 1 line for 2 presentations; give one line per "
                                           "presentation, in order."),
                         ("0:00 a\nsoon b", "Timestamps, line 2: 'soon b' does not start with a time"),
                         ("0:00 a\n1:00:00 b", "Timestamps, line 2: 1:00:00 is after the end of the recording")]:
        r = post(editor, f"{base}/timestamps", {"timestamps": bad})
        page = _text(r)
        assert r.status_code == 200 and message in page, page[page.find("form-error") - 20:][:300]
        assert _value(page, "timestamps-text") == bad
    assert [p.start_seconds for p in reload(archive, imported.id).presentations] == [0.0, 3.0]

    post(editor, f"{base}/presentations/remove", {"presentation_id": w.presentations[0].id})
    assert [p.title for p in reload(archive, imported.id).presentations] == ["Welcome"]
    assert f'/webinars/{imported.id}' not in _search(editor, "flooding")


def test_timestamps_create_the_presentations_of_an_empty_webinar(editor, archive, imported):
    r = post(editor, f"/staff/webinars/{imported.id}/timestamps",
             {"timestamps": "00:00 Welcome\n00:02 Anna Schmidt – Results\n"})
    assert r.status_code == 302
    assert [(p.title, p.start_seconds) for p in reload(archive, imported.id).presentations] == [
        ("Welcome", 0.0), ("Anna Schmidt – Results", 2.0)]


def test_publish_and_unpublish_with_the_button(editor, archive, imported, client):
    base = f"/staff/webinars/{imported.id}"
    post(editor, f"{base}/edit", _form(title="Imported talk", visibility="draft"))
    visitor = editor.application.test_client()
    assert visitor.get(f"/webinars/{imported.id}").status_code == 404
    page = _text(editor.get(f"{base}/edit"))
    assert f'action="{base}/publish#publish"' in page and ">Publish</button>" in page
    assert f'href="/staff/webinars/{imported.id}/upload"' in page

    r = post(editor, f"{base}/publish")
    assert (r.status_code, r.location) == (302, f"{base}/edit#publish")
    page = _flashes(editor, r.location)
    assert "Published: anyone can find and watch it now" in page and ">Unpublish</button>" in page
    assert visitor.get(f"/webinars/{imported.id}").status_code == 200
    assert f'/webinars/{imported.id}' in _search(visitor, "imported")

    post(editor, f"{base}/unpublish")
    assert reload(archive, imported.id).visibility == "draft"
    assert visitor.get(f"/webinars/{imported.id}").status_code == 404
    assert f'/webinars/{imported.id}' not in _search(visitor, "imported")

    empty = post(editor, "/staff/webinars/new", _form(title="Nothing yet")).location.split("/")[-2]
    r = post(editor, f"/staff/webinars/{empty}/publish")
    assert r.status_code == 200 and "Visibility: this webinar has no recording and no slides yet" in _text(r)
    assert reload(archive, empty).visibility == "draft"


def test_the_staff_page_of_a_webinar_links_to_edit_and_upload(editor, imported):
    page = _text(editor.get(f"/staff/webinars/{imported.id}"))
    assert f'href="/staff/webinars/{imported.id}/edit">Edit</a>' in page
    assert f'href="/staff/webinars/{imported.id}/upload">Upload files</a>' in page


def test_forms_refuse_a_post_without_the_csrf_token(editor, archive, imported):
    r = editor.post(f"/staff/webinars/{imported.id}/edit", data=_form(title="Forged"))
    assert r.status_code == 400
    assert reload(archive, imported.id).title == "Imported talk"


def _token(client, base: str) -> str:
    return csrf_token(client, f"{base}/edit")
