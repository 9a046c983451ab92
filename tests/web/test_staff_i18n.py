"""The staff area speaks the public side's languages, chosen the same way (?lang=, then
the preference cookie, then the browser's Accept-Language); the upload page is a staff
page (its navigation, no "Staff login" link); a deck is listed by the file name staff
chose, the title its PDF gives beside it."""
from __future__ import annotations

from archive.importer import ImportRequest, import_webinar

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
