"""Probing and transcoding with ffmpeg: the only module that imports ffmpeg-python.

Untrusted files are only ever read from local disk, with a demuxer allow-list and
`-protocol_whitelist file`, so a file that is really a playlist cannot make ffmpeg
open anything else. Commands are built by pure functions (see `*_args`) and run by
`run_ffmpeg`, which adds a time limit, progress and the tail of ffmpeg's message.
"""
from __future__ import annotations

import collections
import ctypes
import json
import os
import re
import resource
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ffmpeg
from ffmpeg._utils import convert_kwargs_to_cmd_line_args

from . import presets

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
        p = subprocess.run(probe_args(path), capture_output=True, timeout=PROBE_TIMEOUT,
                           preexec_fn=_child_limits(DEFAULT_MEMORY_MB))
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
    info = MediaInfo(
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
    check_limits(info)
    return info


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def check_limits(info: MediaInfo) -> None:
    """Refuse what no webinar is and what would only burn the worker's time."""
    if info.has_video and info.width and info.height and (
            max(info.width, info.height) > presets.MAX_WIDTH
            or min(info.width, info.height) > presets.MAX_HEIGHT):  # portrait too
        raise MediaRejected(f"the video is {info.width}x{info.height}; the largest accepted is "
                            f"{presets.MAX_WIDTH}x{presets.MAX_HEIGHT}")
    if info.duration > presets.MAX_DURATION_SECONDS:
        raise MediaRejected(f"the recording declares {_hms(info.duration)}; at most "
                            f"{_hms(presets.MAX_DURATION_SECONDS)} is accepted")
    if info.size / info.duration < presets.MIN_BYTES_PER_SECOND:
        raise MediaRejected(f"the file declares {_hms(info.duration)} but holds only {info.size} bytes: "
                            "it is truncated or damaged")
    if info.audio_streams > presets.MAX_AUDIO_STREAMS:
        raise MediaRejected(f"the file has {info.audio_streams} audio streams; at most "
                            f"{presets.MAX_AUDIO_STREAMS} are accepted")


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


def waveform_poster_args(src: Path, dst: Path, info: MediaInfo) -> list[str]:
    """The poster of an audio-only recording: a JPEG of its waveform."""
    v = _input(src, info)["a:0"].filter("showwavespic", s="1280x320", colors="#3b82f6", split_channels=0)
    out = ffmpeg.output(v, "file:" + str(dst), vframes=1, f="image2", vcodec="mjpeg", q=3)
    return _global(out).compile()


# -- running ----------------------------------------------------------------------

_OUT_TIME = re.compile(r"^out_time_(?:us|ms)=(\d+)$")


DEFAULT_MEMORY_MB = 4096  # per ffmpeg process (address space); Settings.ffmpeg_memory_mb
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_OUT_OF_MEMORY = ("Cannot allocate memory", "failed to map segment", "malloc of size", "bad_alloc")


def _child_limits(memory_mb: int | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: cap its address space, and make it die
    with the worker, so a worker killed with SIGKILL leaves no ffmpeg writing behind it."""
    parent = os.getpid()
    limit = None
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)

    def setup() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before prctl took effect
            os._exit(1)

    return setup


def run_ffmpeg(
    args: list[str],
    timeout: float,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
) -> None:
    """Run an ffmpeg command; raise MediaError with the tail of its message on failure."""
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    with subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace",
                          preexec_fn=_child_limits(memory_mb)) as proc:

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
        if memory_mb and any(marker in log for marker in _OUT_OF_MEMORY):
            raise MediaError(f"ffmpeg needed more than its {memory_mb} MB memory limit", log)
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


# -- renditions beyond the fast path ----------------------------------------------------

def display_size(info: MediaInfo) -> tuple[int, int]:
    """Width and height as shown, after the rotation a phone recorded."""
    w, h = info.width or 0, info.height or 0
    return (h, w) if abs(info.rotation) % 180 == 90 else (w, h)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def ladder_rungs(info: MediaInfo, ladder: list[dict] | None = None) -> list[dict]:
    """The rungs for this source: never above its height; a tiny source gets one rung."""
    ladder = presets.LADDER if ladder is None else ladder
    w, h = display_size(info)
    rungs = []
    for rung in ladder:
        if rung["height"] <= h:
            rungs.append({**rung, "width": _even(w * rung["height"] / h)})
    if not rungs:
        smallest = ladder[0]
        rungs.append({**smallest, "name": f"{_even(h)}p", "height": _even(h), "width": _even(w)})
    return rungs


HLS_MEDIA_FILE = "media.m4s"


def _hls_opts(out_dir: Path) -> dict:
    # One fragmented MP4 per rendition, segments addressed by byte range: an hour is
    # one object to upload and to sign, not six hundred.
    return {
        "f": "hls", "hls_time": presets.HLS_SEGMENT_SECONDS, "hls_playlist_type": "vod",
        "hls_segment_type": "fmp4", "hls_segment_filename": str(out_dir / HLS_MEDIA_FILE),
        "hls_flags": "single_file+independent_segments",
    }


def hls_copy_args(src: Path, out_dir: Path, info: MediaInfo, plan: Plan) -> list[str]:
    """A single-rendition HLS by stream copy (audio re-encoded only when it must be)."""
    inp = _input(src, info)
    streams = [inp["v:0"]]
    opts: dict = {"vcodec": "copy"}
    if info.has_audio:
        streams.append(inp["a:0"])
        opts.update(acodec="copy") if plan.audio == "copy" else opts.update(acodec="aac", audio_bitrate="128k", ac=2)
    out = ffmpeg.output(*streams, str(out_dir / "index.m3u8"), **opts, **_hls_opts(out_dir))
    return _global(out).compile()


def hls_ladder_args(src: Path, out_root: Path, info: MediaInfo, rungs: list[dict]) -> list[str]:
    """Every rung in one ffmpeg run: decode once, scale and encode per rung, with
    keyframes forced on the same timestamps so renditions switch cleanly."""
    inp = _input(src, info)
    seg = presets.HLS_SEGMENT_SECONDS
    split = inp["v:0"].filter_multi_output("split", len(rungs))
    outs = []
    for i, rung in enumerate(rungs):
        out_dir = out_root / rung["name"]
        v = split[i].filter("scale", w=rung["width"], h=rung["height"]).filter("setsar", "1")
        streams = [v] + ([inp["a:0"]] if info.has_audio else [])
        kbps = rung["video_kbps"]
        opts = dict(
            vcodec="libx264", preset=presets.X264_PRESET, pix_fmt="yuv420p", profile="high",
            video_bitrate=f"{kbps}k", maxrate=f"{int(kbps * 1.5)}k", bufsize=f"{kbps * 2}k",
            force_key_frames=f"expr:gte(t,n_forced*{seg})", sc_threshold=0,
        )
        if info.has_audio:
            opts.update(acodec="aac", audio_bitrate=f"{rung['audio_kbps']}k", ac=2)
        outs.append(ffmpeg.output(*streams, str(out_dir / "index.m3u8"), **opts, **_hls_opts(out_dir)))
    return _global(ffmpeg.merge_outputs(*outs)).compile()


def audio_args(src: Path, dst: Path, info: MediaInfo, codec: str) -> list[str]:
    """The sound alone: `m4a` (AAC, copied when it already is) or `mp3` for podcast apps."""
    a = _input(src, info)["a:0"]
    if codec == "m4a":
        if info.audio_codec == "aac" and (info.audio_channels or 2) <= 2:
            opts = {"acodec": "copy"}
        else:
            opts = {"acodec": "aac", "audio_bitrate": f"{presets.AUDIO_M4A_KBPS}k", "ac": 2}
        out = ffmpeg.output(a, "file:" + str(dst), f="ipod", movflags="+faststart", **opts)
    else:
        out = ffmpeg.output(a, "file:" + str(dst), f="mp3", acodec="libmp3lame",
                            audio_bitrate=f"{presets.AUDIO_MP3_KBPS}k", ac=2)
    return _global(out).compile()


def storyboard_interval(duration: float) -> float:
    per = duration / presets.STORYBOARD_MAX_THUMBS
    return max(presets.STORYBOARD_MIN_INTERVAL, float(int(per) + (per > int(per))))


def storyboard_geometry(info: MediaInfo) -> tuple[int, int]:
    w, h = display_size(info)
    tw = presets.STORYBOARD_WIDTH
    return tw, _even(tw * h / w) if w else 90


def storyboard_args(src: Path, out_dir: Path, info: MediaInfo, interval: float) -> list[str]:
    """Sprite sheets of timeline thumbnails (storyboard-001.jpg, ...)."""
    tw, th = storyboard_geometry(info)
    v = (_input(src, info)["v:0"].filter("fps", fps=f"1/{interval}")
         .filter("scale", w=tw, h=th).filter("setsar", "1")
         .filter("tile", f"{presets.STORYBOARD_COLUMNS}x{presets.STORYBOARD_ROWS}"))
    out = ffmpeg.output(v, str(out_dir / "storyboard-%03d.jpg"), f="image2", vcodec="mjpeg", q=5)
    return _global(out).compile()


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms % 3600000 // 60000:02d}:{ms % 60000 // 1000:02d}.{ms % 1000:03d}"


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
        lines += [f"{_ts(start)} --> {_ts(end)}", f"{sheet_names[n // per_sheet]}#xywh={x},{y},{tw},{th}", ""]
        n += 1
    return "\n".join(lines)


def frame_sample_args(src: Path, dst: Path, info: MediaInfo, at: float, width: int = 64) -> list[str]:
    inp = ffmpeg.input("file:" + str(src), ss=f"{at:.3f}", f=info.demuxer, **_SAFE_INPUT)
    v = inp["v:0"].filter("scale", w=width, h=-2).filter("format", "gray")
    out = ffmpeg.output(v, "file:" + str(dst), vframes=1, f="image2", vcodec="png")
    return _global(out).compile()


def poster_at_args(src: Path, dst: Path, info: MediaInfo, at: float) -> list[str]:
    inp = ffmpeg.input("file:" + str(src), ss=f"{at:.3f}", f=info.demuxer, **_SAFE_INPUT)
    v = inp["v:0"].filter("scale", w="min(1280,iw)", h=-2)
    out = ffmpeg.output(v, "file:" + str(dst), vframes=1, f="image2", vcodec="mjpeg", q=3)
    return _global(out).compile()


def poster_candidates(duration: float) -> list[float]:
    return [round(duration * f, 3) for f in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85)]


def decode_check_args(src: Path, info: MediaInfo, at: float, seconds: float) -> list[str]:
    """Decode a stretch and stop at the first error (-xerror): a damaged bitstream fails."""
    inp = ffmpeg.input("file:" + str(src), ss=f"{at:.3f}", t=f"{seconds:.3f}", f=info.demuxer,
                       **_SAFE_INPUT)
    streams = [inp["v:0"]] if info.has_video else []
    if info.has_audio:
        streams.append(inp["a:0"])
    out = ffmpeg.output(*streams, "-", f="null")
    return _global(out).global_args("-xerror", "-v", "error").compile()


def codec_strings_of(init_segment: Path) -> list[str]:
    """CODECS of an fMP4 init segment we made, read from its avcC box: the profile,
    compatibility and level bytes there are exactly RFC 6381's avc1.PPCCLL."""
    with open(init_segment, "rb") as f:
        data = f.read(1 << 20)  # the init segment (moov) comes first
    codecs = []
    at = data.find(b"avcC")
    if at >= 0:
        codecs.append("avc1." + data[at + 5: at + 8].hex())
    if b"mp4a" in data:
        codecs.append("mp4a.40.2")
    return codecs
