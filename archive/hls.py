"""HLS playlists, made, read and rewritten in one place.

The worker writes each rendition's media playlist (ffmpeg makes it) and records a
rendition entry (bandwidth, resolution, codecs) in the catalog; the app builds the
master playlist from those entries on request and rewrites media playlists so that
every segment URL is presigned. The master is never stored: two jobs that each add
renditions can therefore never overwrite each other's list.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from . import presets
from .mediatypes import MediaInfo, display_size

CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
PLAYLIST_TYPE = CONTENT_TYPES[".m3u8"]
SOURCE = "source"  # the single rendition the fast path copies from the original
MEDIA_FILE = "media.m4s"  # one fragmented MP4 per rendition, segments by byte range
# The progressive rendition: one file per segment (a growing object cannot be uploaded
# piece by piece), the same names whatever attempt made them.
INIT_FILE = "init.mp4"
SEGMENT_PATTERN = "seg-%05d.m4s"
ENDLIST = "#EXT-X-ENDLIST"
_MAP_URI = re.compile(r'(#EXT-X-MAP:.*URI=")([^"]+)(")')


def segment_sizes(playlist: Path) -> tuple[list[float], list[int], int]:
    """Durations and byte sizes of a media playlist's segments, and the init size."""
    durations, sizes, init = [], [], 0
    pending_range = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            durations.append(float(line.split(":", 1)[1].rstrip(",")))
        elif line.startswith("#EXT-X-BYTERANGE:"):
            pending_range = int(line.split(":", 1)[1].split("@")[0])
        elif line.startswith("#EXT-X-MAP:") and "BYTERANGE=" in line:
            init = int(line.split('BYTERANGE="', 1)[1].split("@")[0])
        elif line and not line.startswith("#"):
            sizes.append(pending_range if pending_range is not None else (playlist.parent / line).stat().st_size)
            pending_range = None
    return durations, sizes, init


def segment_name(number: int) -> str:
    return SEGMENT_PATTERN % number


def segments_of(text: str) -> tuple[list[tuple[float, str]], bool]:
    """A media playlist's (duration, URI) per segment, and whether it is closed (ENDLIST)."""
    segments, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, line))
            duration = None
    return segments, ENDLIST in text


def event_playlist(segments: list[tuple[float, str]], ended: bool) -> str:
    """The progressive rendition's playlist as published: EVENT (it only grows: segments
    are added, never changed or removed), closed with ENDLIST when the encode has ended."""
    target = max([presets.HLS_SEGMENT_SECONDS] + [round(d) for d, _ in segments])
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{INIT_FILE}"']
    for duration, uri in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    if ended:
        lines.append(ENDLIST)
    return "\n".join(lines) + "\n"


def rendition_entry(name: str, playlist: Path, info: MediaInfo, init_file: str = MEDIA_FILE) -> dict:
    """A rendition as the catalog records it: BANDWIDTH from the largest segment,
    AVERAGE-BANDWIDTH from the total."""
    durations, sizes, init = segment_sizes(playlist)
    total_bits = (sum(sizes) + init) * 8
    total_time = sum(durations) or info.duration
    peak = max((sz * 8 / d for sz, d in zip(sizes, durations) if d > 0), default=total_bits / total_time)
    w, h = display_size(info)
    return {"name": name, "playlist": f"{name}/index.m3u8", "bandwidth": int(peak),
            "average_bandwidth": int(total_bits / total_time), "width": w, "height": h,
            "frame_rate": round(info.fps, 3) if info.fps else None,
            "codecs": ",".join(codec_strings_of(playlist.parent / init_file))}


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


def playable(renditions: dict[str, dict]) -> list[dict]:
    """The renditions a master playlist offers: the ladder once it exists (it never goes
    above the source), else the fast path's copy of the source."""
    ladder = [r for name, r in renditions.items() if name != SOURCE]
    if ladder:
        return ladder
    return [renditions[SOURCE]] if SOURCE in renditions else []


def master_playlist(renditions: list[dict], uri: Callable[[dict], str] = lambda r: r["playlist"]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in sorted(renditions, key=lambda r: r["bandwidth"]):
        attrs = [f"BANDWIDTH={r['bandwidth']}", f"AVERAGE-BANDWIDTH={r['average_bandwidth']}",
                 f"RESOLUTION={r['width']}x{r['height']}", f'CODECS="{r["codecs"]}"']
        if r.get("frame_rate"):
            attrs.append(f"FRAME-RATE={r['frame_rate']:.3f}")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), uri(r)]
    return "\n".join(lines) + "\n"


def rewrite_playlist(text: str, sign: Callable[[str], str]) -> str:
    """Replace every segment and init-segment URI of a media playlist with sign(uri)."""
    out = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = _MAP_URI.sub(lambda m: m.group(1) + sign(m.group(2)) + m.group(3), line)
        elif line and not line.startswith("#"):
            line = sign(line)
        out.append(line)
    return "\n".join(out) + "\n"
