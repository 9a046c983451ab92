import json
from pathlib import Path

import pytest

from archive import media, probe, queries
from archive.hashing import sha256_file
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar

from ..helpers import reload as _reload
from ..services import Listener


def _download(archive, key, dst: Path) -> Path:
    archive.store.download_file(key, dst)
    return dst


def _limits(archive) -> media.ToolLimits:
    return media.ToolLimits.from_settings(archive.settings)


def _count(archive, model) -> int:
    with archive.catalog.session() as s:
        return s.query(model).count()


def _import(archive, inputs, **kw) -> Webinar:
    return import_webinar(archive, ImportRequest(title="A webinar", **kw))


def test_h264_aac_takes_the_fast_path(archive, worker, inputs, tmp_path):
    w = _import(archive, inputs, recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]])
    rec = w.recording
    # the original is stored immutably under a server-made key, with its checksum
    assert rec.original_key == f"webinars/{w.id}/originals/{rec.id}/original.mp4"
    head = archive.store.head(rec.original_key)
    assert head["metadata"]["sha256"] == sha256_file(inputs["h264_aac.mp4"]) == rec.sha256
    assert _reload(archive, w.id).status == "processing"

    worker.run_until_idle()

    w = _reload(archive, w.id)
    assert w.status == "ready", w.errors
    rec = w.recording
    plan = rec.info["web_plan"]
    assert (plan["video"], plan["audio"], plan["path"]) == ("copy", "copy", "direct")
    web = _download(archive, rec.outputs["web"], tmp_path / "web.mp4")
    info = probe.probe(web, _limits(archive))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.duration == pytest.approx(4, abs=0.2)
    data = web.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "web.mp4 must be faststart"
    poster = _download(archive, rec.outputs["poster"], tmp_path / "poster.jpg")
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"


def test_vp9_opus_webm_is_transcoded(archive, worker, inputs, tmp_path):
    w = _import(archive, inputs, recording=inputs["vp9_opus.webm"])
    assert w.recording.original_key.endswith("/original.webm")
    worker.run_until_idle()
    rec = _reload(archive, w.id).recording
    assert rec.status == "ready", rec.error
    plan = rec.info["web_plan"]
    assert (plan["video"], plan["audio"], plan["path"]) == ("encode", "encode", "progressive")
    info = probe.probe(_download(archive, rec.outputs["web"], tmp_path / "web.mp4"), _limits(archive))
    assert (info.video_codec, info.audio_codec, info.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (info.width, info.height) == (320, 240)


def test_audio_only_recording(archive, worker, inputs, tmp_path):
    w = _import(archive, inputs, recording=inputs["audio.m4a"])
    worker.run_until_idle()
    rec = _reload(archive, w.id).recording
    assert rec.status == "ready", rec.error
    assert rec.info["kind"] == "audio"
    assert rec.outputs["web"].endswith("/audio.m4a")
    info = probe.probe(_download(archive, rec.outputs["web"], tmp_path / "audio.m4a"), _limits(archive))
    assert not info.has_video and info.audio_codec == "aac"
    assert _download(archive, rec.outputs["poster"], tmp_path / "p.jpg").stat().st_size > 1000


def test_pdf_pages_are_rendered_with_their_text(archive, worker, inputs):
    w = _import(archive, inputs, slides=[inputs["deck.pdf"]])
    worker.run_until_idle()
    deck = _reload(archive, w.id).decks[0]
    assert deck.status == "ready", deck.error
    assert deck.info["page_count"] == 3
    assert len(deck.outputs["pages"]["large"]) == 3 and len(deck.outputs["pages"]["thumb"]) == 3
    first = archive.store.get_bytes(deck.outputs["pages"]["large"][0])
    assert first[:4] == b"RIFF" and first[8:12] == b"WEBP"
    texts = json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"]
    assert "Alpha point" in texts[0] and "Gamma" in texts[1]


def _no_job_names(text: str) -> None:
    """Visitors are told what is coming in plain words: no job's kind, label or attempt."""
    from archive.pipeline import GRAPH

    for kind in GRAPH.values():
        assert kind.name not in text and kind.label not in text, kind.name
    assert "attempt" not in text


def test_the_page_shows_what_is_still_being_done(archive, worker, inputs, client):
    w = _import(archive, inputs, recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]])
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "The recording is being prepared." in page and "The slides are being prepared." in page
    assert 'http-equiv="refresh"' in page
    worker.run_once()  # the fast path: watchable, renditions still to come
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "<video" in page
    assert '<p class="notice processing progress" role="status">The slides are being prepared. ' \
           'More qualities and the audio download are on their way.</p>' in page
    assert 'http-equiv="refresh"' not in page  # never reload under a viewer
    for text in (page, client.get(f"/api/webinars/{w.id}").get_data(as_text=True),
                 client.get(f"/api/v1/webinars/{w.id}").get_data(as_text=True)):
        _no_job_names(text)
    worker.run_until_idle()
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "progress" not in page


