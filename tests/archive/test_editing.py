"""Staff edits of a webinar (archive/editing.py) on both catalog backends: details,
shared series/tags/speakers, presentations, pasted timestamps; search and the manifest
follow every change; bad input is one sentence naming the field, and changes nothing."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from archive import editing, search
from archive.editing import Details, EditRejected, PresentationForm, SpeakerForm
from archive.importer import ImportRequest, import_webinar
from archive.models import Series, Speaker, Tag

from ..helpers import reload

FUTURE = dt.date.today().year + 2  # a publish_at that has not passed


@pytest.fixture
def settings(backend_settings):  # every test here runs on SQLite and on PostgreSQL
    return backend_settings


def _manifest(archive, w) -> dict:
    return json.loads(archive.store.get_bytes(w.manifest_key))


def _found(archive, words: str) -> list[str]:
    with archive.catalog.session() as s:
        return [r.webinar_id for r in search.search(s, words).results]


def _details(**kw) -> Details:
    return Details(**{"title": "Open data in practice", "visibility": "draft", **kw})


def _imported(archive, inputs, title="Imported", **kw):
    return import_webinar(archive, ImportRequest(title=title, recording=inputs["h264_aac.mp4"], **kw))


def _slides_only(archive, inputs, title="Open data in practice"):
    """Public, with a deck and no recording: any start time is in range."""
    return import_webinar(archive, ImportRequest(title=title, slides=[inputs["deck.pdf"]]))


def test_create_and_edit_every_detail(archive, inputs):
    w = editing.create_webinar(archive, _details(
        description="*Data* for cities", new_series="Open data", tags="Cities, open data, cities",
        language="de-CH", date="2026-03-29", time="10:30", timezone="Europe/Berlin",
        publish_at=f"{FUTURE}-04-01T09:00"))
    assert w.title == "Open data in practice" and w.description == "*Data* for cities"
    assert w.series.title == "Open data" and sorted(t.slug for t in w.tags) == ["cities", "open-data"]
    # 29 March 2026 is the day Berlin moves to summer time: 10:30 is UTC+2 there.
    assert (w.held_on, w.starts_at, w.timezone) == (dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 8, 30),
                                                    "Europe/Berlin")
    assert w.publish_at == dt.datetime(FUTURE, 4, 1, 7, 0) and w.language == "de-CH"
    assert w.visibility == "draft" and w.assets == []
    assert _manifest(archive, w)["starts_at"] == "2026-03-29T08:30:00Z"
    again = Details.of(reload(archive, w.id))
    assert (again.date, again.time, again.publish_at, again.tags) == (
        "2026-03-29", "10:30", f"{FUTURE}-04-01T09:00", "Cities, open data")
    with pytest.raises(EditRejected, match="^Visibility: this webinar has no recording and no slides yet"):
        editing.update_webinar(archive, w.id, _details(visibility="public"))

    other = _imported(archive, inputs)
    other = editing.update_webinar(archive, other.id, _details(
        title="Renamed: tidal energy", description="Waves", new_series="open DATA", tags="energy",
        date="2026-07-01", timezone="America/New_York", visibility="public", publish_at=f"{FUTURE}-07-02T08:00"))
    assert other.series.id == w.series.id  # series matched by slug
    assert (other.title, other.description, [t.name for t in other.tags]) == ("Renamed: tidal energy", "Waves",
                                                                              ["energy"])
    assert (other.held_on, other.starts_at, other.language) == (dt.date(2026, 7, 1), None, None)
    assert other.publish_at == dt.datetime(FUTURE, 7, 2, 12, 0)  # 08:00 EDT
    assert _found(archive, "tidal") == []  # public, but not before its publish_at
    m = _manifest(archive, other)
    assert (m["title"], m["series"]["title"], m["visibility"]) == ("Renamed: tidal energy", "Open data", "public")

    other = editing.update_webinar(archive, other.id, _details(title="Tidal energy", series_id=w.series.id,
                                                               visibility="unlisted"))
    assert other.tags == [] and other.publish_at is None and other.held_on is None
    assert _found(archive, "tidal") == []  # unlisted: never in search
    other = editing.update_webinar(archive, other.id, _details(title="Tidal energy", visibility="public"))
    assert _found(archive, "tidal") == [other.id]
    assert _found(archive, "renamed") == [] and _found(archive, "waves") == []
    with archive.catalog.session() as s:  # shared rows stay for the other webinars
        assert s.query(Series).count() == 1 and s.query(Tag).count() == 3


@pytest.mark.parametrize("fields, field, message", [
    ({"title": "  "}, "title", "Title: a webinar needs a title."),
    ({"title": "x" * 301}, "title", "Title: longer than 300 characters."),
    ({"tags": "ok, ???"}, "tags", "Tags: '???' has no letters or digits."),
    ({"new_series": "!!"}, "new_series", "New series: '!!' has no letters or digits to make a name of."),
    ({"language": "english please"}, "language", "Language: 'english please' is not a language tag"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Time zone: 'Mars/Olympus' is not an IANA time zone"),
    ({"date": "29.03.2026"}, "date", "Date: '29.03.2026' is not a date (YYYY-MM-DD)."),
    ({"date": "2026-03-29", "time": "25:00", "timezone": "UTC"}, "time", "Time: '25:00' is not a time of day"),
    ({"time": "10:00", "timezone": "UTC"}, "date", "Date: a start time needs a date."),
    ({"date": "2026-03-29", "time": "10:00"}, "timezone", "Time zone: a start time needs a time zone"),
    ({"visibility": "secret"}, "visibility", "Visibility: choose one of draft, public, unlisted, private."),
    ({"publish_at": "tomorrow"}, "publish_at", "Publish at: 'tomorrow' is not a date and time"),
    ({"series_id": "nosuchseries"}, "series_id", "Series: that series no longer exists"),
])
def test_bad_details_name_the_field_and_change_nothing(archive, fields, field, message):
    w = editing.create_webinar(archive, _details())
    with pytest.raises(EditRejected) as e:
        editing.update_webinar(archive, w.id, _details(**fields))
    assert isinstance(e.value, ValueError)
    assert e.value.field == field and str(e.value).startswith(message)
    assert reload(archive, w.id).title == "Open data in practice"
    with pytest.raises(EditRejected):
        editing.create_webinar(archive, _details(**fields))


def test_speakers_are_shared_rows_added_edited_moved_and_removed(archive, inputs):
    imported = _imported(archive, inputs, speakers=[_speaker_input("Ada Lovelace", "Analytical")])
    w = _slides_only(archive, inputs)
    w = editing.add_speaker(archive, w.id, SpeakerForm("Anna Schmidt", "TU Berlin", "Works on *maps*."))
    w = editing.add_speaker(archive, w.id, SpeakerForm("  ada  LOVELACE ", ""))
    assert [sp.name for sp in w.speakers] == ["Anna Schmidt", "Ada Lovelace"]
    ada = w.speakers[1]
    assert ada.id == imported.speakers[0].id and ada.organisation == "Analytical"  # reused, kept
    with pytest.raises(EditRejected, match="^Name: Ada Lovelace is already a speaker of this webinar.$"):
        editing.add_speaker(archive, w.id, SpeakerForm("Ada Lovelace"))
    with pytest.raises(EditRejected, match="^Name: a speaker needs a name.$"):
        editing.add_speaker(archive, w.id, SpeakerForm(" "))

    # Editing the shared row shows everywhere, search included.
    w = editing.edit_speaker(archive, w.id, ada.id, SpeakerForm("Augusta Ada King", "Difference Engines", ""))
    assert _manifest(archive, reload(archive, imported.id))["speakers"][0]["name"] == "Augusta Ada King"
    assert sorted(_found(archive, "difference engines")) == sorted([w.id, imported.id])
    with pytest.raises(EditRejected, match="^Name: another speaker is called Anna Schmidt"):
        editing.edit_speaker(archive, w.id, ada.id, SpeakerForm("anna schmidt"))

    w = editing.move_speaker(archive, w.id, ada.id, "up")
    assert [sp.name for sp in w.speakers] == ["Augusta Ada King", "Anna Schmidt"]
    w = editing.move_speaker(archive, w.id, ada.id, "up")  # already first: stays
    assert [link.position for link in w.speaker_links] == [0, 1]
    w = editing.add_presentation(archive, w.id, PresentationForm("Maps", [w.speakers[0].id, w.speakers[1].id]))
    w = editing.remove_speaker(archive, w.id, ada.id)
    assert [sp.name for sp in w.speakers] == ["Anna Schmidt"]
    assert [sp.name for sp in w.presentations[0].speakers] == ["Anna Schmidt"]
    assert _found(archive, "difference engines") == [imported.id]
    with archive.catalog.session() as s:
        assert s.get(Speaker, ada.id) is not None  # the other webinar still lists her
    with pytest.raises(EditRejected, match="^Speaker: not a speaker of this webinar"):
        editing.remove_speaker(archive, w.id, ada.id)


def _speaker_input(name, organisation=""):
    from archive.importer import SpeakerInput
    return SpeakerInput(name=name, organisation=organisation)


def test_presentations_with_speakers_decks_and_start_times(archive, inputs):
    w = import_webinar(archive, ImportRequest(title="With files", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    deck = w.decks[0]
    duration = w.recording.info["duration"]
    w = editing.add_speaker(archive, w.id, SpeakerForm("Anna Schmidt"))
    anna = w.speakers[0].id
    w = editing.add_presentation(archive, w.id, PresentationForm("Welcome", [], "", "0:00"))
    w = editing.add_presentation(archive, w.id, PresentationForm("Results", [anna], deck.id, "0:01"))
    assert [(p.title, p.start_seconds) for p in w.presentations] == [("Welcome", 0.0), ("Results", 1.0)]
    assert w.presentations[1].deck_asset_id == deck.id and w.presentations[1].speakers[0].id == anna
    assert _manifest(archive, w)["presentations"][1]["deck_asset_id"] == deck.id
    for start, seconds in [("1:02:03", 3723), ("62:03", 3723), ("3723", 3723), ("", None)]:
        if seconds is None or seconds <= duration:
            w = editing.edit_presentation(archive, w.id, w.presentations[0].id,
                                          PresentationForm("Welcome", [], "", start))
            assert w.presentations[0].start_seconds == seconds
        else:
            with pytest.raises(EditRejected, match=r"^Start: 1:02:03 is after the end of the recording"):
                editing.edit_presentation(archive, w.id, w.presentations[0].id,
                                          PresentationForm("Welcome", [], "", start))
    first, second = w.presentations
    with pytest.raises(EditRejected, match=r"^Start: '1:99' is not a time"):
        editing.edit_presentation(archive, w.id, first.id, PresentationForm("Welcome", [], "", "1:99"))
    with pytest.raises(EditRejected, match=r"^Deck: .* is already the deck of 'Results'"):
        editing.edit_presentation(archive, w.id, first.id, PresentationForm("Welcome", [], deck.id))
    with pytest.raises(EditRejected, match=r"^Deck: choose one of this webinar's slide decks"):
        editing.edit_presentation(archive, w.id, first.id, PresentationForm("Welcome", [], w.recording.id))
    with pytest.raises(EditRejected, match=r"^Speakers: choose among this webinar's speakers"):
        editing.edit_presentation(archive, w.id, first.id, PresentationForm("Welcome", ["nobody"]))
    with pytest.raises(EditRejected, match=r"^Title: a presentation needs a title"):
        editing.add_presentation(archive, w.id, PresentationForm(""))

    w = editing.edit_presentation(archive, w.id, second.id, PresentationForm("Results on flooding", [], "", "0:02"))
    assert (w.presentations[1].deck_asset_id, w.presentations[1].speakers) == (None, [])
    assert _found(archive, "flooding") == [w.id]
    w = editing.move_presentation(archive, w.id, second.id, "up")
    assert [p.title for p in w.presentations] == ["Results on flooding", "Welcome"]
    assert [p.position for p in w.presentations] == [0, 1]
    w = editing.remove_presentation(archive, w.id, second.id)
    assert [p.title for p in w.presentations] == ["Welcome"]
    assert _found(archive, "flooding") == []
    assert [p["title"] for p in _manifest(archive, w)["presentations"]] == ["Welcome"]


def test_pasted_timestamps_create_then_set_every_start(archive, inputs):
    w = _slides_only(archive, inputs)
    w = editing.set_start_times(archive, w.id, "00:00 Welcome\n\n12:30 Anna Schmidt – Results\n"
                                               "[1:02:03] - Questions\n")
    assert [(p.title, p.start_seconds, p.position) for p in w.presentations] == [
        ("Welcome", 0.0, 0), ("Anna Schmidt – Results", 750.0, 1), ("Questions", 3723.0, 2)]
    assert _found(archive, "questions") == [w.id]
    w = editing.set_start_times(archive, w.id, "0:05\n12:00 titles are ignored now\n3700")
    assert [(p.title, p.start_seconds) for p in w.presentations] == [
        ("Welcome", 5.0), ("Anna Schmidt – Results", 720.0), ("Questions", 3700.0)]


@pytest.mark.parametrize("text, message", [
    ("", "Timestamps: paste one line per presentation"),
    ("0:00 a\n1:00 b", "Timestamps: 2 lines for 3 presentations; give one line per presentation, in order."),
    ("0:00 a\n1:00 b\n2:00 c\n3:00 d", "Timestamps: 4 lines for 3 presentations"),
    ("0:00 a\nabout ten\n2:00 c", "Timestamps, line 2: 'about ten' does not start with a time"),
    ("0:00 a\n1:75 b\n2:00 c", "Timestamps, line 2: '1:75' is not a time"),
    ("0:00 a\n5:00 b\n2:00 c", "Timestamps, line 3: 2:00 comes before the line above it"),
])
def test_bad_timestamps_say_which_line_and_change_nothing(archive, text, message):
    w = editing.set_start_times(archive, editing.create_webinar(archive, _details()).id, "0:00 a\n1:00 b\n2:00 c")
    with pytest.raises(EditRejected) as e:
        editing.set_start_times(archive, w.id, text)
    assert e.value.field == "timestamps" and str(e.value).startswith(message)
    assert [p.start_seconds for p in reload(archive, w.id).presentations] == [0, 60, 120]


def test_timestamps_need_titles_to_create_presentations(archive):
    w = editing.create_webinar(archive, _details())
    with pytest.raises(EditRejected, match="^Timestamps, line 2: this webinar has no presentations yet"):
        editing.set_start_times(archive, w.id, "0:00 Welcome\n1:00\n")
    assert reload(archive, w.id).presentations == []


def test_publishing_needs_files_and_unpublishing_hides(archive, inputs):
    empty = editing.create_webinar(archive, _details())
    with pytest.raises(EditRejected, match="^Visibility: this webinar has no recording and no slides yet"):
        editing.set_visibility(archive, empty.id, "public")
    w = import_webinar(archive, ImportRequest(title="Tidal energy", recording=inputs["h264_aac.mp4"],
                                              visibility="draft"))
    assert _found(archive, "tidal") == []
    w = editing.set_visibility(archive, w.id, "public")
    assert w.visibility == "public" and _found(archive, "tidal") == [w.id]
    assert _manifest(archive, w)["visibility"] == "public"
    w = editing.set_visibility(archive, w.id, "draft")
    assert _found(archive, "tidal") == []
    with pytest.raises(editing.WebinarNotFound):
        editing.set_visibility(archive, "nosuchwebinar", "draft")


def test_saving_the_form_as_shown_keeps_an_imported_start_without_a_zone(archive, inputs):
    start = dt.datetime(2025, 5, 6, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    w = _imported(archive, inputs, starts_at=start)
    assert w.timezone is None
    shown = Details.of(reload(archive, w.id))
    assert (shown.date, shown.time, shown.timezone) == ("2025-05-06", "12:00", "UTC")
    w = editing.update_webinar(archive, w.id, shown)
    assert (w.starts_at, w.held_on, w.visibility) == (dt.datetime(2025, 5, 6, 12, 0), dt.date(2025, 5, 6), "public")
