"""The interface in English, German and French: the page follows Accept-Language until
the visitor picks a language; every text marked for translation is translated, and the
compiled catalogs are those of the sources."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from archive.models import Webinar, new_id
from web.i18n import LANGUAGES, TRANSLATIONS

ROOT = TRANSLATIONS.parent.parent


def _plain(string):
    return tuple(string) if isinstance(string, (list, tuple)) else string


@pytest.fixture
def held(archive):
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=new_id(), title="Open data", held_on=dt.date(2021, 6, 7)))


def test_the_page_follows_accept_language(client, held):
    cases = [("de-DE,de;q=0.9,en;q=0.5", "de", "Vergangene Webinare", "7. Juni 2021"),
             ("fr-CH, fr;q=0.9", "fr", "Webinaires passés", "7 juin 2021"),
             ("ja", "en", "Past webinars", "June 7, 2021"),
             (None, "en", "Past webinars", "June 7, 2021")]
    for header, lang, heading, date in cases:
        r = client.get("/", headers={"Accept-Language": header} if header else {})
        html = r.get_data(as_text=True)
        assert f'<html lang="{lang}">' in html and heading in html and date in html, lang
        assert "Accept-Language" in r.headers["Vary"]


def test_a_picked_language_wins_and_is_kept(client, held):
    r = client.get("/?lang=fr", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in r.get_data(as_text=True)
    assert "lang=fr" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    again = client.get("/", headers={"Accept-Language": "de"})  # the cookie travels with the client
    assert '<html lang="fr">' in again.get_data(as_text=True)
    assert client.get("/?lang=xx").status_code == 200  # an unknown pick is ignored


def test_the_switcher_offers_every_language(client):
    html = client.get("/?lang=de").get_data(as_text=True)
    for code, name in LANGUAGES.items():
        assert name in html
    assert 'aria-current="true" lang="de"' in html


def test_every_marked_text_is_translated(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "--no-location", "-F",
                    "babel.cfg", "-o", str(pot), "."],
                   check=True, capture_output=True, cwd=ROOT)
    with open(pot, "rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert len(wanted) > 10
    for lang in LANGUAGES:
        if lang == "en":
            continue
        with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            po = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in read_po(f) if m.id}
        missing = sorted(w for w in wanted if w not in po or not all(
            po[w].string if isinstance(po[w].string, tuple) else [po[w].string]) or po[w].fuzzy)
        assert missing == [], f"{lang}: untranslated (scripts/translations update, then translate): {missing}"
        with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
            mo = {(m.id if isinstance(m.id, str) else m.id[0]): _plain(m.string) for m in read_mo(f) if m.id}
        assert {k: _plain(m.string) for k, m in po.items()} == mo, \
            f"{lang}: messages.mo is older than messages.po (scripts/translations compile)"
