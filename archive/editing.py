"""Staff edits of a webinar from the browser: its details, speakers and presentations.

Input comes as the forms send it (text); every function checks it first and raises
EditRejected, one sentence that starts with the field's name, before anything is
written. A change happens in one catalog transaction that also rewrites the webinar's
search documents (search.index_webinar, as the importer does); the manifest in the
bucket is rewritten afterwards.

Series, tags and speakers are shared between webinars and matched by slug, as in the
importer: adding "Ada Lovelace" to a second webinar links the same speaker, and editing
a speaker's name, organisation or bio changes it everywhere it appears (every webinar
that lists the speaker is indexed again, and its manifest rewritten).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import captions, intake, queries, search, slidesync, webinars
from .context import Archive
from .formatting import hms
from .intake import ImportRejected
from .models import (VIEWABLE, VISIBILITIES, Presentation, PresentationSpeaker, Series, Speaker, Tag, Webinar,
                     WebinarSpeaker, new_id, slugify)
from .states import AssetStatus, Visibility
from .storage import StorageError
from .wording import N_

log = logging.getLogger(__name__)

MAX_TITLE = 300
MAX_TEXT = 100_000  # a description or a bio, Markdown
MAX_TIMESTAMP_LINES = 500


class EditRejected(ValueError):
    """The input cannot be saved. `field` is the form field at fault, and the message a
    sentence that starts with that field's name."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class WebinarNotFound(LookupError):
    pass


# -- the webinar's details ------------------------------------------------------------------

@dataclass
class Details:
    """The webinar form, as sent. Dates and times are local to `timezone`."""
    title: str
    description: str = ""
    series_id: str = ""  # an existing series, or
    new_series: str = ""  # the title of a series, found or created by its slug
    tags: str = ""  # comma-separated
    language: str = ""  # BCP 47
    date: str = ""  # YYYY-MM-DD
    time: str = ""  # HH:MM, local to timezone
    timezone: str = ""  # IANA name
    visibility: str = Visibility.DRAFT
    publish_at: str = ""  # YYYY-MM-DDTHH:MM, local to timezone (UTC without one)

    @classmethod
    def of(cls, w: Webinar) -> "Details":
        """The form's values for a stored webinar."""
        local = w.local_start
        publish = ""
        if w.publish_at is not None:
            at = w.publish_at.replace(tzinfo=dt.timezone.utc)
            if w.timezone:
                at = at.astimezone(ZoneInfo(w.timezone))
            publish = at.strftime("%Y-%m-%dT%H:%M")
        # A start imported with an offset but no zone is shown (and kept) in UTC.
        zone = w.timezone or ("UTC" if local is not None else "")
        return cls(title=w.title, description=w.description or "", series_id=w.series_id or "",
                   tags=", ".join(t.name for t in w.tags), language=w.language or "",
                   date=w.held_on.isoformat() if w.held_on else "",
                   time=local.strftime("%H:%M") if local is not None else "",
                   timezone=zone, visibility=w.visibility, publish_at=publish)


@dataclass
class _CheckedDetails:
    title: str
    description: str
    series_id: str | None
    new_series: str | None
    tags: list[tuple[str, str]]  # (slug, name)
    language: str | None
    held_on: dt.date | None
    starts_at: dt.datetime | None
    timezone: str | None
    visibility: str
    publish_at: dt.datetime | None


def _text(value: str | None, name: str, label: str, limit: int = MAX_TITLE) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise EditRejected(name, N_("%(field)s: longer than %(limit)s characters.", field=label, limit=limit))
    if "\x00" in value:
        raise EditRejected(name, N_("%(field)s: contains a NUL character.", field=label))
    return value


def _zone(name: str) -> ZoneInfo:
    try:
        return intake.time_zone(name, N_("Time zone"))
    except ImportRejected as e:
        raise EditRejected("timezone", f"{e}.") from e  # intake's sentence (N_) and a full stop


