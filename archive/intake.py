"""The checks of every incoming file, whatever the way in: the CLI import, a folder, a
description file, the browser upload check and the staff forms.

A check reads a local file, within the limits of `Settings`, and returns what the
catalog records of it (`Checked`) or raises `ImportRejected`, one sentence that starts
with the field or file at fault. The small value checks the forms and description
files share (language, time zone, a time into the recording, a file named in a folder)
are here too, so that every way in says the same thing about the same input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image

from . import captions, decks, media, probe, slides
from .config import Settings
from .hashing import sha256_file
from .wording import N_


class ImportRejected(Exception):
    """The input cannot be taken; the message tells the user why."""


@dataclass
class Checked:
    path: Path
    kind: str
    ext: str
    content_type: str
    sha256: str
    info: dict
    # Taken, but staff should know (e.g. a recording whose data stops early).
    warnings: list[str] = field(default_factory=list)


PHOTO_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDE = 6000  # pixels; also keeps Pillow below its decompression-bomb limit


# -- files ---------------------------------------------------------------------------

def check_recording(path: Path, settings: Settings, name: str | None = None, sha256: str | None = None) -> Checked:
    """Probed within the settings' ffprobe limits. `name` is the file name the user knows
    (messages); the path's by default. The duration recorded is the one that plays."""
    name = name or path.name
    if not path.is_file():
        raise ImportRejected(f"recording {path}: no such file")
    try:
        info = probe.probe(path, media.ToolLimits.from_settings(settings))
    except probe.MediaRejected as e:
        raise ImportRejected(N_("recording %(file)s: %(reason)s", file=name, reason=e)) from e
    warning = probe.truncation_warning(info)
    return Checked(path, "recording", info.extension, info.content_type, sha256 or sha256_file(path),
                   info.summary(), [warning] if warning else [])


def preview_recording(path: Path, settings: Settings, name: str | None = None) -> dict:
    """How a recording plays, from a file of which only the first and last bytes are known
    (the rest reads as zeros): its streams and declared duration, probed within the
    settings' limits, without check_recording's look for where the data ends. Not a check:
    it only lets a browser-playable upload play before check_recording runs on the whole
    file (archive/uploads.py)."""
    try:
        return probe.probe_streams(path, media.ToolLimits.from_settings(settings)).summary()
    except probe.MediaRejected as e:
        raise ImportRejected(f"recording {name or path.name}: {e}") from e


def check_deck(path: Path, settings: Settings, name: str | None = None, sha256: str | None = None) -> Checked:
    """A PDF is opened and counted (in the PDF child, within the render limits); a PPTX/ODP
    gets only cheap checks (the worker converts it)."""
    name = name or path.name
    if not path.is_file():
        raise ImportRejected(f"slides {path}: no such file")
    try:
        if slides.deck_kind(path) == "pdf":
            deck = slides.inspect_pdf(path, slides.render_limits(settings), settings.deck_max_pages,
                                      work=settings.work_dir)
            info = {"page_count": deck.page_count}
            if deck.title:
                info["title"] = deck.title
            return Checked(path, "slides", "pdf", "application/pdf", sha256 or sha256_file(path), info)
        fmt = decks.inspect_package(path)
    except slides.SlidesRejected as e:
        raise ImportRejected(N_("slides %(file)s: %(reason)s", file=name, reason=e)) from e
    return Checked(path, "slides", fmt.ext, fmt.content_type, sha256 or sha256_file(path), {})


def check_captions(language: str, path: Path, name: str | None = None, sha256: str | None = None) -> Checked:
    name = name or path.name
    if not path.is_file():
        raise ImportRejected(f"captions {path}: no such file")
    try:
        captions.check_language(language)
        cues = captions.parse(path.read_bytes())
    except captions.CaptionsRejected as e:
        raise ImportRejected(N_("captions %(file)s: %(reason)s", file=name, reason=e)) from e
    ext = "srt" if path.suffix.lower() == ".srt" else "vtt"
    return Checked(path, "captions", ext, "text/vtt" if ext == "vtt" else "application/x-subrip",
                   sha256 or sha256_file(path), {"language": language, "cues": len(cues)})


