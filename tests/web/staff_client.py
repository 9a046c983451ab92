"""Helpers for the staff tests: accounts in the catalog and a browser-like test client
that signs in through the form and sends the CSRF token as a page would."""
from __future__ import annotations

import re

from archive import accounts
from archive.context import Archive

PASSWORD = "correct horse battery staple"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def add_user(archive: Archive, email: str, role: str = "editor", password: str = PASSWORD) -> int:
    with archive.catalog.transaction() as s:
        return accounts.add_user(s, email, password, role).id


def csrf_token(client, page: str = "/staff/login") -> str:
    """The token a staff page puts in its <meta name="csrf-token">."""
    r = client.get(page)
    if r.status_code == 302:  # signed in already: the login page sends us on
        r = client.get("/staff/")
    found = _META.search(r.get_data(as_text=True))
    assert found, f"no csrf-token meta on {page}"
    return found.group(1)


def login(client, email: str, password: str = PASSWORD, next: str | None = None):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/staff/login", data=data)


def post(client, url: str, data: dict | None = None, **kw):
    """A form POST with the page's CSRF token, as the staff pages send it."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kw)
