"""Creating and editing webinars in the browser: details, speakers, presentations, start
times, publishing. Plain forms (CSRF token in each); the rules live in archive/editing.py.

A change that is saved is flashed and the page is loaded again (POST, redirect, GET); a
change that is refused shows the page again with the message beside its form and what
the user typed kept in it."""
from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import editing, photos, queries, staff_queries
from archive.formatting import hms
from archive.states import Visibility

from ..browse import language_name
from ..i18n import say
from . import archive, bp, staff_required
from .photos import photo_urls

ZONES = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _details(form) -> editing.Details:
    return editing.Details(**{name: form.get(name, "") for name in (
        "title", "description", "series_id", "new_series", "tags", "language", "date", "time", "timezone",
        "visibility", "publish_at")})


def _page(webinar_id: str | None, failed: str | None = None, error: editing.EditRejected | None = None):
    """The form page; after a refusal, `failed` names the form whose input is shown again."""
    with archive().catalog.session() as s:
        w = queries.get(s, webinar_id) if webinar_id else None
        if webinar_id and w is None:
            abort(404)
        checking = staff_queries.checking(s, webinar_id) if webinar_id else []
        series = [("", "(no series)")] + [(row.id, row.title) for row in editing.series_choices(s)]
    details = editing.Details.of(w) if w is not None else editing.Details(title="", visibility=Visibility.DRAFT)
    return render_template("staff/webinar_form.html", webinar=w, details=details, series=series, zones=ZONES,
                           failed=failed, error=error, sent=request.form if failed else {},
                           timestamps=_timestamps(w) if w is not None else "",
                           viewable=w is not None and w.is_viewable(), photo_urls=photo_urls(w),
                           photo_max_bytes=photos.PHOTO_MAX_BYTES, photo_types=photos.ACCEPT,
                           fmt_start=lambda v: "" if v is None else hms(v), deck_label=staff_queries.deck_label,
                           checking=checking)


def _timestamps(w) -> str:
    """The presentations as the timestamps box takes them, when every one has a start."""
    if not w.presentations or any(p.start_seconds is None for p in w.presentations):
        return ""
    return "\n".join(f"{hms(p.start_seconds)} {p.title}" for p in w.presentations)


def _back(webinar_id: str, anchor: str):
    return redirect(url_for("staff.edit_webinar", webinar_id=webinar_id, _anchor=anchor))


_NOT_TYPED = ("speaker_id", "presentation_id", "direction")


def _change(webinar_id: str, failed: str, anchor: str, done: str, change):
    """Run one edit; its refusal shows the page again with the form `failed` as sent."""
    try:
        change()
    except editing.WebinarNotFound:
        abort(404)
    except editing.EditRejected as e:
        if e.field in _NOT_TYPED:  # nothing the user typed to show again: the page was stale
            flash(say(e), "error")
            return _back(webinar_id, anchor)
        return _page(webinar_id, failed, e)
    flash(done, "ok")
    return _back(webinar_id, anchor)


def _item_change(webinar_id: str, noun: str, done: str, change: Callable[[str], object]):
    """An edit of one speaker or presentation of the webinar, named by the form's `<noun>_id`:
    its form is `<noun>-<id>`, the page comes back at the `<noun>s` section."""
    item_id = request.form.get(f"{noun}_id", "")
    return _change(webinar_id, f"{noun}-{item_id}", f"{noun}s", done, lambda: change(item_id))


@bp.get("/webinars/new")
@staff_required()
def new_webinar():
    return _page(None)


@bp.post("/webinars/new")
@staff_required()
def create_webinar():
    try:
        w = editing.create_webinar(archive(), _details(request.form))
    except editing.EditRejected as e:
        return _page(None, "details", e)
    flash(_("Created “%(title)s”. Add its speakers and presentations, then upload its files.", title=w.title), "ok")
    return redirect(url_for("staff.edit_webinar", webinar_id=w.id))


@bp.get("/webinars/<webinar_id>/edit")
@staff_required()
def edit_webinar(webinar_id: str):
    return _page(webinar_id)


@bp.post("/webinars/<webinar_id>/edit")
@staff_required()
def save_webinar(webinar_id: str):
    return _change(webinar_id, "details", "details", _("Saved the details."),
                   lambda: editing.update_webinar(archive(), webinar_id, _details(request.form)))


@bp.post("/webinars/<webinar_id>/publish")
@staff_required()
def publish(webinar_id: str):
    return _change(webinar_id, "publish", "publish",
                   _("Published: anyone can find and watch it now (from its publish time, if one is set)."),
                   lambda: editing.set_visibility(archive(), webinar_id, Visibility.PUBLIC))


