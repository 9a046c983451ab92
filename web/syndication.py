"""Ways out of the site: the Atom feed, the podcast feed, the sitemap, oEmbed and the
embeddable player page. Only listed webinars appear; media links in feeds point at the
app's own download routes, which redirect to fresh presigned links whenever a podcast
app comes to fetch an episode, however old the feed."""
from __future__ import annotations

import datetime as dt
import functools
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup, escape

from archive import browse, markdown, queries
from archive.context import Archive
from archive.formatting import hms
from archive.models import Webinar
from archive.states import AssetStatus
from archive.storage import StorageError

from .public import captions_for, player_for, unlisted
from .security import embeddable
from .urls import absolute_url as _abs

bp = Blueprint("syndication", __name__)

FEED_SIZE = 50
ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("atom", ATOM)


def _archive() -> Archive:
    return current_app.extensions["archive"]


def site_name() -> str:
    return current_app.config.get("SITE_NAME", "Webinar archive")


def _when(w: Webinar) -> dt.datetime:
    """A webinar's date for feeds: the day it was held, else when it was added (UTC)."""
    if w.held_on:
        return dt.datetime.combine(w.held_on, dt.time(12), tzinfo=dt.timezone.utc)
    return w.created_at.replace(tzinfo=dt.timezone.utc)


def _xml(root: ET.Element, mimetype: str) -> Response:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    r = Response(body, mimetype=mimetype)
    r.headers["Cache-Control"] = "public, max-age=300"
    return r


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _html(description: str) -> str:
    """A description (Markdown) as the sanitised HTML the webinar's page shows."""
    return markdown.render(description)


def _plain(description: str) -> str:
    """A description (Markdown) as plain text, for fields that take no markup."""
    return Markup(markdown.render(description)).striptags()


def _poster(w: Webinar) -> str | None:
    """The webinar's picture (its recording's poster), as an absolute app URL."""
    rec = w.recording
    if rec is None or rec.status != AssetStatus.READY or "poster" not in (rec.outputs or {}):
        return None
    return _abs("media.recording_file", webinar_id=w.id, asset_id=rec.id, role="poster")


def _listed(limit: int = FEED_SIZE) -> list[Webinar]:
    with _archive().catalog.session() as s:
        return browse.webinars(s, limit=limit)[1]


def _atom(items: list[Webinar], title: str, home: str, self_url: str) -> Response:
    feed = ET.Element("feed", {"xmlns": ATOM})
    _sub(feed, "title", title)
    _sub(feed, "id", home)
    _sub(feed, "link", href=home)
    _sub(feed, "link", rel="self", href=self_url)
    updated = max((w.updated_at for w in items), default=dt.datetime(2000, 1, 1))
    _sub(feed, "updated", updated.replace(tzinfo=dt.timezone.utc).isoformat())
    for w in items:
        entry = _sub(feed, "entry")
        url = _abs("public.webinar", webinar_id=w.id)
        _sub(entry, "title", w.title)
        _sub(entry, "id", url)
        _sub(entry, "link", href=url)
        _sub(entry, "updated", w.updated_at.replace(tzinfo=dt.timezone.utc).isoformat())
        _sub(entry, "published", _when(w).isoformat())
        _sub(_sub(entry, "author"), "name", site_name())
        if w.description:
            _sub(entry, "summary", _html(w.description), type="html")
    return _xml(feed, "application/atom+xml")


@bp.get("/feed.atom")
def atom():
    return _atom(_listed(), site_name(), _abs("public.index"), _abs("syndication.atom"))


def _series(slug: str):
    """The series (404 unless it has a listed webinar) and its newest listed webinars."""
    with _archive().catalog.session() as s:
        found = browse.series(s, slug)
        if found is None:
            abort(404)
        _, items = browse.webinars(s, browse.Filters(series_id=found.id), limit=FEED_SIZE)
    return found, items


