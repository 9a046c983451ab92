"""Adding a webinar from local files (the CLI's `import`, the demo, a description file).

Every input is checked before anything is written (each file by archive/intake.py, the
checks every way in shares), so bad input leaves no trace;
originals (and speakers' photos) are uploaded under server-made keys, then the catalog
rows (webinar, series, tags, speakers, presentations) and jobs are written in one
transaction. If anything fails after the first upload, the uploaded objects are
deleted again.

Series, tags and speakers are shared between webinars and matched by slug: a second
import naming "Ada Lovelace" links the same speaker. For a speaker that exists, the
fields the new request gives (organisation, bio, photo) replace the stored ones; the
fields it leaves empty keep theirs.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import pipeline, search, webinars
from .config import Settings
from .context import Archive
from .intake import (Checked, ImportRejected, check_captions, check_deck, check_language, check_photo,
                     check_recording, time_zone)
from .models import (VISIBILITIES, Asset, Presentation, PresentationSpeaker, Series, Speaker, Tag, Webinar,
                     WebinarSpeaker, new_id, slugify, webinar_tags)
from .states import AssetStatus, Visibility

log = logging.getLogger(__name__)


@dataclass
class SpeakerInput:
    name: str
    organisation: str = ""
    bio: str = ""  # Markdown
    photo: Path | None = None  # JPEG, PNG or WebP


@dataclass
class PresentationInput:
    title: str
    speakers: list[str] = field(default_factory=list)  # names, each one of ImportRequest.speakers
    slides: Path | None = None  # its deck, stored as a `slides` asset
    start: float | None = None  # seconds into the recording
    # When each page of its deck appears (seconds, from page 1): kept in the deck's info.
    slide_times: list[float] = field(default_factory=list)


@dataclass
class ImportRequest:
    title: str
    held_on: dt.date | None = None
    recording: Path | None = None
    slides: list[Path] = field(default_factory=list)  # decks that belong to no presentation
    captions: list[tuple[str, Path]] = field(default_factory=list)  # (language, file)
    description: str = ""  # Markdown
    visibility: str = Visibility.PUBLIC
    # An aware datetime; held_on then defaults to its day in `timezone`.
    starts_at: dt.datetime | None = None
    timezone: str | None = None  # IANA name
    language: str | None = None  # BCP 47 tag
    series: str | None = None  # a series title, created if its slug is new
    tags: list[str] = field(default_factory=list)
    speakers: list[SpeakerInput] = field(default_factory=list)
    presentations: list[PresentationInput] = field(default_factory=list)
    publish_at: dt.datetime | None = None  # aware; not listed or viewable before


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ImportRejected(f"{what} needs a time zone")
    return value


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class _Plan:
    """What the request becomes once checked: nothing of it is written yet."""
    checked: list[Checked]  # assets, in position order
    deck_of: dict[int, int]  # presentation index -> index into checked
    photos: dict[str, Checked]  # speaker slug -> photo
    held_on: dt.date | None
    starts_at: dt.datetime | None
    publish_at: dt.datetime | None


def _check(req: ImportRequest, settings: Settings) -> _Plan:
    """Every check that needs no catalog and no bucket, in the order a user fixes them."""
    if not req.title.strip():
        raise ImportRejected("a webinar needs a title")
    if req.visibility not in VISIBILITIES:
        raise ImportRejected(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if req.recording is None and not req.slides and not any(p.slides for p in req.presentations):
        raise ImportRejected("give a recording, slides, or both")
    if req.language is not None:
        check_language(req.language)
    zone = time_zone(req.timezone) if req.timezone is not None else None
    held_on, starts_at = req.held_on, None
    if req.starts_at is not None:
        _aware(req.starts_at, "the start time")
        local_day = req.starts_at.astimezone(zone).date() if zone else req.starts_at.date()
        if held_on is not None and held_on != local_day:
            raise ImportRejected(f"the date {held_on} is not the day of the start time ({local_day})")
        held_on, starts_at = local_day, _naive_utc(req.starts_at)
    publish_at = _naive_utc(_aware(req.publish_at, "publish_at")) if req.publish_at is not None else None
    if req.series is not None and not slugify(req.series):
        raise ImportRejected(f"series: {req.series!r} has no letters or digits to make a name of")
    for tag in req.tags:
        if not slugify(tag):
            raise ImportRejected(f"tags: {tag!r} has no letters or digits")

    # Speakers: unique by slug, presentations name only listed ones.
    listed: dict[str, SpeakerInput] = {}
    for sp in req.speakers:
        slug = slugify(sp.name)
        if not slug:
            raise ImportRejected(f"speakers: {sp.name!r} is not a name")
        if slug in listed:
            raise ImportRejected(f"speakers: {sp.name!r} is listed twice")
        listed[slug] = sp
    for i, p in enumerate(req.presentations, 1):
        if not p.title.strip():
            raise ImportRejected(f"presentations[{i}].title: missing")
        for name in p.speakers:
            if slugify(name) not in listed:
                raise ImportRejected(f"presentations[{i}] ({p.title!r}) names speaker {name!r}, "
                                     "who is not in the list of speakers")
        if len({slugify(n) for n in p.speakers}) != len(p.speakers):
            raise ImportRejected(f"presentations[{i}] ({p.title!r}) names a speaker twice")
        if p.start is not None:
            if p.start < 0:
                raise ImportRejected(f"presentations[{i}] ({p.title!r}) starts before the recording")
            if req.recording is None:
                raise ImportRejected(f"presentations[{i}] ({p.title!r}) has a start time but there is no recording")
        if p.slide_times:
            if req.recording is None or p.slides is None:
                raise ImportRejected(f"presentations[{i}] ({p.title!r}) has slide times but "
                                     f"{'no recording' if req.recording is None else 'no slides'}")
            if any(t < 0 for t in p.slide_times) or p.slide_times != sorted(p.slide_times):
                raise ImportRejected(f"presentations[{i}] ({p.title!r}): slide times must be in the "
                                     "recording and in page order")

    # One file, one asset: the same deck twice is a mistake in the request.
    decks = [Path(d) for d in req.slides] + [Path(p.slides) for p in req.presentations if p.slides]
    seen: set[Path] = set()
    for d in decks:
        key = d.resolve()
        if key in seen:
            raise ImportRejected(f"slides {d.name}: the same deck is given twice")
        seen.add(key)

    checked: list[Checked] = []
    if req.recording is not None:
        checked.append(check_recording(Path(req.recording), settings))
        duration = checked[0].info.get("duration")
        for i, p in enumerate(req.presentations, 1):
            if p.start is not None and duration and p.start > duration:
                raise ImportRejected(f"presentations[{i}] ({p.title!r}) starts at {p.start:.0f} s, "
                                     f"after the end of the recording ({duration:.0f} s)")
    deck_of: dict[int, int] = {}
    for i, p in enumerate(req.presentations):
        if p.slides:
            deck_of[i] = len(checked)
            checked.append(check_deck(Path(p.slides), settings))
    checked += [check_deck(Path(p), settings) for p in req.slides]
    languages = [lang for lang, _ in req.captions]
    if len(set(languages)) != len(languages):
        raise ImportRejected("one caption file per language")
    checked += [check_captions(lang, Path(p)) for lang, p in req.captions]
    photos = {slug: check_photo(sp.name, Path(sp.photo)) for slug, sp in listed.items() if sp.photo}
    return _Plan(checked, deck_of, photos, held_on, starts_at, publish_at)


def _speaker_rows(session: Session, req: ImportRequest, ids: dict[str, str] | None = None) -> dict[str, Speaker]:
    """Existing speakers by slug, plus new (unsaved) rows for the others, with the
    ids given in `ids` when there is one."""
    slugs = [slugify(sp.name) for sp in req.speakers]
    found = {s.slug: s for s in session.scalars(select(Speaker).where(Speaker.slug.in_(slugs)))} if slugs else {}
    rows = {}
    for slug, sp in zip(slugs, req.speakers):
        rows[slug] = found.get(slug) or Speaker(id=(ids or {}).get(slug) or new_id(), slug=slug,
                                                 name=sp.name.strip(), organisation="", bio="")
    return rows


def _get_or_create(session: Session, model, slug: str, created: list, **values):
    row = session.scalars(select(model).where(model.slug == slug)).first()
    if row is None:
        row = model(id=new_id(), slug=slug, **values)
        session.add(row)
        created.append((model, row.id))
    return row


# Given a file about to be uploaded, something to call with the bytes sent as they go
# (boto3's transfer Callback, called from its threads), or None.
Progress = Callable[[Path], "Callable[[int], None] | None"]


def import_webinar(archive: Archive, req: ImportRequest, progress: Progress | None = None) -> Webinar:
    """Check, upload (`progress` sees each file's bytes go), record and queue the webinar."""
    title = req.title.strip()
    plan = _check(req, archive.settings)

    # Speakers are looked up before the upload: a photo's key needs the speaker's id.
    with archive.catalog.session() as s:
        speakers = _speaker_rows(s, req)
    known_ids = {slug: sp.id for slug, sp in speakers.items()}
    photo_keys = {slug: speakers[slug].photo_key_for(c.sha256, c.ext) for slug, c in plan.photos.items()}

    webinar = Webinar(id=new_id(), title=title, held_on=plan.held_on, starts_at=plan.starts_at,
                      timezone=req.timezone, language=req.language, publish_at=plan.publish_at,
                      description=req.description, visibility=req.visibility,
                      # Every relationship set now: the row is read after its session closes.
                      series=None, tags=[], speaker_links=[], presentations=[])
    for position, c in enumerate(plan.checked):
        webinar.assets.append(Asset(
            id=new_id(), webinar_id=webinar.id, kind=c.kind, position=position,
            original_filename=c.path.name, original_ext=c.ext, content_type=c.content_type,
            size=c.path.stat().st_size, sha256=c.sha256, status=AssetStatus.QUEUED, outputs={},
            # Shown to staff at once; the first job, which notices the same, restates it.
            info={**c.info, "warnings": {pipeline.FIRST_KIND[c.kind]: c.warnings}} if c.warnings else c.info,
        ))
    new_photo_keys: list[str] = []  # only these are ours to remove on failure
    created: list[tuple[type, str]] = []  # (model, id) of shared rows this import added
    try:
        for a, c in zip(webinar.assets, plan.checked):
            archive.store.upload_file(c.path, a.original_key, c.content_type, metadata={
                "sha256": c.sha256, "filename": quote(c.path.name, safe=""),
            }, callback=progress(c.path) if progress else None)
        for slug, c in plan.photos.items():
            key = photo_keys[slug]
            if archive.store.head(key) is None:  # the key holds its checksum: same key, same bytes
                new_photo_keys.append(key)
                archive.store.upload_file(c.path, key, c.content_type, metadata={
                    "sha256": c.sha256, "filename": quote(c.path.name, safe=""),
                })
        with archive.catalog.transaction() as s:
            s.add(webinar)
            with s.no_autoflush:  # the rows are linked up first, then written together
                _add_structure(s, webinar, req, plan, known_ids, photo_keys, created)
            s.flush()
            search.index_webinar(s, webinar)
            for a in webinar.assets:
                pipeline.start(s, a, archive.settings.job_max_attempts)
        webinars.write_manifest(archive, webinar)
    except BaseException:
        log.warning("import of %r failed; removing what was written", title)
        _remove_partial(archive, webinar, new_photo_keys, created)
        raise
    return webinar


def _add_structure(s: Session, webinar: Webinar, req: ImportRequest, plan: _Plan,
                   known_ids: dict[str, str], photo_keys: dict[str, str], created: list) -> None:
    """Series, tags, speakers and presentations, inside the import's transaction."""
    if req.series is not None:
        webinar.series = _get_or_create(s, Series, slugify(req.series), created, title=req.series.strip(),
                                        description="")
    tags: dict[str, Tag] = {}
    for name in req.tags:
        slug = slugify(name)
        if slug not in tags:
            tags[slug] = _get_or_create(s, Tag, slug, created, name=name.strip())
    webinar.tags = sorted(tags.values(), key=lambda t: t.slug)  # as the relationship orders them on a reload

    speakers = _speaker_rows(s, req, known_ids)
    for position, (slug, sp) in enumerate(zip(speakers, req.speakers)):
        row = speakers[slug]
        if row not in s:
            created.append((Speaker, row.id))
        if row.id != known_ids[slug]:
            # Created by another import since we looked: its photo key would be wrong.
            raise ImportRejected(f"speaker {sp.name!r} was added by another import meanwhile; import again")
        if sp.organisation.strip():
            row.organisation = sp.organisation.strip()
        if sp.bio.strip():
            row.bio = sp.bio.strip()
        if slug in photo_keys:
            photo = plan.photos[slug]
            row.photo_key, row.photo_sha256, row.photo_content_type = (
                photo_keys[slug], photo.sha256, photo.content_type)
        s.add(row)
        webinar.speaker_links.append(WebinarSpeaker(speaker=row, position=position))

    for position, p in enumerate(req.presentations):
        deck = webinar.assets[plan.deck_of[position]] if position in plan.deck_of else None
        if deck is not None and p.slide_times:
            deck.info = {**(deck.info or {}), "slide_times": list(p.slide_times)}
        presentation = Presentation(id=new_id(), position=position, title=p.title.strip(),
                                    deck=deck, start_seconds=p.start, speaker_links=[])  # read after the session
        for i, name in enumerate(p.speakers):
            presentation.speaker_links.append(PresentationSpeaker(speaker=speakers[slugify(name)], position=i))
        webinar.presentations.append(presentation)


def _remove_partial(archive: Archive, webinar: Webinar, photo_keys: Sequence[str] = (),
                    created: Sequence[tuple[type, str]] = ()) -> None:
    try:
        with archive.catalog.transaction() as s:
            row = s.get(Webinar, webinar.id)
            if row is not None:
                s.delete(row)
            s.flush()
            # Shared rows this import added, unless another webinar took them up meanwhile.
            for model, row_id in created:
                shared = s.get(model, row_id)
                if shared is not None and not _in_use(s, shared):
                    s.delete(shared)
    finally:
        archive.store.delete_prefix(webinar.prefix)
        if photo_keys:
            archive.store.delete_keys(list(photo_keys))


def _in_use(s: Session, row) -> bool:
    if isinstance(row, Series):
        return s.scalar(select(Webinar.id).where(Webinar.series_id == row.id).limit(1)) is not None
    if isinstance(row, Tag):
        return s.scalar(select(webinar_tags.c.webinar_id).where(webinar_tags.c.tag_id == row.id).limit(1)) is not None
    return s.scalar(select(WebinarSpeaker.webinar_id).where(WebinarSpeaker.speaker_id == row.id).limit(1)) is not None
