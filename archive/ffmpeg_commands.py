"""ffmpeg and ffprobe command lines, built by pure functions (`*_args`): the only module
that imports ffmpeg-python. Test them on their argument lists without running ffmpeg.

Untrusted files are only ever read from local disk, with a demuxer allow-list and
`-protocol_whitelist file`, so a file that is really a playlist cannot make ffmpeg
open anything else.
"""
from __future__ import annotations

from pathlib import Path

import ffmpeg
from ffmpeg._utils import convert_kwargs_to_cmd_line_args

from . import hls, presets, storyboard
from .mediatypes import MediaInfo, Plan

# Demuxers we accept (ffmpeg short names). Anything else, playlists and concat
# lists included, is refused before a single byte is decoded.
DEMUXER_ALLOWLIST = ("mov", "matroska", "webm", "avi", "mp3", "wav", "ogg", "flac", "aac")
_SAFE_INPUT = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(DEMUXER_ALLOWLIST),
}

def probe_args(path: Path) -> list[str]:
    return ["ffprobe", "-v", "error", *convert_kwargs_to_cmd_line_args(_SAFE_INPUT),
            "-show_format", "-show_streams", "-of", "json", "file:" + str(path)]


def packet_args(path: Path, start: float | None = None) -> list[str]:
    """Each packet's pts and duration, one CSV line each, demuxed but not decoded; from
    `start` seconds to the end, or from the beginning."""
    interval = ["-read_intervals", f"{start:.3f}%"] if start else []
    return ["ffprobe", "-v", "error", *convert_kwargs_to_cmd_line_args(_SAFE_INPUT), *interval,
            "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", "file:" + str(path)]


def _input(src: Path, info: MediaInfo):
    return ffmpeg.input("file:" + str(src), f=info.demuxer, **_SAFE_INPUT)


def _global(stream):
    return stream.global_args("-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1").overwrite_output()


