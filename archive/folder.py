"""A folder of files as one webinar, for `webinar-archive import FOLDER`.

Any folder works: its recording (video, or audio alone), its slide decks, its caption
files (`talk.en.vtt`, `talk.de.srt`; a file with no language in its name is English);
the folder's name is the title. The layout of a Zoom cloud-recording download is
understood too: `GMT20230607-140012_Recording_1920x1080.mp4` and its siblings give the
start time; of several videos the shared-screen-with-speaker view wins, then the active
speaker, then gallery view; the M4A is used only when there is no video; the transcript
VTT becomes the captions (its speaker names become voices); the chat is not published,
since it holds participants' names and messages.

Only files in the folder itself are read: a symlink that leads out of it is refused
with the field it would fill, as a description file's paths are (archive/intake.py).
`folder_request` makes the ImportRequest: a description (webinar.toml in the folder, or
one given) says what the webinar is, the folder gives what it leaves out.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from . import captions, describe
from .importer import ImportRequest
from .intake import ImportRejected, inside
from .states import Visibility

VIDEO = {".mp4", ".mov", ".mkv", ".webm", ".avi"}
AUDIO = {".m4a", ".mp3", ".wav", ".ogg", ".opus", ".flac", ".aac"}
DECKS = {".pdf", ".pptx", ".odp"}
CAPTIONS = {".vtt", ".srt"}
DESCRIPTIONS = ("webinar.toml", "webinar.json")

_ZOOM_STAMP = re.compile(r"^GMT(\d{8})-(\d{6})")
# Zoom's names for its views, best first for a replay of talks with slides.
_ZOOM_VIEWS = ("shared_screen_with_speaker_view", "shared_screen_with_gallery_view", "_as_", "active_speaker",
               "speaker_view", "shared_screen", "gallery", "_avo_")
_LOCAL_ZOOM_TITLE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}\.\d{2}\.\d{2} (.+?)(?: \d{9,11})?$")


class FolderRejected(ImportRejected):
    """The folder cannot be read as one webinar; the message says why."""


@dataclass
class FolderContents:
    title: str
    recording: Path | None = None
    slides: list[Path] = field(default_factory=list)
    captions: list[tuple[str, Path]] = field(default_factory=list)  # (language, file)
    description: Path | None = None  # a description file (TOML/JSON) found in the folder
    starts_at: dt.datetime | None = None  # UTC, from Zoom's file names
    skipped: list[str] = field(default_factory=list)  # sentences: what was left out and why

    @property
    def held_on(self) -> dt.date | None:
        return self.starts_at.date() if self.starts_at else None


def _zoom_start(name: str) -> dt.datetime | None:
    m = _ZOOM_STAMP.match(name)
    if not m:
        return None
    try:
        return dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _view_rank(path: Path) -> tuple[int, int]:
    name = path.name.lower()
    rank = next((i for i, view in enumerate(_ZOOM_VIEWS) if view in name), len(_ZOOM_VIEWS))
    return rank, -path.stat().st_size


def _caption_language(path: Path) -> str:
    return captions.language_of_name(path.name)


def _title(folder: Path) -> str:
    name = folder.resolve().name.replace("_", " ").strip()
    m = _LOCAL_ZOOM_TITLE.match(name)
    return (m.group(1) if m else name) or "Untitled webinar"


def _role(path: Path) -> str | None:
    """The field a file of the folder would fill, or None when it is never read."""
    suffix = path.suffix.lower()
    if suffix in VIDEO | AUDIO:
        return "recording"
    if suffix in DECKS:
        return "slides"
    if suffix in CAPTIONS:
        return f"captions.{_caption_language(path)}"
    return "description" if path.name.lower() in DESCRIPTIONS else None


def read_folder(folder: Path) -> FolderContents:
    """What the folder holds, as one webinar. Nothing is read beyond names and sizes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderRejected(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files:
        role = _role(p)
        if role is not None:
            inside(folder, p.name, role)  # a link out of the folder is refused, not followed
    out = FolderContents(title=_title(folder))
    videos = [p for p in files if p.suffix.lower() in VIDEO]
    audios = [p for p in files if p.suffix.lower() in AUDIO]
    if videos:
        videos.sort(key=_view_rank)
        out.recording = videos[0]
        out.skipped += [f"{p.name}: another view of the same recording" for p in videos[1:]]
        out.skipped += [f"{p.name}: the audio is made from the video" for p in audios]
    elif audios:
        audios.sort(key=lambda p: -p.stat().st_size)
        out.recording = audios[0]
        out.skipped += [f"{p.name}: another audio file" for p in audios[1:]]
    out.slides = [p for p in files if p.suffix.lower() in DECKS]
    seen: dict[str, Path] = {}
    for p in (p for p in files if p.suffix.lower() in CAPTIONS):
        lang = _caption_language(p)
        if lang in seen:
            out.skipped.append(f"{p.name}: a second caption file for {lang} ({seen[lang].name} is used)")
            continue
        seen[lang] = p
        out.captions.append((lang, p))
    for p in files:
        if p.name.lower() in DESCRIPTIONS:
            out.description = p
        elif p.suffix.lower() == ".txt" and "chat" in p.name.lower():
            out.skipped.append(f"{p.name}: the chat is not published (it holds participants' names and messages)")
        elif p.suffix.lower() not in VIDEO | AUDIO | DECKS | CAPTIONS:
            out.skipped.append(f"{p.name}: not a recording, deck or caption file")
    starts = [s for s in (_zoom_start(p.name) for p in files) if s]
    out.starts_at = min(starts) if starts else None
    if out.recording is None and not out.slides:
        raise FolderRejected(f"{folder}: no recording and no slides in it")
    return out


def folder_request(folder: Path, *, describe_file: Path | None = None, conflicting: Sequence[str] = (),
                   title: str | None = None, held_on: dt.date | None = None, description: str = "",
                   visibility: str | None = None, recording: Path | None = None,
                   slides: Sequence[Path] = (), captions: Sequence[tuple[str, Path]] = ()
                   ) -> tuple[ImportRequest, list[str]]:
    """The folder as one ImportRequest, and notes for the operator (files left out, and why).
    A description (`describe_file`, or webinar.toml / webinar.json in the folder) says what
    the webinar is (`conflicting` names options given that it would say twice: refused); the
    folder gives what it leaves out: the recording, decks, captions, start time. Without
    one, the folder's name is the title and the files given add to or replace its own."""
    found = read_folder(folder)
    described = describe_file or found.description
    if described is not None:
        req = describe.load_with(described, conflicting, visibility)
    else:
        req = ImportRequest(title=title or found.title, held_on=held_on, description=description,
                            visibility=visibility or Visibility.PUBLIC, recording=recording,
                            slides=list(slides), captions=list(captions))
    if req.recording is None:
        req.recording = found.recording  # Zoom's M4A only when there is no video (read_folder)
    if not req.slides and not any(p.slides for p in req.presentations):
        req.slides = list(found.slides)
    given = {lang for lang, _ in req.captions}
    req.captions += [(lang, path) for lang, path in found.captions if lang not in given]
    if req.starts_at is None and found.starts_at is not None:
        start = found.starts_at.replace(tzinfo=dt.timezone.utc)  # Zoom's names are in GMT
        day = start.astimezone(ZoneInfo(req.timezone)).date() if req.timezone else start.date()
        if req.held_on is None or req.held_on == day:
            req.starts_at = start
    return req, list(found.skipped)
