"""Browsing pages: series, tags and speakers, each with an index. Thin views over
`archive.browse`; only listed webinars count, so a series, tag or speaker with none has
no page (404) and is in no index."""
from __future__ import annotations

import datetime as dt

from babel import Locale, UnknownLocaleError
from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask_babel import get_locale

from archive import browse
from archive.context import Archive

from .media import cache_seconds, links

bp = Blueprint("browse", __name__)

PER_PAGE = 24  # webinars on a page, as on the home page
INDEX_PER_PAGE = 100  # series or speakers on an index page
TALKS_PER_PAGE = 50  # webinars on a speaker's page


def _archive() -> Archive:
    return current_app.extensions["archive"]


def page_arg() -> int:
    """The `page` query argument: a whole number from 1, anything else is page 1."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def pages_of(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def filters_from_args() -> tuple[browse.Filters, dict[str, str]]:
    """The home page's filters from the query string, and the arguments that stay in
    its links (pages) and in its form: values that do not parse are left out."""
    kept: dict[str, str] = {}
    language = (request.args.get("language") or "").strip()
    if language and len(language) <= 35 and all(c.isalnum() or c == "-" for c in language):
        kept["language"] = language
    year_raw = (request.args.get("year") or "").strip()
    year = int(year_raw) if year_raw.isdigit() and 1900 <= int(year_raw) <= 2999 else None
    if year is not None:
        kept["year"] = str(year)
    since, until = _date(request.args.get("from")), _date(request.args.get("to"))
    if since is not None:
        kept["from"] = since.isoformat()
    if until is not None:
        kept["to"] = until.isoformat()
    return browse.Filters(language=kept.get("language"), year=year, since=since, until=until), kept


def language_name(tag: str) -> str:
    """A BCP 47 tag's name in the visitor's language ("de" is "German" to an English reader)."""
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name(get_locale())
    except (ValueError, TypeError, UnknownLocaleError):
        return tag
    return name[:1].upper() + name[1:] if name else tag


def _webinar_page(filters: browse.Filters, page: int):
    with _archive().catalog.session() as s:
        total, items = browse.webinars(s, filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    if not items and page > 1:
        abort(404)
    return total, items, pages_of(total, PER_PAGE)


def _index_page(query, template: str, name: str):
    """One page of an index (series, speakers): `query(session, limit, offset)` gives
    (total, rows); a page past the end is not found."""
    page = page_arg()
    with _archive().catalog.session() as s:
        total, rows = query(s, limit=INDEX_PER_PAGE, offset=(page - 1) * INDEX_PER_PAGE)
    if not rows and page > 1:
        abort(404)
    return render_template(template, **{name: rows}, total=total, page=page, pages=pages_of(total, INDEX_PER_PAGE))


@bp.get("/series")
def series_index():
    return _index_page(browse.series_index, "browse/series_index.html", "groups")


def _group_page(lookup, slug: str, filter_field: str, template: str, name: str):
    """A series' or a tag's page: the group found by `lookup(session, slug)` (404 when it
    has no listed webinar) and a page of its webinars."""
    with _archive().catalog.session() as s:
        found = lookup(s, slug)
    if found is None:
        abort(404)
    page = page_arg()
    total, items, pages = _webinar_page(browse.Filters(**{filter_field: found.id}), page)
    return render_template(template, **{name: found}, webinars=items, total=total, page=page, pages=pages)


@bp.get("/series/<slug>")
def series(slug: str):
    return _group_page(browse.series, slug, "series_id", "browse/series.html", "series")


@bp.get("/tags")
def tags_index():
    with _archive().catalog.session() as s:
        groups = browse.tags_index(s)
    return render_template("browse/tags_index.html", groups=groups)


@bp.get("/tags/<slug>")
def tag(slug: str):
    return _group_page(browse.tag, slug, "tag_id", "browse/tag.html", "tag")


@bp.get("/speakers")
def speakers_index():
    return _index_page(browse.speakers_index, "browse/speakers_index.html", "entries")


@bp.get("/speakers/<slug>")
def speaker(slug: str):
    with _archive().catalog.session() as s:
        found = browse.speaker(s, slug)
        if found is None:
            abort(404)
        page = page_arg()
        total, appearances = browse.speaker_appearances(s, found.id, limit=TALKS_PER_PAGE,
                                                        offset=(page - 1) * TALKS_PER_PAGE)
    if not appearances and page > 1:
        abort(404)
    return render_template("browse/speaker.html", speaker=found, appearances=appearances, total=total, page=page,
                           pages=pages_of(total, TALKS_PER_PAGE))


@bp.get("/speakers/<slug>/photo")
def speaker_photo(slug: str):
    """The photo as a cached redirect to a presigned link (the bytes go from S3 to the
    browser), only for a speaker who has a page."""
    with _archive().catalog.session() as s:
        found = browse.speaker(s, slug)
    if found is None or not found.photo_key:
        abort(404)
    url, valid_for = links().get(found.photo_key)
    r = redirect(url, code=302)
    r.headers["Cache-Control"] = f"private, max-age={cache_seconds(valid_for)}"
    return r


@bp.app_context_processor
def helpers() -> dict:
    return {"language_name": language_name}