def check_details(d: Details) -> _CheckedDetails:
    """Every check of the webinar form that needs no catalog, in the form's order."""
    title = _text(d.title, "title", N_("Title"))
    if not title:
        raise EditRejected("title", N_("Title: a webinar needs a title."))
    description = _text(d.description, "description", N_("Description"), MAX_TEXT)
    new_series = _text(d.new_series, "new_series", N_("New series")) or None
    if new_series is not None and not slugify(new_series):
        raise EditRejected("new_series", N_("New series: %(name)s has no letters or digits to make a name of.",
                                             name=repr(new_series)))
    tags: dict[str, str] = {}
    for name in (d.tags or "").split(","):
        name = _text(name, "tags", N_("Tags"), 200)
        if not name:
            continue
        if not slugify(name):
            raise EditRejected("tags", N_("Tags: %(name)s has no letters or digits.", name=repr(name)))
        tags.setdefault(slugify(name), name)
    language = (d.language or "").strip() or None
    if language is not None:
        try:
            intake.check_language(language, N_("Language"))
        except ImportRejected as e:
            raise EditRejected("language", f"{e}.") from e  # intake's sentence (N_) and a full stop
    zone_name = (d.timezone or "").strip() or None
    zone = _zone(zone_name) if zone_name else None
    held_on = None
    if (d.date or "").strip():
        try:
            held_on = dt.date.fromisoformat(d.date.strip())
        except ValueError:
            raise EditRejected("date", N_("Date: %(value)s is not a date (YYYY-MM-DD).", value=repr(d.date.strip()))) from None
    starts_at = None
    if (d.time or "").strip():
        raw = d.time.strip()
        if not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", raw):
            raise EditRejected("time", N_("Time: %(value)s is not a time of day (HH:MM).", value=repr(raw)))
        try:
            clock = dt.time.fromisoformat(raw.zfill(5) if len(raw) == 4 else raw)
        except ValueError:
            raise EditRejected("time", N_("Time: %(value)s is not a time of day (HH:MM).", value=repr(raw))) from None
        if held_on is None:
            raise EditRejected("date", N_("Date: a start time needs a date."))
        if zone is None:
            raise EditRejected("timezone", N_("Time zone: a start time needs a time zone (like Europe/Berlin)."))
        local = dt.datetime.combine(held_on, clock, tzinfo=zone)
        starts_at = local.astimezone(dt.timezone.utc).replace(tzinfo=None)
    visibility = (d.visibility or "").strip()
    if visibility not in VISIBILITIES:
        raise EditRejected("visibility", N_("Visibility: choose one of %(choices)s.", choices=", ".join(VISIBILITIES)))
    publish_at = None
    if (d.publish_at or "").strip():
        raw = d.publish_at.strip()
        try:
            at = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise EditRejected("publish_at", N_("Publish at: %(value)s is not a date and time (like 2026-06-10T09:00).",
                                                value=repr(raw))) from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone or dt.timezone.utc)
        publish_at = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return _CheckedDetails(title, description, (d.series_id or "").strip() or None, new_series,
                           list(tags.items()), language, held_on, starts_at, zone_name, visibility, publish_at)


def _get_or_create(s: Session, model, slug: str, **values):
    row = s.scalars(select(model).where(model.slug == slug)).first()
    if row is None:
        row = model(id=new_id(), slug=slug, **values)
        s.add(row)
    return row


def _check_files(w: Webinar, visibility: str) -> None:
    """A webinar is seen by visitors only once it has something to show."""
    if visibility in VIEWABLE.visibilities and not w.assets:
        raise EditRejected("visibility", N_("Visibility: this webinar has no recording and no slides yet; "
                                            "keep it a draft and upload its files before publishing it."))


def _apply_details(s: Session, w: Webinar, c: _CheckedDetails) -> None:
    _check_files(w, c.visibility)
    w.title, w.description, w.language = c.title, c.description, c.language
    w.held_on, w.starts_at, w.timezone = c.held_on, c.starts_at, c.timezone
    w.visibility, w.publish_at = c.visibility, c.publish_at
    if c.new_series is not None:
        w.series = _get_or_create(s, Series, slugify(c.new_series), title=c.new_series, description="")
    elif c.series_id is not None:
        series = s.get(Series, c.series_id)
        if series is None:
            raise EditRejected("series_id", N_("Series: that series no longer exists; choose another."))
        w.series = series
    else:
        w.series = None
    w.tags = [_get_or_create(s, Tag, slug, name=name) for slug, name in c.tags]


def create_webinar(archive: Archive, details: Details) -> Webinar:
    """A new webinar with no files yet (they come through the upload page)."""
    checked = check_details(details)
    wid = new_id()
    with _at_once(), archive.catalog.transaction() as s:
        w = Webinar(id=wid, title=checked.title, series=None, tags=[], speaker_links=[], presentations=[],
                    assets=[])
        s.add(w)
        _apply_details(s, w, checked)
        s.flush()
        search.index_webinar(s, w)
    return _after(archive, wid, set())


