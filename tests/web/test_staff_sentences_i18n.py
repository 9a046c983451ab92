"""The sentences archive/ makes for staff (a form's value checks, a refused file, photo or
deck, an account that cannot change, a slide alignment that cannot run) are shown in the
staff page's language: each comes from an N_ template that web/i18n.py `say` recognises,
its values translated too when they are words of the catalogs (a field's label, a reason)."""
from __future__ import annotations

import zipfile

import pytest
from flask import Flask
from sqlalchemy import select

from archive import decks, editing, intake
from archive.handlers.align import align_slides
from archive.importer import ImportRequest, import_webinar
from archive.jobs import PermanentError
from archive.models import Asset, Job, new_id
from archive.states import AssetStatus, JobState
from archive.wording import N_
from web import i18n

from ..staff import signed_in, signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)
from .staff_client import add_user

FORM = ("title", "description", "series_id", "new_series", "tags", "language", "date", "time", "timezone",
        "visibility", "publish_at")


def _form(**values) -> dict:
    return {**{f: "" for f in FORM}, "visibility": "draft", **values}


def test_a_forms_value_checks_in_german_and_french(client):
    page = client.post("/staff/webinars/new", data=_form(title="x" * 301),
                       headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="details-error">Titel: länger als 300 Zeichen.</p>' in page
    # intake's check of a time zone, its field's label and the form's full stop.
    page = client.post("/staff/webinars/new", data=_form(title="Zeit", timezone="Mars/Olympus"),
                       headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert ("Fuseau horaire : &#39;Mars/Olympus&#39; n’est pas un fuseau horaire IANA "
            "(comme Europe/Berlin ou America/New_York).</p>") in page


def test_a_refused_photo_in_german_and_french(client, archive):
    w = editing.create_webinar(archive, editing.Details(title="Fotos"))
    speaker = editing.add_speaker(archive, w.id, editing.SpeakerForm("Ada Lovelace")).speaker_links[0].speaker_id
    for language, said in (("de", "Foto: die Datei ist nicht im Dateispeicher angekommen; bitte erneut auswählen."),
                           ("fr", "Photo : le fichier n’est pas arrivé dans le stockage ; choisissez-le à nouveau.")):
        issued = client.post(f"/staff/speakers/{speaker}/photo/start", json={}).get_json()  # never sent
        r = client.post(f"/staff/speakers/{speaker}/photo", json={"key": issued["key"]},
                        headers={"Accept-Language": language})
        assert (r.status_code, r.get_json()["error"]) == (422, said)


def _dtd_deck(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><!DOCTYPE Types><Types/>')
    return path


def test_a_refused_deck_and_an_alignment_that_cannot_run_on_the_webinars_page(client, archive, inputs, tmp_path):
    """The upload check's refusal of a deck (archive/decks.py, through intake) is the failed
    file's reason; the slide alignment's (archive/handlers/align.py) a later step's."""
    w = import_webinar(archive, ImportRequest(title="Folien", slides=[inputs["deck.pdf"]]))
    deck = w.decks[0]
    with pytest.raises(intake.ImportRejected) as refused:
        intake.check_deck(_dtd_deck(tmp_path / "evil.pptx"), archive.settings, "evil.pptx")
    with pytest.raises(PermanentError) as cannot:
        align_slides(archive, deck, None)  # the webinar has no recording
    assert str(refused.value).startswith("slides evil.pptx: [Content_Types].xml declares an XML DTD")
    with archive.catalog.transaction() as s:
        s.get(Asset, deck.id).info = {**deck.info, "failures": {"align_slides": str(cannot.value)}}
        s.add(Asset(id=new_id(), webinar_id=w.id, kind="slides", status=AssetStatus.FAILED, error=str(refused.value),
                    original_filename="evil.pptx", original_ext="pptx", content_type=decks.FORMATS["pptx"].content_type,
                    size=0, info={}, outputs={}))

    german = client.get(f"/staff/webinars/{w.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert ("Folien evil.pptx: [Content_Types].xml deklariert eine XML-DTD, die kein Präsentationsprogramm "
            "schreibt") in german
    assert "das Webinar hat keine verarbeitete Aufzeichnung, der die Folien zugeordnet werden könnten" in german
    french = client.get(f"/staff/webinars/{w.id}", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "diapositives evil.pptx : [Content_Types].xml déclare une DTD XML" in french
    assert "le webinaire n’a pas d’enregistrement traité auquel aligner les diapositives" in french

    # A job that is not failed or done cannot be retried (archive/jobs.py): said alone, capitalised.
    with archive.catalog.session() as s:
        job = s.scalars(select(Job.id).where(Job.asset_id == deck.id, Job.state == JobState.QUEUED)).first()
    html = client.post(f"/staff/jobs/{job}/retry", headers={"Accept-Language": "fr"},
                       follow_redirects=True).get_data(as_text=True)
    assert (f"La tâche {job} est dans l’état « en attente » ; seule une tâche en échec ou terminée peut être "
            "relancée.") in html


def test_an_account_that_cannot_be_added_in_german_and_french(app, archive):
    add_user(archive, "boss@example.test", "admin")
    admin = signed_in(app, "boss@example.test")
    for language, said in (("de", "Das Passwort muss mindestens 12 Zeichen haben."),
                           ("fr", "Le mot de passe doit compter au moins 12 caractères.")):
        r = admin.post("/staff/users", data={"email": "new@example.test", "password": "short", "role": "editor"},
                       headers={"Accept-Language": language}, follow_redirects=True)
        assert said in r.get_data(as_text=True), language


# -- say on its own, with values that are themselves sentences of the catalogs ------------

@pytest.fixture(scope="module")
def bare_app() -> Flask:
    app = Flask(__name__)
    i18n.install(app)
    return app


def _in(app: Flask, language: str, say=i18n.say):
    def said(text: str) -> str:
        with app.test_request_context(headers={"Accept-Language": language}):
            return say(text)
    return said


def test_say_translates_the_template_and_its_values(bare_app):
    de, fr = _in(bare_app, "de"), _in(bare_app, "fr")
    line = N_("%(field)s: %(time)s is after the end of the recording (%(duration)s).",
              field=N_("Timestamps, line %(n)s", n=2), time="1:00:00", duration="0:00:10")
    assert de(line) == "Zeitmarken, Zeile 2: 1:00:00 liegt nach dem Ende der Aufzeichnung (0:00:10)."
    assert fr(line) == "Horodatages, ligne 2 : 1:00:00 est après la fin de l’enregistrement (0:00:10)."

    bomb = N_("slides %(file)s: %(reason)s", file="talk: final.pptx", reason=N_(
        "the package would unpack to %(size)s from %(packed)s (%(ratio)s times its size): a zip bomb",
        size="2.1 GB", packed="12.3 KB", ratio="170,000"))
    assert de(bomb) == ("Folien talk: final.pptx: das Paket ergäbe entpackt 2,1 GB aus 12,3 kB "
                        "(das 170,000-Fache seiner Größe): eine Zip-Bombe")
    assert fr(bomb).startswith("diapositives talk: final.pptx : le paquet se décompresserait en 2,1")
    assert fr(bomb).endswith("ko (170,000 fois sa taille) : une bombe zip") and "12,3" in fr(bomb)

    # A form adds a full stop to intake's sentence; the field's label is translated too.
    late = N_("%(field)s: %(value)s is not a time (use \"1:02:03\", \"62:03\" or seconds)",
              field=N_("Timestamps, line %(n)s", n=2), value="'1:75'") + "."
    assert de(late) == "Zeitmarken, Zeile 2: '1:75' ist keine Zeitangabe (bitte „1:02:03“, „62:03“ oder Sekunden)."

    review = N_("Slide changes: %(reason)s", reason=N_("A slide change cannot move past its neighbours."))
    assert de(review) == "Folienwechsel: Ein Folienwechsel kann nicht über seine Nachbarn hinaus verschoben werden."
    photo = N_("Photo: %(reason)s.", reason=N_("a %(format)s image; use JPEG, PNG or WebP", format="GIF"))
    assert fr(photo) == "Photo : une image GIF ; utilisez JPEG, PNG ou WebP."
    assert de(N_("aligning the slides: %(reason)s", reason=N_("the recording has no picture"))) == (
        "beim Zuordnen der Folien: die Aufzeichnung hat kein Bild")
    slow = N_("slides %(file)s: %(reason)s", file="many.pdf", reason=N_(
        "reading the PDF took longer than the %(limit)s s limit (too many pages, or a page too complex to draw)",
        limit=3))
    assert fr(slow) == ("diapositives many.pdf : la lecture du PDF a dépassé la limite de 3 s (trop de pages, "
                        "ou une page trop complexe à dessiner)")
    assert de(N_("slides stored as .%(ext)s cannot be converted", ext="key")) == (
        "als .key gespeicherte Folien können nicht umgewandelt werden")


def test_a_sentence_shown_alone_starts_with_a_capital_in_every_language(bare_app):
    text = N_("the last active admin cannot be deactivated")
    assert _in(bare_app, "en", i18n.sentence)(text) == "The last active admin cannot be deactivated."
    assert _in(bare_app, "de", i18n.sentence)(text) == "Der letzte aktive Admin kann nicht deaktiviert werden."
    assert _in(bare_app, "fr", i18n.sentence)(text) == "Le dernier administrateur actif ne peut pas être désactivé."
