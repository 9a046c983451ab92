"""Slides in step with the talk, on SQLite and on PostgreSQL + Redis: the alignment job is
queued once both the recording and the deck are processed (whichever is last), its
timeline is stored with the presentation, in the manifest and in the search's slide
moments; staff-typed slide times win; what staff set is kept when the job runs again;
replacing the recording aligns again. The talk's frames are its deck's pages
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

from ..helpers import reload
from ..slide_media import SCHEDULE, make_synced_talk
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


def _import(archive, talk, **presentation):
    deck, video = talk
    return import_webinar(archive, ImportRequest(
        title="Synced", recording=video,
        presentations=[PresentationInput("The talk", slides=deck, **presentation)]))


def _changes(segments) -> list[tuple[float, int]]:
    return [(s["start"], s["page"]) for s in segments]


def _assert_found(segments) -> None:
    assert [p for _, p in _changes(segments)] == [page for _, _, page in SCHEDULE]
    for (start, page), (true_start, _, true_page) in zip(_changes(segments), SCHEDULE):
        assert abs(start - true_start) <= TOLERANCE, (start, true_start, page)


def test_alignment_is_queued_once_after_both_and_stored_everywhere(archive, talk):
    w = _import(archive, talk, start=0)
    worker = Worker(archive, "w")
    # The deck first: the recording is not processed, nothing to align with yet.
    assert worker.run_once(kinds={"process_slides"}) is True
    assert _jobs(archive) == []
    assert worker.run_once(kinds={"process_recording"}) is True  # the second one queues it
    [job] = _jobs(archive)
    w = reload(archive, w.id)
    assert (job.asset_id, job.partner_asset_id, job.state) == (w.decks[0].id, w.recording.id, JobState.QUEUED)
    worker.run_until_idle()
    [job] = _jobs(archive)  # the later jobs of both files queued no second one
    assert job.state == JobState.DONE, job.error

    w = reload(archive, w.id)
    timeline = w.presentations[0].slide_timeline
    assert timeline["source"] == TimelineSource.FOUND and timeline["accepted"] is False
    _assert_found(timeline["segments"])
    assert timeline["titles"][2] == "Marmoset results" and abs(timeline["proposed_start"]) <= TOLERANCE
    assert all(archive.store.head(s["frame"]) for s in timeline["segments"])  # staff compare these
    manifest = json.loads(archive.store.get_bytes(w.manifest_key))
    assert manifest["presentations"][0]["slide_timeline"]["segments"] == timeline["segments"]
    with archive.catalog.session() as s:
        moments = dict(s.execute(select(SearchDocument.page, SearchDocument.at_seconds)
                                 .where(SearchDocument.asset_id == w.decks[0].id)).all())
    assert abs(moments[3] - 4.0) <= TOLERANCE and abs(moments[2] - 2.0) <= TOLERANCE  # its first appearance


def test_staff_edits_are_kept_when_the_job_runs_again(archive, talk):
    w = _import(archive, talk)
    Worker(archive, "w").run_until_idle()
    p = reload(archive, w.id).presentations[0]
    found = p.slide_timeline["segments"]
    editing.edit_slide_timeline(archive, w.id, p.id, "move", index="2", start="4.8")  # page 3's change
    editing.edit_slide_timeline(archive, w.id, p.id, "remove", index="3")  # the return to page 2
    edited = reload(archive, w.id).presentations[0].slide_timeline
    assert edited["source"] == TimelineSource.STAFF
    assert _changes(edited["segments"]) == [_changes(found)[0], _changes(found)[1], (4.8, 3), _changes(found)[4]]
    assert edited["segments"][1]["end"] == 4.8 and edited["segments"][2]["end"] == found[3]["end"]

    [job] = _jobs(archive)
    pipeline.retry(archive.catalog, job.id)
    Worker(archive, "w").run_until_idle()
    again = reload(archive, w.id).presentations[0].slide_timeline
    assert _jobs(archive)[0].state == JobState.DONE
    assert again["segments"] == edited["segments"] and again["source"] == TimelineSource.STAFF
    _assert_found(again["found"])  # what the job found is renewed beside them
    with archive.catalog.session() as s:
        at = s.scalar(select(SearchDocument.at_seconds).where(SearchDocument.asset_id == p.deck_asset_id,
                                                             SearchDocument.page == 3))
    assert at == 4.8  # a search hit on page 3 opens where staff put it

    # Accepting found changes keeps them too; going back to the found ones hands them to the job.
    editing.edit_slide_timeline(archive, w.id, p.id, "reset")
    editing.edit_slide_timeline(archive, w.id, p.id, "accept")
    kept = reload(archive, w.id).presentations[0].slide_timeline
    assert kept["accepted"] is True and kept["source"] == TimelineSource.FOUND
    with pytest.raises(editing.EditRejected, match="past its neighbours"):
        editing.edit_slide_timeline(archive, w.id, p.id, "move", index="1", start="9")


def test_staff_typed_slide_times_win_over_found_ones(archive, talk):
    typed = [0.0, 1.0, 5.0, 9.0]
    w = _import(archive, talk, slide_times=typed)
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    p, deck = w.presentations[0], w.decks[0]
    _assert_found(p.slide_timeline["segments"])  # found, and kept for staff to see
    view = slidesync.effective(p, deck, w.recording.info["duration"])
    assert view["source"] == TimelineSource.STAFF
    assert _changes(view["segments"]) == [(t, n) for n, t in enumerate(typed, 1)]
    with archive.catalog.session() as s:
        at = s.scalar(select(SearchDocument.at_seconds).where(SearchDocument.asset_id == deck.id,
                                                             SearchDocument.page == 3))
    assert at == 5.0


def test_a_replaced_recording_is_aligned_again(archive, talk, inputs):
    w = _import(archive, talk)
    Worker(archive, "w").run_until_idle()
    [first] = _jobs(archive)
    data = talk[1].read_bytes()
    up = uploads.create(archive, "staff-1", w.id, "recording", "second take.mp4", len(data))
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    assert w.recording.id == up.id
    [job] = _jobs(archive)  # the old recording's job went with it
    assert job.id != first.id and job.partner_asset_id == up.id and job.state == JobState.DONE
    timeline = w.presentations[0].slide_timeline
    assert timeline["recording"] == up.id
    _assert_found(timeline["segments"])
