"""Playlists and text tracks, served by the app with every media URL presigned.

These are small text files (metadata); segments, sprites and recordings still go
straight from S3 to the browser. Private buckets stay private this way.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app

from archive import hls, queries
from archive.context import Archive
from archive.storage import StorageError

bp = Blueprint("media", __name__)

HLS_TYPE = hls.PLAYLIST_TYPE


def _archive() -> Archive:
    return current_app.extensions["archive"]


def _asset(webinar_id: str, asset_id: str, kind: str):
    with _archive().catalog.session() as s:
        w = queries.viewable(s, webinar_id)
        if w is None:
            abort(404)
        a = next((a for a in w.assets if a.id == asset_id and a.kind == kind and a.status == "ready"), None)
    if a is None:
        abort(404)
    return a


def _text(key: str) -> str:
    try:
        return _archive().store.get_bytes(key).decode("utf-8")
    except StorageError:
        abort(404)


def _respond(body: str, mimetype: str) -> Response:
    r = Response(body, mimetype=mimetype)
    # Shorter than the presigned links inside, so a cached copy never hands out dead ones.
    r.headers["Cache-Control"] = "private, max-age=300"
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
    store = _archive().store

    signed: dict[str, str] = {}

    def sign(uri: str) -> str:
        if "/" in uri or uri.startswith("."):
            abort(500)  # our playlists name files beside them, nothing else
        if uri not in signed:  # byte-range segments share one file: one signature
            signed[uri] = store.presigned_get(base + uri)
        return signed[uri]

    return _respond(hls.rewrite_playlist(_text(base + "index.m3u8"), sign), HLS_TYPE)


@bp.get("/webinars/<webinar_id>/recording/<asset_id>/storyboard.vtt")
def storyboard(webinar_id: str, asset_id: str):
    a = _asset(webinar_id, asset_id, "recording")
    if "storyboard" not in a.outputs:
        abort(404)
    store = _archive().store
    base = a.derived_key("storyboard/")
    signed: dict[str, str] = {}

    def sign(m: re.Match) -> str:
        name = m.group(1)
        if name not in signed:
            signed[name] = store.presigned_get(base + name)
        return signed[name] + m.group(2)

    body = re.sub(r"^(storyboard-\d+\.jpg)(#xywh=\d+,\d+,\d+,\d+)$", sign, _text(a.outputs["storyboard"]),
                  flags=re.M)
    return _respond(body, "text/vtt")


@bp.get("/webinars/<webinar_id>/captions/<asset_id>.vtt")
def captions(webinar_id: str, asset_id: str):
    a = _asset(webinar_id, asset_id, "captions")
    return _respond(_text(a.outputs["vtt"]), "text/vtt")
