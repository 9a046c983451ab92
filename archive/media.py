"""Probing and transcoding with ffmpeg: the only module that imports ffmpeg-python.

Untrusted files are only ever read from local disk, with a demuxer allow-list and
`-protocol_whitelist file`, so a file that is really a playlist cannot make ffmpeg
open anything else. Commands are built by pure functions (see `*_args`) and run by
`run_ffmpeg`, which adds a time limit, progress and the tail of ffmpeg's message.
"""
from __future__ import annotations

import collections
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ffmpeg
from ffmpeg._utils import convert_kwargs_to_cmd_line_args

# Demuxers we accept (ffmpeg short names). Anything else, playlists and concat
# lists included, is refused before a single byte is decoded.
DEMUXER_ALLOWLIST = ("mov", "matroska", "webm", "avi", "mp3", "wav", "ogg", "flac", "aac")
_SAFE_INPUT = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(DEMUXER_ALLOWLIST),
}
# Containers by demuxer, for the key extension of the stored original.
_EXTENSIONS = {"mov": "mp4", "matroska": "mkv", "webm": "webm", "avi": "avi", "mp3": "mp3",
               "wav": "wav", "ogg": "ogg", "flac": "flac", "aac": "aac"}
_CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "m4a": "audio/mp4", "mkv": "video/x-matroska",
                  "webm": "video/webm", "avi": "video/x-msvideo", "mp3": "audio/mpeg", "wav": "audio/wav",
                  "ogg": "audio/ogg", "flac": "audio/flac", "aac": "audio/aac"}

PROBE_TIMEOUT = 60
LOG_TAIL_LINES = 25


class MediaError(Exception):
    """ffmpeg failed or timed out. `log` holds the tail of its message."""

    def __init__(self, message: str, log: str = "", permanent: bool = True):
        super().__init__(message)
        self.log = log
        self.permanent = permanent


class MediaRejected(MediaError):
    """The file is not a recording we can take (known-bad input: never retried)."""


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


