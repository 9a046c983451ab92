"""A stand-in for staff accounts in tests: the app with LOGIN_DISABLED and a request
loader that makes every request come from one staff user (X-Test-User picks another).
The real LoginManager comes with the accounts work."""
from __future__ import annotations

from flask import Flask
from flask_login import LoginManager, UserMixin

from archive.context import Archive
from web import create_app

DEFAULT_USER = "staff-1"


class StaffStub(UserMixin):
    def __init__(self, user_id: str):
        self.id = user_id


def staff_app(archive: Archive, **config) -> Flask:
    app = create_app(archive, {"TESTING": True, "LOGIN_DISABLED": True, **config})
    manager = LoginManager(app)

    @manager.request_loader
    def _load(request):
        return StaffStub(request.headers.get("X-Test-User", DEFAULT_USER))

    return app
