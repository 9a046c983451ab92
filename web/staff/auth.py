"""Sign-in and sign-out. Failed sign-ins are limited per client address and per account
(archive.throttle.SignInLimits, counted by all processes together); signing out ends every
session of the user."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from archive import accounts
from archive.throttle import SignInLimits

from . import archive, bp


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _login_page(error: str | None = None, status: int = 200, email: str = ""):
    return render_template("staff/login.html", error=error, email=email,
                           next=safe_next(request.values.get("next")) or ""), status


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("staff.home"))
    return _login_page()


@bp.post("/login")
def login_post():
    email = request.form.get("email", "")
    limits: SignInLimits = current_app.extensions["sign_in_limits"]
    client = request.remote_addr or ""  # the proxy's, unless WEBINAR_ARCHIVE_TRUSTED_PROXIES says otherwise
    if not limits.begin(client, email):
        return _login_page(_("Too many sign-in attempts. Wait a few minutes and try again."), 429, email)
    with archive().catalog.transaction() as s:
        user = accounts.authenticate(s, email, request.form.get("password", ""))
    if user is None:
        return _login_page(_("Wrong e-mail address or password."), 401, email)
    limits.succeeded(client, email)
    session.clear()  # nothing from before the sign-in carries over (old CSRF token included)
    login_user(user)
    return redirect(safe_next(request.form.get("next")) or url_for("staff.home"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:  # every session of this user ends, not only this cookie
        with archive().catalog.transaction() as s:
            user = accounts.get(s, current_user.id)
            if user is not None:
                accounts.end_sessions(s, user)
    logout_user()
    session.clear()
    return redirect(url_for("staff.login"))