@bp.post("/webinars/<webinar_id>/unpublish")
@staff_required()
def unpublish(webinar_id: str):
    return _change(webinar_id, "publish", "publish", _("Unpublished: it is a draft again, seen by staff only."),
                   lambda: editing.set_visibility(archive(), webinar_id, Visibility.DRAFT))


# -- speakers ----------------------------------------------------------------------------------

def _speaker_form() -> editing.SpeakerForm:
    f = request.form
    return editing.SpeakerForm(f.get("name", ""), f.get("organisation", ""), f.get("bio", ""))


@bp.post("/webinars/<webinar_id>/speakers/add")
@staff_required()
def add_speaker(webinar_id: str):
    return _change(webinar_id, "speaker-new", "speakers",
                   _("Added %(name)s.", name=request.form.get('name', '').strip()),
                   lambda: editing.add_speaker(archive(), webinar_id, _speaker_form()))


@bp.post("/webinars/<webinar_id>/speakers/save")
@staff_required()
def save_speaker(webinar_id: str):
    return _item_change(webinar_id, "speaker", _("Saved %(name)s.", name=request.form.get('name', '').strip()),
                        lambda sid: editing.edit_speaker(archive(), webinar_id, sid, _speaker_form()))


@bp.post("/webinars/<webinar_id>/speakers/remove")
@staff_required()
def remove_speaker(webinar_id: str):
    return _item_change(webinar_id, "speaker", _("Removed the speaker from this webinar."),
                        lambda sid: editing.remove_speaker(archive(), webinar_id, sid))


@bp.post("/webinars/<webinar_id>/speakers/move")
@staff_required()
def move_speaker(webinar_id: str):
    return _item_change(webinar_id, "speaker", _("Moved the speaker."),
                        lambda sid: editing.move_speaker(archive(), webinar_id, sid, request.form.get("direction", "")))


# -- presentations -----------------------------------------------------------------------------

def _presentation_form() -> editing.PresentationForm:
    f = request.form
    return editing.PresentationForm(f.get("title", ""), f.getlist("speaker_ids"), f.get("deck_id", ""),
                                    f.get("start", ""))


@bp.post("/webinars/<webinar_id>/presentations/add")
@staff_required()
def add_presentation(webinar_id: str):
    return _change(webinar_id, "presentation-new", "presentations",
                   _("Added “%(title)s”.", title=request.form.get('title', '').strip()),
                   lambda: editing.add_presentation(archive(), webinar_id, _presentation_form()))


@bp.post("/webinars/<webinar_id>/presentations/save")
@staff_required()
def save_presentation(webinar_id: str):
    return _item_change(webinar_id, "presentation",
                        _("Saved “%(title)s”.", title=request.form.get('title', '').strip()),
                        lambda pid: editing.edit_presentation(archive(), webinar_id, pid, _presentation_form()))


@bp.post("/webinars/<webinar_id>/presentations/remove")
@staff_required()
def remove_presentation(webinar_id: str):
    return _item_change(webinar_id, "presentation", _("Removed the presentation."),
                        lambda pid: editing.remove_presentation(archive(), webinar_id, pid))


@bp.post("/webinars/<webinar_id>/presentations/move")
@staff_required()
def move_presentation(webinar_id: str):
    return _item_change(webinar_id, "presentation", _("Moved the presentation."),
                        lambda pid: editing.move_presentation(archive(), webinar_id, pid,
                                                              request.form.get("direction", "")))


@bp.post("/webinars/<webinar_id>/timestamps")
@staff_required()
def set_timestamps(webinar_id: str):
    return _change(webinar_id, "timestamps", "presentations", _("Saved the start times."),
                   lambda: editing.set_start_times(archive(), webinar_id, request.form.get("timestamps", "")))


# -- caption files -----------------------------------------------------------------------------

@bp.post("/webinars/<webinar_id>/files/<asset_id>/language")
@staff_required()
def set_caption_language(webinar_id: str, asset_id: str):
    language = request.form.get("language", "").strip()
    try:
        editing.set_caption_language(archive(), webinar_id, asset_id, language)
    except editing.WebinarNotFound:
        abort(404)
    except editing.EditRejected as e:
        flash(say(e), "error")
    else:
        flash(_("The captions are now in %(language)s.", language=language_name(language)), "ok")
    return redirect(url_for("staff.webinar", webinar_id=webinar_id, _anchor=f"file-{asset_id}"))
