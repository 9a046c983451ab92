"""A caption file's language: read from its name as the folder import reads it
(`talk.de.srt`), chosen by staff before the upload, changed after it; a second file for a
language the webinar has replaces the first, so that visitors never see two tracks under
one label."""
from __future__ import annotations

import pytest

from archive import captions, uploads
from archive.importer import ImportRequest, import_webinar
from archive.worker import Worker

from ..helpers import put_part, reload
from ..staff import signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)
from .staff_client import post

VTT = "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHallo zusammen\n"


@pytest.mark.parametrize("name, language", [
    ("talk.de.srt", "de"), ("talk.pt-BR.vtt", "pt-BR"), ("talk.srt", "en"), ("Keynote 2024.vtt", "en"),
    ("GMT20230607-140012_Recording.transcript.vtt", "en"), ("closed_caption.vtt", "en"),
])
def test_the_name_says_the_language(name, language):
    assert captions.language_of_name(name) == language


def _upload(client, webinar_id: str, name: str, body: bytes, language: str | None = None) -> dict:
    """The uploader's calls for one caption file, up to its check by a worker."""
    sent = {"webinar": webinar_id, "kind": "captions", "filename": name, "size": len(body)}
    if language is not None:
        sent["language"] = language
    r = client.post("/staff/uploads", json=sent)
    assert r.status_code == 201, r.json
    answer = r.json
    etag = put_part(client.post(f"/staff/uploads/{answer['uploadId']}/parts/1").json["url"], body)
    r = client.post(f"/staff/uploads/{answer['uploadId']}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 202, r.json
    return answer


def test_a_browser_upload_takes_the_language_of_its_name_or_the_one_chosen(client, archive, webinar_id):
    assert client.get("/staff/uploads/caption-language?filename=talk.de.srt").json == {"language": "de"}
    named = _upload(client, webinar_id, "talk.de.srt", VTT.encode())
    chosen = _upload(client, webinar_id, "notes.srt", VTT.encode(), language="fr")
    assert named["language"] == "de" and chosen["language"] == "fr"
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "captions", "filename": "x.vtt",
                                            "size": 10, "language": "german please"})
    assert r.status_code == 422 and "is not a language tag" in r.json["error"]
    checker = Worker(archive, "checker")
    while checker.run_once(kinds={uploads.CHECK_KIND}):
        pass
    w = reload(archive, webinar_id)
    assert sorted((a.original_filename, a.info["language"]) for a in w.captions) == [
        ("notes.srt", "fr"), ("talk.de.srt", "de")]


def test_a_second_file_in_a_language_replaces_the_first(client, archive, worker, inputs, tmp_path):
    first = tmp_path / "talk.de.vtt"
    first.write_text(VTT)
    w = import_webinar(archive, ImportRequest(title="Two German files", recording=inputs["h264_aac.mp4"],
                                              captions=[("de", first)]))
    worker.run_until_idle()
    old = reload(archive, w.id).captions[0]

    answer = _upload(client, w.id, "talk-corrected.de.srt", VTT.replace("Hallo", "Guten Tag").encode())
    assert answer["replacing"] == "talk.de.vtt"  # the page says so once the file is received
    worker.run_until_idle()

    now = reload(archive, w.id)
    assert [(a.original_filename, a.info["language"]) for a in now.captions] == [("talk-corrected.de.srt", "de")]
    assert old.id not in {a.id for a in now.assets}
    html = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert html.count('srclang="de"') == 1


def test_staff_change_the_language_after_the_upload_but_never_to_one_taken(client, archive, inputs, tmp_path):
    files = []
    for name in ("talk.vtt", "talk.de.vtt"):
        files.append(tmp_path / name)
        files[-1].write_text(VTT)
    w = import_webinar(archive, ImportRequest(title="Mislabelled", recording=inputs["h264_aac.mp4"],
                                              captions=[("en", files[0]), ("de", files[1])]))
    english = next(a for a in w.captions if a.info["language"] == "en")
    german = next(a for a in w.captions if a.info["language"] == "de")
    url = f"/staff/webinars/{w.id}/files/{english.id}/language"
    page = client.get(f"/staff/webinars/{w.id}").get_data(as_text=True)
    assert f'action="{url}"' in page and 'name="language" value="en"' in page

    r = post(client, url, {"language": "de"}, follow_redirects=True)
    assert "talk.de.vtt is already the de captions" in r.get_data(as_text=True)
    assert sorted(a.info["language"] for a in reload(archive, w.id).captions) == ["de", "en"]

    r = post(client, f"/staff/webinars/{w.id}/files/{german.id}/language", {"language": "fr"}, follow_redirects=True)
    assert "The captions are now in French." in r.get_data(as_text=True)
    r = post(client, url, {"language": "de"}, follow_redirects=True)
    assert "The captions are now in German." in r.get_data(as_text=True)
    assert sorted((a.original_filename, a.info["language"]) for a in reload(archive, w.id).captions) == [
        ("talk.de.vtt", "fr"), ("talk.vtt", "de")]
    assert post(client, url, {"language": "not a tag"}, follow_redirects=True).status_code == 200
    assert post(client, f"/staff/webinars/{w.id}/files/nope/language", {"language": "it"}).status_code == 302
