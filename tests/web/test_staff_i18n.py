"""The staff area speaks the public side's languages, chosen the same way (?lang=, then
the preference cookie, then the browser's Accept-Language); the upload page is a staff
page (its navigation, no "Staff login" link); a deck is listed by the file name staff
chose, the title its PDF gives beside it."""
from __future__ import annotations

from archive import uploads
from archive.importer import ImportRequest, import_webinar
from archive.models import Webinar, new_id

from ..staff import signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)


def test_the_staff_pages_in_german_and_french(client, archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Offene Daten", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    pages = ("/staff/", "/staff/jobs", f"/staff/webinars/{w.id}", f"/staff/webinars/{w.id}/edit",
             f"/staff/webinars/{w.id}/upload", "/staff/statistics")
    german = {path: client.get(path, headers={"Accept-Language": "de"}).get_data(as_text=True) for path in pages}
    assert "Neues Webinar" in german["/staff/"] and ">Aufträge</a>" in german["/staff/"]
    assert "wartend" in german["/staff/jobs"] and "Dateien hochladen" in german[f"/staff/webinars/{w.id}"]
    assert "Angaben speichern" in german[f"/staff/webinars/{w.id}/edit"]
    assert "Entwurf: nur das Team" in german[f"/staff/webinars/{w.id}/edit"]
    assert "Dateien zu „Offene Daten“ hinzufügen" in german[f"/staff/webinars/{w.id}/upload"]
    assert "Am meisten gesehen" in german["/staff/statistics"]
    for path, html in german.items():
        assert '<html lang="de">' in html and "Log out" not in html and "Abmelden" in html, path

    french = client.get("/staff/?lang=fr").get_data(as_text=True)  # the switcher, as on the public side
    assert "Nouveau webinaire" in french and '<html lang="fr">' in french
    assert "Tâches" in client.get("/staff/jobs").get_data(as_text=True)  # kept in the cookie
    english = client.get("/staff/?lang=en").get_data(as_text=True)
    assert "New webinar" in english


def test_the_upload_page_is_a_staff_page_and_decks_are_listed_by_file_name(client, archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Decks", slides=[inputs["deck.pdf"]]))
    html = client.get(f"/staff/webinars/{w.id}/upload").get_data(as_text=True)
    assert 'class="staff-nav"' in html and "Log out" in html
    assert "Staff login" not in html

    assert w.decks[0].info.get("title") == "Test deck"  # what the PDF calls itself
    html = client.get(f"/staff/webinars/{w.id}/edit").get_data(as_text=True)
    assert f'<option value="{w.decks[0].id}" >deck.pdf – Test deck</option>' in html


def test_refusals_made_in_archive_are_said_in_the_page_language(client, archive):
    """archive/ writes its refusals in English (the CLI, the logs); the uploader's JSON
    answers say them in the staff member's language, values and sizes included."""
    wid = new_id()
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=wid, title="Sprachen", visibility="draft"))
    body = {"webinar": wid, "kind": "recording", "filename": "talk.mp4", "size": 10**12}
    for language, said in (("en", "talk.mp4: 1,000 GB is more than the"),
                           ("de", "talk.mp4: 1.000 GB sind mehr als die für Aufzeichnung zulässigen"),
                           ("fr", "talk.mp4 : 1\u202f000 Go, c’est plus que les 50 Go acceptés pour enregistrement")):
        r = client.post("/staff/uploads", json=body, headers={"Accept-Language": language})
        assert r.status_code == 422 and r.get_json()["error"].startswith(said), (language, r.get_json())
    r = client.post("/staff/uploads", json={**body, "filename": "talk.txt"}, headers={"Accept-Language": "de"})
    assert r.get_json()["error"] == "talk.txt: Aufzeichnung muss eine dieser Endungen haben: " + ", ".join(
        "." + e for e in uploads.EXTENSIONS["recording"])
    r = client.get("/staff/uploads/nothing-here", headers={"Accept-Language": "fr"})
    assert r.status_code == 404 and r.get_json()["error"] == "téléversement inconnu"


def test_a_refused_form_says_why_in_the_page_language(client):
    fields = ("title", "description", "series_id", "new_series", "tags", "language", "date", "time", "timezone",
              "visibility", "publish_at")
    form = {**{f: "" for f in fields}, "title": " ", "visibility": "draft"}
    page = client.post("/staff/webinars/new", data=form, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="details-error">Titel: ein Webinar braucht einen Titel.</p>' in page
    form = {**form, "title": "Zeit", "date": "2026-06-10", "time": "25:99", "timezone": "Europe/Berlin"}
    page = client.post("/staff/webinars/new", data=form, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Heure : &#39;25:99&#39; n’est pas une heure (HH:MM)." in page
