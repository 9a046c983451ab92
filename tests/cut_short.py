"""A faststart MP4 cut short, as an interrupted copy leaves it: its index (the moov atom,
at the front) declares 6.0 s, its data stops part of the way in."""
from __future__ import annotations

from pathlib import Path

from .media_inputs import ffmpeg

DECLARED = 6.0


def cut_short(dst: Path, keep: float = 0.45) -> Path:
    """`keep`: the share of the media data (mdat) left; 0 leaves none of it."""
    full = dst.with_name(f"full-{dst.name}")
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={DECLARED}",
           "-f", "lavfi", "-i", f"sine=f=440:d={DECLARED}",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-movflags", "+faststart", str(full))
    data = full.read_bytes()
    start = data.index(b"mdat") + 4  # the media data's first byte
    dst.write_bytes(data[:start + int((len(data) - start) * keep)])
    full.unlink()
    return dst
