"""Public pages: the list of webinars, a webinar's page, downloads as presigned redirects."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from archive import analytics, hls
from archive import browse as catalog_browse
from archive import queries, slidesync
from archive.catalog import UNAVAILABLE
from archive.context import Archive
from archive.formatting import vtt_timestamp
from archive.handlers.bundle import current_bundle
from archive import captions as caption_files
from archive.pipeline import NOTES as JOB_NOTES
from archive.states import AssetStatus, EncodeState, Visibility
from archive.storage import StorageError, content_disposition

from . import access
from .recent import recent
from .browse import filters_from_args, language_name, page_arg, pages_of


bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)


def N_(text: str) -> str:
    """Marks a text of archive/ for the catalogs; `gettext` translates it where it is shown."""
    return text


# What archive/ tells visitors, in its words (archive/ knows no languages): what is being
# done (the jobs' notes in archive/pipeline.py; their labels are for staff) and the
# sentences about a failed file (queries.public_problem). A sentence changed there and not
# here is shown in English until the catalogs follow.
_PUBLIC_TEXTS = (
    N_("A new file is being added."),
    N_("The recording is being prepared."),
    N_("More qualities and the audio download are on their way."),
    N_("The slides are being prepared."),
    N_("The download of all slides is being prepared."),
    N_("The captions are being prepared."),
    N_("Checking the uploaded file"),
    N_("Making the recording watchable"),
    N_("Renditions for slow links, audio downloads, timeline thumbnails"),
    N_("Slide pages and text"),
    N_("All slides as one ZIP"),
    N_("Captions"),
    N_("Finding when each slide is on screen"),
    N_("Automatic captions"),
    N_("The recording could not be processed."),
    N_("These slides could not be processed."),
    N_("These captions could not be processed."),
    N_("This file could not be processed."),
)


def _archive() -> Archive:
    return current_app.extensions["archive"]


@bp.app_errorhandler(404)
def not_found(error):
    """A page a visitor can read, in their language; the API keeps its own (JSON) answers,
    and media or download routes a bare status (their callers are players, not people)."""
    if request.path.startswith(("/api/", "/staff/")) or request.accept_mimetypes.best != "text/html":
        return error
    return render_template("not_found.html"), 404


def unavailable(error):
    """The catalog cannot be reached for a moment (restarting, failing over): 503 with a
    hint to come back, never a 500 with a trace. Nothing that needs the catalog runs here."""
    log.warning("catalog unavailable: %s", error)
    text = gettext("The archive is unavailable for a moment. Please try again shortly.")
    headers = {"Retry-After": "5", "Cache-Control": "no-store"}
    if request.path.startswith(("/api/", "/staff/uploads")):
        return jsonify(error=text), 503, headers
    return Response(text + "\n", 503, headers, mimetype="text/plain")


for _error in UNAVAILABLE:
    bp.app_errorhandler(_error)(unavailable)


def count(webinar_id: str, event: str, asset_id: str = "") -> None:
    """One view, play or download, for the staff's statistics: no address, no cookie."""
    current_app.extensions["tally"].add(webinar_id, event, asset_id)


def _viewable(session, webinar_id: str):
    """The webinar a visitor may open (signed-in staff: any), or a 404."""
    w = access.webinar(session, webinar_id)
    if w is None:
        abort(404)
    return w


PER_PAGE = 24


