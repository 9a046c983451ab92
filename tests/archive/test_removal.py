"""Deleting a webinar or one file, and replacing a file, on SQLite and on PostgreSQL + Redis.

Interleavings with a running worker are forced with gates (Events the test opens), as in
test_pipeline.py: the deletion runs while a job is held mid-run, after its check and
before its uploads, or after its uploads and before it saves them. Whatever the order,
once the worker has ended no row and no object of the deleted webinar or file remains.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive import jobs, pipeline, removal, uploads
from archive.analytics import DailyCount
from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.models import Asset, Job, Presentation, Speaker, Webinar, WebinarSpeaker
from archive.pdfgen import write_deck
from archive.search import SearchDocument, SearchWebinar
from archive.uploads import Upload, UploadRefused
from archive.worker import Worker

from ..helpers import reload
from .test_pipeline import Gate, InThread, gated
from .test_uploads import send


def _complete(archive, upload_id: str, parts: list[dict]) -> None:
    """Complete a browser upload and run the worker's content check of it, which records
    the file (or refuses it) as the embedded worker would."""
    assert uploads.complete(archive, upload_id, "staff-1", parts).state == "checking"
    assert Worker(archive, "checker").run_once(kinds={uploads.CHECK_KIND}) is True


@pytest.fixture
def settings(backend_settings):  # every test here runs on both catalog backends
    return backend_settings


@pytest.fixture(scope="module")
def other_deck(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("decks") / "new deck.pdf"
    write_deck(path, "New deck", [("Zeppelin slide", ["Quokka point"])])
    return path


@pytest.fixture(scope="module")
def vtt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("captions") / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello marmalade\n")
    return path


def _full_webinar(archive, inputs, vtt, title="Everything") -> Webinar:
    return import_webinar(archive, ImportRequest(
        title=title, recording=inputs["h264_aac.mp4"], captions=[("en", vtt)],
        speakers=[SpeakerInput("Ada Speaker")],
        presentations=[PresentationInput("The talk", speakers=["Ada Speaker"], slides=inputs["deck.pdf"], start=0)]))


def _rows_of(archive, webinar_id: str, asset_ids: list[str]) -> dict[str, int]:
    """How many rows of each table still belong to the webinar or its files."""
    with archive.catalog.session() as s:
        def n(q):
            return s.scalar(select(func.count()).select_from(q.subquery()))
        return {k: v for k, v in {
            "webinars": n(select(Webinar.id).where(Webinar.id == webinar_id)),
            "assets": n(select(Asset.id).where(Asset.id.in_(asset_ids))),
            "jobs": n(select(Job.id).where(Job.asset_id.in_(asset_ids))),
            "presentations": n(select(Presentation.id).where(Presentation.webinar_id == webinar_id)),
            "speaker links": n(select(WebinarSpeaker.speaker_id).where(WebinarSpeaker.webinar_id == webinar_id)),
            "search documents": n(select(SearchDocument.id).where(SearchDocument.webinar_id == webinar_id)),
            "search summary": n(select(SearchWebinar.id).where(SearchWebinar.webinar_id == webinar_id)),
            "uploads": n(select(Upload.id).where(Upload.webinar_id == webinar_id)),
            "counts": n(select(DailyCount.day).where(DailyCount.webinar_id == webinar_id)),
        }.items() if v}


def _asset_ids(archive, webinar_id: str) -> list[str]:
    with archive.catalog.session() as s:
        return list(s.scalars(select(Asset.id).where(Asset.webinar_id == webinar_id)))


def _keys(archive, prefix: str) -> list[str]:
    return sorted(archive.store.list_keys(prefix))


def test_deleting_a_webinar_removes_every_row_and_object_and_keeps_its_speakers(archive, inputs, vtt):
    w = _full_webinar(archive, inputs, vtt)
    keep = import_webinar(archive, ImportRequest(title="Kept", recording=inputs["audio.m4a"]))
    Worker(archive, "w").run_until_idle()
    ids = _asset_ids(archive, w.id)
    with archive.catalog.transaction() as s:
        s.add(DailyCount(day=reload(archive, w.id).created_at.date(), webinar_id=w.id, asset_id=ids[0],
                         event="download", count=3))
    unfinished = uploads.create(archive, "staff-1", w.id, "slides", "later.pdf", 10_000_000)
    send(archive, unfinished, bytes(5 * 1024 * 1024))  # one whole part sent, the rest never comes
    summary = removal.summary(archive, w.id)
    assert (summary.files, summary.uploads, summary.running_jobs) == (3, 1, 0)
    assert summary.objects == len(_keys(archive, w.prefix)) > 10 and summary.bytes > inputs["h264_aac.mp4"].stat().st_size

    removed = removal.delete_webinar(archive, w.id)
    assert sorted(removed.asset_ids) == sorted(ids) and removed.objects == summary.objects
    assert _rows_of(archive, w.id, ids) == {}
    assert _keys(archive, w.prefix) == []
    assert archive.store.list_multipart_uploads(w.prefix) == []
    with archive.catalog.session() as s:
        assert s.scalar(select(Speaker.id).where(Speaker.name == "Ada Speaker")) is not None  # shared: kept
    # The other webinar is untouched, and a second deletion finds nothing.
    assert reload(archive, keep.id).recording.status == "ready" and _keys(archive, keep.prefix)
    assert removal.delete_webinar(archive, w.id) is None
    with pytest.raises(uploads.UploadNotFound):
        uploads.sign_part(archive, unfinished.id, "staff-1", 2)


class HeldAfterCheck:
    """A heartbeat whose first check passes and then holds: the job was still there when
    it looked, and is deleted before its uploads land (the window a check cannot close)."""

    def __init__(self, hb, gate: Gate):
        self._hb, self._gate, self._held = hb, gate, False

    def check(self) -> None:
        self._hb.check()
        if not self._held:
            self._held = True
            self._gate.hold()

    def __getattr__(self, name):
        return getattr(self._hb, name)


def held_after_check(kind: str, gate: Gate) -> dict[str, pipeline.JobKind]:
    real = pipeline.GRAPH[kind]
    return {**pipeline.GRAPH, kind: dataclasses.replace(
        real, handler=lambda archive, asset, hb: real.handler(archive, asset, HeldAfterCheck(hb, gate)))}


@pytest.mark.parametrize("where", ["mid-run, before its uploads", "after its uploads, before it saves them"])
def test_a_webinar_deleted_while_its_recording_is_processed_leaves_nothing(archive, inputs, where):
    w = import_webinar(archive, ImportRequest(title="Deleted while processing", recording=inputs["h264_aac.mp4"]))
    ids = _asset_ids(archive, w.id)
    gate = Gate()
    graph = (held_after_check("process_recording", gate) if where.startswith("mid-run")
             else gated("process_recording", gate, before=False))
    worker = InThread(Worker(archive, "held", graph=graph))
    gate.wait_reached()
    assert removal.summary(archive, w.id).running_jobs == 1
    assert removal.delete_webinar(archive, w.id) is not None
    assert _rows_of(archive, w.id, ids) == {}
    gate.opened.set()  # the worker goes on: uploads (or has uploaded), then finds its job gone
    assert worker.join() is True
    assert _keys(archive, w.prefix) == []
    assert _rows_of(archive, w.id, ids) == {}


def test_a_webinar_deleted_while_its_slides_bundle_is_made_leaves_nothing(archive, inputs, other_deck):
    """The bundle lives beside the decks, not under one: the whole prefix is swept."""
    w = import_webinar(archive, ImportRequest(title="Two decks", slides=[inputs["deck.pdf"], other_deck]))
    gate = Gate()
    Worker(archive, "w").run_once()  # the first deck's pages
    Worker(archive, "w").run_once()  # the second deck's pages
    worker = InThread(Worker(archive, "held", graph=held_after_check("slides_bundle", gate)))
    gate.wait_reached()
    removal.delete_webinar(archive, w.id)
    gate.opened.set()
    assert worker.join() is True
    Worker(archive, "w").run_until_idle()  # the other deck's bundle job went with its row
    assert _keys(archive, w.prefix) == []


def test_removing_one_file_keeps_the_others_and_the_presentation(archive, inputs, vtt):
    w = _full_webinar(archive, inputs, vtt)
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    deck, rec = w.decks[0], w.recording
    bundle = deck.outputs.get("bundle")
    assert w.presentations[0].deck_asset_id == deck.id
    removed = removal.remove_asset(archive, deck.id)
    assert removed.asset_ids == [deck.id] and removed.objects > 2
    w = reload(archive, w.id)
    assert [a.kind for a in w.assets] == ["recording", "captions"]
    assert w.presentations[0].deck_asset_id is None and w.presentations[0].title == "The talk"
    assert _keys(archive, deck.derived_prefix) == [] and archive.store.head(deck.original_key) is None
    if bundle:
        assert archive.store.head(bundle["key"]) is None
    assert archive.store.head(rec.outputs["web"]) is not None
    with archive.catalog.session() as s:
        assert s.scalar(select(func.count()).where(SearchDocument.asset_id == deck.id)) == 0
        assert "Alpha" not in s.scalar(select(SearchWebinar.text).where(SearchWebinar.webinar_id == w.id))
    manifest = archive.store.get_bytes(w.manifest_key).decode()
    assert deck.id not in manifest.split('"presentations"')[1] and rec.id in manifest
    assert removal.remove_asset(archive, deck.id) is None


def test_a_new_recording_replaces_the_old_one_once_it_is_watchable(archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Replaced", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_until_idle()
    old = reload(archive, w.id).recording
    old_keys = _keys(archive, old.derived_prefix)
    data = inputs["vp9_opus.webm"].read_bytes()
    up = uploads.create(archive, "staff-1", w.id, "recording", "second take.webm", len(data))
    _complete(archive, up.id, send(archive, up, data))

    shown = reload(archive, w.id)
    assert shown.recording.id == old.id and shown.status == "ready"  # the new one is hidden
    assert [a.id for a in shown.assets] == [old.id, up.id] and shown.assets[1].replaces == old.id
    assert up.id not in archive.store.get_bytes(shown.manifest_key).decode()

    gate = Gate()
    worker = InThread(Worker(archive, "held", graph=gated("process_recording", gate, before=False)))
    gate.wait_reached()  # the new file's outputs are in the bucket, not yet saved
    assert reload(archive, w.id).recording.id == old.id
    assert all(archive.store.head(k) is not None for k in old_keys)
    gate.opened.set()
    assert worker.join() is True
    w = reload(archive, w.id)
    assert w.recording.id == up.id and w.recording.status == "ready" and [a.id for a in w.assets] == [up.id]
    assert w.recording.info["replaced"] == old.id
    assert _keys(archive, old.derived_prefix) == [] and archive.store.head(old.original_key) is None
    with archive.catalog.session() as s:
        assert s.get(Asset, old.id) is None
        assert s.scalar(select(func.count()).where(Job.asset_id == old.id)) == 0
    Worker(archive, "w").run_until_idle()
    assert reload(archive, w.id).recording.outputs.get("audio_m4a")


def test_a_replaced_deck_hands_over_its_presentation_and_its_text(archive, inputs, other_deck):
    w = import_webinar(archive, ImportRequest(title="Deck", speakers=[SpeakerInput("Bo")], presentations=[
        PresentationInput("Talk one", speakers=["Bo"], slides=inputs["deck.pdf"])]))
    Worker(archive, "w").run_until_idle()
    old = reload(archive, w.id).decks[0]
    data = other_deck.read_bytes()
    with pytest.raises(UploadRefused, match="not a recording file of this webinar"):
        uploads.create(archive, "staff-1", w.id, "recording", "x.mp4", 100, replaces=old.id)
    up = uploads.create(archive, "staff-1", w.id, "slides", "new deck.pdf", len(data), replaces=old.id)
    _complete(archive, up.id, send(archive, up, data))
    assert [d.id for d in reload(archive, w.id).decks] == [old.id]
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    assert [d.id for d in w.decks] == [up.id] and w.presentations[0].deck_asset_id == up.id
    assert _keys(archive, old.derived_prefix) == [] and archive.store.head(old.original_key) is None
    with archive.catalog.session() as s:
        # The summary's vocabulary holds the slides' words: the new deck's, not the old one's.
        words = s.scalar(select(SearchWebinar.words).where(SearchWebinar.webinar_id == w.id)).split()
    assert "quokka" in map(str.casefold, words) and "alpha" not in map(str.casefold, words)


def test_a_replacement_that_fails_leaves_the_old_file_served(archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Failed replacement", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_until_idle()
    old = reload(archive, w.id).recording
    data = inputs["audio.m4a"].read_bytes()
    up = uploads.create(archive, "staff-1", w.id, "recording", "bad.m4a", len(data))

    def broken(archive, asset, hb):
        raise jobs.PermanentError("the encoder gave up")

    _complete(archive, up.id, send(archive, up, data))
    graph = {**pipeline.GRAPH, "process_recording": dataclasses.replace(
        pipeline.GRAPH["process_recording"], handler=broken)}
    Worker(archive, "w", graph=graph).run_until_idle()
    w = reload(archive, w.id)
    assert w.recording.id == old.id and w.status == "ready" and w.errors == []  # visitors see the old one
    new = next(a for a in w.assets if a.id == up.id)
    assert (new.status, new.error, new.replaces) == ("failed", "the encoder gave up", old.id)  # staff see it
    assert archive.store.head(old.outputs["web"]) is not None
    # Removing the failed file leaves the old one as it was.
    removal.remove_asset(archive, up.id)
    assert [a.id for a in reload(archive, w.id).assets] == [old.id]


def test_an_upload_may_only_replace_a_served_file_of_its_webinar_and_kind(archive, inputs, webinar_id):
    other = import_webinar(archive, ImportRequest(title="Other", recording=inputs["h264_aac.mp4"]))
    rec = reload(archive, other.id).recording
    for target in (rec.id, "nosuchasset"):
        with pytest.raises(UploadRefused, match="the file to replace"):
            uploads.create(archive, "staff-1", webinar_id, "recording", "a.mp4", 100, replaces=target)
    # A replacement removed before it is recorded: the new file is simply added.
    data = inputs["deck.pdf"].read_bytes()
    first = uploads.create(archive, "staff-1", webinar_id, "slides", "a.pdf", len(data))
    _complete(archive, first.id, send(archive, first, data))
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "b.pdf", len(data), replaces=first.id)
    parts = send(archive, up, data)
    removal.remove_asset(archive, first.id)
    _complete(archive, up.id, parts)
    assert [(a.id, a.replaces) for a in reload(archive, webinar_id).assets] == [(up.id, None)]


def test_sweep_finishes_a_replacement_a_crash_interrupted(archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Crashed", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_until_idle()
    old = reload(archive, w.id).recording
    with archive.catalog.transaction() as s:  # committed as `removing`; the worker died before deleting
        s.get(Asset, old.id).status = "removing"
    assert reload(archive, w.id).recording is None
    assert removal.purge_replaced(archive) == [old.id]
    assert _keys(archive, w.prefix) == [w.manifest_key]
    assert removal.purge_replaced(archive) == []


def test_two_replacements_of_one_recording_leave_the_last_one_processed(archive, inputs, monkeypatch):
    """The second replacement was asked for while the first was pending; the worker died
    after the first took over (its old file still `removing`): the second takes over from
    the first, and the next sweep removes both old files."""
    w = import_webinar(archive, ImportRequest(title="Twice", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_until_idle()
    first_file = reload(archive, w.id).recording
    ids = []
    for path in (inputs["audio.m4a"], inputs["vp9_opus.webm"]):
        data = path.read_bytes()
        up = uploads.create(archive, "staff-1", w.id, "recording", path.name, len(data))
        _complete(archive, up.id, send(archive, up, data))
        ids.append(up.id)
    assert [a.replaces for a in reload(archive, w.id).assets] == [None, first_file.id, first_file.id]
    with monkeypatch.context() as m:
        m.setattr(removal, "purge_replaced", lambda *a, **k: [])  # the worker dies before it removes
        Worker(archive, "w").run_once()  # the first replacement's fast path
    assert [(a.id, a.status) for a in reload(archive, w.id).assets][:2] == [(first_file.id, "removing"),
                                                                            (ids[0], "ready")]
    assert reload(archive, w.id).recording.id == ids[0]
    Worker(archive, "w").run_until_idle()
    w = reload(archive, w.id)
    assert [(a.id, a.status) for a in w.assets] == [(ids[1], "ready")] and w.recording.id == ids[1]
    assert sorted(_keys(archive, w.prefix + "originals/")) == [w.recording.original_key]
