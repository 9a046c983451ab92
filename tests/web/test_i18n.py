"""The interface in English, German and French: the page follows Accept-Language until
the visitor picks a language; every text marked for translation is translated, and the
compiled catalogs are those of the sources."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from archive.importer import import_webinar
from archive.models import Webinar, new_id
from web.i18n import LANGUAGES, TRANSLATIONS

from ..helpers import reload

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


def _catalog(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_no_catalog_entry_is_empty_or_fuzzy(lang):
    catalog = _catalog(lang)
    assert len([m for m in catalog if m.id]) > 60
    bad = [m.id for m in catalog if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else [m.string]))]
    assert bad == [], f"{lang}: empty or fuzzy: {bad}"


def test_the_check_command_lists_what_is_untranslated(tmp_path):
    """scripts/translations check: silent and 0 with complete catalogs, the gap and 1 without."""
    (tmp_path / "web").mkdir()
    shutil.copytree(TRANSLATIONS, tmp_path / "web" / "translations")
    shutil.copytree(ROOT / "web" / "templates", tmp_path / "web" / "templates")
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "translations", tmp_path / "scripts" / "translations")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    run = lambda: subprocess.run(["bash", str(tmp_path / "scripts" / "translations"), "check"],
                                 capture_output=True, text=True, cwd=tmp_path)
    ok = run()
    assert ok.returncode == 0 and ok.stdout == "", ok.stdout + ok.stderr
    (tmp_path / "web" / "templates" / "series.html").write_text("<h1>{{ _('Every talk of a series') }}</h1>")
    gap = run()
    assert gap.returncode == 1
    assert gap.stdout.splitlines() == ["de\tmissing\tEvery talk of a series", "fr\tmissing\tEvery talk of a series"]


def test_archive_texts_shown_to_visitors_are_marked_for_translation():
    """Job labels and the sentences about failed files come from archive/, which knows no
    languages: web/public.py marks each one, so that a new one shows up as a gap here."""
    from archive import queries
    from archive.pipeline import LABELS
    from web.public import _PUBLIC_TEXTS

    shown = (set(LABELS.values()) | set(queries._PUBLIC_PROBLEM.values())
             | {queries.public_problem(SimpleNamespace(kind="other"))})
    assert shown <= set(_PUBLIC_TEXTS)


class _Visible(HTMLParser):
    """The texts a visitor reads or hears: text outside script/style, and the attributes
    that are shown or spoken (alt, title, placeholder, aria-label, label, data-* texts the
    scripts show)."""
    SPOKEN = {"alt", "title", "placeholder", "aria-label", "label", "data-label", "data-copied",
              "data-copy-this", "data-alt", "data-seek-title", "data-failed"}

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._hidden = 0
        self._closing: list[str] = []
        self.lang = None

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        lang = dict(attrs).get("lang")
        if tag in ("script", "style", "title") or (tag != "html" and lang and lang != self.lang):
            self._hidden += 1  # not shown, or meant in another language (the language switcher)
            self._closing.append(tag)
        if tag in ("meta", "link") or (tag == "track" and ("kind", "metadata") in attrs):
            return  # not shown (a metadata track's label names it for the player)
        if not self._hidden:
            self.texts += [v for k, v in attrs if k in self.SPOKEN and v]

    def handle_endtag(self, tag):
        if self._closing and self._closing[-1] == tag:
            self._closing.pop()
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.texts.append(data.strip())


ENGLISH = ("Download", "Slides", "Slide", "Transcript", "Captions", "Speed", "Quality", "Copy", "link",
           "Previous", "Next", "Processing", "Search", "Chapters", "Staff", "German", "English", "login", "starts at",
           "recording", "waiting", "attempt", "Language", "Play", "could not", "of")


def test_the_watch_page_speaks_german_and_french(archive, worker, client, inputs, tmp_path):
    from archive import describe

    from ..archive.describe_inputs import realistic, write

    folder = tmp_path / "w"
    doc = realistic(folder, inputs, description="Plain words.")
    (folder / "talk.de.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nWillkommen\n", encoding="utf-8")
    doc["captions"] = {"en": "talk.vtt", "de": "talk.de.vtt"}
    doc["presentations"][0]["slide_times"] = ["0:00", "0:01"]
    w = import_webinar(archive, describe.load(write(folder, doc)))
    worker.run_until_idle()
    w = reload(archive, w.id)
    assert w.status == "ready" and len(w.decks) == 2 and len(w.captions) == 2
    # the webinar's own words (titles, names, file names) are not the interface's
    own = [w.title, "Plain words.", "Open data in cities", "Why open data", "Ada Lovelace", "Grace Hopper",
           "Analytical Engines Ltd", "Navy", "talk.mp4", "ada.pdf", "grace.pdf", "Webinar archive"]
    english = client.get(f"/webinars/{w.id}?lang=en").get_data(as_text=True)
    for word in ("Download", "Slides", "Transcript", "Captions", "Speed", "Copy link"):
        assert word in english  # the list below is of words the English page does show
    for lang, sample in (("de", "Folien herunterladen"), ("fr", "Télécharger les diapositives")):
        html = client.get(f"/webinars/{w.id}?lang={lang}").get_data(as_text=True)
        assert f'<html lang="{lang}">' in html and sample in html
        parser = _Visible()
        parser.feed(html)
        text = " | ".join(parser.texts)
        for phrase in own:
            text = text.replace(phrase, " ")
        found = sorted({word for word in ENGLISH if re.search(rf"\b{re.escape(word)}\b", text)})
        assert found == [], f"{lang}: English left in {found}: {text}"
    de = client.get(f"/webinars/{w.id}?lang=de").get_data(as_text=True)
    assert "7. Juni 2021" in de and "2 Seiten" in de and 'label="Englisch"' in de and "1 Min." in de
    embed = client.get(f"/embed/{w.id}?lang=fr").get_data(as_text=True)
    assert '<html lang="fr">' in embed and "Vitesse" in embed and "Speed" not in embed


def test_a_missing_page_is_explained_in_the_visitors_language(client):
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for lang, heading in (("de", "Nicht gefunden"), ("fr", "Page introuvable"), ("en", "Not found")):
        r = client.get(f"/webinars/nothing-here?lang={lang}", headers=html)
        assert r.status_code == 404 and heading in r.get_data(as_text=True), lang
    # players (no HTML in their Accept) and the API keep their bare answers
    player = client.get("/webinars/nothing-here/chapters.vtt?lang=de", headers={"Accept": "*/*"})
    assert player.status_code == 404 and "site-search" not in player.get_data(as_text=True)
    api = client.get("/api/v1/webinars/nothing-here?lang=de", headers=html)
    assert api.status_code == 404 and api.is_json