def update_webinar(archive: Archive, webinar_id: str, details: Details) -> Webinar:
    checked = check_details(details)
    return _edit(archive, webinar_id, lambda s, w: _apply_details(s, w, checked))


def set_visibility(archive: Archive, webinar_id: str, visibility: str) -> Webinar:
    """Publish (public) or unpublish (draft) with one button; publish_at still holds."""
    if visibility not in VISIBILITIES:
        raise EditRejected("visibility", N_("Visibility: choose one of %(choices)s.", choices=", ".join(VISIBILITIES)))

    def change(s: Session, w: Webinar) -> None:
        _check_files(w, visibility)
        w.visibility = visibility
    return _edit(archive, webinar_id, change)


# -- caption files -------------------------------------------------------------------------------

def set_caption_language(archive: Archive, webinar_id: str, asset_id: str, language: str) -> Webinar:
    """Say which language a caption file is in. A language another caption file of the
    webinar already has is refused: visitors would see two tracks under one label."""
    language = (language or "").strip()
    try:
        captions.check_language(language)
    except captions.CaptionsRejected as e:
        raise EditRejected("language", N_("Language: %(reason)s.", reason=e)) from e

    def change(s: Session, w: Webinar) -> None:
        track = next((a for a in w.assets if a.id == asset_id and a.kind == "captions"
                      and a.status != AssetStatus.REMOVING), None)
        if track is None:
            raise EditRejected("asset_id", N_("Language: that caption file is no longer here."))
        other = next((a for a in w.assets if a.kind == "captions" and a.id != track.id
                      and a.status != AssetStatus.REMOVING and (a.info or {}).get("language") == language), None)
        if other is not None:
            raise EditRejected("language", N_("Language: %(file)s is already the %(language)s captions; remove it first, "
                                              "or upload a new %(language)s file to replace it.",
                                              file=other.original_filename, language=language))
        track.info = {k: v for k, v in (track.info or {}).items() if k != "label"} | {"language": language}
    return _edit(archive, webinar_id, change)


# -- one transaction per change ----------------------------------------------------------------

def _edit(archive: Archive, webinar_id: str, change: Callable[[Session, Webinar], set[str] | None]) -> Webinar:
    """Run `change` on the webinar in one transaction and index it again there; the
    manifests are rewritten after the commit. `change` returns the ids of other webinars
    whose text it changed too (a shared speaker's name)."""
    with _at_once(), archive.catalog.transaction() as s:
        w = queries.get(s, webinar_id)
        if w is None:
            raise WebinarNotFound(webinar_id)
        others = change(s, w) or set()
        s.flush()
        search.index_webinar(s, w)
        for other_id in others - {webinar_id}:
            other = queries.get(s, other_id)
            if other is not None:
                search.index_webinar(s, other)
    return _after(archive, webinar_id, others - {webinar_id})


@contextmanager
def _at_once():
    """Two people adding the same new speaker, tag or series at the same moment: one of
    them is told to try again (the unique slug refuses the second row)."""
    try:
        yield
    except IntegrityError as e:
        raise EditRejected("form", N_("Saving: someone else saved a change to the same speaker, tag or series "
                                      "at the same moment; send the form again.")) from e


def _after(archive: Archive, webinar_id: str, others: set[str]) -> Webinar:
    """The webinar as stored now; its manifest (and the others') rewritten."""
    with archive.catalog.session() as s:
        rows = {wid: queries.get(s, wid) for wid in {webinar_id, *others}}
    for row in rows.values():
        if row is None:
            continue
        try:
            webinars.write_manifest(archive, row)
        except StorageError as e:  # the catalog holds the change; the next edit or job writes it again
            log.warning("manifest of %s not written: %s", row.id, e)
    return rows[webinar_id]


def _renumber(rows: list) -> None:
    for position, row in enumerate(rows):
        row.position = position


def _move(rows: list, index: int, direction: str) -> list:
    if direction not in ("up", "down"):
        raise EditRejected("direction", N_("Move: the direction is up or down."))
    other = index - 1 if direction == "up" else index + 1
    rows = list(rows)
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    return rows


# -- speakers ----------------------------------------------------------------------------------

@dataclass
class SpeakerForm:
    name: str
    organisation: str = ""
    bio: str = ""  # Markdown


