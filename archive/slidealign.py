"""Slide alignment engine: a first, plain version (frames against pages by grey-level
difference), to be replaced by the full engine. Interface: `align_recording`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageChops, ImageStat

from . import ffmpeg_commands as cmd, media, probe

SIZE = (64, 36)
FPS = 2.0
MAX_DIFFERENCE = 40.0  # mean grey-level difference over which a frame shows no page


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    page: int  # 1-based
    confidence: float


@dataclass(frozen=True)
class Alignment:
    segments: tuple[Segment, ...]
    proposed_start: float | None
    seconds: float


def _thumb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("L").resize(SIZE)


def align_recording(recording: Path, pages: Sequence[Path], settings, *, start: float | None = None,
                    end: float | None = None, scratch: Path) -> Alignment:
    t0 = time.perf_counter()
    limits = media.ToolLimits.from_settings(settings)
    info = probe.probe(recording, limits)
    frames_dir = scratch / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    media.run_ffmpeg(cmd.gray_frames_args(recording, frames_dir, info, FPS, SIZE, start, end), limits.ffmpeg())
    refs = [_thumb(p) for p in pages]
    offset = start or 0.0
    picks: list[tuple[float, int | None, float]] = []
    for i, f in enumerate(sorted(frames_dir.glob("frame-*.png"))):
        frame = _thumb(f)
        scores = [ImageStat.Stat(ImageChops.difference(frame, r)).mean[0] for r in refs]
        best = min(range(len(scores)), key=scores.__getitem__)
        confidence = max(0.0, 1.0 - scores[best] / MAX_DIFFERENCE)
        picks.append((offset + i / FPS, best + 1 if scores[best] < MAX_DIFFERENCE else None, confidence))
    stop = end if end is not None else info.duration
    segments: list[Segment] = []
    run_start, run_page, confs = None, None, []
    for at, page, conf in picks + [(stop, None, 0.0)]:
        if page != run_page:
            if run_page is not None:
                segments.append(Segment(run_start, min(at, stop), run_page, sum(confs) / len(confs)))
            run_start, run_page, confs = at, page, []
        confs.append(conf)
    return Alignment(tuple(segments), segments[0].start if segments else None, time.perf_counter() - t0)
