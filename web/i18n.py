"""The interface in several languages (Flask-Babel).

A visitor's language: the one picked with the switcher (`?lang=`, then kept in a
preference cookie that holds nothing else), otherwise the browser's Accept-Language,
otherwise English. Dates and durations are written the language's way.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

from babel.dates import format_timedelta
from flask import Flask, Response, request
from flask_babel import Babel, format_date, format_decimal, get_locale, get_translations, gettext

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


# -- sentences made in archive/ (archive/wording.py) ----------------------------------

_VALUE = re.compile(r"%\((\w+)\)s")
_SIZE = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d)? (B|KB|MB|GB)")  # archive.formatting.file_size


@lru_cache(maxsize=8)
def _templates(language: str) -> tuple:
    """The templates with values (`%(name)s`) of the language's catalog, each as a pattern
    and its literal pieces, the most literal first (read once per process and language)."""
    found = []
    for msgid in getattr(get_translations(), "_catalog", {}):
        if not isinstance(msgid, str) or not _VALUE.search(msgid) or re.search(r"%\(\w+\)[^s]", msgid):
            continue
        pieces = _VALUE.split(msgid)
        literals = [piece.replace("%%", "%") for piece in pieces[0::2]]
        names = pieces[1::2]
        pattern = "".join(re.escape(lit) + ("(.+?)" if i < len(names) else "") for i, lit in enumerate(literals))
        if sum(map(len, literals)) >= (2 if len(names) > 1 else 6):  # "%(size)s B" would match too much
            found.append((sum(map(len, literals)), re.compile(pattern, re.S), msgid, literals, names))
    found.sort(key=lambda f: -f[0])
    return tuple(f[1:] for f in found)


def _readings(text: str, literals: list[str], names: list[str], limit: int = 32) -> list[dict]:
    """Every way `text` splits into the template's values (a file name may hold ": ")."""
    found: list[dict] = []

    def walk(pos: int, i: int, values: dict) -> None:
        if len(found) >= limit:
            return
        if i == len(names):
            if pos == len(text):
                found.append(values)
            return
        after = literals[i + 1]
        if i + 1 == len(names):
            ends = [len(text) - len(after)] if text.endswith(after) else []
        else:
            ends, at = [], text.find(after, pos + 1) if after else -1
            while at >= 0:
                ends.append(at)
                at = text.find(after, at + 1)
        for end in ends:
            value = text[pos:end]
            if end > pos and values.get(names[i], value) == value:
                walk(end + len(after), i + 1, {**values, names[i]: value})

    if text.startswith(literals[0]):
        walk(len(literals[0]), 0, {})
    return found


def say(text: object) -> str:
    """A sentence made in archive/ (English, from a template marked with archive.wording.N_)
    in the reader's language: its template is recognised and translated, and so are its
    values when they are sentences or words of the catalogs (a reason inside a refusal);
    sizes take the language's decimal sign. Anything else is said as it is (a tool's log)."""
    text = "" if text is None else str(text)
    if not text or current_language() == DEFAULT:
        return text
    return _said(text, 0)[0]


def _said(text: str, depth: int) -> tuple[str, int, int]:
    """`text` in the reader's language, how many sentences of the catalogs it holds, and
    how many templates that only join two values ("%(file)s: %(reason)s") were used."""
    translations = get_translations()
    if text in getattr(translations, "_catalog", {}):
        return translations.gettext(text), 1, 0
    if (size := _SIZE.fullmatch(text)) is not None:
        number = float(size.group(1).replace(",", "") + (size.group(2) or ""))
        return file_size(_bytes(number, size.group(3))), 0, 0
    if depth > 4:
        return text, 0, 0
    found, own = _by_template(text, depth)
    if not own and text.endswith(".") and not text.endswith(".."):  # a sentence of the catalogs, a full stop
        said, known, joins = _said(text[:-1], depth + 1)
        if known and (found is None or (known, -joins) > (found[1], -found[2])):
            return said + ".", known, joins
    return found or (text, 0, 0)


def _by_template(text: str, depth: int) -> tuple[tuple[str, int, int] | None, int]:
    """The first template `text` fits, as `_said` says it, and whether the template has
    words of its own (not only a join of values)."""
    translations = get_translations()
    for pattern, msgid, literals, names in _templates(current_language()):
        if pattern.fullmatch(text) is None:
            continue
        own = 1 if sum(map(len, literals)) >= 6 else 0
        best, score = None, None
        for values in _readings(text, literals, names):
            said = {name: _said(value, depth + 1) for name, value in values.items()}
            known = sum(s[1] for s in said.values())
            joins = sum(s[2] for s in said.values()) + (1 - own)
            # The reading that understands most with the fewest joins (a file name may hold ": ").
            if (own or known) and (score is None or (known, -joins) > score):
                best, score = {n: s[0] for n, s in said.items()}, (known, -joins)
        if best is not None:
            try:
                return (translations.gettext(msgid) % best, own + score[0], -score[1]), own
            except (KeyError, ValueError, TypeError):
                return None, 0
    return None, 0


def sentence(text: object) -> str:
    """`say` for a sentence shown on its own (a flashed message): it starts with a capital
    letter and ends with a full stop in every language, although archive/ writes it as the
    CLI prints it after a colon ("the last active admin cannot be deactivated")."""
    said = say(text)
    if not said:
        return said
    said = said[0].upper() + said[1:]
    return said if said[-1] in ".!?…" else said + "."


def _bytes(number: float, unit: str) -> int:
    return int(round(number * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]))


def install(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["spoken_duration"] = spoken_duration
    app.jinja_env.filters["running_time"] = running_time
    app.jinja_env.filters["file_size"] = file_size
    app.jinja_env.filters["say"] = say

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
