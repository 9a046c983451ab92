"""What a recording is, as plain values: the facts a probe found (`MediaInfo`), the plan
for its web rendition (`Plan`) and the picture geometry both lead to. Pure: it imports
none of the modules that probe, build commands or run tools, so each of them can
import it without an import circle."""
from __future__ import annotations

from dataclasses import dataclass, field

# Containers by demuxer, for the key extension of the stored original.
_EXTENSIONS = {"mov": "mp4", "matroska": "mkv", "webm": "webm", "avi": "avi", "mp3": "mp3",
               "wav": "wav", "ogg": "ogg", "flac": "flac", "aac": "aac"}
_CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "m4a": "audio/mp4", "mkv": "video/x-matroska",
                  "webm": "video/webm", "avi": "video/x-msvideo", "mp3": "audio/mpeg", "wav": "audio/wav",
                  "ogg": "audio/ogg", "flac": "audio/flac", "aac": "audio/aac"}


@dataclass(frozen=True)
class MediaInfo:
    demuxer: str
    duration: float
    size: int
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    fps: float | None = None
    rotation: int = 0
    audio_codec: str | None = None
    audio_channels: int | None = None
    audio_streams: int = 0
    bit_rate: int | None = None
    # The container's duration when the data stops before it (`duration` is where it stops).
    declared_duration: float | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def extension(self) -> str:
        if self.demuxer == "mov":
            return "mp4" if self.has_video else "m4a"
        if self.demuxer == "matroska":
            return "webm" if self.raw.get("format", {}).get("format_name", "").endswith("webm") and \
                self.video_codec in (None, "vp8", "vp9", "av1") else "mkv"
        return _EXTENSIONS[self.demuxer]

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES.get(self.extension, "application/octet-stream")

    def summary(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "raw" and v is not None}
        d["kind"] = "video" if self.has_video else "audio"
        return d


@dataclass(frozen=True)
class Plan:
    """How to make the web rendition: copy a stream when the browser can play it."""

    video: str  # "copy" | "encode" | "none"
    audio: str  # "copy" | "encode" | "none"

    @property
    def fast(self) -> bool:
        return self.video in ("copy", "none") and self.audio in ("copy", "none")


def display_size(info: MediaInfo) -> tuple[int, int]:
    """Width and height as shown, after the rotation a phone recorded."""
    w, h = info.width or 0, info.height or 0
    return (h, w) if abs(info.rotation) % 180 == 90 else (w, h)


def even(x: float) -> int:
    """The nearest even number of pixels, at least 2 (yuv420p wants even sizes)."""
    return max(2, int(round(x / 2)) * 2)
