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
        raise ImportRejected(N_("recording %(file)s: %(reason)s", file=path, reason=N_("no such file")))
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
        raise ImportRejected(N_("recording %(file)s: %(reason)s", file=name or path.name, reason=e)) from e


def check_deck(path: Path, settings: Settings, name: str | None = None, sha256: str | None = None) -> Checked:
    """A PDF is opened and counted (in the PDF child, within the render limits); a PPTX/ODP
    gets only cheap checks (the worker converts it)."""
    name = name or path.name
    if not path.is_file():
        raise ImportRejected(N_("slides %(file)s: %(reason)s", file=path, reason=N_("no such file")))
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
        raise ImportRejected(N_("captions %(file)s: %(reason)s", file=path, reason=N_("no such file")))
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
    def refused(reason: str, file: object = path.name) -> ImportRejected:
        return ImportRejected(N_("%(field)s: %(reason)s", reason=reason,
                                 field=N_("speaker %(name)s photo %(file)s", name=repr(speaker), file=file)))

    if not path.is_file():
        raise refused(N_("no such file"), path)
    size = path.stat().st_size
    if size == 0:
        raise refused(N_("the file is empty"))
    if size > PHOTO_MAX_BYTES:
        raise refused(N_("larger than %(size)s", size=f"{PHOTO_MAX_BYTES // (1024 * 1024)} MB"))
    try:
        with Image.open(path) as im:
            if im.format not in PHOTO_FORMATS:
                raise refused(N_("a %(format)s image; use JPEG, PNG or WebP", format=im.format))
            width, height = im.size
            if max(width, height) > PHOTO_MAX_SIDE:
                raise refused(N_("%(size)s pixels, more than %(max)s on a side", size=f"{width}x{height}",
                                 max=PHOTO_MAX_SIDE))
            im.load()  # decodes every pixel: a truncated file fails here
            ext, content_type = PHOTO_FORMATS[im.format]
    except ImportRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise refused(N_("not a readable image (%(reason)s)", reason=e)) from e
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
    raise ImportRejected(N_("unknown kind of file %(kind)s", kind=repr(kind)))


def inside(folder: Path, value: str | Path, where: str) -> Path:
    """`value` (a path named in a description, or a file found in a folder) as a path in
    `folder`, refused when it leads out: absolute, through `..`, or by a symlink. The
    description or folder may come from elsewhere; the files beside it are all it may read."""
    text = str(value)
    if Path(text).is_absolute():
        raise ImportRejected(N_("%(field)s: %(path)s is an absolute path; name a file in the folder "
                                "(paths are relative to it)", field=where, path=repr(text)))
    if ".." in Path(text).parts:
        raise ImportRejected(N_("%(field)s: %(path)s leads out of the folder (..); name a file in it",
                                field=where, path=repr(text)))
    path = folder / text
    missing = N_("%(field)s: no such file %(path)s (paths are relative to the folder)", field=where, path=repr(text))
    try:
        resolved, home = path.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL in the name
        raise ImportRejected(missing) from None
    if not resolved.is_relative_to(home):
        raise ImportRejected(N_("%(field)s: %(path)s is a link that leads out of the folder; copy the file into it",
                                field=where, path=repr(text)))
    if not resolved.is_file():
        raise ImportRejected(missing)
    return path


# -- values the forms and description files share -------------------------------------

def check_language(tag: str, where: str = "language") -> str:
    """A BCP 47 tag (en, pt-BR)."""
    try:
        captions.check_language(tag)
    except captions.CaptionsRejected as e:
        raise ImportRejected(N_("%(field)s: %(reason)s", field=where, reason=e)) from e
    return tag


def time_zone(name: str, where: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ImportRejected(N_("%(field)s: %(value)s is not an IANA time zone (like Europe/Berlin or "
                                "America/New_York)", field=where, value=repr(name))) from e


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{2}(?:\.\d+)?)$")


def parse_start(value: Any, where: str = "start") -> float:
    """Seconds into the recording from 1:02:03, 62:03 or a number of seconds."""
    not_a_time = N_("%(field)s: %(value)s is not a time (use \"1:02:03\", \"62:03\" or seconds)",
                    field=where, value=repr(value))
    if isinstance(value, bool):
        raise ImportRejected(N_("%(field)s: %(value)s is not a time", field=where, value=repr(value)))
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and _CLOCK.match(value.strip()):
        h, m, s = _CLOCK.match(value.strip()).groups()
        if float(s) >= 60 or (h is not None and int(m) >= 60):
            raise ImportRejected(not_a_time)
        seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    elif isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        seconds = float(value)
    else:
        raise ImportRejected(not_a_time)
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ImportRejected(N_("%(field)s: %(value)s is not a time in the recording", field=where, value=repr(value)))
    return seconds
