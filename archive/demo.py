"""The demo webinar: a generated talk, two speakers with their decks, imported through
a description file like any scripted import."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select

from . import describe
from .ffmpeg_commands import talk_recording_args
from .media import ToolLimits, run_ffmpeg
from .context import Archive
from .importer import import_webinar
from .models import Webinar
from .pdfgen import write_deck

DEMO_TITLE = "Open archives for open webinars (demo)"
SPEECH = (
    "Welcome to the webinar archive. This is a generated recording, made for the demo. "
    "Every webinar has a page where you can watch it again and download the slides. "
    "The recording plays straight from object storage, and the slides are one click away. "
    "Thank you for watching."
)
SPEAKERS = [
    {"name": "Ana Müller", "organisation": "City Library of Lindau",
     "bio": "Ana runs the library's *digital programme* and its webinar series."},
    {"name": "Tomás Rivera", "organisation": "Open Media Lab",
     "bio": "Tomás builds storage for [open archives](https://example.org/open-archives)."},
]
PHOTO_COLOURS = [(196, 84, 52), (46, 110, 160)]
DECKS = {
    "Opening – Ana Müller.pdf": ("Opening", [
        ("Open archives for open webinars", ["Watch again, at your own pace", "Download every slide deck"]),
        ("Why an archive?", ["Webinars deserve a second life", "Links rot, archives stay"]),
        ("Thank you", ["Questions welcome"]),
    ]),
    "Storage deep dive.pdf": ("Storage deep dive", [
        ("Media in object storage", ["Originals kept as uploaded", "Checksummed with SHA-256"]),
        ("Presigned links", ["Bytes go straight to the browser", "The web app signs, never streams"]),
    ]),
}


def existing(archive: Archive) -> Webinar | None:
    with archive.catalog.session() as s:
        return s.scalars(select(Webinar).where(Webinar.title == DEMO_TITLE)).first()


def _photo(path: Path, colour: tuple[int, int, int], initials: str) -> Path:
    im = Image.new("RGB", (240, 240), colour)
    ImageDraw.Draw(im).text((90, 110), initials, fill=(255, 255, 255))
    im.save(path, "JPEG", quality=85)
    return path


def description(duration: float) -> dict:
    """The demo as a description (what `import --describe` reads); files are named
    relative to the folder create_demo writes them to."""
    speakers = []
    for sp, colour in zip(SPEAKERS, PHOTO_COLOURS):
        initials = "".join(word[0] for word in sp["name"].split())
        speakers.append({**sp, "photo": f"{initials.lower()}.jpg"})
    titles = [title for title, _ in DECKS.values()]
    return {
        "title": DEMO_TITLE,
        "date": "2026-11-02",
        "time": "15:00",
        "timezone": "Europe/Berlin",
        "language": "en",
        "series": "Archive demos",
        "tags": ["open archives", "object storage"],
        "description": "A generated webinar to look around the archive: **one recording**, "
                       "two speakers and their slides.",
        "recording": "open-archives-webinar.mp4",
        "speakers": speakers,
        "presentations": [
            {"title": titles[0], "speakers": [SPEAKERS[0]["name"]], "slides": list(DECKS)[0], "start": "0:00"},
            {"title": titles[1], "speakers": [SPEAKERS[1]["name"]], "slides": list(DECKS)[1],
             "start": round(duration / 2)},
        ],
    }


def create_demo(archive: Archive, duration: float = 40.0) -> Webinar:
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="demo-") as tmp:
        work = Path(tmp)
        speech = work / "speech.txt"
        speech.write_text(SPEECH)
        recording = work / "open-archives-webinar.mp4"
        run_ffmpeg(talk_recording_args(recording, speech, "Open archives for open webinars", duration),
                   ToolLimits.from_settings(archive.settings).ffmpeg(600))
        for name, (title, pages) in DECKS.items():
            write_deck(work / name, title, pages)
        doc = description(duration)
        for sp, colour in zip(doc["speakers"], PHOTO_COLOURS):
            _photo(work / sp["photo"], colour, sp["photo"].split(".")[0].upper())
        path = work / "webinar.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
        return import_webinar(archive, describe.load(path))
