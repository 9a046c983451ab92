"""The review of a presentation's slide changes: the frame of the recording at each change
beside the page it was matched to, its time and confidence; staff move a change, remove
one, add one, or accept them (archive/editing.py `edit_slide_timeline`; what staff set is
kept when the alignment runs again)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from archive import editing, queries, slidesync, storyboard
from archive.formatting import hms

from . import archive, bp, staff_required

_DONE = {
    "move": lazy_gettext("Moved the slide change."),
    "remove": lazy_gettext("Removed the slide change."),
    "add": lazy_gettext("Added a slide change."),
    "accept": lazy_gettext("Accepted the slide changes."),
    "reset": lazy_gettext("The slide changes are the ones found again."),
}


def _review(webinar_id: str, presentation_id: str, error: editing.EditRejected | None = None):
    with archive().catalog.session() as s:
        w = queries.get(s, webinar_id)
    if w is None:
        abort(404)
    p = next((p for p in w.presentations if p.id == presentation_id), None)
    if p is None:
        abort(404)
    deck = next((a for a in w.decks if a.id == p.deck_asset_id), None)
    timeline = slidesync.for_review(p, deck)
    store = archive().store
    thumbs = ((deck.outputs.get("pages") or {}).get("thumb") or []) if deck is not None else []
    pages = [store.presigned_get(k) for k in thumbs]  # staff see drafts: links, not public routes
    rec = w.recording
    # A change staff moved or added has no frame of its own: the storyboard's thumbnail there.
    board = storyboard.info_from_summary(rec.info) if rec is not None and "storyboard" in rec.outputs else None
    rows = []
    for i, seg in enumerate((timeline or {}).get("segments") or []):
        thumb = None
        if not seg.get("frame") and board is not None:
            sheet, x, y, tw, th = storyboard.thumbnail_at(board, seg["start"])
            thumb = {"url": store.presigned_get(rec.derived_key(f"storyboard/{sheet}")), "x": x, "y": y,
                     "w": tw, "h": th}
        rows.append({"index": i, "start": seg["start"], "end": seg["end"], "page": seg["page"],
                     "confidence": seg.get("confidence"), "time": hms(seg["start"], tenths=True),
                     "frame": store.presigned_get(seg["frame"]) if seg.get("frame") else None, "thumb": thumb,
                     "page_image": pages[seg["page"] - 1] if 0 < seg["page"] <= len(pages) else None})
    typed = bool(deck is not None and (deck.info or {}).get("slide_times"))
    status = 400 if error is not None else 200
    return render_template("staff/slide_times.html", webinar=w, presentation=p, deck=deck, timeline=timeline,
                           rows=rows, typed=typed, page_count=len(pages), error=error,
                           sent=request.form if error is not None else {},
                           proposed=hms(timeline["proposed_start"], tenths=True)
                           if timeline and timeline.get("proposed_start") is not None else None), status


@bp.get("/webinars/<webinar_id>/presentations/<presentation_id>/slides")
@staff_required()
def slide_times(webinar_id: str, presentation_id: str):
    return _review(webinar_id, presentation_id)


@bp.post("/webinars/<webinar_id>/presentations/<presentation_id>/slides")
@staff_required()
def edit_slide_times(webinar_id: str, presentation_id: str):
    f = request.form
    action = f.get("action", "")
    try:
        editing.edit_slide_timeline(archive(), webinar_id, presentation_id, action, f.get("index", ""),
                                    f.get("start", ""), f.get("page", ""))
    except editing.WebinarNotFound:
        abort(404)
    except editing.EditRejected as e:
        return _review(webinar_id, presentation_id, e)
    flash(str(_DONE.get(action, "")), "ok")
    return redirect(url_for("staff.slide_times", webinar_id=webinar_id, presentation_id=presentation_id))
