"""Every ffmpeg runs with a time limit and a memory (address space) limit."""
from __future__ import annotations

import time

import pytest

from archive import media
from archive.config import Settings


def _x264(dst, size: str, seconds: float) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=s={size}:r=30:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
            "-pix_fmt", "yuv420p", "-f", "mp4", f"file:{dst}"]


def test_x264_at_1080p_works_under_the_default_memory_limit(tmp_path):
    dst = tmp_path / "out.mp4"
    media.run_ffmpeg(_x264(dst, "1920x1080", 1), timeout=120)  # memory_mb=DEFAULT_MEMORY_MB
    info = media.probe(dst)
    assert (info.video_codec, info.width, info.height) == ("h264", 1920, 1080)


def test_an_ffmpeg_over_its_memory_limit_fails_with_that_reason(tmp_path):
    with pytest.raises(media.MediaError, match="more than its 64 MB memory limit") as e:
        media.run_ffmpeg(_x264(tmp_path / "out.mp4", "1920x1080", 1), timeout=120, memory_mb=64)
    assert e.value.permanent  # the same file would hit the same limit again
    assert e.value.log  # ffmpeg's (or the loader's) own words stay with the error


def test_an_ffmpeg_over_its_time_limit_is_stopped(tmp_path):
    started = time.monotonic()
    with pytest.raises(media.MediaError, match="did not finish within the 1 s limit"):
        media.run_ffmpeg(_x264(tmp_path / "out.mp4", "1280x720", 600), timeout=1)
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
