"""The staff area under /staff: sign-in (Flask-Login), CSRF on every state change
(Flask-WTF), a rate-limited login (archive.throttle), the job dashboard and the accounts.

`init_app(app)` is all the application factory calls."""
from __future__ import annotations

import functools
from typing import TypeVar

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from archive import accounts
from archive.context import Archive

bp = Blueprint("staff", __name__, url_prefix="/staff")

login_manager = LoginManager()
csrf = CSRFProtect()


def archive() -> Archive:
    return current_app.extensions["archive"]


T = TypeVar("T")


def found_or_404(found: T | None) -> T:
    """What a lookup by the URL's id found; a 404 when it found nothing."""
    if found is None:
        abort(404)
    return found


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def staff_required(role: str | None = None):
    """Anonymous visitors go to the login page (401 for JSON calls); a signed-in user
    without `role` gets 403. role=None: any staff role."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(role):
                if wants_json():
                    return jsonify(error="forbidden"), 403
                return render_template("staff/error.html", code=403,
                                       message=gettext("Your role does not allow this page.")), 403
            return view(*args, **kwargs)
        return wrapper
    return decorate


@login_manager.user_loader
def load_user(session_id: str):
    # An ended session (sign-out, new password or role) or a deactivated account: signed out here.
    with archive().catalog.session() as s:
        return accounts.from_session_id(s, session_id)


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        return jsonify(error="sign in first"), 401
    return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


def N_(text: str) -> str:
    """Marks a text for the catalogs; `state_name` translates it where it is shown."""
    return text


# The words of archive/states.py (and roles, kinds) as the staff pages show them.
_STATE_NAMES = {
    "queued": N_("queued"), "processing": N_("processing"), "ready": N_("ready"), "failed": N_("failed"),
    "removing": N_("removing"), "running": N_("running"), "done": N_("done"),
    "attention": N_("ready, with warnings"),
    "draft": N_("draft"), "public": N_("public"), "unlisted": N_("unlisted"), "private": N_("private"),
    "recording": N_("recording"), "slides": N_("slides"), "captions": N_("captions"),
    "admin": N_("admin"), "editor": N_("editor"),
}


def state_name(state: str) -> str:
    """A state, visibility, kind or role in the reader's language."""
    name = _STATE_NAMES.get(str(state))
    return gettext(name) if name else str(state)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["state_name"] = state_name
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    login_manager.init_app(app)
    csrf.init_app(app)

    from . import (auth, dashboard, photos, removal, slide_times, statistics, transcripts,  # noqa: F401  (their routes are on bp)
                   users, webinars)

    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        if wants_json():
            return jsonify(error=e.description), 400
        return render_template("staff/error.html", code=400,
                               message=gettext("The form had expired or was not sent by this site. "
                                               "Go back, reload the page and try again.")), 400