@bp.get("/series/<slug>/feed.atom")
def series_atom(slug: str):
    series, items = _series(slug)
    return _atom(items, f"{series.title} · {site_name()}", _abs("browse.series", slug=slug),
                 _abs("syndication.series_atom", slug=slug))


@functools.lru_cache(maxsize=4096)
def _object_size(key: str) -> int | None:
    """Enclosures must state their length; derived files never change under a key."""
    try:
        head = _archive().store.head(key)
    except StorageError:
        return None
    return head["size"] if head else None


def _duration(seconds: float | None) -> str | None:
    if not seconds:
        return None
    return hms(seconds, hours=True)


def _podcast(items: list[Webinar], title: str, home: str, self_url: str) -> Response:
    """Audio as a podcast (RSS 2.0 with iTunes tags): webinars without an MP3 are left out."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", home)
    _sub(channel, "description", f"Recordings of the webinars of {title}, as audio.")
    _sub(channel, "language", current_app.config.get("SITE_LANGUAGE", "en"))
    _sub(channel, f"{{{ATOM}}}link", rel="self", type="application/rss+xml", href=self_url)
    _sub(channel, f"{{{ITUNES}}}author", site_name())
    _sub(channel, f"{{{ITUNES}}}explicit", "false")
    _sub(channel, f"{{{ITUNES}}}category", text="Education")
    _sub(channel, f"{{{ITUNES}}}summary", f"Recordings of the webinars of {title}.")
    # The channel's picture: a series has none of its own, so its newest webinar's.
    if (cover := next(filter(None, map(_poster, items)), None)) is not None:
        _sub(channel, f"{{{ITUNES}}}image", href=cover)
    for w in items:
        rec = w.recording
        key = rec.outputs.get("audio_mp3") if rec is not None and rec.status == AssetStatus.READY else None
        size = _object_size(key) if key else None
        if not size:
            continue
        item = _sub(channel, "item")
        _sub(item, "title", w.title)
        _sub(item, "link", _abs("public.webinar", webinar_id=w.id))
        _sub(item, "guid", w.id, isPermaLink="false")
        _sub(item, "pubDate", _when(w).strftime("%a, %d %b %Y %H:%M:%S +0000"))
        if w.description:
            _sub(item, "description", _html(w.description))
            _sub(item, f"{{{ITUNES}}}summary", _plain(w.description))
        if (picture := _poster(w)) is not None:
            _sub(item, f"{{{ITUNES}}}image", href=picture)
        _sub(item, "enclosure", url=_abs("public.download_audio", webinar_id=w.id, fmt="mp3"),
             length=str(size), type="audio/mpeg")
        if (d := _duration(rec.info.get("duration"))) is not None:
            _sub(item, f"{{{ITUNES}}}duration", d)
        _sub(item, f"{{{ITUNES}}}explicit", "false")
    return _xml(rss, "application/rss+xml")


@bp.get("/podcast.rss")
def podcast():
    """The audio of every listed webinar."""
    return _podcast(_listed(), site_name(), _abs("public.index"), _abs("syndication.podcast"))


@bp.get("/series/<slug>/podcast.rss")
def series_podcast(slug: str):
    """The audio of a series' listed webinars."""
    series, items = _series(slug)
    return _podcast(items, f"{series.title} · {site_name()}", _abs("browse.series", slug=slug),
                    _abs("syndication.series_podcast", slug=slug))


