import re
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from archive import queries
from archive.context import Archive
from archive.editing import set_visibility
from archive.importer import ImportRequest, import_webinar
from archive.hls import rewrite_playlist
from archive.states import Visibility
from archive.worker import Worker
from web import create_app

from ..conftest import make_settings

# In the scale-out configuration too (scripts/test; tests/conftest.py).
pytestmark = pytest.mark.scaleout

LINKS_VALID_FOR = "X-Links-Valid-For"  # the player reads it: a header, not a name in the code


def _media_playlist(archive, client, webinar_id: str):
    """The first rendition's media playlist as the app serves it, and its links."""
    with archive.catalog.session() as s:
        rec = queries.get(s, webinar_id).recording
    base = f"/webinars/{webinar_id}/recording/{rec.id}"
    master = client.get(f"{base}/hls/master.m3u8")
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    variant = [ln for ln in master.get_data(as_text=True).splitlines() if ln and not ln.startswith("#")][0]
    r = client.get(f"{base}/hls/{variant}")
    text = r.get_data(as_text=True)
    links = [re.search(r'URI="([^"]+)"', text).group(1)] + [ln for ln in text.splitlines()
                                                            if ln and not ln.startswith("#")]
    return f"{base}/hls/{variant}", r, links


def test_rewrite_playlist_signs_segments_and_init():
    text = ('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6.0,\nseg_00000.m4s\n#EXTINF:2.0,\n'
            'seg_00001.m4s\n#EXT-X-ENDLIST')
    out = rewrite_playlist(text, lambda u: f"https://s3/{u}?sig")
    assert '#EXT-X-MAP:URI="https://s3/init.mp4?sig"' in out
    assert "https://s3/seg_00000.m4s?sig\n" in out and out.endswith("#EXT-X-ENDLIST\n")


def test_hls_and_storyboard_are_served_with_presigned_media(archive, worker, inputs, client):
    w = import_webinar(archive, ImportRequest(title="HLS", recording=inputs["h264_aac.mp4"]))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        rec = queries.get(s, w.id).recording
    base = f"/webinars/{w.id}/recording/{rec.id}"
    _, media, links = _media_playlist(archive, client, w.id)
    init = links[0]
    assert init.startswith(archive.settings.s3_public_endpoint) and "X-Amz-Signature" in init
    for url in links:
        with urllib.request.urlopen(url) as r:
            assert r.status == 200 and len(r.read()) > 100
    # Playback links live minutes by default, and the playlist says how long (for the player).
    assert {parse_qs(urlsplit(u).query)["X-Amz-Expires"][0] for u in links} == {"600"}
    assert 300 <= int(media.headers[LINKS_VALID_FOR]) <= 600
    assert client.get(f"{base}/hls/../index.m3u8").status_code == 404
    assert client.get(f"{base}/hls/nope/index.m3u8").status_code == 404
    vtt = client.get(f"{base}/storyboard.vtt").get_data(as_text=True)
    sheet = re.search(r"^(http\S+)#xywh=0,0,160,120$", vtt, re.M).group(1)
    with urllib.request.urlopen(sheet) as r:
        assert r.read()[:3] == b"\xff\xd8\xff"


def test_audio_and_pdf_downloads(archive, worker, inputs, client):
    w = import_webinar(archive, ImportRequest(title="Downloads", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        deck = queries.get(s, w.id).decks[0]
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "Download the audio (MP3)" in page
    for fmt, ctype in (("mp3", "audio/mpeg"), ("m4a", "audio/mp4")):
        r = client.get(f"/webinars/{w.id}/audio.{fmt}")
        assert r.status_code == 302
        with urllib.request.urlopen(r.location) as got:
            assert got.headers["Content-Type"] == ctype
            assert f"filename*=UTF-8''h264_aac.{fmt}" in got.headers["Content-Disposition"]
            assert len(got.read()) > 1000
    assert client.get(f"/webinars/{w.id}/audio.wav").status_code == 404
    r = client.get(f"/webinars/{w.id}/slides/{deck.id}/pdf")
    with urllib.request.urlopen(r.location) as got:
        assert got.read() == inputs["deck.pdf"].read_bytes()


def test_a_link_handed_out_before_unpublishing_stops_working_within_its_lifetime(minio, inputs, tmp_path):
    lifetime = 3
    archive = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_PRESIGN_SECONDS=str(lifetime)))
    archive.setup()
    try:
        w = import_webinar(archive, ImportRequest(title="Soon a draft", recording=inputs["h264_aac.mp4"]))
        Worker(archive, name="test-worker").run_until_idle()
        client = create_app(archive, {"TESTING": True}).test_client()
        handed_out = time.monotonic()
        path, media, links = _media_playlist(archive, client, w.id)
        assert 0 < int(media.headers[LINKS_VALID_FOR]) <= lifetime
        with urllib.request.urlopen(links[1]) as r:
            assert r.status == 200

        set_visibility(archive, w.id, Visibility.DRAFT)
        assert client.get(path).status_code == 404  # no new links
        # The link handed out before stops working by the end of its lifetime.
        while True:
            try:
                with urllib.request.urlopen(links[1]) as r:
                    r.read()
            except urllib.error.HTTPError as e:
                assert e.code == 403
                break
            assert time.monotonic() - handed_out < lifetime + 5, "the link still works"
            time.sleep(0.1)  # polling: an expiry has no event to wait on
        assert time.monotonic() - handed_out <= lifetime + 1  # S3 counts whole seconds
    finally:
        archive.close()


def test_a_directly_played_upload_is_an_app_route_whose_link_ends_with_the_webinar(archive, worker, inputs, client):
    """While its fast path runs, a browser-playable upload plays as it is: through an app
    route (renewed by the player, refused once unpublished), never a link signed into the page."""
    w = import_webinar(archive, ImportRequest(title="Direct", recording=inputs["h264_aac.mp4"]))
    with archive.catalog.transaction() as s:
        rec = queries.get(s, w.id).recording
        rec.info = {**rec.info, "direct_play": True}  # as the browser upload's check records it
    route = f"/webinars/{w.id}/recording/{rec.id}/direct"
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert route in page and "X-Amz-Signature" not in page
    r = client.get(route)
    assert r.status_code == 302 and r.headers["Cache-Control"] == "no-store"
    assert parse_qs(urlsplit(r.location).query)["response-content-type"] == ["video/mp4"]
    with urllib.request.urlopen(r.location) as got:
        assert got.read() == inputs["h264_aac.mp4"].read_bytes()
    worker.run_until_idle()  # the fast path's MP4 from now on, for a player that loaded before
    with archive.catalog.session() as s:
        web_key = queries.get(s, w.id).recording.outputs["web"]
    assert urlsplit(client.get(route).location).path.endswith("/" + web_key)
    set_visibility(archive, w.id, Visibility.DRAFT)
    assert client.get(route).status_code == 404
