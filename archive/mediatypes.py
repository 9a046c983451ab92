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
    interlaced: bool = False  # fields, not frames: browsers show combing unless it is deinterlaced
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


# Codec names staff read in a plan's reason.
_CODEC_NAMES = {"hevc": "HEVC", "h264": "H.264", "vp9": "VP9", "vp8": "VP8", "av1": "AV1", "mpeg2video": "MPEG-2",
                "mpeg4": "MPEG-4 Part 2", "prores": "ProRes", "mjpeg": "Motion JPEG", "opus": "Opus",
                "vorbis": "Vorbis", "mp3": "MP3", "ac3": "AC-3", "eac3": "E-AC-3", "pcm_s16le": "PCM", "flac": "FLAC"}
_CHROMA = {"422": "4:2:2", "444": "4:4:4"}


def codec_name(codec: str | None) -> str:
    return _CODEC_NAMES.get(codec or "", (codec or "unknown").upper())


@dataclass(frozen=True)
class Plan:
    """How the fast path makes a recording watchable, decided in one place (`web_plan`):
    `path` is one of
      - "direct": the original plays in browsers as uploaded, then is copied for streaming;
      - "remux": copied into HLS by stream copy (the codecs play, the container does not);
      - "convert": the sound is converted (seconds of work), the picture copied or absent;
      - "progressive": the picture must be encoded: the first rendition is encoded as HLS
        segments published as they are made, watchable from the first ones.
    `reason` says why, for staff ("HEVC video: encoding for browsers")."""

    video: str  # "copy" | "encode" | "none"
    audio: str  # "copy" | "encode" | "none"
    path: str = "remux"
    reason: str = ""
    direct: bool = False  # the original plays in browsers as uploaded, while it is processed

    @property
    def fast(self) -> bool:
        return self.video in ("copy", "none") and self.audio in ("copy", "none")

    @property
    def progressive(self) -> bool:
        return self.path == "progressive"

    def summary(self) -> dict:
        return {"video": self.video, "audio": self.audio, "path": self.path, "reason": self.reason,
                "direct": self.direct}


def _video_problem(info: MediaInfo) -> str | None:
    """Why browsers cannot be given this picture as it is, or None."""
    if info.video_codec != "h264":
        return f"{codec_name(info.video_codec)} video"
    chroma = next((label for key, label in _CHROMA.items() if key in (info.pix_fmt or "")), None)
    if chroma:
        return f"H.264 {chroma} video"
    if info.pix_fmt not in ("yuv420p", "yuvj420p"):
        return f"H.264 video in {info.pix_fmt or 'an unknown pixel format'}"
    if info.interlaced:
        return "interlaced H.264 video"
    if info.rotation:
        return f"H.264 video turned {info.rotation}°"
    return None


def plays_as_uploaded(info: MediaInfo) -> bool:
    """Can a browser play the original as it is (H.264 4:2:0 + AAC in MP4/MOV, AAC or MP3 audio)?"""
    if info.has_video:
        return (info.demuxer == "mov" and info.video_codec == "h264" and info.pix_fmt in ("yuv420p", "yuvj420p")
                and info.audio_codec in (None, "aac"))
    return (info.demuxer == "mov" and info.audio_codec == "aac") or (info.demuxer == "mp3" and info.audio_codec == "mp3")


def web_plan(info: MediaInfo) -> Plan:
    """The one decision between direct play, stream copy, converting the sound and a
    progressive encode (see Plan)."""
    direct = plays_as_uploaded(info)
    problem = _video_problem(info) if info.has_video else None
    video = "none" if not info.has_video else ("encode" if problem else "copy")
    if info.has_audio:
        audio = "copy" if info.audio_codec == "aac" and (info.audio_channels or 2) <= 2 else "encode"
    else:
        audio = "none"
    if video == "encode":
        if info.interlaced and not problem.startswith("interlaced"):
            problem = "interlaced " + problem
        return Plan(video, audio, "progressive", f"{problem}: encoding for browsers"
                    + (" (the upload plays meanwhile)" if direct else ""), direct)
    channels = info.audio_channels or 2
    sound = f"{codec_name(info.audio_codec)} audio" + (f" ({channels} channels)" if channels > 2 else "")
    if audio == "encode":
        return Plan(video, audio, "convert", f"{sound}: converting the sound to AAC"
                    + (", the picture copied" if video == "copy" else "")
                    + (" (the upload plays meanwhile)" if direct else ""), direct)
    what = "H.264/AAC" if video == "copy" and audio == "copy" else "H.264" if video == "copy" else "AAC audio"
    container = {"mov": "MP4", "matroska": "MKV/WebM"}.get(info.demuxer, info.demuxer.upper())
    if direct:
        return Plan(video, audio, "direct", f"{what} in {container}: plays as uploaded, then copied for streaming",
                    direct)
    return Plan(video, audio, "remux", f"{what} in {container}: copied for streaming, no encoding", direct)


def display_size(info: MediaInfo) -> tuple[int, int]:
    """Width and height as shown, after the rotation a phone recorded."""
    w, h = info.width or 0, info.height or 0
    return (h, w) if abs(info.rotation) % 180 == 90 else (w, h)


def even(x: float) -> int:
    """The nearest even number of pixels, at least 2 (yuv420p wants even sizes)."""
    return max(2, int(round(x / 2)) * 2)
