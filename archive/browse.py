"""Reads for browsing the archive: series, tags and speakers, and listed webinars
filtered by series, tag, language and date: `webinars` is the one listing of webinars,
used by the pages, the feeds and the public API alike.

Only listed webinars count (`Webinar.is_listed`, archive/models.py): a series, tag or
speaker none of whose webinars is listed has no page and is in no index. Every function
runs a fixed number of queries whatever the size of the archive (aggregates in SQL,
related rows loaded with selectin), so a page costs the same with ten webinars or ten
thousand.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import distinct, extract, func, or_, select
from sqlalchemy.orm import Session, selectinload

from .models import (Presentation, PresentationSpeaker, Series, Speaker, Tag, Webinar, WebinarSpeaker,
                     webinar_tags)

# What a card in a list shows: the recording (poster, duration), decks, status.
_CARD = (selectinload(Webinar.assets),)


@dataclass(frozen=True)
class Filters:
    """Narrowing a list of webinars; every field optional. Dates are the day a webinar
    was held (its local day); `year` and `since`/`until` combine (both apply)."""

    series_id: str | None = None
    tag_id: str | None = None
    language: str | None = None
    year: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def clauses(self, now: dt.datetime | None = None) -> list:
        where = [Webinar.is_listed(now)]
        if self.series_id is not None:
            where.append(Webinar.series_id == self.series_id)
        if self.tag_id is not None:
            where.append(Webinar.id.in_(select(webinar_tags.c.webinar_id)
                                        .where(webinar_tags.c.tag_id == self.tag_id)))
        if self.language:
            # "de" also finds "de-CH"; a tag is compared without regard to case.
            lang = self.language.lower()
            where.append(or_(func.lower(Webinar.language) == lang, func.lower(Webinar.language).like(f"{lang}-%")))
        if self.year is not None:
            where += [Webinar.held_on >= dt.date(self.year, 1, 1), Webinar.held_on <= dt.date(self.year, 12, 31)]
        if self.since is not None:
            where.append(Webinar.held_on >= self.since)
        if self.until is not None:
            where.append(Webinar.held_on <= self.until)
        return where


_NEWEST_FIRST = (Webinar.held_on.desc(), Webinar.created_at.desc(), Webinar.id)


def webinars(session: Session, filters: Filters = Filters(), limit: int | None = None, offset: int = 0,
             now: dt.datetime | None = None) -> tuple[int, list[Webinar]]:
    """(how many listed webinars match `filters`, a page of them newest first), each with
    its files loaded (a card's poster and duration, a feed's audio, the API's summary).
    `now` (default: the present) decides which publish_at have passed."""
    where = filters.clauses(now)
    total = session.scalar(select(func.count(Webinar.id)).where(*where)) or 0
    q = select(Webinar).where(*where).options(*_CARD).order_by(*_NEWEST_FIRST).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return total, list(session.scalars(q))


def languages(session: Session) -> list[str]:
    """The languages of listed webinars, as stored (BCP 47 tags), sorted."""
    rows = session.scalars(select(Webinar.language).distinct()
                           .where(Webinar.is_listed(), Webinar.language.is_not(None)))
    return sorted(r for r in rows if r)


def years(session: Session) -> list[int]:
    """The years listed webinars were held in, newest first."""
    year = extract("year", Webinar.held_on)
    rows = session.scalars(select(year).distinct().where(Webinar.is_listed(), Webinar.held_on.is_not(None)))
    return sorted((int(y) for y in rows if y is not None), reverse=True)


# -- series and tags -----------------------------------------------------------------

@dataclass
class Group:
    """A series or a tag with the number of its listed webinars and the newest one's day."""

    slug: str
    title: str
    count: int
    latest: dt.date | None
    description: str = ""
    id: str = ""


def _series_groups(session: Session, *where, limit: int | None = None, offset: int = 0) -> list[Group]:
    latest = func.max(Webinar.held_on)
    q = (select(Series, func.count(Webinar.id), latest).join(Webinar, Webinar.series_id == Series.id)
         .where(Webinar.is_listed(), *where).group_by(Series.id).order_by(latest.desc(), Series.title)
         .offset(offset))
    if limit is not None:
        q = q.limit(limit)
    return [Group(s.slug, s.title, n, day, s.description, s.id) for s, n, day in session.execute(q)]


def series_index(session: Session, limit: int | None = None, offset: int = 0) -> tuple[int, list[Group]]:
    """Series with at least one listed webinar, the one with the newest webinar first."""
    total = session.scalar(select(func.count(distinct(Webinar.series_id))).where(Webinar.is_listed())) or 0
    return total, _series_groups(session, limit=limit, offset=offset)


def series(session: Session, slug: str) -> Group | None:
    """The series with its count of listed webinars, if it has any."""
    found = _series_groups(session, Series.slug == slug)
    return found[0] if found else None


def tags_index(session: Session) -> list[Group]:
    """Tags with at least one listed webinar, by name."""
    q = (select(Tag, func.count(Webinar.id), func.max(Webinar.held_on))
         .join(webinar_tags, webinar_tags.c.tag_id == Tag.id).join(Webinar, Webinar.id == webinar_tags.c.webinar_id)
         .where(Webinar.is_listed()).group_by(Tag.id).order_by(func.lower(Tag.name)))
    return [Group(t.slug, t.name, n, day, "", t.id) for t, n, day in session.execute(q)]


def tag(session: Session, slug: str) -> Tag | None:
    """The tag if it has a listed webinar."""
    t = session.scalars(select(Tag).where(Tag.slug == slug)).first()
    if t is None:
        return None
    has = session.scalar(select(webinar_tags.c.webinar_id).join(Webinar, Webinar.id == webinar_tags.c.webinar_id)
                         .where(webinar_tags.c.tag_id == t.id, Webinar.is_listed()).limit(1))
    return t if has else None


# -- speakers ------------------------------------------------------------------------

def _speaker_webinars(speaker_id: str | None = None, now: dt.datetime | None = None):
    """(speaker_id, webinar_id) of every listed webinar a speaker is on: as one of the
    webinar's speakers or as a speaker of one of its presentations; one speaker's only
    given `speaker_id` (the condition inside each half, where its index serves it)."""
    listed = Webinar.is_listed(now)
    of_webinar = (select(WebinarSpeaker.speaker_id.label("speaker_id"), WebinarSpeaker.webinar_id.label("webinar_id"))
                  .join(Webinar, Webinar.id == WebinarSpeaker.webinar_id).where(listed))
    of_talk = (select(PresentationSpeaker.speaker_id.label("speaker_id"), Presentation.webinar_id.label("webinar_id"))
               .join(Presentation, Presentation.id == PresentationSpeaker.presentation_id)
               .join(Webinar, Webinar.id == Presentation.webinar_id).where(listed))
    # A talk's speaker is normally one of the webinar's speakers too: only the others are
    # added (a primary-key lookup each), so no de-duplicating pass over every pair is needed.
    also = (select(WebinarSpeaker.webinar_id)
            .where(WebinarSpeaker.webinar_id == Presentation.webinar_id,
                   WebinarSpeaker.speaker_id == PresentationSpeaker.speaker_id).exists())
    of_talk = of_talk.where(~also).distinct()
    if speaker_id is not None:
        of_webinar = of_webinar.where(WebinarSpeaker.speaker_id == speaker_id)
        of_talk = of_talk.where(PresentationSpeaker.speaker_id == speaker_id)
    return of_webinar.union_all(of_talk).subquery()


def _speaker_counts():
    """(speaker_id, n): how many listed webinars each speaker is on."""
    pairs = _speaker_webinars()
    return (select(pairs.c.speaker_id, func.count().label("n")).group_by(pairs.c.speaker_id)
            .subquery())


@dataclass
class SpeakerEntry:
    speaker: Speaker
    count: int  # listed webinars they are on


def speakers_index(session: Session, limit: int | None = None, offset: int = 0) -> tuple[int, list[SpeakerEntry]]:
    """Speakers on at least one listed webinar, by name."""
    counts = _speaker_counts()
    # Every speaker's id and count in one pass (a few thousand short rows), then the rows
    # of one page: the pairs are gathered once, not once for the total and once for the page.
    ranked = session.execute(select(Speaker.id, counts.c.n).join(counts, counts.c.speaker_id == Speaker.id)
                             .order_by(func.lower(Speaker.name), Speaker.id)).all()
    page = ranked[offset:offset + limit if limit is not None else None]
    rows = {sp.id: sp for sp in session.scalars(select(Speaker).where(Speaker.id.in_([i for i, _ in page])))}
    return len(ranked), [SpeakerEntry(rows[i], n) for i, n in page if i in rows]


def speaker(session: Session, slug: str) -> Speaker | None:
    """The speaker if they are on a listed webinar."""
    sp = session.scalars(select(Speaker).where(Speaker.slug == slug)).first()
    if sp is None:
        return None
    pairs = _speaker_webinars(sp.id)
    has = session.scalar(select(pairs.c.webinar_id).limit(1))
    return sp if has else None


@dataclass
class Talk:
    """A presentation a speaker gave."""

    title: str
    start: float | None  # seconds into the recording


@dataclass
class Appearance:
    """A listed webinar a speaker is on, with the talks they gave in it (none for a
    moderator)."""

    webinar: Webinar
    talks: list[Talk] = field(default_factory=list)


def speaker_appearances(session: Session, speaker_id: str, limit: int | None = None,
                        offset: int = 0) -> tuple[int, list[Appearance]]:
    """(how many listed webinars the speaker is on, a page of them newest first with
    their talks in each, in the order of the webinar). Four queries, whatever the number."""
    pairs = _speaker_webinars(speaker_id)
    theirs = select(pairs.c.webinar_id)
    total = session.scalar(select(func.count()).select_from(theirs.subquery())) or 0
    q = select(Webinar).where(Webinar.id.in_(theirs)).options(*_CARD).order_by(*_NEWEST_FIRST).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    by_id = {w.id: Appearance(w) for w in session.scalars(q)}
    if by_id:
        talks = session.execute(
            select(Presentation.webinar_id, Presentation.title, Presentation.start_seconds)
            .join(PresentationSpeaker, PresentationSpeaker.presentation_id == Presentation.id)
            .where(PresentationSpeaker.speaker_id == speaker_id, Presentation.webinar_id.in_(list(by_id)))
            .order_by(Presentation.webinar_id, Presentation.position))
        for webinar_id, title, start in talks:
            by_id[webinar_id].talks.append(Talk(title, start))
    return total, list(by_id.values())


# -- the sitemap ---------------------------------------------------------------------

def sitemap_entries(session: Session) -> dict[str, list[tuple[str, dt.datetime | None]]]:
    """(slug, last change) of every series, tag and speaker that has a page."""
    listed = Webinar.is_listed()
    changed = func.max(Webinar.updated_at)
    series_rows = session.execute(select(Series.slug, changed).join(Webinar, Webinar.series_id == Series.id)
                                  .where(listed).group_by(Series.id).order_by(Series.slug))
    tag_rows = session.execute(select(Tag.slug, changed).join(webinar_tags, webinar_tags.c.tag_id == Tag.id)
                               .join(Webinar, Webinar.id == webinar_tags.c.webinar_id)
                               .where(listed).group_by(Tag.id).order_by(Tag.slug))
    pairs = _speaker_webinars()
    latest = (select(pairs.c.speaker_id, func.max(Webinar.updated_at).label("changed"))
              .join(Webinar, Webinar.id == pairs.c.webinar_id).group_by(pairs.c.speaker_id).subquery())
    speaker_rows = session.execute(select(Speaker.slug, latest.c.changed)
                                   .join(latest, latest.c.speaker_id == Speaker.id).order_by(Speaker.slug))
    return {"series": [tuple(r) for r in series_rows], "tags": [tuple(r) for r in tag_rows],
            "speakers": [tuple(r) for r in speaker_rows]}


def listed_pages(session: Session, limit: int) -> list[tuple[str, dt.datetime]]:
    """(id, last change) of listed webinars, newest first: what a sitemap names, without
    loading the rows' files."""
    return [tuple(r) for r in session.execute(select(Webinar.id, Webinar.updated_at).where(Webinar.is_listed())
                                              .order_by(*_NEWEST_FIRST).limit(limit))]
