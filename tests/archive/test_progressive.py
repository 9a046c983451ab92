"""A recording that must be encoded is watchable from its first segments: the progressive
encode publishes HLS segments as they are made behind a growing (EVENT) playlist. A worker
killed in the middle (SIGKILL) leaves a playlist that the next attempt continues: what
viewers had stays as it was (nothing sent again), then it grows with the same names, no
gap; a viewer's player carries on past the point of the kill."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from archive import ffmpeg_commands as cmd, hls
from archive.config import Settings
from archive.importer import ImportRequest, import_webinar
from archive.mediatypes import MediaInfo, web_plan
from archive.models import Asset, Job

from ..media_inputs import ffmpeg
from ..services import archive_env
from .conftest import WorkerProcess, wait_for

SECONDS = 24
READRATE = 2  # the encode reads its source at 2x real time: 12 s for 24 s, caught in the middle


@pytest.fixture(scope="module")
def mpeg2(tmp_path_factory) -> Path:
    """24 s of 320x240 MPEG-2 video and MP2 sound in MKV: what a conference hall records."""
    path = tmp_path_factory.mktemp("mpeg2") / "hall.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={SECONDS}", "-f", "lavfi", "-i",
           f"sine=f=440:d={SECONDS}", "-c:v", "mpeg2video", "-q:v", "4", "-g", "12", "-c:a", "mp2", str(path))
    return path


@pytest.fixture
def env(minio, tmp_path, backend) -> dict[str, str]:
    return archive_env(minio, tmp_path, WEBINAR_ARCHIVE_JOB_LEASE_SECONDS="3", WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0",
                       WEBINAR_ARCHIVE_PROGRESSIVE_READRATE=str(READRATE), **backend)


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env(env)


def _info(**kw) -> MediaInfo:
    return MediaInfo(**{"demuxer": "matroska", "duration": 60.0, "size": 1, "width": 1920, "height": 1080,
                        "video_codec": "h264", "pix_fmt": "yuv420p", "audio_codec": "aac", "audio_channels": 2, **kw})


def test_the_plan_says_which_path_and_why():
    cases = {
        ("hevc", "yuv420p10le", "aac", "mov"): ("progressive", "HEVC video: encoding for browsers"),
        ("vp9", "yuv420p", "opus", "matroska"): ("progressive", "VP9 video: encoding for browsers"),
        ("h264", "yuv422p", "aac", "mov"): ("progressive", "H.264 4:2:2 video: encoding for browsers"),
        ("h264", "yuv444p", "aac", "matroska"): ("progressive", "H.264 4:4:4 video: encoding for browsers"),
        ("mpeg2video", "yuv420p", "mp2", "matroska"): ("progressive", "MPEG-2 video: encoding for browsers"),
        ("h264", "yuv420p", "opus", "matroska"): ("convert", "Opus audio: converting the sound to AAC, the picture copied"),
        ("h264", "yuv420p", "aac", "matroska"): ("remux", "H.264/AAC in MKV/WebM: copied for streaming, no encoding"),
        ("h264", "yuv420p", "aac", "mov"): ("direct", "H.264/AAC in MP4: plays as uploaded, then copied for streaming"),
    }
    for (video, pix, audio, demuxer), (path, reason) in cases.items():
        plan = web_plan(_info(video_codec=video, pix_fmt=pix, audio_codec=audio, demuxer=demuxer))
        assert (plan.path, plan.reason) == (path, reason)
        assert plan.progressive == (path == "progressive") and plan.fast == (path in ("direct", "remux"))
    interlaced = web_plan(_info(interlaced=True))
    assert interlaced.reason == "interlaced H.264 video: encoding for browsers"
    assert "yadif" in " ".join(cmd.progressive_hls_args(Path("/in.mkv"), Path("/out"), _info(interlaced=True),
                                                        interlaced, "veryfast"))


def test_every_attempt_cuts_the_same_segments():
    info = _info(video_codec="hevc")
    args = cmd.progressive_hls_args(Path("/in.mkv"), Path("/out"), info, web_plan(info), "veryfast")
    assert args[args.index("-hls_playlist_type") + 1] == "event"
    assert args[args.index("-hls_segment_filename") + 1] == "/out/seg-%05d.m4s"
    assert "expr:gte(t,n_forced*6)" in args and args[args.index("-sc_threshold") + 1] == "0"
    assert "temp_file" in args[args.index("-hls_flags") + 1]  # named in the playlist once complete


def _playlist(archive, asset_id: str) -> tuple[list[tuple[float, str]], bool]:
    with archive.catalog.session() as s:
        a = s.get(Asset, asset_id)
    try:
        return hls.segments_of(archive.store.get_bytes(a.derived_key("hls/source/index.m3u8")).decode())
    except Exception:
        return [], False


def test_a_worker_killed_mid_encode_leaves_a_playlist_the_next_attempt_continues(
        archive, env, tmp_path, mpeg2, live_server, page):
    w = import_webinar(archive, ImportRequest(title="Hall recording", recording=mpeg2))
    with archive.catalog.session() as s:
        asset_id = s.query(Asset).filter(Asset.webinar_id == w.id).one().id

    def status() -> str:
        with archive.catalog.session() as s:
            return s.get(Asset, asset_id).status

    first = WorkerProcess(env, tmp_path / "worker-1.log")
    try:
        # Watchable from its first segments, while the encode runs.
        wait_for(lambda: len(_playlist(archive, asset_id)[0]) >= 2 and status() == "ready", 60,
                 "two segments published and the recording watchable", interval=0.1)
        os.kill(first.pid, signal.SIGKILL)  # the worker alone, as the OOM killer would
        first.proc.wait()
    finally:
        first.kill_group()
    before, ended = _playlist(archive, asset_id)
    assert not ended and 2 <= len(before) < SECONDS / 6, before
    prefix = f"webinars/{w.id}/media/{asset_id}/hls/source/"
    sent = archive.store.list_modified(prefix)
    made = sum(d for d, _ in before)
    second = WorkerProcess(env, tmp_path / "worker-2.log")  # it takes the job once the lease runs out
    try:
        # Meanwhile a viewer plays what exists and goes to its end: the player waits there.
        page.goto(f"{live_server}/webinars/{w.id}?engine=hlsjs")
        page.locator("#player").evaluate("m => { m.muted = true; m.play(); }")
        page.wait_for_function("() => document.querySelector('#player').currentTime > 0.3", timeout=20_000)
        page.locator("#player").evaluate(f"m => {{ m.currentTime = {made - 1.5}; }}")

        def done() -> bool:
            with archive.catalog.session() as s:
                job = s.query(Job).filter(Job.asset_id == asset_id, Job.kind == "process_recording").one()
            assert job.state != "failed", second.output()
            return job.state == "done"

        wait_for(done, 90, "the next attempt to finish the encode", interval=0.3)
        # The viewer's player carried on past the point where the first worker died.
        page.wait_for_function(f"() => document.querySelector('#player').currentTime > {made + 1}", timeout=30_000)
    finally:
        second.kill_group()  # the renditions job that follows is not this test's

    after, ended = _playlist(archive, asset_id)
    assert ended
    assert after[:len(before)] == before  # what viewers had is unchanged
    assert [name for _, name in after] == [hls.segment_name(i) for i in range(len(after))]  # no gap
    assert abs(sum(d for d, _ in after) - SECONDS) < 0.5
    kept = archive.store.list_modified(prefix)
    assert all(kept[key] == at for key, at in sent.items() if not key.endswith(".m3u8"))  # nothing re-sent
    with archive.catalog.session() as s:
        a = s.get(Asset, asset_id)
        job = s.query(Job).filter(Job.asset_id == asset_id, Job.kind == "process_recording").one()
        assert (a.status, job.attempts) == ("ready", 2)
        assert a.info["progressive"] == {"state": "done"}
        assert a.info["web_plan"]["reason"] == "MPEG-2 video: encoding for browsers"
        web_key = a.outputs["web"]
    # The web MP4 (every segment, joined) plays the whole recording.
    web = tmp_path / "web.mp4"
    archive.store.download_file(web_key, web)
    from archive import media, probe
    assert abs(probe.probe(web, media.ToolLimits.from_settings(archive.settings)).duration - SECONDS) < 0.5


def test_published_early_then_failed_for_good_is_hidden_and_reported(archive, mpeg2):
    """Watchable from its first segments; another attempt due keeps it watchable; the last
    attempt failing hides it from visitors (no broken player) and tells staff why."""
    from archive import jobs, pipeline
    from archive.handlers.common import Outcome

    w = import_webinar(archive, ImportRequest(title="Fails half way", recording=mpeg2))
    outcome = Outcome(outputs={"renditions": {"source": {"name": "source"}}}, info={"progressive": {"state": "encoding"}})
    for attempt, (error, permanent, state, status) in enumerate(
            [("ffmpeg was killed (signal 9)", False, "queued", "ready"),
             ("ffmpeg failed: broken", True, "failed", "failed")], 1):
        job = jobs.claim(archive.catalog, "w", 60, on_claimed=pipeline.on_claimed)
        assert job.attempts == attempt
        assert jobs.publish(archive.catalog, job.id, "w", attempt, outcome, pipeline.on_published)
        with archive.catalog.session() as s:
            assert s.get(Asset, job.asset_id).status == "ready"  # watchable while it encodes
        assert jobs.finish(archive.catalog, job.id, "w", attempt, error, permanent=permanent, retry_delay=0,
                           on_finished=lambda *a: pipeline.on_finished(*a, store=archive.store)) == state
        with archive.catalog.session() as s:
            a = s.get(Asset, job.asset_id)
            assert a.status == status
    assert a.error == "ffmpeg failed: broken"
    assert not jobs.publish(archive.catalog, job.id, "w", 2, outcome, pipeline.on_published)  # not running: refused
