"""A small JSON API: webinar status for scripts and the page's refresh."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from archive import queries

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/webinars/<webinar_id>")
def webinar_status(webinar_id: str):
    archive = current_app.extensions["archive"]
    with archive.catalog.session() as s:
        w = queries.viewable(s, webinar_id)
    if w is None:
        abort(404)
    return jsonify(queries.public_status(w, archive.settings.public_url))


@bp.errorhandler(404)
def not_found(_e):
    return jsonify({"error": "not found"}), 404


@bp.get("/health")
def health():
    return jsonify({"ok": True})
