"""Playlists and text tracks, served by the app with every media URL presigned, and
short redirects to presigned media (slide pages, the web recording, the poster).

These are small text files (metadata); segments, sprites and recordings still go
straight from S3 to the browser. Private buckets stay private this way.

Presigning is CPU work (an HMAC chain per link), so links are signed once per key and
time window and reused (`SignedLinks`): pages carry app URLs only, and each media route
still checks the webinar's visibility on every request.

Playback links live minutes (WEBINAR_ARCHIVE_PRESIGN_SECONDS): a presigned link cannot be
revoked, so its lifetime is how long an unpublished webinar stays reachable. The player
renews them as it plays: each playlist says how long its links stay valid
(`X-Links-Valid-For`), and the page tells the player the lifetime (`link_seconds`).
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict

from flask import Blueprint, Response, abort, current_app, redirect

from archive import hls, queries
from archive.context import Archive
from archive.states import AssetStatus
from archive.storage import StorageError

from . import access
from .recent import recent

bp = Blueprint("media", __name__)

HLS_TYPE = hls.PLAYLIST_TYPE
LINKS_VALID_FOR = "X-Links-Valid-For"  # whole seconds the presigned links in a response stay valid


def _archive() -> Archive:
    return current_app.extensions["archive"]


class SignedLinks:
    """Presigned GET links cached per key: a link is reused until half its lifetime has
    gone, so a link handed out is always valid for at least half the lifetime."""

    def __init__(self, store, lifetime: int, size: int = 50_000, clock=time.monotonic):
        self.store = store
        self.lifetime = lifetime
        self.size = size
        self.clock = clock
        self._links: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[str, float]:
        """(link, seconds it stays valid)."""
        now = self.clock()
        with self._lock:
            hit = self._links.get(key)
            if hit is not None and hit[1] - now > self.lifetime / 2:
                self._links.move_to_end(key)
                return hit[0], hit[1] - now
        url = self.store.presigned_get(key, expires=self.lifetime)
        with self._lock:
            self._links[key] = (url, now + self.lifetime)
            self._links.move_to_end(key)
            while len(self._links) > self.size:
                self._links.popitem(last=False)
        return url, float(self.lifetime)

    def url(self, key: str) -> str:
        return self.get(key)[0]


def links() -> SignedLinks:
    ext = current_app.extensions
    if "signed_links" not in ext:
        store = _archive().store
        ext["signed_links"] = SignedLinks(store, store.presign_seconds)
    return ext["signed_links"]


@bp.app_context_processor
def _link_lifetime() -> dict:
    """The playback links' lifetime, for the player (it renews them before they expire)."""
    return {"link_seconds": links().lifetime}


def cache_seconds(valid_for: float) -> int:
    """How long a browser may keep something that carries a link valid for `valid_for`
    seconds: half of it, at most five minutes, so a cached copy never hands out dead links."""
    return max(0, min(300, int(valid_for / 2)))


def _redirect(key: str) -> Response:
    url, valid_for = links().get(key)
    r = redirect(url, code=302)
    r.headers["Cache-Control"] = f"private, max-age={cache_seconds(valid_for)}"
    return r


def _asset(webinar_id: str, asset_id: str, kind: str):
    """The ready, served file of a webinar whoever asks may open, else 404. A visitor's
    check reads two rows (the webinar's visibility, the asset), not the whole webinar:
    the media routes are asked for many times a page."""
    catalog = _archive().catalog
    with catalog.session() as s:
        if queries.viewable_now(catalog.engine, webinar_id):
            a = queries.asset(s, webinar_id, asset_id)
            a = a if a is not None and a.served else None
        else:
            w = access.webinar(s, webinar_id)  # staff see every webinar; visitors get None
            a = next((a for a in w.served_assets if a.id == asset_id), None) if w is not None else None
    if a is None or a.kind != kind or a.status != AssetStatus.READY:
        abort(404)
    return a


def _text(key: str) -> str:
    try:
        return _archive().store.get_bytes(key).decode("utf-8")
    except StorageError:
        abort(404)


