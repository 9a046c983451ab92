"""Adding a webinar from local files (the CLI's `import`, the demo).

Every input is checked before anything is written, so bad input leaves no trace;
originals are uploaded under server-made keys, then the catalog rows and jobs are
written in one transaction. If anything fails after the first upload, the
uploaded objects are deleted again.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from . import captions, office, probe, slides, webinars
from .context import Archive
from .hashing import sha256_file
from .jobs import enqueue
from .models import VISIBILITIES, Asset, Webinar, new_id

log = logging.getLogger(__name__)


class ImportRejected(Exception):
    """The input cannot be imported; the message tells the user why."""


@dataclass
class ImportRequest:
    title: str
    held_on: dt.date | None = None
    recording: Path | None = None
    slides: list[Path] = field(default_factory=list)
    captions: list[tuple[str, Path]] = field(default_factory=list)  # (language, file)
    description: str = ""
    visibility: str = "public"


@dataclass
class _Checked:
    path: Path
    kind: str
    ext: str
    content_type: str
    sha256: str
    info: dict


def _check_recording(path: Path) -> _Checked:
    if not path.is_file():
        raise ImportRejected(f"recording {path}: no such file")
    try:
        info = probe.probe(path)
    except probe.MediaRejected as e:
        raise ImportRejected(f"recording {path.name}: {e}") from e
    return _Checked(path, "recording", info.extension, info.content_type, sha256_file(path),
                    info.summary())


def _check_deck(path: Path) -> _Checked:
    """A PDF is opened and counted; a PPTX/ODP gets only cheap checks (the worker converts it)."""
    if not path.is_file():
        raise ImportRejected(f"slides {path}: no such file")
    try:
        if slides.deck_kind(path) == "pdf":
            deck = slides.inspect_pdf(path)
            info = {"page_count": deck.page_count}
            if deck.title:
                info["title"] = deck.title
            return _Checked(path, "slides", "pdf", "application/pdf", sha256_file(path), info)
        fmt = office.inspect_package(path)
    except slides.SlidesRejected as e:
        raise ImportRejected(f"slides {path.name}: {e}") from e
    return _Checked(path, "slides", fmt.ext, fmt.content_type, sha256_file(path), {})


def _check_captions(language: str, path: Path) -> _Checked:
    if not path.is_file():
        raise ImportRejected(f"captions {path}: no such file")
    try:
        captions.check_language(language)
        cues = captions.parse(path.read_bytes())
    except captions.CaptionsRejected as e:
        raise ImportRejected(f"captions {path.name}: {e}") from e
    ext = "srt" if path.suffix.lower() == ".srt" else "vtt"
    return _Checked(path, "captions", ext, "text/vtt" if ext == "vtt" else "application/x-subrip",
                    sha256_file(path), {"language": language, "cues": len(cues)})


def import_webinar(archive: Archive, req: ImportRequest) -> Webinar:
    title = req.title.strip()
    if not title:
        raise ImportRejected("a webinar needs a title")
    if req.visibility not in VISIBILITIES:
        raise ImportRejected(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if req.recording is None and not req.slides:
        raise ImportRejected("give a recording, slides, or both")
    checked = []
    if req.recording is not None:
        checked.append(_check_recording(Path(req.recording)))
    checked += [_check_deck(Path(p)) for p in req.slides]
    languages = [lang for lang, _ in req.captions]
    if len(set(languages)) != len(languages):
        raise ImportRejected("one caption file per language")
    checked += [_check_captions(lang, Path(p)) for lang, p in req.captions]

    webinar = Webinar(id=new_id(), title=title, held_on=req.held_on,
                      description=req.description, visibility=req.visibility)
    for position, c in enumerate(checked):
        webinar.assets.append(Asset(
            id=new_id(), webinar_id=webinar.id, kind=c.kind, position=position,
            original_filename=c.path.name, original_ext=c.ext, content_type=c.content_type,
            size=c.path.stat().st_size, sha256=c.sha256, status="queued", info=c.info, outputs={},
        ))
    try:
        for a, c in zip(webinar.assets, checked):
            archive.store.upload_file(c.path, a.original_key, c.content_type, metadata={
                "sha256": c.sha256, "filename": quote(c.path.name, safe=""),
            })
        with archive.catalog.transaction() as s:
            s.add(webinar)
            s.flush()
            for a in webinar.assets:
                enqueue(s, a.id, f"process_{a.kind}", max_attempts=archive.settings.job_max_attempts)
        webinars.write_manifest(archive, webinar)
    except BaseException:
        log.warning("import of %r failed; removing what was written", title)
        _remove_partial(archive, webinar)
        raise
    return webinar


def _remove_partial(archive: Archive, webinar: Webinar) -> None:
    try:
        with archive.catalog.transaction() as s:
            row = s.get(Webinar, webinar.id)
            if row is not None:
                s.delete(row)
    finally:
        archive.store.delete_prefix(webinar.prefix)