@bp.get("/sitemap.xml")
def sitemap():
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    root = ET.Element("urlset", {"xmlns": ns})
    home = _sub(root, "url")
    _sub(home, "loc", _abs("public.index"))
    with _archive().catalog.session() as s:
        pages = browse.sitemap_entries(s)
        webinars = browse.listed_pages(s, limit=50_000 - 4 - sum(map(len, pages.values())))  # one file's limit
    for endpoint in ("browse.series_index", "browse.tags_index", "browse.speakers_index"):
        _sub(_sub(root, "url"), "loc", _abs(endpoint))
    for kind, endpoint in (("series", "browse.series"), ("tags", "browse.tag"), ("speakers", "browse.speaker")):
        for slug, changed in pages[kind]:
            u = _sub(root, "url")
            _sub(u, "loc", _abs(endpoint, slug=slug))
            if changed is not None:
                _sub(u, "lastmod", changed.date().isoformat())
    for webinar_id, changed in webinars:
        u = _sub(root, "url")
        _sub(u, "loc", _abs("public.webinar", webinar_id=webinar_id))
        _sub(u, "lastmod", changed.date().isoformat())
    return _xml(root, "application/xml")


EMBED_WIDTH, EMBED_HEIGHT = 640, 360


def _webinar_id_from_url(url: str) -> str | None:
    """The webinar a URL of this site names, or None."""
    site = urlsplit(_archive().settings.public_url)
    u = urlsplit(url)
    if (u.scheme, u.netloc) != (site.scheme, site.netloc):
        return None
    parts = u.path[len(site.path.rstrip("/")):].strip("/").split("/")
    return parts[1] if len(parts) == 2 and parts[0] in ("webinars", "embed") else None


def _max_size(name: str) -> int:
    """oEmbed's maxwidth/maxheight: a positive whole number of pixels (absent: no limit);
    anything else is a bad request (400), never a server error."""
    no_limit = 10**9  # beyond any screen: our own size applies
    raw = request.args.get(name, "").strip()
    if not raw:
        return no_limit
    if not (raw.isascii() and raw.isdigit()) or not raw.strip("0"):
        abort(400, description=f"{name} must be a positive whole number of pixels")
    return int(raw) if len(raw) <= 9 else no_limit


def _embed_size(max_width: int, max_height: int) -> tuple[int, int]:
    """The largest 16:9 player within our size and the consumer's maxima, at least 1x1."""
    width = max(1, min(EMBED_WIDTH, max_width, max_height * 16 // 9))
    return width, max(1, min(width * 9 // 16, max_height))


@bp.get("/oembed")
def oembed():
    """oEmbed (https://oembed.com) for a webinar's page: an iframe of the embed page."""
    if request.args.get("format", "json") != "json":
        abort(501)
    webinar_id = _webinar_id_from_url(request.args.get("url", ""))
    if webinar_id is None:
        abort(404)
    with _archive().catalog.session() as s:
        w = queries.viewable(s, webinar_id)
    if w is None:
        abort(404)
    width, height = _embed_size(_max_size("maxwidth"), _max_size("maxheight"))
    src = _abs("syndication.embed", webinar_id=w.id)
    body = {
        "version": "1.0", "type": "video", "provider_name": site_name(),
        "provider_url": _abs("public.index"), "title": w.title, "width": width, "height": height,
        "html": (f'<iframe src="{escape(src)}" width="{width}" height="{height}" '
                 f'title="{escape(w.title)}" frameborder="0" allow="fullscreen" allowfullscreen></iframe>'),
    }
    rec = w.recording
    if rec is not None and rec.status == AssetStatus.READY and "poster" in rec.outputs:
        body["thumbnail_url"] = _abs("media.recording_file", webinar_id=w.id, asset_id=rec.id, role="poster")
    return body


@bp.get("/embed/<webinar_id>")
@embeddable
def embed(webinar_id: str):
    """The player alone, for other sites' iframes."""
    with _archive().catalog.session() as s:
        w = queries.viewable(s, webinar_id)
    if w is None:
        abort(404)
    r = current_app.response_class(render_template(
        "embed.html", webinar=w, recording=w.recording, player=player_for(w), captions=captions_for(w),
        chapters=None, embedded=True, noindex=unlisted(w)), mimetype="text/html")
    if unlisted(w):
        r.headers["X-Robots-Tag"] = "noindex"
    return r
