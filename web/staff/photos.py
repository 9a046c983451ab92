"""A speaker's photo from the speaker forms: the browser POSTs the file straight to S3
(web/static/photo.js) on a form this module signs, then sends the key back to be checked
and recorded. No byte of the photo passes through here; the rules live in archive/photos.py."""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from archive import browse, photos
from archive.models import Speaker
from archive.storage import StorageError

from ..i18n import say
from ..media import links
from . import archive, bp, staff_required


def _error(message: str, status: int):
    return jsonify(error=message), status


def _store_down(e: StorageError):
    current_app.logger.warning("storage error with a speaker's photo: %s", e)
    return _error(_("The file store is not answering; try again in a moment."), 503)


def photo_url(session, sp: Speaker) -> str | None:
    """Where a staff page shows the photo: the public route for a speaker with a public
    page (a cached redirect), else a presigned link; None without a photo."""
    if not sp.photo_key:
        return None
    if browse.speaker(session, sp.slug) is not None:
        return url_for("browse.speaker_photo", slug=sp.slug)
    return links().url(sp.photo_key)


def photo_urls(webinar) -> dict[str, str]:
    """speaker id -> photo link, for the speakers of a webinar's form page."""
    if webinar is None:
        return {}
    with archive().catalog.session() as s:
        return {sp.id: url for sp in webinar.speakers if (url := photo_url(s, sp))}


@bp.post("/speakers/<speaker_id>/photo/start")
@staff_required()
def photo_start(speaker_id: str):
    try:
        return jsonify(photos.start(archive(), speaker_id))
    except photos.SpeakerNotFound:
        return _error(_("No such speaker (reload the page)."), 404)
    except StorageError as e:
        return _store_down(e)


@bp.post("/speakers/<speaker_id>/photo")
@staff_required()
def photo_finish(speaker_id: str):
    body = request.get_json(silent=True)
    key = body.get("key") if isinstance(body, dict) else None
    try:
        sp = photos.finish(archive(), speaker_id, key)
    except photos.SpeakerNotFound:
        return _error(_("No such speaker (reload the page)."), 404)
    except photos.PhotoRefused as e:
        return _error(say(e), 422)
    except StorageError as e:
        return _store_down(e)
    # A fresh link to the new key: the public route may be cached by the browser.
    return jsonify(key=sp.photo_key, url=links().url(sp.photo_key),
                   message=_("Saved the photo of %(name)s.", name=sp.name))


@bp.post("/speakers/<speaker_id>/photo/remove")
@staff_required()
def photo_remove(speaker_id: str):
    webinar_id = request.form.get("webinar_id", "")
    back = (url_for("staff.edit_webinar", webinar_id=webinar_id, _anchor=f"speaker-{speaker_id}")
            if webinar_id else url_for("staff.home"))
    if request.form.get("confirm") != "yes":
        flash(_("The photo was not removed: use the Remove photo button of the speaker."), "error")
        return redirect(back)
    try:
        sp = photos.remove_photo(archive(), speaker_id)
    except photos.SpeakerNotFound:
        flash(_("No such speaker (reload the page)."), "error")
        return redirect(back)
    except StorageError as e:
        current_app.logger.warning("storage error removing a speaker's photo: %s", e)
        flash(_("The file store is not answering; try again in a moment."), "error")
        return redirect(back)
    flash(_("Removed the photo of %(name)s.", name=sp.name), "ok")
    return redirect(back)
