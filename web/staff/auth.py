"""Sign-in and sign-out. The login form is rate-limited per address and e-mail."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import make_response, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from archive import accounts

from . import archive, bp, limiter

LOGIN_LIMIT = "5/minute"  # failed attempts per client address and e-mail


def _attempt_key() -> str:
    return f"{get_remote_address()}|{request.form.get('email', '').strip().lower()}"


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
@limiter.limit(LOGIN_LIMIT, key_func=_attempt_key,
               deduct_when=lambda response: response.status_code != 302,  # failed attempts only
               on_breach=lambda _limit: make_response(*_login_page(
                   "Too many sign-in attempts. Wait a minute and try again.", 429, request.form.get("email", ""))))
def login_post():
    email = request.form.get("email", "")
    with archive().catalog.transaction() as s:
        user = accounts.authenticate(s, email, request.form.get("password", ""))
    if user is None:
        return _login_page("Wrong e-mail address or password.", 401, email)
    session.clear()  # nothing from before the sign-in carries over (old CSRF token included)
    login_user(user)
    return redirect(safe_next(request.form.get("next")) or url_for("staff.home"))


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("staff.login"))
