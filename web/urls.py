"""Absolute URLs for what leaves the site (the API, feeds, the sitemap, oEmbed): always
under the configured public URL (`WEBINAR_ARCHIVE_PUBLIC_URL`), never the request's Host
header, which any client can set."""
from __future__ import annotations

from typing import Any

from flask import current_app, url_for


def public_base() -> str:
    return current_app.extensions["archive"].settings.public_url


def absolute_url(endpoint: str, **values: Any) -> str:
    return public_base() + url_for(endpoint, **values)
