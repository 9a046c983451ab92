"""Deleting a webinar and removing one of its files, from the staff pages. Both need an
explicit confirmation in the form (the webinar's title typed again, or a ticked box);
without it nothing is deleted and the form is shown again with a message."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

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
        message = ("Type the webinar's title exactly to confirm: nothing was deleted." if typed else
                   "Nothing was deleted: type the webinar's title to confirm.")
        return _confirm_page(webinar_id, message)
    removed = found_or_404(removal.delete_webinar(archive(), webinar_id))
    flash(f"“{title}” was deleted with its {len(removed.asset_ids)} file(s).", "ok")
    return redirect(url_for("staff.home"))


@bp.post("/webinars/<webinar_id>/files/<asset_id>/remove")
@staff_required()
def remove_file(webinar_id: str, asset_id: str):
    with archive().catalog.session() as s:
        w = found_or_404(staff_queries.webinar(s, webinar_id))
        asset = found_or_404(next((a for a in w.assets if a.id == asset_id), None))
    if request.form.get("confirm") != "yes":
        flash(f"{asset.original_filename} was not removed: tick the box to confirm.", "error")
    elif removal.remove_asset(archive(), asset_id) is not None:
        flash(f"{asset.original_filename} was removed.", "ok")
    return redirect(url_for("staff.webinar", webinar_id=webinar_id))
