"""The read-only public JSON API, `/api/v1/`, described by `/api/v1/openapi.json`.

Only listed webinars appear. Media links are the app's own download routes (they
redirect to fresh presigned links), so a stored response never holds an expired URL.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from archive import browse, queries, slidesync
from archive.handlers.bundle import current_bundle
from archive.models import Webinar
from archive.states import AssetStatus

from .openapi import document
from .urls import absolute_url as _abs, public_base

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name} must be a whole number")
    if not lo <= value <= hi:
        abort(400, f"{name} must be between {lo} and {hi}")
    return value


def summary(w: Webinar) -> dict:
    rec = w.recording
    return {
        "id": w.id,
        "title": w.title,
        "date": w.held_on.isoformat() if w.held_on else None,
        "url": _abs("public.webinar", webinar_id=w.id),
        "duration": (rec.info.get("duration") if rec is not None else None),
        "has_recording": rec is not None and rec.status == AssetStatus.READY,
        "slide_decks": sum(1 for d in w.decks if d.status == AssetStatus.READY),
        "api": _abs("api_v1.webinar", webinar_id=w.id),
    }


def detail(w: Webinar) -> dict:
    rec = w.recording
    recording = None
    if rec is not None:
        downloads = {"original": {"url": _abs("public.download_recording", webinar_id=w.id),
                                  "filename": rec.original_filename, "size": rec.size}}
        for fmt in ("mp3", "m4a"):
            if rec.outputs.get(f"audio_{fmt}"):
                downloads[fmt] = {"url": _abs("public.download_audio", webinar_id=w.id, fmt=fmt)}
        recording = {"status": rec.status, "kind": rec.info.get("kind"), "duration": rec.info.get("duration"),
                     "poster": (_abs("media.recording_file", webinar_id=w.id, asset_id=rec.id, role="poster") if "poster" in rec.outputs else None),
                     "downloads": downloads}
    slides = []
    for d in w.decks:
        entry = {"id": d.id, "title": d.title, "filename": d.original_filename, "size": d.size,
                 "status": d.status, "pages": d.info.get("page_count"),
                 "download": _abs("public.download_slides", webinar_id=w.id, asset_id=d.id),
                 "pdf": None}
        if d.outputs.get("pdf"):
            entry["pdf"] = _abs("public.download_slides_pdf", webinar_id=w.id, asset_id=d.id)
        slides.append(entry)
    bundle = current_bundle(w.decks)
    duration = rec.info.get("duration") if rec is not None else None
    served = {d.id: d for d in w.decks}
    presentations = []
    for p in w.presentations:
        deck = served.get(p.deck_asset_id) if p.deck_asset_id else None
        timeline = slidesync.public(slidesync.effective(p, deck, duration)) if deck is not None else None
        presentations.append({"id": p.id, "title": p.title, "speakers": [sp.name for sp in p.speakers],
                              "start": p.start_seconds,
                              "proposed_start": timeline["proposed_start"] if timeline else None,
                              "slides": deck.id if deck is not None else None, "slide_timeline": timeline})
    return {
        **summary(w),
        "description": w.description or "",
        "recording": recording,
        "presentations": presentations,
        "slides": slides,
        "slides_zip": _abs("public.download_all_slides", webinar_id=w.id) if bundle else None,
        "captions": [{"language": c.info.get("language"), "automatic": bool(c.automatic),
                      "url": _abs("media.captions", webinar_id=w.id, asset_id=c.id)}
                     for c in w.captions if c.status == AssetStatus.READY],
    }


def _paging() -> tuple[int, int]:
    return _int_arg("page", 1, 1, 1_000_000), _int_arg("per_page", 20, 1, MAX_PER_PAGE)


@bp.get("/webinars")
def webinars():
    page, per_page = _paging()
    archive = current_app.extensions["archive"]
    with archive.catalog.session() as s:
        total, items = browse.webinars(s, limit=per_page, offset=(page - 1) * per_page)
    return jsonify({"items": [summary(w) for w in items], "page": page, "per_page": per_page, "total": total})


@bp.get("/webinars/<webinar_id>")
def webinar(webinar_id: str):
    archive = current_app.extensions["archive"]
    with archive.catalog.session() as s:
        w = queries.get(s, webinar_id)
        if w is None or not w.is_listed():
            abort(404)
    return jsonify(detail(w))


def series_summary(g: browse.Group) -> dict:
    return {"slug": g.slug, "title": g.title, "description": g.description or "", "webinar_count": g.count,
            "latest": g.latest.isoformat() if g.latest else None,
            "url": _abs("browse.series", slug=g.slug), "api": _abs("api_v1.one_series", slug=g.slug),
            "feed": _abs("syndication.series_atom", slug=g.slug)}


@bp.get("/series")
def series():
    """Series with at least one listed webinar, the one with the newest webinar first."""
    page, per_page = _paging()
    with current_app.extensions["archive"].catalog.session() as s:
        total, groups = browse.series_index(s, limit=per_page, offset=(page - 1) * per_page)
    return jsonify({"items": [series_summary(g) for g in groups], "page": page, "per_page": per_page,
                    "total": total})


@bp.get("/series/<slug>")
def one_series(slug: str):
    """A series and a page of its listed webinars, newest first."""
    page, per_page = _paging()
    with current_app.extensions["archive"].catalog.session() as s:
        g = browse.series(s, slug)
        if g is None:
            abort(404)
        total, items = browse.webinars(s, browse.Filters(series_id=g.id), limit=per_page,
                                       offset=(page - 1) * per_page)
    return jsonify({**series_summary(g), "webinars": {"items": [summary(w) for w in items], "page": page,
                                                      "per_page": per_page, "total": total}})


def speaker_summary(sp, count: int) -> dict:
    return {"slug": sp.slug, "name": sp.name, "organisation": sp.organisation or "", "webinar_count": count,
            "photo": _abs("browse.speaker_photo", slug=sp.slug) if sp.photo_key else None,
            "url": _abs("browse.speaker", slug=sp.slug), "api": _abs("api_v1.speaker", slug=sp.slug)}


@bp.get("/speakers")
def speakers():
    """Speakers on at least one listed webinar, by name."""
    page, per_page = _paging()
    with current_app.extensions["archive"].catalog.session() as s:
        total, entries = browse.speakers_index(s, limit=per_page, offset=(page - 1) * per_page)
    return jsonify({"items": [speaker_summary(e.speaker, e.count) for e in entries], "page": page,
                    "per_page": per_page, "total": total})


@bp.get("/speakers/<slug>")
def speaker(slug: str):
    """A speaker and a page of the listed webinars they are on, with the talks they gave in them."""
    page, per_page = _paging()
    with current_app.extensions["archive"].catalog.session() as s:
        sp = browse.speaker(s, slug)
        if sp is None:
            abort(404)
        total, appearances = browse.speaker_appearances(s, sp.id, limit=per_page, offset=(page - 1) * per_page)
    items = [{"webinar": summary(a.webinar),
              "talks": [{"title": t.title, "start": t.start,
                         "url": (_abs("public.webinar", webinar_id=a.webinar.id, t=int(t.start))
                                 if t.start is not None else _abs("public.webinar", webinar_id=a.webinar.id))}
                        for t in a.talks]}
             for a in appearances]
    return jsonify({**speaker_summary(sp, total), "bio": sp.bio or "",
                    "webinars": {"items": items, "page": page, "per_page": per_page, "total": total}})


@bp.get("/")
def index():
    """Where to start: the API's entry points and its OpenAPI document."""
    return jsonify({
        "openapi": _abs("api_v1.openapi"),
        "webinars": _abs("api_v1.webinars"),
        "series": _abs("api_v1.series"),
        "speakers": _abs("api_v1.speakers"),
        "search": _abs("search.api"),
        "description": "Read-only; only public webinars are listed. The OpenAPI document describes "
                       "every path, parameter and answer.",
    })


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(public_base()))


@bp.errorhandler(400)
@bp.errorhandler(404)
def error(e):
    message = e.description if e.code == 400 else "not found"
    return jsonify({"error": message}), e.code