def test_manifest_describes_the_webinar(archive, worker, inputs):
    w = _import(archive, inputs, recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]])
    worker.run_until_idle()
    m = json.loads(archive.store.get_bytes(f"webinars/{w.id}/manifest.json"))
    assert m["id"] == w.id and m["title"] == "A webinar"
    assert {a["kind"] for a in m["assets"]} == {"recording", "slides"}
    assert all(a["status"] == "ready" and a["sha256"] for a in m["assets"])


def test_reprocessing_replaces_outputs_without_duplicates(archive, worker, inputs):
    w = _import(archive, inputs, recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]])
    worker.run_until_idle()
    before = sorted(archive.store.list_keys(w.prefix))
    with archive.catalog.transaction() as s:
        for job in s.query(Job).all():
            job.state, job.attempts = "queued", 0
    worker.run_until_idle()
    assert sorted(archive.store.list_keys(w.prefix)) == before
    assert _reload(archive, w.id).status == "ready"


@pytest.mark.parametrize("name, reason", [
    ("not_media.mp4", "not a readable recording"),
    ("empty.mp4", "empty"),
    ("truncated.mp4", "truncated"),
    ("hls_playlist.mp4", "not a recording in an accepted container"),
])
def test_bad_recordings_are_rejected_without_a_trace(archive, inputs, name, reason):
    with pytest.raises(ImportRejected, match=reason):
        _import(archive, inputs, recording=inputs[name], slides=[inputs["deck.pdf"]])
    assert _count(archive, Webinar) == _count(archive, Asset) == _count(archive, Job) == 0
    assert list(archive.store.list_keys("webinars/")) == []


def test_a_deck_that_is_not_a_pdf_is_rejected(archive, inputs):
    with pytest.raises(ImportRejected, match="not a PDF"):
        _import(archive, inputs, recording=inputs["h264_aac.mp4"], slides=[inputs["not_a_pdf.pdf"]])
    assert _count(archive, Webinar) == 0
    assert list(archive.store.list_keys("webinars/")) == []


def test_a_playlist_disguised_as_mp4_fetches_nothing(archive, inputs, tmp_path):
    listener = Listener()
    playlist = tmp_path / "talk.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{listener.url('seg.ts')}\n"
                        f"#EXTINF:4,\n{inputs['h264_aac.mp4']}\n#EXT-X-ENDLIST\n")
    try:
        with pytest.raises(ImportRejected):
            _import(archive, inputs, recording=playlist)
    finally:
        listener.close()
    assert listener.hits == []


def test_failed_processing_keeps_the_reason(archive, worker, inputs, client):
    w = _import(archive, inputs, recording=inputs["h264_aac.mp4"])
    # Someone overwrote the stored original: the checksum no longer matches.
    archive.store.put_bytes(w.recording.original_key, b"tampered", "video/mp4")
    worker.run_until_idle()
    w = _reload(archive, w.id)
    assert w.status == "failed"
    assert "checksum" in w.recording.error
    with archive.catalog.session() as s:
        job = s.query(Job).one()
        assert (job.state, job.attempts) == ("failed", 1)  # known-bad: not retried
    # the reason and the retry command are for staff; visitors read a plain sentence
    with archive.catalog.session() as s:
        staff = queries.staff_status(s, queries.get(s, w.id), "http://archive.test")
    assert "checksum" in staff["error"]
    assert staff["jobs"][0]["retry"] == f"webinar-archive jobs --retry {job.id}"
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "The recording could not be processed." in page and "checksum" not in page
    status = client.get(f"/api/webinars/{w.id}").get_json()
    assert status["status"] == "failed" and "checksum" not in str(status)


def test_a_presentation_without_speakers_is_imported(archive, inputs):
    """A talk whose speaker is not named (a panel, a welcome) is still a presentation."""
    from archive.importer import PresentationInput
    w = import_webinar(archive, ImportRequest(title="Open floor", recording=inputs["h264_aac.mp4"],
                                              presentations=[PresentationInput(title="Welcome", start=0.0)]))
    with archive.catalog.session() as s:
        got = queries.get(s, w.id)
        assert [(p.title, p.speakers) for p in got.presentations] == [("Welcome", [])]
    body = json.loads(archive.store.get_bytes(w.manifest_key))
    assert [p["speakers"] for p in body["presentations"]] == [[]]