def probe_args(path: Path) -> list[str]:
    return ["ffprobe", "-v", "error", *convert_kwargs_to_cmd_line_args(_SAFE_INPUT),
            "-show_format", "-show_streams", "-of", "json", "file:" + str(path)]


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def _starts_like_mp4(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")


def probe(path: Path) -> MediaInfo:
    """Identify a local file; raise MediaRejected with a readable reason if it is not media."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("the file is empty (0 bytes)")
    try:
        p = subprocess.run(probe_args(path), capture_output=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise MediaRejected(f"ffprobe gave no answer within {PROBE_TIMEOUT} s") from e
    err = p.stderr.decode("utf-8", "replace").replace(f"file:{path}: ", "")
    if p.returncode != 0:
        if "moov atom not found" in err and _starts_like_mp4(path):
            raise MediaRejected("the MP4 is truncated or unfinished (no moov atom)", err)
        if "moov atom not found" in err:
            raise MediaRejected("not a readable recording: the file is not media", err)
        if "not on whitelist" in err:
            raise MediaRejected("not a recording in an accepted container "
                                "(MP4, MOV, MKV, WebM, AVI, M4A, MP3, WAV, OGG, FLAC)", err)
        raise MediaRejected(f"not a readable recording: {_first_line(err)}", err)
    data = json.loads(p.stdout.decode("utf-8", "replace") or "{}")
    return media_info_from_probe(data, size)


def _fraction(text: str | None) -> float | None:
    if not text or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        return float(num) / float(den) if float(den) else None
    except ValueError:
        return None


def media_info_from_probe(data: dict, size: int) -> MediaInfo:
    fmt = data.get("format", {})
    names = fmt.get("format_name", "").split(",")
    demuxer = next((n for n in names if n in DEMUXER_ALLOWLIST), None)
    if demuxer is None:
        raise MediaRejected(f"container {fmt.get('format_name')!r} is not accepted")
    if demuxer == "webm":
        demuxer = "matroska"
    streams = data.get("streams", [])
    # Cover art in M4A/MP3 shows up as a one-frame video stream: not a video.
    video = [s for s in streams if s.get("codec_type") == "video"
             and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise MediaRejected("the file has neither a video nor an audio stream")
    v = video[0] if video else {}
    a = audio[0] if audio else {}
    try:
        duration = float(fmt.get("duration") or v.get("duration") or a.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise MediaRejected("the recording has no duration (is it truncated?)")
    rotation = 0
    for sd in v.get("side_data_list", []) or []:
        if "rotation" in sd:
            rotation = int(sd["rotation"])
    if "rotate" in v.get("tags", {}):
        rotation = int(v["tags"]["rotate"])
    bit_rate = fmt.get("bit_rate")
    return MediaInfo(
        demuxer=demuxer,
        duration=duration,
        size=size,
        video_codec=v.get("codec_name"),
        width=v.get("width"),
        height=v.get("height"),
        pix_fmt=v.get("pix_fmt"),
        fps=_fraction(v.get("avg_frame_rate")),
        rotation=rotation,
        audio_codec=a.get("codec_name"),
        audio_channels=a.get("channels"),
        audio_streams=len(audio),
        bit_rate=int(bit_rate) if bit_rate and str(bit_rate).isdigit() else None,
        raw=data,
    )


# -- plans and commands (pure) -----------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How to make the web rendition: copy a stream when the browser can play it."""

    video: str  # "copy" | "encode" | "none"
    audio: str  # "copy" | "encode" | "none"

    @property
    def fast(self) -> bool:
        return self.video in ("copy", "none") and self.audio in ("copy", "none")


def plan_web(info: MediaInfo) -> Plan:
    if info.has_video:
        copy_video = (info.video_codec == "h264" and info.pix_fmt in ("yuv420p", "yuvj420p")
                      and info.rotation == 0)
        video = "copy" if copy_video else "encode"
    else:
        video = "none"
    if info.has_audio:
        audio = "copy" if info.audio_codec == "aac" and (info.audio_channels or 2) <= 2 else "encode"
    else:
        audio = "none"
    return Plan(video=video, audio=audio)


def _input(src: Path, info: MediaInfo):
    return ffmpeg.input("file:" + str(src), f=info.demuxer, **_SAFE_INPUT)


def _global(stream):
    return stream.global_args("-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1").overwrite_output()


def web_rendition_args(src: Path, dst: Path, info: MediaInfo, plan: Plan) -> list[str]:
    """A faststart MP4 (or M4A for audio-only) that every browser plays."""
    inp = _input(src, info)
    streams = []
    opts: dict = {"movflags": "+faststart", "map_metadata": -1}
    if plan.video != "none":
        v = inp["v:0"]
        if plan.video == "encode":
            # Even dimensions for yuv420p; never larger than 1080 lines.
            v = v.filter("scale", w="trunc(iw*min(1,1080/ih)/2)*2", h="trunc(min(ih,1080)/2)*2")
            opts.update(vcodec="libx264", preset="veryfast", crf=23, pix_fmt="yuv420p",
                        profile="high", g=120)
        else:
            opts.update(vcodec="copy")
        streams.append(v)
    if plan.audio != "none":
        streams.append(inp["a:0"])
        if plan.audio == "encode":
            opts.update(acodec="aac", audio_bitrate="128k", ac=2)
        else:
            opts.update(acodec="copy")
    out = ffmpeg.output(*streams, "file:" + str(dst), f="mp4", **opts)
    return _global(out).compile()


def poster_args(src: Path, dst: Path, info: MediaInfo) -> list[str]:
    """A JPEG poster: a frame a tenth of the way in, or the waveform of an audio file."""
    if info.has_video:
        at = min(info.duration * 0.1, 30.0)
        inp = ffmpeg.input("file:" + str(src), ss=f"{at:.3f}", f=info.demuxer, **_SAFE_INPUT)
        v = inp["v:0"].filter("scale", w="min(1280,iw)", h=-2)
    else:
        inp = _input(src, info)
        v = inp["a:0"].filter("showwavespic", s="1280x720", colors="#3b82f6", split_channels=0)
    out = ffmpeg.output(v, "file:" + str(dst), vframes=1, f="image2", vcodec="mjpeg", q=3)
    return _global(out).compile()


# -- running ----------------------------------------------------------------------

_OUT_TIME = re.compile(r"^out_time_(?:us|ms)=(\d+)$")


def run_ffmpeg(
    args: list[str],
    timeout: float,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Run an ffmpeg command; raise MediaError with the tail of its message on failure."""
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    with subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace") as proc:

        def drain_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip())

        reader = threading.Thread(target=drain_stderr, daemon=True)
        reader.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                m = _OUT_TIME.match(line.strip())
                if m and duration and on_progress:
                    on_progress(min(1.0, int(m.group(1)) / 1e6 / duration))
            rc = proc.wait()
        finally:
            timed_out = not timer.is_alive() and proc.returncode == -9
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
    log = "\n".join(tail)
    if rc != 0:
        if timed_out:
            raise MediaError(f"ffmpeg did not finish within the {int(timeout)} s limit", log)
        if rc < 0:
            # killed by a signal from outside (OOM killer, an operator): worth another try
            raise MediaError(f"ffmpeg was killed (signal {-rc})", log, permanent=False)
        raise MediaError(f"ffmpeg failed: {_first_line(log)}", log)


# -- generated recordings (demo webinar, tests, benchmarks) ---------------------------

def talk_recording_args(dst: Path, speech_file: Path, title: str, duration: float,
                        size: str = "1280x720", fps: int = 25) -> list[str]:
    """An H.264/AAC MP4 that looks and sounds like a talk: a title card and a
    synthetic voice (flite) reading `speech_file`."""
    v = ffmpeg.input(f"color=c=0x1f2937:s={size}:r={fps}:d={duration}", f="lavfi")
    v = v.drawtext(text=title, fontcolor="white", fontsize=52, x="(w-text_w)/2", y="h/3")
    v = v.drawtext(text="A generated recording", fontcolor="0x93c5fd", fontsize=36, x="(w-text_w)/2", y="h/2")
    a = ffmpeg.input(f"flite=textfile={speech_file}:voice=slt", f="lavfi").filter("apad")
    out = ffmpeg.output(v, a, "file:" + str(dst), t=duration, vcodec="libx264", preset="veryfast",
                        pix_fmt="yuv420p", g=fps * 2, acodec="aac", audio_bitrate="96k", ar=44100,
                        movflags="+faststart")
    return _global(out).compile()
