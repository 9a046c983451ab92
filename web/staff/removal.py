"""Deleting a webinar and removing one of its files, from the staff pages. Both need an
explicit confirmation in the form (the webinar's title typed again, or a ticked box);
without it nothing is deleted and the form is shown again with a message."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import removal, staff_queries

from . import archive, bp, found_or_404, staff_required


def _confirm_page(webinar_id: str, message: str | None = None, status: int = 200):
    found = found_or_404(removal.summary(archive(), webinar_id))
    return render_template("staff/delete.html", summary=found, message=message), status


@bp.get("/webinars/<webinar_id>/delete")
@staff_required()
def delete_webinar(webinar_id: str):
    return _confirm_page(webinar_id)


@bp.post("/webinars/<webinar_id>/delete")
@staff_required()
def delete_webinar_post(webinar_id: str):
    with archive().catalog.session() as s:
        title = found_or_404(staff_queries.webinar(s, webinar_id)).title
    typed = (request.form.get("confirm_title") or "").strip()
    if typed != title.strip():
        message = (_("Type the webinar’s title exactly to confirm: nothing was deleted.") if typed else
                   _("Nothing was deleted: type the webinar’s title to confirm."))
        return _confirm_page(webinar_id, message)
    removed = found_or_404(removal.delete_webinar(archive(), webinar_id))
    flash(_("“%(title)s” was deleted with its %(n)d file(s).", title=title, n=len(removed.asset_ids)), "ok")
    return redirect(url_for("staff.home"))


@bp.post("/webinars/<webinar_id>/files/<asset_id>/remove")
@staff_required()
def remove_file(webinar_id: str, asset_id: str):
    with archive().catalog.session() as s:
        w = found_or_404(staff_queries.webinar(s, webinar_id))
        asset = found_or_404(next((a for a in w.assets if a.id == asset_id), None))
    if request.form.get("confirm") != "yes":
        flash(_("%(name)s was not removed: tick the box to confirm.", name=asset.original_filename), "error")
    elif removal.remove_asset(archive(), asset_id) is not None:
        flash(_("%(name)s was removed.", name=asset.original_filename), "ok")
    return redirect(url_for("staff.webinar", webinar_id=webinar_id))
