"""Every ffmpeg runs with a time limit and a memory (address space) limit."""
from __future__ import annotations

import time

import pytest

from archive import intake, media, probe
from archive.config import Settings
from archive.context import Archive
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Webinar
from archive.runner import Limits

from ..conftest import make_settings


def _x264(dst, size: str, seconds: float) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=s={size}:r=30:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
            "-pix_fmt", "yuv420p", "-f", "mp4", f"file:{dst}"]


def test_x264_at_1080p_works_under_the_default_memory_limit(tmp_path):
    dst = tmp_path / "out.mp4"
    default = media.ToolLimits.from_settings(Settings.from_env({}))
    media.run_ffmpeg(_x264(dst, "1920x1080", 1), default.ffmpeg(120))
    info = probe.probe(dst, default)
    assert (info.video_codec, info.width, info.height) == ("h264", 1920, 1080)


def test_an_ffmpeg_over_its_memory_limit_fails_with_that_reason(tmp_path):
    with pytest.raises(media.MediaError, match="more than its 64 MB memory limit") as e:
        media.run_ffmpeg(_x264(tmp_path / "out.mp4", "1920x1080", 1), Limits(120, memory_mb=64))
    assert e.value.permanent  # the same file would hit the same limit again
    assert e.value.log  # ffmpeg's (or the loader's) own words stay with the error


def test_an_ffmpeg_over_its_time_limit_is_stopped(tmp_path):
    started = time.monotonic()
    with pytest.raises(media.MediaError, match="did not finish within the 1 s limit"):
        media.run_ffmpeg(_x264(tmp_path / "out.mp4", "1280x720", 600), Limits(1))
    assert time.monotonic() - started < 15


def test_the_limits_and_the_queue_are_settings():
    default = Settings.from_env({})
    assert (default.ffmpeg_memory_mb, default.redis_url, default.worker_poll_seconds) == (4096, None, 1.0)
    scaled = Settings.from_env({"WEBINAR_ARCHIVE_FFMPEG_MEMORY_MB": "2048",
                                "WEBINAR_ARCHIVE_REDIS_URL": "redis://queue.internal:6379/0"})
    # With Redis, new jobs wake idle workers; the table scan only catches lost messages.
    assert (scaled.ffmpeg_memory_mb, scaled.redis_url, scaled.worker_poll_seconds) == \
        (2048, "redis://queue.internal:6379/0", 10.0)
    assert Settings.from_env({"WEBINAR_ARCHIVE_WORKER_POLL_SECONDS": "0.5"}).worker_poll_seconds == 0.5


def test_the_media_settings(monkeypatch):
    default = Settings.from_env({})
    assert (default.ffprobe_timeout_seconds, default.ffmpeg_network, default.web_x264_preset,
            default.upload_threads) == (60, False, "veryfast", 8)
    s = Settings.from_env({"WEBINAR_ARCHIVE_FFPROBE_TIMEOUT": "5", "WEBINAR_ARCHIVE_FFMPEG_NETWORK": "1",
                           "WEBINAR_ARCHIVE_WEB_X264_PRESET": "faster", "WEBINAR_ARCHIVE_UPLOAD_THREADS": "16"})
    assert (s.ffprobe_timeout_seconds, s.ffmpeg_network, s.web_x264_preset, s.upload_threads) == \
        (5, True, "faster", 16)
    limits = media.ToolLimits.from_settings(s)
    assert limits.probe() == Limits(5, 4096, True)
    assert limits.ffmpeg(300) == Limits(300, 4096, True)


def test_the_import_check_probes_within_the_settings_limits(minio, tmp_path):
    """The check every way in runs (CLI and folder import, browser upload) probes with the
    limits of the Settings it is given, not with the defaults: a memory limit too small
    for ffprobe to load, or a time limit too short to answer, refuses the file, and the
    import writes nothing."""
    clip = tmp_path / "clip.mp4"
    media.run_ffmpeg(_x264(clip, "320x240", 1), Limits(120))
    settings = make_settings(minio, tmp_path)
    assert intake.check_file("recording", clip, settings).info["duration"] == pytest.approx(1, abs=0.1)
    starved = make_settings(minio, tmp_path, WEBINAR_ARCHIVE_FFMPEG_MEMORY_MB="8")
    with pytest.raises(ImportRejected, match=r"^recording clip\.mp4: ffprobe needed more than its 8 MB memory limit"):
        intake.check_file("recording", clip, starved)
    hurried = settings.with_(ffprobe_timeout_seconds=0.001)
    with pytest.raises(ImportRejected, match=r"^recording clip\.mp4: ffprobe gave no answer within 0\.001 s"):
        intake.check_recording(clip, hurried)
    archive = Archive.from_settings(starved)
    archive.setup()
    try:
        with pytest.raises(ImportRejected, match="more than its 8 MB memory limit"):
            import_webinar(archive, ImportRequest(title="Limits", recording=clip))
        with archive.catalog.session() as s:
            assert s.query(Webinar).count() == 0
        assert list(archive.store.list_keys("webinars/")) == []
    finally:
        archive.close()


def test_ffmpeg_gets_no_secrets_and_no_network(tmp_path, monkeypatch):
    """The child sees a minimal environment; without network it cannot open a socket."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-children")
    from archive import runner
    if not runner.network_isolation_available():
        pytest.skip("no network namespaces on this machine")
    env_dump, net = tmp_path / "env.txt", tmp_path / "net.txt"
    media.run_ffmpeg(["sh", "-c", f"env > {env_dump}; cat /proc/net/dev > {net}"], Limits(10, None, False),
                     writes=(tmp_path,))
    assert "not-for-children" not in env_dump.read_text()
    interfaces = {line.split(":")[0].strip() for line in net.read_text().splitlines()[2:]}
    assert interfaces == {"lo"}
