"""Accounts, for admins: list, add, change a role, deactivate or reactivate."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import accounts

from ..i18n import sentence
from . import archive, bp, staff_required


@bp.get("/users")
@staff_required("admin")
def users():
    with archive().catalog.session() as s:
        rows = accounts.list_users(s)
    return render_template("staff/users.html", users=rows, roles=accounts.ROLES,
                           min_password=accounts.MIN_PASSWORD_LENGTH)


def _change(user_id: int, change, done):
    try:
        with archive().catalog.transaction() as s:
            user = accounts.get(s, user_id)
            if user is None:
                abort(404)
            change(s, user)
            email = user.email
    except accounts.AccountError as e:
        flash(sentence(e), "error")
    else:
        flash(done(email), "ok")
    return redirect(url_for("staff.users"))


@bp.post("/users")
@staff_required("admin")
def add_user():
    f = request.form
    try:
        with archive().catalog.transaction() as s:
            user = accounts.add_user(s, f.get("email", ""), f.get("password", ""), f.get("role", "editor"))
            email, role = user.email, user.role
    except accounts.AccountError as e:
        flash(sentence(e), "error")
    else:
        flash(_("Added %(email)s (%(role)s).", email=email, role=role), "ok")
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/role")
@staff_required("admin")
def set_role(user_id: int):
    role = request.form.get("role", "")
    return _change(user_id, lambda s, u: accounts.set_role(s, u, role),
                   lambda email: _("%(email)s is now %(role)s.", email=email, role=role))


@bp.post("/users/<int:user_id>/deactivate")
@staff_required("admin")
def deactivate(user_id: int):
    return _change(user_id, accounts.deactivate, lambda email: _("%(email)s can no longer sign in.", email=email))


@bp.post("/users/<int:user_id>/activate")
@staff_required("admin")
def activate(user_id: int):
    return _change(user_id, accounts.activate, lambda email: _("%(email)s can sign in again.", email=email))
