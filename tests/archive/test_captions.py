import pytest

from archive import captions, queries
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Webinar

SRT = ("1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\n\r\n"
       "2\r\n00:00:03,000 --> 00:00:04,000\r\nSecond\r\nline\r\n").encode("utf-8")
ZOOM = ("WEBVTT\n\n1\n00:00:00.120 --> 00:00:03.450\nAna Müller: Welcome everyone.\n\n"
        "2\n00:00:03.900 --> 00:00:06.000\nBob: Thanks, Ana.\n").encode("utf-8")


def test_srt_becomes_webvtt():
    vtt = captions.to_vtt(captions.parse(SRT))
    assert vtt == ("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello <i>there</i>\n\n"
                   "00:00:03.000 --> 00:00:04.000\nSecond\nline\n")


def test_zoom_transcript_speakers_become_voices():
    vtt = captions.to_vtt(captions.parse(ZOOM))
    assert "<v Ana Müller>Welcome everyone." in vtt and "<v Bob>Thanks, Ana." in vtt


def test_vtt_with_header_notes_and_settings():
    data = (b"WEBVTT - lecture\nKind: captions\n\nNOTE a note\n\n"
            b"00:01.000 --> 00:02.000 align:start\nShort timestamps\n")
    [cue] = captions.parse(data)
    assert (cue.start, cue.end, cue.text) == (1.0, 2.0, "Short timestamps")


@pytest.mark.parametrize("data, reason", [
    (b"", "no cues"),
    (b"just some text\n", "no cues"),
    (b"\x00\x01\x02binary", "not a text file"),
    (b"WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nbackwards\n", "ends before it starts"),
])
def test_bad_caption_files(data, reason):
    with pytest.raises(captions.CaptionsRejected, match=reason):
        captions.parse(data)


def test_captions_flow_to_the_page(archive, worker, inputs, client, tmp_path):
    srt = tmp_path / "talk.srt"
    srt.write_bytes(SRT)
    zoom = tmp_path / "transcript.vtt"
    zoom.write_bytes(ZOOM)
    w = import_webinar(archive, ImportRequest(title="With captions", recording=inputs["h264_aac.mp4"],
                                              captions=[("en", srt), ("de", zoom)]))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        w = queries.get(s, w.id)
    assert w.status == "ready", w.errors
    en = next(c for c in w.captions if c.info["language"] == "en")
    assert en.outputs["vtt"] == f"webinars/{w.id}/captions/{en.id}/en.vtt"
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert f'src="/webinars/{w.id}/captions/{en.id}.vtt"' in page and 'srclang="de"' in page
    r = client.get(f"/webinars/{w.id}/captions/{en.id}.vtt")
    assert r.status_code == 200 and r.mimetype == "text/vtt"
    assert r.get_data(as_text=True).startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500")


def test_bad_captions_are_refused_at_import(archive, inputs, tmp_path):
    bad = tmp_path / "x.vtt"
    bad.write_text("not captions")
    with pytest.raises(ImportRejected, match="no cues"):
        import_webinar(archive, ImportRequest(title="x", recording=inputs["h264_aac.mp4"],
                                              captions=[("en", bad)]))
    with pytest.raises(ImportRejected, match="language tag"):
        import_webinar(archive, ImportRequest(title="x", recording=inputs["h264_aac.mp4"],
                                              captions=[("english please", inputs["deck.pdf"])]))
    with archive.catalog.session() as s:
        assert s.query(Webinar).count() == 0
    assert list(archive.store.list_keys("")) == []
