"""Recordings through the real pipeline: fast path, renditions, odd inputs, bad inputs."""
import os
import random
import re
import subprocess
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from archive import ffmpeg_commands as cmd, hls, media, presets, probe, queries
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.mediatypes import MediaInfo
from archive.models import Asset, Job, Webinar

from ..cut_short import DECLARED, cut_short
from ..media_inputs import ffmpeg
from ..services import Listener

TONE = ["-f", "lavfi", "-i", "sine=f=440:d=4:sample_rate=44100"]


def src(size="320x240", d=4, rate=25, pattern="testsrc2"):
    return ["-f", "lavfi", "-i", f"{pattern}=s={size}:r={rate}:d={d}"]


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    c = {}

    def make(name, *args):
        c[name] = d / name
        ffmpeg(*args, str(c[name]))

    make("hd.mp4", *src("1280x720", 8), "-f", "lavfi", "-i", "sine=f=440:d=8", *H264, "-c:a", "aac",
         "-shortest")
    make("black_start.mp4", "-f", "lavfi", "-i", "color=c=black:s=320x240:r=25:d=3",
         *src(d=5), "-filter_complex", "[0][1]concat=n=2:v=1:a=0", *H264)
    make("talk.mov", *src(), *TONE, *H264, "-c:a", "aac", "-shortest")
    make("h264_mp3.mkv", *src(), *TONE, *H264, "-c:a", "libmp3lame", "-shortest")
    make("mpeg4.avi", *src(), *TONE, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-shortest")
    make("odd.mp4", *src("1921x1081", 2), *H264)
    make("vfr.mkv", *src(d=4), "-vf", "setpts='if(lt(N,50),PTS,PTS*1.7)'", "-fps_mode", "vfr", *H264)
    make("surround.mp4", *src(), "-f", "lavfi", "-i", "sine=f=220:d=4", "-ac", "6", *H264,
         "-c:a", "aac", "-shortest")
    make("silent_video.mp4", *src(), *H264)
    plain = d / "plain.mp4"
    ffmpeg(*src("320x180"), *H264, str(plain))
    make("rotated.mp4", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90")
    make("talk.mp3", *TONE, "-c:a", "libmp3lame")
    make("talk.wav", *TONE, "-c:a", "pcm_s16le")
    make("talk.ogg", *TONE, "-c:a", "libopus")
    # bad ones
    make("8k.mkv", "-f", "lavfi", "-i", "color=c=gray:s=7680x4320:r=1:d=2", "-c:v", "mjpeg")
    make("streams64.mkv", *TONE, *sum((["-map", "0:a"] for _ in range(64)), []), "-c:a", "aac")
    c["one_byte.mp4"] = d / "one_byte.mp4"
    c["one_byte.mp4"].write_bytes(b"\x00")
    # One second of silence whose MP4 headers declare ten hours: a 1 KB file.
    short = d / "one_second.m4a"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "1", "-c:a", "aac", str(short))
    data = bytearray(short.read_bytes())
    for box, offset in ((b"mvhd", 20), (b"mdhd", 20), (b"tkhd", 24)):
        at = data.find(box)
        timescale = 1000 if box == b"tkhd" else struct.unpack(">I", data[at + 16: at + 20])[0]
        data[at + offset: at + offset + 4] = struct.pack(">I", timescale * 10 * 3600)
    c["ten_hours.m4a"] = d / "ten_hours.m4a"
    c["ten_hours.m4a"].write_bytes(bytes(data))
    # A damaged bitstream: the container is intact, the frames are noise.
    good = d / "for_damage.mp4"
    ffmpeg(*src("320x240", 6), *H264, "-movflags", "+faststart", str(good))
    data = bytearray(good.read_bytes())
    start = data.index(b"mdat") + 4096
    rnd = os.urandom(len(data) - start - 64)
    data[start:start + len(rnd)] = rnd
    c["damaged.mp4"] = d / "damaged.mp4"
    c["damaged.mp4"].write_bytes(bytes(data))
    # A few damaged frames that still play: 200 noisy bytes a quarter second in.
    data = bytearray(good.read_bytes())
    start = data.index(b"mdat") + 30000
    data[start:start + 200] = random.Random(6).randbytes(200)
    c["few_damaged.mp4"] = d / "few_damaged.mp4"
    c["few_damaged.mp4"].write_bytes(bytes(data))
    # Long GOPs whose sync samples are not IDR frames: x264's intra refresh (no IDR after
    # the first frame) in an MP4 without a sync-sample table, so every frame is a seek
    # point. It decodes cleanly from its start; after a seek the first frames lack
    # their references and the decoder says so.
    refresh = d / "refresh.mp4"
    ffmpeg(*src("320x240", 30), *TONE, "-c:v", "libx264", "-preset", "veryfast",
           "-x264-params", "keyint=100:intra-refresh=1", "-c:a", "aac", "-shortest", str(refresh))
    data = bytearray(refresh.read_bytes())
    at = data.index(b"stss")
    data[at:at + 4] = b"free"
    c["long_gop.mp4"] = d / "long_gop.mp4"
    c["long_gop.mp4"].write_bytes(bytes(data))
    return c


def _run(archive, worker, path, **kw):
    w = import_webinar(archive, ImportRequest(title="Recording test", recording=path, **kw))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        return queries.get(s, w.id)


def _limits(archive) -> media.ToolLimits:
    return media.ToolLimits.from_settings(archive.settings)


def _playlist_lines(archive, key):
    return archive.store.get_bytes(key).decode().splitlines()


def _master(rec) -> list[str]:
    """The master playlist the app serves, built from the renditions in the catalog."""
    return hls.master_playlist(hls.playable(rec.outputs["renditions"])).splitlines()


def test_fast_path_then_full_renditions(archive, worker, clips, tmp_path):
    w = import_webinar(archive, ImportRequest(title="HD", recording=clips["hd.mp4"]))
    # One job: the fast path. It alone makes the webinar watchable.
    assert worker.run_once()
    with archive.catalog.session() as s:
        w1 = queries.get(s, w.id)
        pending = s.query(Job).filter_by(kind="recording_renditions", state="queued").count()
    rec = w1.recording
    assert w1.status == "ready" and pending == 1
    assert rec.info["web_plan"]["video"] == rec.info["web_plan"]["audio"] == "copy"
    assert rec.info["web_plan"]["path"] == "direct"
    master = _master(rec)
    assert master[0] == "#EXTM3U" and master[-1] == "source/index.m3u8"
    assert "RESOLUTION=1280x720" in master[-2] and 'CODECS="avc1.' in master[-2]

    worker.run_until_idle()
    with archive.catalog.session() as s:
        rec = queries.get(s, w.id).recording
    assert rec.info["renditions"] == "ready"
    master = _master(rec)
    inf = [ln for ln in master if ln.startswith("#EXT-X-STREAM-INF:")]
    assert [re.search(r"RESOLUTION=(\d+x\d+)", ln).group(1) for ln in inf] == ["640x360", "960x540", "1280x720"]
    for ln in inf:
        assert re.search(r"BANDWIDTH=\d{5,}", ln)
        assert re.search(r'CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"', ln)
    # keyframes aligned: every rendition cuts its segments at the same times
    durations = []
    for name in ("360p", "540p", "720p"):
        lines = _playlist_lines(archive, rec.derived_key(f"hls/{name}/index.m3u8"))
        durations.append([ln for ln in lines if ln.startswith("#EXTINF")])
        segs = [ln for ln in lines if ln.endswith(".m4s")]
        for seg in segs:
            assert archive.store.head(rec.derived_key(f"hls/{name}/{seg}")) is not None
    assert durations[0] == durations[1] == durations[2] and len(durations[0]) == 2
    # audio downloads
    m4a = tmp_path / "a.m4a"
    archive.store.download_file(rec.outputs["audio_m4a"], m4a)
    assert not probe.probe(m4a, _limits(archive)).has_video
    mp3 = tmp_path / "a.mp3"
    archive.store.download_file(rec.outputs["audio_mp3"], mp3)
    assert probe.probe(mp3, _limits(archive)).audio_codec == "mp3"
    # storyboard: a WebVTT index into sprite sheets that exist
    vtt = archive.store.get_bytes(rec.outputs["storyboard"]).decode()
    assert vtt.startswith("WEBVTT")
    refs = re.findall(r"^(storyboard-\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$", vtt, re.M)
    assert len(refs) == 4  # 8 s, one every 2 s
    assert refs[1][1:] == ("160", "0", "160", "90")
    assert archive.store.head(rec.derived_key("storyboard/storyboard-001.jpg")) is not None


def test_poster_avoids_black_frames(archive, worker, clips, tmp_path):
    rec = _run(archive, worker, clips["black_start.mp4"]).recording
    poster = tmp_path / "poster.jpg"
    archive.store.download_file(rec.outputs["poster"], poster)
    with Image.open(poster) as im:
        stat = ImageStat.Stat(im.convert("L"))
    assert stat.mean[0] > 30 and stat.stddev[0] > 12


@pytest.mark.parametrize("name, plan, kind", [
    ("talk.mov", {"video": "copy", "audio": "copy"}, "video"),
    ("h264_mp3.mkv", {"video": "copy", "audio": "encode"}, "video"),
    ("mpeg4.avi", {"video": "encode", "audio": "encode"}, "video"),
    ("odd.mp4", {"video": "copy", "audio": "none"}, "video"),
    ("vfr.mkv", {"video": "copy", "audio": "none"}, "video"),
    ("surround.mp4", {"video": "copy", "audio": "encode"}, "video"),
    ("silent_video.mp4", {"video": "copy", "audio": "none"}, "video"),
    ("rotated.mp4", {"video": "encode", "audio": "none"}, "video"),
    ("talk.mp3", {"video": "none", "audio": "encode"}, "audio"),
    ("talk.wav", {"video": "none", "audio": "encode"}, "audio"),
    ("talk.ogg", {"video": "none", "audio": "encode"}, "audio"),
])
def test_inputs_we_accept(archive, worker, clips, tmp_path, name, plan, kind):
    w = _run(archive, worker, clips[name])
    rec = w.recording
    assert w.status == "ready", w.errors
    assert {k: rec.info["web_plan"][k] for k in plan} == plan and rec.info["kind"] == kind
    assert rec.info["web_plan"]["path"] == ("progressive" if plan["video"] == "encode" else
                                            "convert" if plan["audio"] == "encode" else
                                            "direct" if name in ("talk.mov", "odd.mp4", "silent_video.mp4")
                                            else "remux")
    assert not rec.info.get("failures")
    web = tmp_path / "web"
    archive.store.download_file(rec.outputs["web"], web)
    out = probe.probe(web, _limits(archive))
    if kind == "video":
        assert out.video_codec == "h264" and out.pix_fmt == "yuv420p"
        assert out.width % 2 == 0 and out.height % 2 == 0 or plan["video"] == "copy"
        assert rec.outputs["renditions"]
    assert out.audio_codec in (None, "aac")
    assert (out.audio_channels or 2) <= 2
    if name == "rotated.mp4":
        assert (out.width, out.height) == (180, 320)  # turned upright
    if name == "odd.mp4":
        # below the ladder's smallest rung? no: 1081 lines get 360p..1080p, never above
        master = "\n".join(_master(rec))
        assert "1920x1080" in master or "1918x1080" in master
    assert not list(archive.settings.work_dir.iterdir())  # scratch space is cleaned


@pytest.mark.parametrize("name, reason", [
    ("one_byte.mp4", "not a readable recording"),
    ("8k.mkv", "7680x4320"),
    ("ten_hours.m4a", "declares 10:00:00 but holds only"),
    ("streams64.mkv", "64 audio streams"),
])
def test_inputs_we_refuse_at_import(archive, clips, name, reason):
    with pytest.raises(ImportRejected, match=reason):
        import_webinar(archive, ImportRequest(title="Bad", recording=clips[name]))
    with archive.catalog.session() as s:
        assert s.query(Webinar).count() == s.query(Asset).count() == 0
    assert list(archive.store.list_keys("")) == []


def _decoder_messages(path, at: float | None) -> list[str]:
    seek = ["-ss", f"{at}"] if at is not None else []
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", *seek, "-i", str(path),
                        "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0
    return p.stderr.splitlines()


def test_errors_right_after_a_seek_are_not_damage(archive, worker, clips):
    """A long-GOP file that decodes cleanly from its start is published, without warnings,
    although decoding from the middle prints errors in the first frames after the seek."""
    assert _decoder_messages(clips["long_gop.mp4"], None) == []
    assert _decoder_messages(clips["long_gop.mp4"], 14.0) != []
    w = _run(archive, worker, clips["long_gop.mp4"])
    assert w.status == "ready", w.errors
    assert w.recording.info["web_plan"]["video"] == w.recording.info["web_plan"]["audio"] == "copy"
    assert not w.recording.info.get("warnings")


def test_a_few_damaged_frames_publish_with_a_warning(archive, worker, clips):
    assert _decoder_messages(clips["few_damaged.mp4"], None)  # damaged, yet ffmpeg plays it through
    w = _run(archive, worker, clips["few_damaged.mp4"])
    assert w.status == "ready", w.errors
    assert "web" in w.recording.outputs and "renditions" in w.recording.outputs
    [warning] = w.recording.info["warnings"]["process_recording"]
    assert "damaged" in warning and "h264" in warning


def test_a_damaged_bitstream_fails_with_a_reason(archive, worker, clips):
    """Noise where the frames were: nothing plays, so it is refused."""
    w = _run(archive, worker, clips["damaged.mp4"])
    assert w.status == "failed"
    assert "cannot be played" in w.recording.error
    assert "web" not in w.recording.outputs  # nothing published
    with archive.catalog.session() as s:
        assert s.query(Job).one().attempts == 1  # known-bad input is not retried
    keys = list(archive.store.list_keys(w.prefix))
    assert not [k for k in keys if "/media/" in k]


def test_a_recording_cut_short_keeps_the_duration_that_plays(archive, worker, tmp_path):
    """A faststart MP4 whose data stops part of the way in (an interrupted copy) plays what
    it holds: it is taken with that duration, not the declared one, and staff are told
    where the data stops, from the import on and after the fast path (which finds the same)."""
    w = import_webinar(archive, ImportRequest(title="Cut short", recording=cut_short(tmp_path / "cut.mp4")))
    info = w.recording.info
    assert 2.0 < info["duration"] < 3.5 and info["declared_duration"] == pytest.approx(DECLARED)
    [warning] = info["warnings"]["process_recording"]
    assert re.match(r"the data stops at 0:0[23]\.\d of 0:06\.0 declared", warning), warning
    worker.run_until_idle()
    with archive.catalog.session() as s:
        w = queries.get(s, w.id)
    assert w.status == "ready", w.errors
    rec = w.recording
    assert rec.info["duration"] == pytest.approx(info["duration"], abs=0.01)
    assert rec.info["warnings"]["process_recording"] == [warning]
    playlist = _playlist_lines(archive, rec.derived_key(f"hls/{rec.outputs['renditions']['source']['playlist']}"))
    played = sum(float(line[len("#EXTINF:"):].rstrip(",")) for line in playlist if line.startswith("#EXTINF:"))
    assert played == pytest.approx(info["duration"], abs=0.5)


def test_a_recording_whose_data_stops_before_its_first_frame_is_refused(archive, tmp_path):
    with pytest.raises(ImportRejected, match=r"^recording nothing\.mp4: the recording holds no playable data"):
        import_webinar(archive, ImportRequest(title="Nothing", recording=cut_short(tmp_path / "nothing.mp4", 0)))
    with archive.catalog.session() as s:
        assert s.query(Webinar).count() == s.query(Asset).count() == 0
    assert list(archive.store.list_keys("")) == []


@pytest.mark.parametrize("body", [
    "ffconcat version 1.0\nfile {local}\nfile http://127.0.0.1:{port}/x.mp4\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nhttp://127.0.0.1:{port}/a.ts\n#EXTINF:4,\n{local}\n#EXT-X-ENDLIST\n",
])
def test_playlists_disguised_as_mp4_open_nothing(archive, clips, tmp_path, body):
    listener = Listener()
    fake = tmp_path / "recording.mp4"
    fake.write_text(body.format(local=clips["talk.mov"], port=listener.port))
    try:
        with pytest.raises(ImportRejected, match="accepted container"):
            import_webinar(archive, ImportRequest(title="Sneaky", recording=fake))
        # the worker path probes the same way
        with pytest.raises(media.MediaRejected):
            probe.probe(fake, _limits(archive))
    finally:
        listener.close()
    assert listener.hits == []


def test_commands_are_pure_and_safe():
    info = MediaInfo(demuxer="mov", duration=60, size=10**6, video_codec="h264", width=1920,
                     height=1080, pix_fmt="yuv420p", audio_codec="aac", audio_channels=2,
                     audio_streams=1)
    for args in (cmd.web_rendition_args(Path("in"), Path("out.mp4"), info, probe.plan_web(info), "veryfast"),
                 cmd.hls_ladder_args(Path("in"), Path("hls"), info, probe.ladder_rungs(info)),
                 cmd.storyboard_args(Path("in"), Path("sb"), info, 2.0),
                 cmd.hls_copy_args(Path("in"), Path("hls"), info, probe.plan_web(info)),
                 cmd.decode_check_args(Path("in"), info, 30.0, 2.0),
                 cmd.audio_args(Path("in"), Path("a.mp3"), info, "mp3")):
        i = args.index("-i")
        before = args[:i]
        assert before[before.index("-protocol_whitelist") + 1] == "file"
        assert "-format_whitelist" in before and args[i + 1] == "file:in"
    rungs = probe.ladder_rungs(info)
    assert [r["name"] for r in rungs] == [r["name"] for r in presets.LADDER]
    small = MediaInfo(demuxer="mov", duration=60, size=10**6, video_codec="h264", width=320,
                      height=240)
    assert [(r["width"], r["height"]) for r in probe.ladder_rungs(small)] == [(320, 240)]
