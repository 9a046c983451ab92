"""Staff sign-in for the upload tests, the browser tests and the upload benchmark: real
accounts, signed in through the real login form, CSRF tokens sent as the pages send them."""
from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect

from archive import accounts
from archive.context import Archive
from web import create_app

from .web.staff_client import PASSWORD, csrf_token, login

EMAIL = "staff-1@example.test"
OTHER_EMAIL = "staff-2@example.test"


def staff_app(archive: Archive, **config) -> Flask:
    """The app, with two editors in the catalog."""
    app = create_app(archive, {"TESTING": True, **config})
    with archive.catalog.transaction() as s:
        for email in (EMAIL, OTHER_EMAIL):
            if accounts.by_email(s, email) is None:
                accounts.add_user(s, email, PASSWORD, "editor")
    return app


def signed_in(app: Flask, email: str = EMAIL):
    """A test client signed in as `email` that sends the CSRF header with every request,
    as the uploader's JavaScript does."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/staff/")
    return client


@pytest.fixture(name="app")
def staff_app_fixture(archive: Archive) -> Flask:
    """`app` in a module that imports it: the app with the two editors."""
    return staff_app(archive)


@pytest.fixture(name="client")
def signed_in_fixture(app: Flask):
    """`client` in a module that imports it: signed in as EMAIL, as `signed_in` makes it."""
    return signed_in(app)


def sign_in_page(page, base: str, email: str = EMAIL) -> None:
    """Sign a browser page in through the login form."""
    page.goto(f"{base}/staff/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def add_speakers_in_page(page, speakers: tuple[tuple[str, str], ...]) -> None:
    """Add (name, organisation) speakers through the webinar form's "Add a speaker", each
    one confirmed by its flash."""
    for name, org in speakers:
        add = page.locator("form.add", has_text="Add a speaker")
        add.get_by_label("Name").fill(name)
        add.get_by_label("Organisation").fill(org)
        add.get_by_role("button", name="Add speaker").click()
        expect(page.locator(".flash.ok")).to_have_text(f"Added {name}.")
