"""Public pages: the list of webinars, a webinar's page, downloads as presigned redirects."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from archive import queries
from archive.pipeline import LABELS as JOB_LABELS
from archive.context import Archive
from archive.handlers.bundle import current_bundle

bp = Blueprint("public", __name__)


def _archive() -> Archive:
    return current_app.extensions["archive"]


def _viewable(session, webinar_id: str):
    w = queries.viewable(session, webinar_id)
    if w is None:
        abort(404)
    return w


PER_PAGE = 24


@bp.get("/")
def index():
    """The latest webinars, a page at a time; posters through the app's poster route, so
    the page itself presigns nothing."""
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    with _archive().catalog.session() as s:
        total = queries.count_listed(s)
        items = queries.listed(s, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    if not items and page > 1:
        abort(404)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("index.html", webinars=items, page=page, pages=pages, total=total)


def player_for(w) -> dict | None:
    """What the player needs for the webinar's recording, or None while there is none."""
    rec = w.recording
    store = _archive().store
    if rec is not None and rec.info.get("direct_play") and rec.status in ("queued", "processing"):
        # Watchable at once: a browser-playable upload plays as it is until the fast path is done.
        video = rec.info.get("kind") == "video"
        mime = "video/mp4" if video else ("audio/mpeg" if rec.original_ext == "mp3" else "audio/mp4")
        return {"kind": "video" if video else "audio", "poster": None, "hls": None, "storyboard": None,
                "src": store.presigned_get(rec.original_key, content_type=mime), "type": mime}
    if rec is None or rec.status != "ready":
        return None
    return {
        "kind": rec.info.get("kind", "video"),
        "src": store.presigned_get(rec.outputs["web"]),
        "type": "video/mp4" if rec.info.get("kind") == "video" else "audio/mp4",
        "poster": store.presigned_get(rec.outputs["poster"]) if "poster" in rec.outputs else None,
        "hls": url_for("media.hls_master", webinar_id=w.id, asset_id=rec.id) if rec.outputs.get("renditions") else None,
        "storyboard": (url_for("media.storyboard", webinar_id=w.id, asset_id=rec.id)
                       if "storyboard" in rec.outputs else None),
    }


@bp.get("/webinars/<webinar_id>")
def webinar(webinar_id: str):
    archive = _archive()
    with archive.catalog.session() as s:
        w = _viewable(s, webinar_id)
        jobs = queries.jobs_of(s, webinar_id)
    store = archive.store
    rec = w.recording
    player = player_for(w)
    thumbs = {}
    for deck in w.decks:
        if deck.status == "ready":
            thumbs[deck.id] = [store.presigned_get(k) for k in deck.outputs.get("pages", {}).get("thumb", [])]
    # Visitors see progress and a plain sentence per failed file; the errors, ffmpeg's
    # message and the retry command are for staff (`webinar-archive status` and `jobs`).
    active = [j for j in jobs if j.state in queries.ACTIVE_JOB_STATES]
    problems = [(a.title, queries.public_problem(a)) for a in w.assets if a.status == "failed"]
    return render_template("webinar.html", webinar=w, recording=rec, player=player, thumbs=thumbs,
                           active_jobs=active, problems=problems, job_labels=JOB_LABELS)


DOWNLOAD_LINK_SECONDS = 3600


def _download(key: str, name: str, content_type: str):
    """A short-lived presigned redirect that saves the file under `name`."""
    return redirect(_archive().store.presigned_get(
        key, download_name=name, content_type=content_type, expires=DOWNLOAD_LINK_SECONDS), code=302)


def _stem(filename: str, default: str) -> str:
    return filename.rsplit(".", 1)[0] or default


def _deck(webinar_id: str, asset_id: str):
    with _archive().catalog.session() as s:
        _viewable(s, webinar_id)
        deck = queries.asset(s, webinar_id, asset_id)
    if deck is None or deck.kind != "slides":
        abort(404)
    return deck


def _recording(webinar_id: str):
    with _archive().catalog.session() as s:
        rec = _viewable(s, webinar_id).recording
    if rec is None:
        abort(404)
    return rec


@bp.get("/webinars/<webinar_id>/recording/download")
def download_recording(webinar_id: str):
    rec = _recording(webinar_id)
    return _download(rec.original_key, rec.original_filename, rec.content_type)


@bp.get("/webinars/<webinar_id>/audio.<fmt>")
def download_audio(webinar_id: str, fmt: str):
    """The sound alone, for listening on the go (M4A) or in a podcast app (MP3)."""
    rec = _recording(webinar_id)
    key = rec.outputs.get(f"audio_{fmt}") if fmt in ("m4a", "mp3") else None
    if key is None:
        abort(404)
    return _download(key, f"{_stem(rec.original_filename, 'recording')}.{fmt}",
                     "audio/mp4" if fmt == "m4a" else "audio/mpeg")


@bp.get("/webinars/<webinar_id>/slides/<asset_id>/download")
def download_slides(webinar_id: str, asset_id: str):
    deck = _deck(webinar_id, asset_id)
    return _download(deck.original_key, deck.original_filename, deck.content_type)


@bp.get("/webinars/<webinar_id>/slides/<asset_id>/pdf")
def download_slides_pdf(webinar_id: str, asset_id: str):
    """The deck as PDF: the original when it was one, else LibreOffice's conversion."""
    deck = _deck(webinar_id, asset_id)
    if "pdf" not in deck.outputs:
        abort(404)
    return _download(deck.outputs["pdf"], f"{_stem(deck.original_filename, 'slides')}.pdf", "application/pdf")


@bp.get("/webinars/<webinar_id>/poster.jpg")
def poster(webinar_id: str):
    """The recording's poster frame, at a stable address (feeds, oEmbed, link previews)."""
    rec = _recording(webinar_id)
    if rec.status != "ready" or "poster" not in rec.outputs:
        abort(404)
    r = redirect(_archive().store.presigned_get(rec.outputs["poster"], expires=DOWNLOAD_LINK_SECONDS), code=302)
    r.headers["Cache-Control"] = "public, max-age=600"
    return r


@bp.get("/webinars/<webinar_id>/slides.zip")
def download_all_slides(webinar_id: str):
    """Every deck as uploaded, in one ZIP the worker made."""
    with _archive().catalog.session() as s:
        decks = _viewable(s, webinar_id).decks
    bundle = current_bundle(decks)
    if bundle is None:
        abort(404)
    return _download(bundle["key"], "slides.zip", "application/zip")
