"""Slides in step with the talk, on SQLite and on PostgreSQL + Redis: the alignment job is
queued once per deck when both the recording and the deck are processed (whichever is
last), each presentation within its own stretch; its timeline is stored with the
presentation, in the manifest, the API and the search's slide moments; staff-typed slide
times win; what staff set is kept when the job runs again; replacing the recording or the
deck aligns again. The talk's frames are its deck's pages
(tests/slide_media.py), so the pages found are known."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from archive import editing, pipeline, slidesync, uploads
from archive.importer import ImportRequest, PresentationInput, import_webinar
from archive.models import Job
from archive.search import SearchDocument
from archive.states import JobState, TimelineSource
from archive.worker import Worker
from web import create_app

from ..helpers import reload
from ..slide_media import SCHEDULE, make_synced_talk, process
from .test_uploads import send

ALIGN = "align_slides"
TOLERANCE = 0.6  # seconds: two frames of the aligner's sampling, and one of the video's


@pytest.fixture
def settings(backend_settings):  # every test here runs on both catalog backends
    return backend_settings


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    return make_synced_talk(tmp_path_factory.mktemp("synced"))


def _jobs(archive, kind: str = ALIGN) -> list[Job]:
    with archive.catalog.session() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def _changes(segments) -> list[tuple[float, int]]:
    return [(s["start"], s["page"]) for s in segments]


def _assert_found(segments) -> None:
    assert [p for _, p in _changes(segments)] == [page for _, _, page in SCHEDULE]
    for (start, page), (true_start, _, true_page) in zip(_changes(segments), SCHEDULE):
        assert abs(start - true_start) <= TOLERANCE, (start, true_start, page)


def _moment(archive, deck_id: str, page: int) -> float | None:
    with archive.catalog.session() as s:
        return s.scalar(select(SearchDocument.at_seconds).where(SearchDocument.asset_id == deck_id,
                                                               SearchDocument.page == page))


def _replace(archive, w, kind: str, path, old_id: str) -> str:
    data = path.read_bytes()
    up = uploads.create(archive, "staff-1", w.id, kind, path.name, len(data), replaces=old_id)
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    process(archive)
    return up.id


def test_aligned_once_after_both_within_its_stretch_and_typed_times_win(archive, talk):
    deck, video, other = talk
    typed = [12.0, 13.0]
    w = import_webinar(archive, ImportRequest(title="Synced", recording=video, presentations=[
        PresentationInput("The talk", slides=deck, start=0),
        PresentationInput("Second talk", slides=other, start=12.0, slide_times=typed)]))
    worker = Worker(archive, "w")
    # The decks first: the recording is not processed, nothing to align with yet.
    while worker.run_once(kinds={"process_slides"}):
        pass
    assert _jobs(archive) == []
    assert worker.run_once(kinds={"process_recording"}) is True  # the second one queues them
    w = reload(archive, w.id)
    jobs = _jobs(archive)
    assert sorted((j.asset_id, j.partner_asset_id, j.state) for j in jobs) == \
        sorted((d.id, w.recording.id, JobState.QUEUED) for d in w.decks)
    process(archive)
    assert [(j.id, j.state) for j in _jobs(archive)] == [(j.id, JobState.DONE) for j in jobs]  # no second one

    w = reload(archive, w.id)
    first, second = w.presentations
    timeline = first.slide_timeline
    assert timeline["source"] == TimelineSource.FOUND and timeline["accepted"] is False
    _assert_found(timeline["segments"])
    assert timeline["segments"][-1]["end"] <= 12.0 + TOLERANCE  # its own stretch: up to the next talk
    assert timeline["titles"][2] == "Marmoset results" and abs(timeline["proposed_start"]) <= TOLERANCE
    assert all(archive.store.head(s["frame"]) for s in timeline["segments"])  # staff compare these
    manifest = json.loads(archive.store.get_bytes(w.manifest_key))
    assert manifest["presentations"][0]["slide_timeline"]["segments"] == timeline["segments"]
    assert abs(_moment(archive, first.deck_asset_id, 3) - 6.0) <= TOLERANCE  # where a search hit opens
    assert abs(_moment(archive, first.deck_asset_id, 2) - 3.0) <= TOLERANCE  # its first appearance

    # The second talk's slide times were typed in its description: they win.
    view = slidesync.effective(second, second.deck, w.recording.info["duration"])
    assert view["source"] == TimelineSource.STAFF and _changes(view["segments"]) == [(12.0, 1), (13.0, 2)]
    assert _moment(archive, second.deck_asset_id, 2) == 13.0
    api = create_app(archive, {"TESTING": True}).test_client().get(f"/api/v1/webinars/{w.id}").get_json()
    talks = api["presentations"]
    assert [s["page"] for s in talks[0]["slide_timeline"]["segments"]] == [p for _, _, p in SCHEDULE]
    assert "frame" not in talks[0]["slide_timeline"]["segments"][0]  # no storage keys for visitors
    assert talks[1]["slide_timeline"]["source"] == "staff" and talks[1]["slides"] == second.deck_asset_id


def test_staff_edits_survive_a_rerun_and_replacements_align_again(archive, talk):
    deck, video, _ = talk
    w = import_webinar(archive, ImportRequest(title="Reviewed", recording=video,
                                              presentations=[PresentationInput("The talk", slides=deck)]))
    process(archive)
    p = reload(archive, w.id).presentations[0]
    found = p.slide_timeline["segments"]
    editing.edit_slide_timeline(archive, w.id, p.id, "move", index="2", start="6.8")  # page 3's change
    editing.edit_slide_timeline(archive, w.id, p.id, "remove", index="3")  # the return to page 2
    edited = reload(archive, w.id).presentations[0].slide_timeline
    assert edited["source"] == TimelineSource.STAFF
    assert _changes(edited["segments"]) == [_changes(found)[0], _changes(found)[1], (6.8, 3), _changes(found)[4]]
    assert edited["segments"][1]["end"] == 6.8 and edited["segments"][2]["end"] == found[3]["end"]
    assert _moment(archive, p.deck_asset_id, 3) == 6.8  # a search hit on page 3 opens where staff put it

    [job] = _jobs(archive)
    pipeline.retry(archive.catalog, job.id)
    process(archive)
    again = reload(archive, w.id).presentations[0].slide_timeline
    assert _jobs(archive)[0].state == JobState.DONE
    assert again["segments"] == edited["segments"] and again["source"] == TimelineSource.STAFF
    _assert_found(again["found"])  # what the job found is renewed beside them

    # A new recording: aligned again; staff's changes (same deck, same pages) stay.
    recording = _replace(archive, w, "recording", video, reload(archive, w.id).recording.id)
    [job] = _jobs(archive)  # the old recording's job went with it
    assert job.partner_asset_id == recording and job.state == JobState.DONE
    timeline = reload(archive, w.id).presentations[0].slide_timeline
    assert timeline["recording"] == recording and timeline["segments"] == edited["segments"]
    # A new deck: aligned again; its pages are new, so what was found is used.
    new_deck = _replace(archive, w, "slides", deck, p.deck_asset_id)
    assert [(j.asset_id, j.state) for j in _jobs(archive)] == [(new_deck, JobState.DONE)]
    timeline = reload(archive, w.id).presentations[0].slide_timeline
    assert timeline["deck"] == new_deck and timeline["source"] == TimelineSource.FOUND
    _assert_found(timeline["segments"])

    # Accepted found changes are kept too; a move past a neighbour is refused.
    editing.edit_slide_timeline(archive, w.id, p.id, "accept")
    assert reload(archive, w.id).presentations[0].slide_timeline["accepted"] is True
    with pytest.raises(editing.EditRejected, match="past its neighbours"):
        editing.edit_slide_timeline(archive, w.id, p.id, "move", index="1", start="12")
