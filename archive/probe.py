"""What a file holds and whether we take it: probing, limits, the plan for the web
rendition, and the decode check. Refusals are `MediaRejected` with a sentence, whatever
the file's headers say."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from . import presets
from . import ffmpeg_commands as cmd
from .formatting import hms
from .media import MediaError, MediaRejected, ToolLimits, first_line, run_ffmpeg, run_ffprobe
from .mediatypes import MediaInfo, Plan, display_size, even, web_plan
from .wording import N_


def _starts_like_mp4(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")


def probe(path: Path, limits: ToolLimits) -> MediaInfo:
    """Identify a local file within `limits` (ToolLimits.from_settings); raise
    MediaRejected with a readable reason if it is not media. The duration is the one
    that plays (where the data ends)."""
    info, start = _streams(Path(path), limits)
    end = data_end(path, info.duration + start, limits)
    if end is None or end <= start:
        raise MediaRejected(N_("the recording holds no playable data (the file stops before its first frame)"))
    if end - start < info.duration - TRUNCATION_TOLERANCE:
        info = dataclasses.replace(info, duration=end - start, declared_duration=info.duration)
    return info


def probe_streams(path: Path, limits: ToolLimits) -> MediaInfo:
    """The streams and the declared duration, from the container's index and first packets,
    without looking for where the data ends: what a file of which only the first and last
    bytes are known can tell (archive/uploads.py's early direct play)."""
    return _streams(Path(path), limits)[0]


def _streams(path: Path, limits: ToolLimits) -> tuple[MediaInfo, float]:
    """(what ffprobe says of the file, its start time)."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected(N_("the file is empty (0 bytes)"))
    rc, out, err = run_ffprobe(cmd.probe_args(path), limits.probe())
    err = err.replace(f"file:{path}: ", "")
    if rc != 0:
        if "moov atom not found" in err and _starts_like_mp4(path):
            raise MediaRejected(N_("the MP4 is truncated or unfinished (no moov atom)"), err)
        if "moov atom not found" in err:
            raise MediaRejected(N_("not a readable recording: the file is not media"), err)
        if "not on whitelist" in err:
            raise MediaRejected(N_("not a recording in an accepted container "
                                   "(MP4, MOV, MKV, WebM, AVI, M4A, MP3, WAV, OGG, FLAC)"), err)
        raise MediaRejected(N_("not a readable recording: %(reason)s", reason=first_line(err)), err)
    try:
        data = json.loads(out.decode("utf-8", "replace") or "{}")
    except ValueError as e:
        raise MediaRejected(N_("not a readable recording: ffprobe's description of it is not readable")) from e
    info = media_info_from_probe(data, size)
    return info, _number(_dict(data.get("format")).get("start_time")) or 0.0


# Containers round durations and pad streams: a shortfall below this is no truncation.
TRUNCATION_TOLERANCE = 1.0  # seconds
_TAIL = 10.0  # seconds of packets read before the declared end


def _packets_end(path: Path, start: float | None, limits: ToolLimits) -> float | None:
    _rc, out, _err = run_ffprobe(cmd.packet_args(path, start), limits.probe())
    end = None
    for line in out.decode("ascii", "replace").splitlines():
        pts, _, duration = line.partition(",")
        at = _number(pts)
        if at is not None:
            at += _number(duration.strip().rstrip(",")) or 0.0
            end = at if end is None else max(end, at)
    return end


def truncation_warning(info: MediaInfo) -> str | None:
    """For staff, when the data stops before the declared duration (the recording is kept
    with the duration that plays)."""
    if info.declared_duration is None:
        return None
    return (f"the data stops at {hms(info.duration, tenths=True)} of {hms(info.declared_duration, tenths=True)} declared: "
            "the file was cut short (an interrupted copy or recording?); what plays is kept")


def data_end(path: Path, declared_end: float, limits: ToolLimits) -> float | None:
    """Where the data really ends (the last packet's pts + duration), in the file's own
    timestamps; None when it holds no packet. Reads the packets of the last seconds before
    the declared end; only when there are none there (a file cut short: its index names
    data that is not there) are all packets read, which reads the file once, undecoded."""
    start = declared_end - _TAIL
    end = _packets_end(path, start, limits) if start > 0 else None
    return end if end is not None else _packets_end(path, None, limits)


def _fraction(text) -> float | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        value = float(num) / float(den) if float(den) else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and 0 < value < 1000 else None


def _number(value, cast=float):
    """A number from ffprobe's JSON (which has strings for many), or None if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        n = cast(value) if cast is float else int(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(n, float) and not math.isfinite(n):
        return None
    return n


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _rotation(v: dict) -> int:
    """Degrees a player turns the picture, from the display matrix or the old `rotate`
    tag; a tag that is not a whole number of degrees is a refusal, not a traceback."""
    rotation = 0
    for sd in v.get("side_data_list") or []:
        if isinstance(sd, dict) and "rotation" in sd:
            r = _number(sd["rotation"])
            if r is None:
                raise MediaRejected(N_("the video's rotation %(value)s is not a number of degrees",
                                       value=repr(sd["rotation"])))
            rotation = int(round(r))
    tag = _dict(v.get("tags")).get("rotate")
    if tag is not None:
        r = _number(tag, int)
        if r is None:
            raise MediaRejected(N_("the video's rotate tag %(value)s is not a whole number of degrees",
                                   value=repr(str(tag)[:40])))
        rotation = r
    if rotation % 90:
        raise MediaRejected(N_("the video declares a rotation of %(degrees)s degrees; only quarter turns are supported",
                               degrees=rotation))
    return (rotation + 180) % 360 - 180  # -90, 0, 90 or 180


def media_info_from_probe(data: dict, size: int) -> MediaInfo:
    """MediaInfo from ffprobe's JSON; anything malformed there is a MediaRejected."""
    data = _dict(data)
    fmt = _dict(data.get("format"))
    format_name = _text(fmt.get("format_name")) or ""
    names = format_name.split(",")
    demuxer = next((n for n in names if n in cmd.DEMUXER_ALLOWLIST), None)
    if demuxer is None:
        raise MediaRejected(N_("container %(name)s is not accepted", name=repr(format_name)))
    if demuxer == "webm":
        demuxer = "matroska"
    streams = [st for st in data.get("streams") or [] if isinstance(st, dict)]
    # Cover art in M4A/MP3 shows up as a one-frame video stream: not a video.
    video = [st for st in streams if st.get("codec_type") == "video"
             and not _dict(st.get("disposition")).get("attached_pic")]
    audio = [st for st in streams if st.get("codec_type") == "audio"]
    if not video and not audio:
        raise MediaRejected(N_("the file has neither a video nor an audio stream"))
    v = video[0] if video else {}
    a = audio[0] if audio else {}
    if video and not _text(v.get("codec_name")):
        raise MediaRejected(N_("the video stream's codec is unknown to ffmpeg"))
    if not video and not _text(a.get("codec_name")):
        raise MediaRejected(N_("the audio stream's codec is unknown to ffmpeg"))
    duration = next((d for d in (_number(fmt.get("duration")), _number(v.get("duration")),
                                 _number(a.get("duration"))) if d), 0.0)
    if duration <= 0:
        raise MediaRejected(N_("the recording has no duration (is it truncated?)"))
    width, height = _number(v.get("width"), int), _number(v.get("height"), int)
    if video and (not width or not height or width <= 0 or height <= 0):
        raise MediaRejected(N_("the video stream declares no picture size"))
    channels = _number(a.get("channels"), int)
    bit_rate = _number(fmt.get("bit_rate"), int)
    info = MediaInfo(
        demuxer=demuxer,
        duration=duration,
        size=size,
        video_codec=_text(v.get("codec_name")),
        width=width if video else None,
        height=height if video else None,
        pix_fmt=_text(v.get("pix_fmt")),
        fps=_fraction(v.get("avg_frame_rate")),
        rotation=_rotation(v) if video else 0,
        interlaced=bool(video) and _text(v.get("field_order")) in ("tt", "bb", "tb", "bt"),
        audio_codec=_text(a.get("codec_name")),
        audio_channels=channels if channels and 0 < channels <= 64 else None,
        audio_streams=len(audio),
        bit_rate=bit_rate if bit_rate and bit_rate > 0 else None,
        raw=data,
    )
    check_limits(info)
    return info


def check_limits(info: MediaInfo) -> None:
    """Refuse what no webinar is and what would only burn the worker's time."""
    if info.has_video and info.width and info.height and (
            max(info.width, info.height) > presets.MAX_WIDTH
            or min(info.width, info.height) > presets.MAX_HEIGHT):  # portrait too
        raise MediaRejected(N_("the video is %(size)s; the largest accepted is %(max)s", size=f"{info.width}x{info.height}",
                               max=f"{presets.MAX_WIDTH}x{presets.MAX_HEIGHT}"))
    if info.duration > presets.MAX_DURATION_SECONDS:
        raise MediaRejected(N_("the recording declares %(duration)s; at most %(max)s is accepted",
                               duration=hms(info.duration), max=hms(presets.MAX_DURATION_SECONDS)))
    if info.size / info.duration < presets.MIN_BYTES_PER_SECOND:
        raise MediaRejected(N_("the file declares %(duration)s but holds only %(size)s bytes: it is truncated or damaged",
                               duration=hms(info.duration), size=info.size))
    if info.audio_streams > presets.MAX_AUDIO_STREAMS:
        raise MediaRejected(N_("the file has %(streams)s audio streams; at most %(max)s are accepted",
                               streams=info.audio_streams, max=presets.MAX_AUDIO_STREAMS))


# -- plans (pure) -------------------------------------------------------------------

def plan_web(info: MediaInfo) -> Plan:
    """How the fast path makes it watchable: archive.mediatypes.web_plan, the one place."""
    return web_plan(info)


def ladder_rungs(info: MediaInfo, ladder: list[dict] | None = None) -> list[dict]:
    """The rungs for this source: never above its height; a tiny source gets one rung."""
    ladder = presets.LADDER if ladder is None else ladder
    w, h = display_size(info)
    rungs = []
    for rung in ladder:
        if rung["height"] <= h:
            rungs.append({**rung, "width": even(w * rung["height"] / h)})
    if not rungs:
        smallest = ladder[0]
        rungs.append({**smallest, "name": f"{even(h)}p", "height": even(h), "width": even(w)})
    return rungs


# -- decode check ------------------------------------------------------------------

def check_decodes(src: Path, info: MediaInfo, limits: ToolLimits) -> list[str]:
    """Decode short stretches at the start, middle and end. Refuse (MediaRejected) only a
    file that cannot be played: ffmpeg gives up when most frames fail to decode. Errors
    in the stretch decoded from the start of the file are damage that still plays: they
    come back as warnings for the asset. Errors after a seek are not damage (the first
    frames after a sync sample that is not an IDR frame lack their references)."""
    span = min(2.0, info.duration / 3)
    warnings = [w for w in (truncation_warning(info),) if w]
    for at in (0.0, info.duration / 2 - span / 2, max(0.0, info.duration - span - 0.5)):
        at = max(0.0, at)
        try:
            log = run_ffmpeg(cmd.decode_check_args(src, info, at, span), limits.ffmpeg(300), tail_lines=200)
        except MediaRejected:
            raise
        except MediaError as e:
            if not e.permanent:
                raise
            raise MediaRejected(f"the recording cannot be played near {at:.0f} s: "
                                f"{e.log.splitlines()[-1] if e.log else e}", e.log) from e
        errors = [ln for ln in log.splitlines() if ln.strip()]
        if at == 0.0 and errors:
            warnings.append(f"a few frames in the first {span:.0f} s are damaged and may show as "
                            f"blocks or a freeze ({len(errors)} decoder messages, e.g. "
                            f"{_decoder_message(errors[0])!r})")
    return warnings


def _decoder_message(line: str) -> str:
    """'[h264 @ 0x55...] error while decoding MB 4 4' -> 'h264: error while decoding MB 4 4'."""
    if line.startswith("[") and "]" in line:
        tag, _, rest = line[1:].partition("]")
        return f"{tag.split(' @ ')[0]}: {rest.strip()}"[:160]
    return line[:160]
