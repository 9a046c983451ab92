"""The demo webinar: a generated talk and slide decks, imported like any other."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy import select

from .ffmpeg_commands import talk_recording_args
from .media import ToolLimits, run_ffmpeg
from .context import Archive
from .importer import ImportRequest, import_webinar
from .models import Webinar
from .pdfgen import write_deck

DEMO_TITLE = "Open archives for open webinars (demo)"
SPEECH = (
    "Welcome to the webinar archive. This is a generated recording, made for the demo. "
    "Every webinar has a page where you can watch it again and download the slides. "
    "The recording plays straight from object storage, and the slides are one click away. "
    "Thank you for watching."
)
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


def create_demo(archive: Archive, duration: float = 40.0) -> Webinar:
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="demo-") as tmp:
        work = Path(tmp)
        speech = work / "speech.txt"
        speech.write_text(SPEECH)
        recording = work / "open-archives-webinar.mp4"
        run_ffmpeg(talk_recording_args(recording, speech, "Open archives for open webinars", duration),
                   ToolLimits.from_settings(archive.settings).ffmpeg(600))
        decks = []
        for name, (title, pages) in DECKS.items():
            decks.append(write_deck(work / name, title, pages))
        return import_webinar(archive, ImportRequest(
            title=DEMO_TITLE, held_on=dt.date(2026, 11, 2), recording=recording, slides=decks,
            description="A generated webinar to look around the archive: one recording, two speakers' slides.",
        ))