def web_rendition_args(src: Path, dst: Path, info: MediaInfo, plan: Plan, x264_preset: str) -> list[str]:
    """A faststart MP4 (or M4A for audio-only) that every browser plays; `x264_preset`
    (Settings.web_x264_preset) is used only when the video must be encoded."""
    inp = _input(src, info)
    streams = []
    opts: dict = {"movflags": "+faststart", "map_metadata": -1}
    if plan.video != "none":
        v = inp["v:0"]
        if plan.video == "encode":
            # Even dimensions for yuv420p; never larger than 1080 lines.
            v = v.filter("scale", w="trunc(iw*min(1,1080/ih)/2)*2", h="trunc(min(ih,1080)/2)*2")
            opts.update(vcodec="libx264", preset=x264_preset, crf=23, pix_fmt="yuv420p",
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


def _hls_opts(out_dir: Path, media_to: str | None = None) -> dict:
    # One fragmented MP4 per rendition, segments addressed by byte range: an hour is
    # one object to upload and to sign, not six hundred. It is written from start to end,
    # never revisited, so it can go to a pipe (`media_to`, e.g. "pipe:5").
    return {
        "f": "hls", "hls_time": presets.HLS_SEGMENT_SECONDS, "hls_playlist_type": "vod",
        "hls_segment_type": "fmp4", "hls_segment_filename": media_to or str(out_dir / hls.MEDIA_FILE),
        "hls_flags": "single_file+independent_segments",
    }


def hls_copy_args(src: Path, out_dir: Path, info: MediaInfo, plan: Plan, media_to: str | None = None) -> list[str]:
    """A single-rendition HLS by stream copy (audio re-encoded only when it must be);
    its media file written to `media_to` (a pipe) instead of `out_dir`, if given."""
    inp = _input(src, info)
    streams = [inp["v:0"]]
    opts: dict = {"vcodec": "copy"}
    if info.has_audio:
        streams.append(inp["a:0"])
        opts.update(acodec="copy") if plan.audio == "copy" else opts.update(acodec="aac", audio_bitrate="128k", ac=2)
    out = ffmpeg.output(*streams, str(out_dir / "index.m3u8"), **opts, **_hls_opts(out_dir, media_to))
    return _global(out).compile()


def progressive_hls_args(src: Path, out_dir: Path, info: MediaInfo, plan: Plan, x264_preset: str,
                         readrate: float = 0.0) -> list[str]:
    """The progressive rendition: the picture encoded (deinterlaced when it is interlaced,
    at most PROGRESSIVE["height"] lines, square pixels) as fMP4 HLS segments, one file
    each (`init.mp4`, `seg-00000.m4s`...), a keyframe every HLS_SEGMENT_SECONDS: another
    run of the same command makes segments of the same names, boundaries and timestamps
    (what a restarted attempt relies on). A segment is named in `index.m3u8` once it is
    complete (`temp_file`): what the worker publishes as it goes. `readrate`: read the
    source at that multiple of real time (0: as fast as possible)."""
    inp = ffmpeg.input("file:" + str(src), f=info.demuxer, **({"readrate": readrate} if readrate > 0 else {}),
                       **_SAFE_INPUT)
    seg = presets.HLS_SEGMENT_SECONDS
    height = presets.PROGRESSIVE["height"]
    v = inp["v:0"]
    if info.interlaced:
        v = v.filter("yadif")
    v = (v.filter("scale", w=f"trunc(min(ih,{height})*dar/2)*2", h=f"trunc(min(ih,{height})/2)*2")
         .filter("setsar", "1"))
    streams = [v]
    opts: dict = {"vcodec": "libx264", "preset": x264_preset, "crf": presets.PROGRESSIVE["crf"], "pix_fmt": "yuv420p",
                  "profile:v": "high", "force_key_frames": f"expr:gte(t,n_forced*{seg})", "sc_threshold": 0}
    if info.has_audio:
        streams.append(inp["a:0"])
        if plan.audio == "copy":
            opts.update(acodec="copy")
        else:
            opts.update(acodec="aac", audio_bitrate=f"{presets.PROGRESSIVE['audio_kbps']}k", ac=2)
    out = ffmpeg.output(*streams, str(out_dir / "index.m3u8"), **opts, **{
        "f": "hls", "hls_time": seg, "hls_playlist_type": "event", "hls_segment_type": "fmp4",
        "hls_fmp4_init_filename": hls.INIT_FILE, "hls_segment_filename": str(out_dir / hls.SEGMENT_PATTERN),
        "hls_flags": "independent_segments+temp_file",
    })
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


SPEECH_SAMPLE_RATE = 16000  # what Whisper listens at


def speech_audio_args(src: Path, dst: Path, info: MediaInfo) -> list[str]:
    """The sound as the recognizer takes it: 16 kHz mono 16-bit WAV (an hour is 115 MB)."""
    a = _input(src, info)["a:0"]
    out = ffmpeg.output(a, "file:" + str(dst), f="wav", acodec="pcm_s16le", ac=1,
                        ar=SPEECH_SAMPLE_RATE, map_metadata=-1)
    return _global(out).compile()


def storyboard_args(src: Path, out_dir: Path, info: MediaInfo, interval: float) -> list[str]:
    """Sprite sheets of timeline thumbnails (storyboard-001.jpg, ...)."""
    tw, th = storyboard.storyboard_geometry(info)
    v = (_input(src, info)["v:0"].filter("fps", fps=f"1/{interval}")
         .filter("scale", w=tw, h=th).filter("setsar", "1")
         .filter("tile", f"{presets.STORYBOARD_COLUMNS}x{presets.STORYBOARD_ROWS}"))
    out = ffmpeg.output(v, str(out_dir / "storyboard-%03d.jpg"), f="image2", vcodec="mjpeg", q=5)
    return _global(out).compile()


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
    """Decode a stretch, every error printed. Not `-xerror`: the first frames after a seek
    into a long GOP may lack their references in a file that decodes cleanly from its
    start. ffmpeg still fails when most frames cannot be decoded (`-max_error_rate`)."""
    opts = {"ss": f"{at:.3f}"} if at > 0 else {}
    inp = ffmpeg.input("file:" + str(src), t=f"{seconds:.3f}", f=info.demuxer, **opts, **_SAFE_INPUT)
    streams = [inp["v:0"]] if info.has_video else []
    if info.has_audio:
        streams.append(inp["a:0"])
    out = ffmpeg.output(*streams, "-", f="null")
    return _global(out).global_args("-v", "error").compile()


def frame_grabs_args(src: Path, grabs: list[tuple[float, Path]], info: MediaInfo, width: int = 240) -> list[str]:
    """One small JPEG per (time, file), each from its own fast seek, in one ffmpeg run:
    the frames staff compare with the slide pages the alignment matched them to."""
    outs = []
    for at, dst in grabs:
        inp = ffmpeg.input("file:" + str(src), ss=f"{at:.3f}", f=info.demuxer, **_SAFE_INPUT)
        v = inp["v:0"].filter("scale", w=width, h=-2)
        outs.append(ffmpeg.output(v, "file:" + str(dst), vframes=1, f="image2", vcodec="mjpeg", q=5))
    return _global(ffmpeg.merge_outputs(*outs)).compile()


def alignment_frames_args(src: Path, dst: Path | str, info: MediaInfo, fps: float, width: int, height: int,
                          start: float | None = None, end: float | None = None) -> list[str]:
    """A few small grey frames a second, raw (`width` x `height` bytes each) to `dst` (a
    file or `pipe:N`), from `start` to `end` seconds: what slide alignment looks at.
    The decoder skips frames no other frame refers to (most B-frames: nothing is lost but
    those frames themselves, and at a few frames a second the nearest decoded one is as
    good) and its loop filter (deblocking: slightly softer pictures that a comparison at
    this size cannot tell apart); both about halve the decoding. Never `nokey`: keyframes
    can be minutes apart in a screen recording. `round=up`: the frame taken for time t is
    the last one shown at or before t (with `near` it could be a quarter second later)."""
    opts: dict = {"skip_frame": "noref", "skip_loop_filter": "all", "threads": 2}
    if start:
        opts["ss"] = f"{start:.3f}"
    if end is not None:
        opts["t"] = f"{max(0.0, end - (start or 0.0)):.3f}"
    inp = ffmpeg.input("file:" + str(src), f=info.demuxer, **opts, **_SAFE_INPUT)
    v = (inp["v:0"].filter("fps", fps=fps, round="up")
         .filter("scale", w=width, h=height, flags="area").filter("format", "gray"))
    out = ffmpeg.output(v, dst if str(dst).startswith("pipe:") else "file:" + str(dst), f="rawvideo", pix_fmt="gray")
    return _global(out).compile()