def check_photo(speaker: str, path: Path) -> Checked:
    """A speaker's photo: a JPEG, PNG or WebP that Pillow decodes, within size limits.
    Messages start with "speaker 'NAME' photo FILE: "."""
    where = f"speaker {speaker!r} photo {path.name}"
    if not path.is_file():
        raise ImportRejected(f"speaker {speaker!r} photo {path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ImportRejected(f"{where}: the file is empty")
    if size > PHOTO_MAX_BYTES:
        raise ImportRejected(f"{where}: larger than {PHOTO_MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(path) as im:
            if im.format not in PHOTO_FORMATS:
                raise ImportRejected(f"{where}: a {im.format} image; use JPEG, PNG or WebP")
            width, height = im.size
            if max(width, height) > PHOTO_MAX_SIDE:
                raise ImportRejected(f"{where}: {width}x{height} pixels, more than {PHOTO_MAX_SIDE} on a side")
            im.load()  # decodes every pixel: a truncated file fails here
            ext, content_type = PHOTO_FORMATS[im.format]
    except ImportRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImportRejected(f"{where}: not a readable image ({e})") from e
    return Checked(path, "photo", ext, content_type, sha256_file(path), {"width": width, "height": height})


def check_file(kind: str, path: Path, settings: Settings, name: str | None = None,
               language: str | None = None, sha256: str | None = None) -> Checked:
    """The check of one local file of an asset kind, for any way in (CLI import, browser upload).
    `sha256`: the file's digest when the caller took it already (while downloading), so the
    file is not read again for it."""
    if kind == "recording":
        return check_recording(path, settings, name, sha256)
    if kind == "slides":
        return check_deck(path, settings, name, sha256)
    if kind == "captions":
        return check_captions(language or "", path, name, sha256)
    raise ImportRejected(f"unknown kind of file {kind!r}")


def inside(folder: Path, value: str | Path, where: str) -> Path:
    """`value` (a path named in a description, or a file found in a folder) as a path in
    `folder`, refused when it leads out: absolute, through `..`, or by a symlink. The
    description or folder may come from elsewhere; the files beside it are all it may read."""
    text = str(value)
    if Path(text).is_absolute():
        raise ImportRejected(f"{where}: {text!r} is an absolute path; name a file in the folder "
                             "(paths are relative to it)")
    if ".." in Path(text).parts:
        raise ImportRejected(f"{where}: {text!r} leads out of the folder (..); name a file in it")
    path = folder / text
    try:
        resolved, home = path.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL in the name
        raise ImportRejected(f"{where}: no such file {text!r} (paths are relative to the folder)") from None
    if not resolved.is_relative_to(home):
        raise ImportRejected(f"{where}: {text!r} is a link that leads out of the folder; "
                             "copy the file into it")
    if not resolved.is_file():
        raise ImportRejected(f"{where}: no such file {text!r} (paths are relative to the folder)")
    return path


# -- values the forms and description files share -------------------------------------

def check_language(tag: str, where: str = "language") -> str:
    """A BCP 47 tag (en, pt-BR)."""
    try:
        captions.check_language(tag)
    except captions.CaptionsRejected as e:
        raise ImportRejected(f"{where}: {e}") from e
    return tag


def time_zone(name: str, where: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ImportRejected(f"{where}: {name!r} is not an IANA time zone "
                             "(like Europe/Berlin or America/New_York)") from e


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{2}(?:\.\d+)?)$")


def parse_start(value: Any, where: str = "start") -> float:
    """Seconds into the recording from 1:02:03, 62:03 or a number of seconds."""
    if isinstance(value, bool):
        raise ImportRejected(f"{where}: {value!r} is not a time")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and _CLOCK.match(value.strip()):
        h, m, s = _CLOCK.match(value.strip()).groups()
        if float(s) >= 60 or (h is not None and int(m) >= 60):
            raise ImportRejected(f"{where}: {value!r} is not a time (use \"1:02:03\", \"62:03\" or seconds)")
        seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    elif isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        seconds = float(value)
    else:
        raise ImportRejected(f"{where}: {value!r} is not a time (use \"1:02:03\", \"62:03\" or seconds)")
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ImportRejected(f"{where}: {value!r} is not a time in the recording")
    return seconds
