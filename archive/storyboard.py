"""Storyboard: timeline thumbnails tiled in sprite sheets, indexed by a WebVTT file."""
from __future__ import annotations

from . import presets
from .formatting import vtt_timestamp
from .mediatypes import MediaInfo, display_size, even


def storyboard_interval(duration: float) -> float:
    per = duration / presets.STORYBOARD_MAX_THUMBS
    return max(presets.STORYBOARD_MIN_INTERVAL, float(int(per) + (per > int(per))))


def storyboard_geometry(info: MediaInfo) -> tuple[int, int]:
    w, h = display_size(info)
    tw = presets.STORYBOARD_WIDTH
    return tw, even(tw * h / w) if w else 90


def storyboard_vtt(info: MediaInfo, interval: float, sheet_names: list[str]) -> str:
    """A WebVTT index: each cue names a sheet and the thumbnail's rectangle in it."""
    tw, th = storyboard_geometry(info)
    per_sheet = presets.STORYBOARD_COLUMNS * presets.STORYBOARD_ROWS
    lines = ["WEBVTT", ""]
    n = 0
    while n * interval < info.duration and n // per_sheet < len(sheet_names):
        start, end = n * interval, min((n + 1) * interval, info.duration)
        cell = n % per_sheet
        x, y = (cell % presets.STORYBOARD_COLUMNS) * tw, (cell // presets.STORYBOARD_COLUMNS) * th
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
                  f"{sheet_names[n // per_sheet]}#xywh={x},{y},{tw},{th}", ""]
        n += 1
    return "\n".join(lines)


def thumbnail_at(info: MediaInfo, at: float) -> tuple[str, int, int, int, int]:
    """The storyboard thumbnail shown at `at` seconds: (sheet file name, x, y, width, height)."""
    interval = storyboard_interval(info.duration)
    tw, th = storyboard_geometry(info)
    per_sheet = presets.STORYBOARD_COLUMNS * presets.STORYBOARD_ROWS
    last = max(0, int((info.duration - 1e-6) // interval))
    n = max(0, min(int(at // interval), last))
    cell = n % per_sheet
    return (f"storyboard-{n // per_sheet + 1:03d}.jpg", (cell % presets.STORYBOARD_COLUMNS) * tw,
            (cell // presets.STORYBOARD_COLUMNS) * th, tw, th)


def info_from_summary(summary: dict) -> MediaInfo:
    """A MediaInfo again from the summary an asset's info keeps (MediaInfo.summary)."""
    fields = set(MediaInfo.__dataclass_fields__) - {"raw"}
    return MediaInfo(**{k: v for k, v in summary.items() if k in fields})