@bp.get("/")
def index():
    """The latest webinars, a page at a time, narrowed by language and date if asked;
    posters through the app's cached poster redirect, so the page itself signs nothing."""
    page = page_arg()
    filters, kept = filters_from_args()
    with _archive().catalog.session() as s:
        total, items = catalog_browse.webinars(s, filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        languages, years = catalog_browse.languages(s), catalog_browse.years(s)
    if not items and page > 1:
        abort(404)
    return render_template("index.html", webinars=items, page=page, pages=pages_of(total, PER_PAGE), total=total,
                           filters=kept, filter_languages=languages, filter_years=years)


def player_for(w) -> dict | None:
    """What the player needs: app URLs only (each one checks visibility and redirects to
    a fresh presigned link), so the page signs nothing and an expired link is re-asked."""
    rec = w.recording
    if rec is not None and rec.plays_direct:
        # Watchable at once: a browser-playable upload plays as it is until the fast path is done.
        video = rec.info.get("kind") == "video"
        mime = "video/mp4" if video else ("audio/mpeg" if rec.original_ext == "mp3" else "audio/mp4")
        return {"kind": "video" if video else "audio", "poster": None, "hls": None, "storyboard": None,
                "src": url_for("media.recording_direct", webinar_id=w.id, asset_id=rec.id), "type": mime}
    if rec is None or rec.status != AssetStatus.READY:
        return None
    video = rec.info.get("kind", "video") == "video"
    return {
        "kind": "video" if video else "audio",
        # (none yet while the picture is still being encoded: the HLS playlist grows first)
        "src": (url_for("media.recording_file", webinar_id=w.id, asset_id=rec.id, role="web")
                if "web" in rec.outputs else None),
        "type": "video/mp4" if video else "audio/mp4",
        "poster": (url_for("media.recording_file", webinar_id=w.id, asset_id=rec.id, role="poster")
                   if "poster" in rec.outputs else None),
        "hls": (url_for("media.hls_master", webinar_id=w.id, asset_id=rec.id)
                if video and rec.outputs.get("renditions") else None),
        "storyboard": (url_for("media.storyboard", webinar_id=w.id, asset_id=rec.id)
                       if "storyboard" in rec.outputs else None),
        # Still being encoded: the player plays what exists and follows this playlist's growth.
        "growing": (url_for("media.hls_media", webinar_id=w.id, asset_id=rec.id, rendition=hls.SOURCE)
                    if video and (rec.info.get("progressive") or {}).get("state") == EncodeState.ENCODING else None),
    }


def caption_label(c) -> str:
    """A track's name: its label or else its language, in the visitor's language; the
    recognizer's tracks say so ("English (automatic)")."""
    name = c.info.get("label") or language_name(c.info["language"])
    return gettext("%(language)s (automatic)", language=name) if c.automatic else name


def captions_for(w) -> list[dict]:
    """Each ready caption track visitors get (human captions win over automatic ones of
    their language)."""
    return [{"id": c.id, "lang": c.info["language"], "label": caption_label(c), "automatic": c.automatic,
             "src": url_for("media.captions", webinar_id=w.id, asset_id=c.id)}
            for c in w.captions if c.status == AssetStatus.READY]


def _decks(w) -> list[dict]:
    """Each ready deck with its page count, the base of its page-image routes (the template
    appends `<size>/<n>.webp`: one url_for per deck, not one per page), and the talk it
    belongs to: its title, speakers and start in the recording. `segments` says when each
    page is on screen ([start, end, page] in time order: the deck's own slide times from its
    description, else what staff set or the archive found; empty when unknown); `times`
    holds, per page, the second it first appears, or None where that is unknown (the
    presentation's start for the first page when nothing else is known)."""
    talks = {p.deck_asset_id: p for p in w.presentations if p.deck_asset_id}
    duration = w.recording.info.get("duration") if w.recording is not None else None
    decks = []
    for deck in w.decks:
        pages = (deck.outputs.get("pages") or {})
        count = min(len(pages.get("large", [])), len(pages.get("thumb", [])))
        if deck.status == AssetStatus.READY and count:
            base = url_for("media.slide_page", webinar_id=w.id, asset_id=deck.id, size="large", page=1)
            talk = talks.get(deck.id)
            view = slidesync.effective(talk, deck, duration)
            segments = [[s["start"], s["end"], s["page"]] for s in (view or {}).get("segments", [])
                        if 1 <= s["page"] <= count]
            times: list[float | None] = [None] * count
            for page, t in slidesync.first_times([{"start": a, "page": n} for a, _, n in segments]).items():
                times[page - 1] = float(t)
            start = talk.start_seconds if talk is not None else None
            if start is None and view is not None:
                start = view.get("proposed_start")
            if times[0] is None and start is not None:
                times[0] = start
            decks.append({"asset": deck, "id": deck.id, "title": talk.title if talk else deck.title,
                          "count": count, "base": base.rsplit("/", 2)[0] + "/",
                          "start": start, "times": times, "segments": segments,
                          "titles": (view or {}).get("titles") or [],
                          "speakers": talk.speakers if talk else []})
    return decks


def chapters_vtt(w) -> str | None:
    """The presentations with a start time (set, or proposed by the alignment) and, inside
    them, each titled page (its first text line) where it first appears, as WebVTT
    chapters; None without any."""
    marks: list[tuple[float, str]] = []
    decks = _decks(w)
    for d in decks:
        if d["start"] is not None:
            who = ", ".join(sp.name for sp in d["speakers"])
            marks.append((d["start"], f"{d['title']}{' – ' + who if who else ''}"))
        for page, t in enumerate(d["times"], 1):
            title = d["titles"][page - 1] if page - 1 < len(d["titles"]) else ""
            if t is not None and title and d["segments"]:
                marks.append((t, title))
    talks = [p for p in w.presentations if p.start_seconds is not None and p.deck_asset_id not in
             {d["id"] for d in decks}]
    for talk in talks:
        who = ", ".join(sp.name for sp in talk.speakers)
        marks.append((talk.start_seconds, f"{talk.title}{' – ' + who if who else ''}"))
    if not marks:
        return None
    marks.sort(key=lambda m: m[0])
    kept: list[tuple[float, str]] = []
    for at, text in marks:  # a page first shown as its talk starts is the talk's chapter
        if kept and at - kept[-1][0] < 1.0:
            continue
        kept.append((at, text))
    end = (w.recording.info.get("duration") if w.recording is not None else None) or kept[-1][0] + 1
    cues = []
    for i, (at, text) in enumerate(kept):
        stop = kept[i + 1][0] if i + 1 < len(kept) else end
        cues.append(f"{vtt_timestamp(at)} --> {vtt_timestamp(max(stop, at + 0.001))}\n{text}")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


@bp.get("/webinars/<webinar_id>/chapters.vtt")
def chapters(webinar_id: str):
    with _archive().catalog.session() as s:
        w = _viewable(s, webinar_id)
    body = chapters_vtt(w)
    if body is None:
        abort(404)
    r = current_app.response_class(body, mimetype="text/vtt")
    r.headers["Cache-Control"] = "public, max-age=300"
    return r


# A ready webinar's page is the same for every visitor: it is rendered at most once per
# recent.SECONDS per process. Its visibility is read on every request all the same (one
# indexed column), so a webinar made private stops being served at once.
@bp.get("/webinars/<webinar_id>")
def webinar(webinar_id: str):
    if not queries.viewable_now(_archive().catalog.engine, webinar_id):
        if not access.staff_signed_in():
            abort(404)
        return _preview(webinar_id)
    count(webinar_id, "view")
    key = (webinar_id, str(get_locale()))  # one rendering per interface language

    def render():
        html, settled, unlisted = _render_webinar(webinar_id)
        return (html, unlisted), settled  # a page under processing changes from one request to the next

    return _page(*recent("webinar_pages").made(key, render))


def _preview(webinar_id: str):
    """A webinar visitors cannot open, as they will see it, for signed-in staff: with a
    banner saying who else can see it. Never cached, never counted, never indexed."""
    html, _, _ = _render_webinar(webinar_id, preview=True)
    r = current_app.response_class(html, mimetype="text/html")
    r.headers["Cache-Control"] = "private, no-store"
    r.headers["X-Robots-Tag"] = "noindex"
    return r


def _page(html: str, unlisted: bool):
    """An unlisted webinar's page is for those given its link: search engines are asked
    not to index it (the page's robots meta says so too)."""
    r = current_app.response_class(html, mimetype="text/html")
    if unlisted:
        r.headers["X-Robots-Tag"] = "noindex"
    return r


def unlisted(w) -> bool:
    return w.visibility == Visibility.UNLISTED


def progress_notes(jobs: list) -> list[str]:
    """What visitors are told while files are being processed: a plain sentence per kind
    of work under way (translated), never a job's name, progress or attempt."""
    notes: list[str] = []
    for j in jobs:
        note = JOB_NOTES.get(j.kind)
        if note and gettext(note) not in notes:
            notes.append(gettext(note))
    return notes


def _render_webinar(webinar_id: str, preview: bool = False) -> tuple[str, bool, bool]:
    """The page, whether it may be cached (nothing queued or running), and whether it is
    unlisted. `preview`: staff look at a webinar visitors cannot open; the page says who can."""
    with _archive().catalog.session() as s:
        w = _viewable(s, webinar_id)
        jobs = queries.jobs_of(s, webinar_id)
    hidden = queries.hidden_from_visitors(w) if preview else None
    rec = w.recording
    captions = captions_for(w)
    # Visitors see a plain sentence per kind of work under way and per failed file; the
    # jobs, errors, ffmpeg's message and the retry command are for staff
    # (`webinar-archive status` and `jobs`, the staff pages).
    served = {a.id for a in w.served_assets}  # a replacement's jobs are for staff
    active = [j for j in jobs if j.state in queries.ACTIVE_JOB_STATES and j.asset_id in served]
    problems = [(a.title, gettext(queries.public_problem(a))) for a in w.served_assets
                if a.status == AssetStatus.FAILED]
    html = render_template("webinar.html", webinar=w, recording=rec, player=player_for(w),
                           captions=captions, decks=_decks(w), bundle=current_bundle(w.decks),
                           chapters=url_for("public.chapters", webinar_id=w.id) if chapters_vtt(w) else None,
                           active_jobs=active, progress=progress_notes(active), problems=problems,
                           noindex=unlisted(w), staff_preview=hidden)
    return html, not active and w.status != AssetStatus.PROCESSING, unlisted(w)


def _download(key: str, name: str, content_type: str):
    """A short-lived presigned redirect that saves the file under `name`."""
    return redirect(_archive().store.presigned_get(
        key, download_name=name, content_type=content_type,
        expires=_archive().settings.download_link_seconds), code=302)


def _stem(filename: str, default: str) -> str:
    return filename.rsplit(".", 1)[0] or default


def titled(title: str, ext: str, default: str) -> str:
    """A download's file name made of the webinar's title (UTF-8 kept; no path separators
    or control characters), e.g. "Open data – in practice.zip"."""
    name = "".join("_" if c in '/\\' or ord(c) < 32 or ord(c) == 127 else c for c in title)
    name = " ".join(name.split()).strip(" .")[:150].strip(" .")
    return f"{name or default}.{ext}"


def _deck(webinar_id: str, asset_id: str):
    with _archive().catalog.session() as s:
        _viewable(s, webinar_id)
        deck = queries.asset(s, webinar_id, asset_id)
    if deck is None or deck.kind != "slides" or not deck.served:
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
    count(webinar_id, "download", rec.id)
    return _download(rec.original_key, rec.original_filename, rec.content_type)


@bp.get("/webinars/<webinar_id>/audio.<fmt>")
def download_audio(webinar_id: str, fmt: str):
    """The sound alone, for listening on the go (M4A) or in a podcast app (MP3)."""
    rec = _recording(webinar_id)
    key = rec.outputs.get(f"audio_{fmt}") if fmt in ("m4a", "mp3") else None
    if key is None:
        abort(404)
    count(webinar_id, "download", rec.id)
    return _download(key, f"{_stem(rec.original_filename, 'recording')}.{fmt}",
                     "audio/mp4" if fmt == "m4a" else "audio/mpeg")


@bp.get("/webinars/<webinar_id>/slides/<asset_id>/download")
def download_slides(webinar_id: str, asset_id: str):
    deck = _deck(webinar_id, asset_id)
    count(webinar_id, "download", deck.id)
    return _download(deck.original_key, deck.original_filename, deck.content_type)


@bp.get("/webinars/<webinar_id>/slides/<asset_id>/pdf")
def download_slides_pdf(webinar_id: str, asset_id: str):
    """The deck as PDF: the original when it was one, else LibreOffice's conversion."""
    deck = _deck(webinar_id, asset_id)
    if "pdf" not in deck.outputs:
        abort(404)
    count(webinar_id, "download", deck.id)
    return _download(deck.outputs["pdf"], f"{_stem(deck.original_filename, 'slides')}.pdf", "application/pdf")


@bp.get("/webinars/<webinar_id>/slides.zip")
def download_all_slides(webinar_id: str):
    """Every deck as uploaded, in one ZIP the worker made."""
    with _archive().catalog.session() as s:
        w = _viewable(s, webinar_id)
    bundle = current_bundle(w.decks)
    if bundle is None:
        abort(404)
    count(webinar_id, "download", "slides.zip")
    return _download(bundle["key"], titled(w.title, "zip", "slides"), "application/zip")


CAPTION_FORMATS = {"vtt": "text/vtt", "srt": "application/x-subrip"}


@bp.get("/webinars/<webinar_id>/captions/<asset_id>/download.<fmt>")
def download_captions(webinar_id: str, asset_id: str, fmt: str):
    """A caption track to keep, as WebVTT (the stored file, through a presigned link) or
    SRT (made from it here), named after the webinar and the track's language."""
    if fmt not in CAPTION_FORMATS:
        abort(404)
    with _archive().catalog.session() as s:
        w = _viewable(s, webinar_id)
    track = next((c for c in w.captions if c.id == asset_id and c.status == AssetStatus.READY), None)
    if track is None or "vtt" not in track.outputs:
        abort(404)
    name = titled(f"{w.title} ({track.info['language']})", fmt, "captions")
    count(webinar_id, "download", track.id)
    if fmt == "vtt":
        return _download(track.outputs["vtt"], name, "text/vtt; charset=utf-8")
    try:
        vtt = _archive().store.get_bytes(track.outputs["vtt"])
    except StorageError:
        abort(404)
    r = current_app.response_class(caption_files.to_srt(caption_files.parse(vtt)),
                                   mimetype=CAPTION_FORMATS["srt"])
    r.headers["Content-Disposition"] = content_disposition(name)
    return r


@bp.post("/webinars/<webinar_id>/played")
def played(webinar_id: str):
    """The player's beacon on the first play of a page view: counted once per viewer
    (address and browser) and day, rate-limited per address; only an HMAC of who played is
    kept, until the day ends. No session and no form: exempt from CSRF, and it changes
    nothing but a count."""
    counters = current_app.extensions["counters"]
    client = request.remote_addr or ""
    if not analytics.beacon_allowed(counters, client, _archive().settings.play_beacons_per_minute):
        return "", 429
    if not queries.viewable_now(_archive().catalog.engine, webinar_id):
        abort(404)
    if analytics.first_play(counters, webinar_id, client, request.headers.get("User-Agent", "")):
        count(webinar_id, "play")
    return "", 204