def _check_speaker(f: SpeakerForm) -> SpeakerForm:
    name = _text(f.name, "name", N_("Name"))
    if not name:
        raise EditRejected("name", N_("Name: a speaker needs a name."))
    if not slugify(name):
        raise EditRejected("name", N_("Name: %(name)s is not a name.", name=repr(name)))
    return SpeakerForm(name, _text(f.organisation, "organisation", N_("Organisation")),
                       _text(f.bio, "bio", N_("Bio"), MAX_TEXT))


def _link(w: Webinar, speaker_id: str) -> WebinarSpeaker:
    for link in w.speaker_links:
        if link.speaker_id == speaker_id:
            return link
    raise EditRejected("speaker_id", N_("Speaker: not a speaker of this webinar (reload the page)."))


def _webinars_of(s: Session, speaker_id: str) -> set[str]:
    return set(s.scalars(select(WebinarSpeaker.webinar_id).where(WebinarSpeaker.speaker_id == speaker_id)))


def add_speaker(archive: Archive, webinar_id: str, form: SpeakerForm) -> Webinar:
    """Link a speaker, found by the slug of the name (as the importer does) or new. For a
    speaker that exists, the organisation and bio given replace the stored ones; empty
    fields keep theirs."""
    f = _check_speaker(form)

    def change(s: Session, w: Webinar) -> set[str]:
        slug = slugify(f.name)
        row = s.scalars(select(Speaker).where(Speaker.slug == slug)).first()
        if row is None:
            row = Speaker(id=new_id(), slug=slug, name=f.name, organisation=f.organisation, bio=f.bio)
            s.add(row)
            others: set[str] = set()
        else:
            if any(link.speaker_id == row.id for link in w.speaker_links):
                raise EditRejected("name", N_("Name: %(name)s is already a speaker of this webinar.", name=row.name))
            if f.organisation:
                row.organisation = f.organisation
            if f.bio:
                row.bio = f.bio
            others = _webinars_of(s, row.id) if (f.organisation or f.bio) else set()
        w.speaker_links.append(WebinarSpeaker(speaker=row, position=len(w.speaker_links)))
        return others
    return _edit(archive, webinar_id, change)


def edit_speaker(archive: Archive, webinar_id: str, speaker_id: str, form: SpeakerForm) -> Webinar:
    """Change the shared speaker: every webinar that lists them shows the change."""
    f = _check_speaker(form)

    def change(s: Session, w: Webinar) -> set[str]:
        row = _link(w, speaker_id).speaker
        slug = slugify(f.name)
        if slug != row.slug:
            taken = s.scalars(select(Speaker).where(Speaker.slug == slug, Speaker.id != row.id)).first()
            if taken is not None:
                raise EditRejected("name", N_("Name: another speaker is called %(name)s; remove this speaker and add "
                                              "%(name)s instead.", name=taken.name))
            row.slug = slug
        row.name, row.organisation, row.bio = f.name, f.organisation, f.bio
        return _webinars_of(s, row.id)
    return _edit(archive, webinar_id, change)


def remove_speaker(archive: Archive, webinar_id: str, speaker_id: str) -> Webinar:
    """Take the speaker off this webinar and its presentations; the shared row stays."""
    def change(s: Session, w: Webinar) -> None:
        link = _link(w, speaker_id)
        w.speaker_links.remove(link)
        _renumber(w.speaker_links)
        for p in w.presentations:
            p.speaker_links = [pl for pl in p.speaker_links if pl.speaker_id != speaker_id]
            _renumber(p.speaker_links)
    return _edit(archive, webinar_id, change)


def move_speaker(archive: Archive, webinar_id: str, speaker_id: str, direction: str) -> Webinar:
    def change(s: Session, w: Webinar) -> None:
        index = w.speaker_links.index(_link(w, speaker_id))
        w.speaker_links = _move(w.speaker_links, index, direction)
        _renumber(w.speaker_links)
    return _edit(archive, webinar_id, change)


# -- presentations -----------------------------------------------------------------------------

@dataclass
class PresentationForm:
    title: str
    speaker_ids: list[str] = field(default_factory=list)  # among the webinar's speakers
    deck_id: str = ""  # one of the webinar's slides assets, or none
    start: str = ""  # 1:02:03, 62:03 or seconds; empty: unknown


def _start(value: str, name: str = "start", label: str = N_("Start")) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return intake.parse_start(value, label)
    except ImportRejected as e:
        raise EditRejected(name, f"{e}.") from e  # intake's sentence (N_) and a full stop