def _respond(body: str, mimetype: str, valid_for: list[float] | None = None) -> Response:
    """`valid_for`: how long each link in `body` stays valid; the least goes in a header
    (the player fetches the playlist afresh and renews its links before then)."""
    r = Response(body, mimetype=mimetype)
    # Shorter than the presigned links inside, so a cached copy never hands out dead ones.
    r.headers["Cache-Control"] = f"private, max-age={cache_seconds(links().lifetime / 2)}"
    if valid_for:
        r.headers[LINKS_VALID_FOR] = str(int(min(valid_for)))
    return r


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/hls/master.m3u8")
def hls_master(webinar_id: str, asset_id: str):
    a = _asset(webinar_id, asset_id, "recording")
    renditions = hls.playable(a.outputs.get("renditions") or {})
    if not renditions:
        abort(404)
    return _respond(hls.master_playlist(renditions), HLS_TYPE)


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/hls/<rendition>/index.m3u8")
def hls_media(webinar_id: str, asset_id: str, rendition: str):
    a = _asset(webinar_id, asset_id, "recording")
    if rendition not in (a.outputs.get("renditions") or {}):
        abort(404)
    base = a.derived_key(f"hls/{rendition}/")
    signed, valid_for = links(), []

    def sign(uri: str) -> str:
        if "/" in uri or uri.startswith("."):
            abort(500)  # our playlists name files beside them, nothing else
        url, left = signed.get(base + uri)  # byte-range segments share one file: one signature
        valid_for.append(left)
        return url

    def make():
        text = _text(base + "index.m3u8")
        # A closed playlist never changes: kept a moment (its links stay valid far longer).
        return (hls.rewrite_playlist(text, sign), hls.ENDLIST in text, min(valid_for, default=None),
                time.monotonic()), hls.ENDLIST in text

    body, closed, valid, made_at = recent("media_playlists").made(base, make)
    r = _respond(body, HLS_TYPE, [valid - (time.monotonic() - made_at)] if valid is not None else None)
    if not closed:  # a growing playlist (a progressive encode): never a stale copy
        r.headers["Cache-Control"] = "no-store"
    return r


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/storyboard.vtt")
def storyboard(webinar_id: str, asset_id: str):
    a = _asset(webinar_id, asset_id, "recording")
    if "storyboard" not in a.outputs:
        abort(404)
    base = a.derived_key("storyboard/")
    signed, valid_for = links(), []

    def sign(m: re.Match) -> str:
        url, left = signed.get(base + m.group(1))
        valid_for.append(left)
        return url + m.group(2)

    body = re.sub(r"^(storyboard-\d+\.jpg)(#xywh=\d+,\d+,\d+,\d+)$", sign, _text(a.outputs["storyboard"]),
                  flags=re.M)
    return _respond(body, "text/vtt", valid_for)


@bp.get("/webinars/<webinar_id>/captions/<asset_id>.vtt")
def captions(webinar_id: str, asset_id: str):
    a = _asset(webinar_id, asset_id, "captions")
    return _respond(_text(a.outputs["vtt"]), "text/vtt")


PAGE_SIZES = ("large", "thumb")


@bp.get("/webinars/<webinar_id>/slides/<asset_id>/pages/<size>/<int:page>.webp")
def slide_page(webinar_id: str, asset_id: str, size: str, page: int):
    """One page image of a deck (1-based), as a cached redirect to a presigned link."""
    deck = _asset(webinar_id, asset_id, "slides")
    pages = (deck.outputs.get("pages") or {}).get(size) if size in PAGE_SIZES else None
    if not pages or not 1 <= page <= len(pages):
        abort(404)
    return _redirect(pages[page - 1])


RECORDING_FILES = ("web", "poster")


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/direct")
def recording_direct(webinar_id: str, asset_id: str):
    """A browser-playable upload played as it is until the fast path is done (then the MP4
    it made): an app URL like the others, so the player renews its link as it plays and an
    unpublished webinar stops answering."""
    with _archive().catalog.session() as s:
        w = access.webinar(s, webinar_id)
        a = next((a for a in w.served_assets if a.id == asset_id and a.kind == "recording"), None) if w else None
    if a is None or not a.info.get("direct_play"):
        abort(404)
    if a.status == AssetStatus.READY and "web" in a.outputs:
        return _redirect(a.outputs["web"])
    if a.status not in (AssetStatus.QUEUED, AssetStatus.PROCESSING):
        abort(404)
    video = a.info.get("kind") == "video"
    mime = "video/mp4" if video else ("audio/mpeg" if a.original_ext == "mp3" else "audio/mp4")
    r = redirect(_archive().store.presigned_get(a.original_key, content_type=mime), code=302)
    r.headers["Cache-Control"] = "no-store"  # signed per request: few viewers, for minutes
    return r


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/<role>")
def recording_file(webinar_id: str, asset_id: str, role: str):
    """The faststart MP4 (or M4A) and the poster, as cached redirects to presigned links.
    A player whose link expired asks here again and gets a fresh one."""
    a = _asset(webinar_id, asset_id, "recording")
    if role not in RECORDING_FILES or role not in a.outputs:
        abort(404)
    return _redirect(a.outputs[role])
