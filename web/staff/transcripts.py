"""Correcting a caption track in the browser, cue by cue (archive/corrections.py): the
saved text becomes human captions, which win over the automatic ones."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import captions, corrections

from ..i18n import say
from . import archive, bp, found_or_404, staff_required


def _editor(webinar_id: str, track: corrections.Track, error: str | None = None, texts: list[str] | None = None):
    return render_template("staff/transcript.html", webinar_id=webinar_id, track=track, error=error,
                           texts=texts or [c.text for c in track.cues]), 400 if error else 200


@bp.get("/webinars/<webinar_id>/captions/<asset_id>/edit")
@staff_required()
def edit_transcript(webinar_id: str, asset_id: str):
    return _editor(webinar_id, found_or_404(corrections.track(archive(), webinar_id, asset_id)))


@bp.post("/webinars/<webinar_id>/captions/<asset_id>/edit")
@staff_required()
def save_transcript(webinar_id: str, asset_id: str):
    track = found_or_404(corrections.track(archive(), webinar_id, asset_id))
    texts = request.form.getlist("cue")
    try:
        corrections.save(archive(), track, texts)
    except captions.CaptionsRejected as e:
        return _editor(webinar_id, track, say(e), texts)
    flash(_("The corrected transcript is saved as captions; search follows once they are processed."), "ok")
    return redirect(url_for("staff.webinar", webinar_id=webinar_id))