def _duration(w: Webinar) -> float | None:
    rec = w.recording
    return rec.info.get("duration") if rec is not None and rec.info else None


def _check_within(w: Webinar, start: float | None, name: str, label: str) -> None:
    duration = _duration(w)
    if start is not None and duration and start > duration:
        raise EditRejected(name, N_("%(field)s: %(time)s is after the end of the recording (%(duration)s).",
                                    field=label, time=hms(start), duration=hms(duration)))


def _presentation(w: Webinar, presentation_id: str) -> Presentation:
    for p in w.presentations:
        if p.id == presentation_id:
            return p
    raise EditRejected("presentation_id", N_("Presentation: not a presentation of this webinar (reload the page)."))


def _fill(w: Webinar, p: Presentation, form: PresentationForm) -> None:
    title = _text(form.title, "title", N_("Title"))
    if not title:
        raise EditRejected("title", N_("Title: a presentation needs a title."))
    speakers = {link.speaker_id: link.speaker for link in w.speaker_links}
    chosen: list[str] = []
    for sid in form.speaker_ids:
        if sid not in speakers:
            raise EditRejected("speaker_ids", N_("Speakers: choose among this webinar's speakers (reload the page)."))
        if sid not in chosen:
            chosen.append(sid)
    deck = None
    if (form.deck_id or "").strip():
        deck = next((a for a in w.decks if a.id == form.deck_id.strip()), None)
        if deck is None:
            raise EditRejected("deck_id", N_("Deck: choose one of this webinar's slide decks."))
        used = next((o for o in w.presentations if o is not p and o.deck_asset_id == deck.id), None)
        if used is not None:
            raise EditRejected("deck_id", N_("Deck: %(file)s is already the deck of %(title)s.", file=deck.original_filename,
                                                 title=repr(used.title)))
    start = _start(form.start)
    _check_within(w, start, "start", N_("Start"))
    p.title, p.deck, p.start_seconds = title, deck, start
    p.deck_asset_id = deck.id if deck is not None else None
    keep = {pl.speaker_id: pl for pl in p.speaker_links}
    p.speaker_links = [keep.get(sid) or PresentationSpeaker(speaker=speakers[sid]) for sid in chosen]
    _renumber(p.speaker_links)


def add_presentation(archive: Archive, webinar_id: str, form: PresentationForm) -> Webinar:
    def change(s: Session, w: Webinar) -> None:
        p = Presentation(id=new_id(), position=len(w.presentations), title="", speaker_links=[])
        _fill(w, p, form)
        w.presentations.append(p)
    return _edit(archive, webinar_id, change)


def edit_presentation(archive: Archive, webinar_id: str, presentation_id: str, form: PresentationForm) -> Webinar:
    return _edit(archive, webinar_id, lambda s, w: _fill(w, _presentation(w, presentation_id), form))


def remove_presentation(archive: Archive, webinar_id: str, presentation_id: str) -> Webinar:
    def change(s: Session, w: Webinar) -> None:
        w.presentations.remove(_presentation(w, presentation_id))
        _renumber(w.presentations)
    return _edit(archive, webinar_id, change)


def move_presentation(archive: Archive, webinar_id: str, presentation_id: str, direction: str) -> Webinar:
    def change(s: Session, w: Webinar) -> None:
        index = w.presentations.index(_presentation(w, presentation_id))
        w.presentations = _move(w.presentations, index, direction)
        _renumber(w.presentations)
    return _edit(archive, webinar_id, change)


_LINE = re.compile(r"^\[?(\d[\d:.]*)\]?(?:\s+(.*))?$")
_SEPARATORS = " \t-–—:|·"


