"""The interface in several languages (Flask-Babel).

A visitor's language: the one picked with the switcher (`?lang=`, then kept in a
preference cookie that holds nothing else), otherwise the browser's Accept-Language,
otherwise English. Dates and durations are written the language's way.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from babel.dates import format_timedelta
from flask import Flask, Response, request
from flask_babel import Babel, format_date, format_decimal, get_locale, gettext

from archive.formatting import size_parts

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français"}
DEFAULT = "en"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"


def _picked() -> str | None:
    for value in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def select_locale() -> str:
    return _picked() or request.accept_languages.best_match(list(LANGUAGES), DEFAULT)


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def long_date(day: dt.date | None) -> str:
    return format_date(day, format="long") if day else ""


def spoken_duration(seconds: float | None) -> str:
    """"1 hr" or "52 min" in the reader's language (the player shows the exact time)."""
    if not seconds:
        return ""
    return format_timedelta(dt.timedelta(seconds=seconds), threshold=1.5, format="short",
                            locale=get_locale())


def running_time(seconds: float | None) -> str:
    """A recording's length to read: "1 h 02 min", "52 min" (less than a minute: "1 min")."""
    if not seconds:
        return ""
    minutes = max(1, int(round(seconds / 60)))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return gettext("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return gettext("%(minutes)d min", minutes=minutes)


def file_size(n: int | None) -> str:
    """archive.formatting.file_size ("12.3 MB") with the language's decimal sign and unit
    names: the one size filter of every page."""
    if n is None:
        return ""
    number, unit = size_parts(n)
    names = {"B": gettext("%(size)s B"), "KB": gettext("%(size)s KB"),
             "MB": gettext("%(size)s MB"), "GB": gettext("%(size)s GB")}
    return names[unit] % {"size": format_decimal(number, format="#,##0.#")}


def install(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["spoken_duration"] = spoken_duration
    app.jinja_env.filters["running_time"] = running_time
    app.jinja_env.filters["file_size"] = file_size

    @app.context_processor
    def languages() -> dict:
        return {"languages": LANGUAGES, "current_language": current_language()}

    @app.after_request
    def keep_the_pick(response: Response) -> Response:
        picked = request.args.get("lang")
        if picked in LANGUAGES and request.cookies.get(COOKIE) != picked:
            response.set_cookie(COOKIE, picked, max_age=365 * 86400, samesite="Lax",
                                secure=request.is_secure, httponly=True)
        if "Accept-Language" not in response.vary:
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response