def edit_slide_timeline(archive: Archive, webinar_id: str, presentation_id: str, action: str,
                        index: str = "", start: str = "", page: str = "") -> Webinar:
    """A change staff make in the review of a presentation's slide changes: `move` change
    `index` to `start`, `remove` it, `add` one at `start` showing `page`, `accept` the
    changes as they are, or `reset` them to what the archive found. Kept when the job
    runs again (archive/slidesync.py); the search's slide moments follow."""
    def number(value: str, name: str, label: str) -> int | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.isdigit():
            raise EditRejected(name, N_("%(field)s: %(value)s is not a number.", field=label, value=repr(value)))
        return int(value)

    def change(s: Session, w: Webinar) -> None:
        p = _presentation(w, presentation_id)
        deck = next((a for a in w.decks if a.id == p.deck_asset_id), None)
        timeline = slidesync.for_review(p, deck)
        if deck is None or timeline is None:
            raise EditRejected("slide_times", N_("Slide changes: this presentation has none to review yet."))
        at = _start(start, "start", N_("Time")) if action in ("move", "add") else None
        edit = slidesync.Edit(action, index=number(index, "index", N_("Change")), start=at,
                              page=number(page, "page", N_("Page")))
        try:
            p.slide_timeline = slidesync.edited(timeline, edit, page_count=int(deck.info.get("page_count") or 0),
                                                duration=_duration(w))
        except slidesync.TimelineRejected as e:
            raise EditRejected("slide_times", N_("Slide changes: %(reason)s", reason=e)) from e
        s.flush()
        slidesync.apply_search_moments(s, deck)
    return _edit(archive, webinar_id, change)


def parse_timestamps(text: str) -> list[tuple[float, str]]:
    """'00:00 Welcome' lines into (seconds, title); blank lines are skipped. The title may
    follow a dash or a colon ("12:30 – Results")."""
    entries: list[tuple[float, str]] = []
    lines = [(n, line.strip()) for n, line in enumerate((text or "").splitlines(), 1) if line.strip()]
    if not lines:
        raise EditRejected("timestamps", N_("Timestamps: paste one line per presentation, like \"12:30 Results\"."))
    if len(lines) > MAX_TIMESTAMP_LINES:
        raise EditRejected("timestamps", N_("Timestamps: more than %(max)s lines.", max=MAX_TIMESTAMP_LINES))
    for n, line in lines:
        m = _LINE.match(line)
        if not m:
            raise EditRejected("timestamps", N_("Timestamps, line %(n)s: %(line)s does not start with a time "
                                                "(like 12:30 or 1:02:03).", n=n, line=repr(line)))
        seconds = _start(m.group(1), "timestamps", N_("Timestamps, line %(n)s", n=n))
        title = (m.group(2) or "").strip(_SEPARATORS).strip()
        if entries and seconds < entries[-1][0]:
            raise EditRejected("timestamps", N_("Timestamps, line %(n)s: %(time)s comes before the line above it; "
                                                "list the presentations in the order they were given.",
                                                n=n, time=m.group(1)))
        entries.append((seconds, _text(title, "timestamps", N_("Timestamps, line %(n)s", n=n))))
    return entries


def set_start_times(archive: Archive, webinar_id: str, text: str) -> Webinar:
    """Every presentation's start at once, one line each, in order. A webinar without
    presentations gets one per line, titled by the line."""
    entries = parse_timestamps(text)

    def change(s: Session, w: Webinar) -> None:
        for n, (seconds, _) in enumerate(entries, 1):
            _check_within(w, seconds, "timestamps", N_("Timestamps, line %(n)s", n=n))
        if not w.presentations:
            untitled = [n for n, (_, title) in enumerate(entries, 1) if not title]
            if untitled:
                raise EditRejected("timestamps", N_("Timestamps, line %(n)s: this webinar has no presentations "
                                                    "yet, so each line needs a title after its time.", n=untitled[0]))
            for position, (seconds, title) in enumerate(entries):
                w.presentations.append(Presentation(id=new_id(), position=position, title=title,
                                                    start_seconds=seconds, speaker_links=[]))
            return
        if len(entries) != len(w.presentations):
            raise EditRejected("timestamps", _count_mismatch(len(entries), len(w.presentations)))
        for p, (seconds, _) in zip(w.presentations, entries):
            p.start_seconds = seconds
    return _edit(archive, webinar_id, change)


def _count_mismatch(lines: int, presentations: int) -> str:
    """The counts differ (so one of them is more than 1): a template for each plural, for the catalogs."""
    if lines == 1:
        return N_("Timestamps: 1 line for %(count)s presentations; give one line per presentation, in order.",
                  count=presentations)
    if presentations == 1:
        return N_("Timestamps: %(lines)s lines for 1 presentation; give one line per presentation, in order.",
                  lines=lines)
    return N_("Timestamps: %(lines)s lines for %(count)s presentations; give one line per presentation, "
              "in order.", lines=lines, count=presentations)


def series_choices(session: Session) -> list[Series]:
    return list(session.scalars(select(Series).order_by(Series.title)))
