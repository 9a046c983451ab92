"""A speaker's photo from the speaker forms: the browser POSTs the file straight to MinIO
on a form the app signs, the app checks it as the import does and records it under a key
that carries its checksum (archive/photos.py, web/staff/photos.py, web/static/photo.js)."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import secrets
import urllib.error
import urllib.request

import pytest
from PIL import Image
from playwright.sync_api import expect

from archive import editing, photos, queries, webinars
from archive.intake import PHOTO_MAX_BYTES
from archive.models import Speaker, Webinar

from ..staff import sign_in_page, signed_in, staff_app_fixture  # noqa: F401 (fixtures)
from .staff_client import csrf_token


def _png(colour=(200, 60, 40), size=(48, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def post_to_s3(issued: dict, data: bytes, content_type: str, filename: str = "photo.png") -> tuple[int, bytes]:
    """What a browser sends for a form with a file: the signed fields, the Content-Type
    field, then the file, as multipart/form-data, straight to the store."""
    boundary = secrets.token_hex(16)
    parts = [*issued["fields"].items(), ("Content-Type", content_type)]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in parts)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(issued["url"], data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def staff(app):
    return signed_in(app)


def _webinar(archive, title: str, speaker: str, visibility: str = "draft"):
    """A webinar made in the staff forms, with one speaker; `public` is set in the catalog
    (publishing needs files, which these tests do not need)."""
    w = editing.create_webinar(archive, editing.Details(title=title))
    editing.add_speaker(archive, w.id, editing.SpeakerForm(speaker))
    if visibility != "draft":
        with archive.catalog.transaction() as s:
            s.get(Webinar, w.id).visibility = visibility
    with archive.catalog.session() as s:
        w = queries.get(s, w.id)
    webinars.write_manifest(archive, w)
    return w


@pytest.fixture
def ada(archive):
    """Ada speaks at a public webinar and at a draft: both manifests name her photo."""
    listed = _webinar(archive, "Engines in public", "Ada Lovelace", "public")
    draft = _webinar(archive, "Engines in draft", "Ada Lovelace")
    with archive.catalog.session() as s:
        sp = s.query(Speaker).filter_by(slug="ada-lovelace").one()
    return sp, listed, draft


def _manifest_photo(archive, webinar) -> dict | None:
    doc = json.loads(archive.store.get_bytes(webinar.manifest_key))
    return next(sp["photo"] for sp in doc["speakers"] if sp["slug"] == "ada-lovelace")


def _speaker(archive, speaker_id) -> Speaker:
    with archive.catalog.session() as s:
        return s.get(Speaker, speaker_id)


def _upload(staff, speaker_id: str, data: bytes, content_type: str = "image/png"):
    start = staff.post(f"/staff/speakers/{speaker_id}/photo/start", json={})
    assert start.status_code == 200, start.get_data(as_text=True)
    issued = start.get_json()
    status, answer = post_to_s3(issued, data, content_type)
    return issued, status, answer


def test_a_photo_goes_to_the_store_and_becomes_the_speakers_photo(staff, archive, ada):
    sp, listed, draft = ada
    data = _png()
    issued, status, answer = _upload(staff, sp.id, data)
    assert issued["key"].startswith(f"speakers/{sp.id}/incoming/")
    assert 200 <= status < 300, answer
    assert archive.store.head(issued["key"])["size"] == len(data)

    done = staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": issued["key"]})
    assert done.status_code == 200, done.get_data(as_text=True)
    sha = hashlib.sha256(data).hexdigest()
    row = _speaker(archive, sp.id)
    assert row.photo_key == f"speakers/{sp.id}/photo-{sha[:16]}.png" == done.get_json()["key"]
    assert (row.photo_sha256, row.photo_content_type) == (sha, "image/png")
    stored = archive.store.head(row.photo_key)
    assert stored["size"] == len(data) and stored["content_type"] == "image/png"
    assert archive.store.get_bytes(row.photo_key) == data
    assert archive.store.head(issued["key"]) is None  # the incoming object is gone
    # Every webinar that lists her names the photo in its manifest.
    for webinar in (listed, draft):
        assert _manifest_photo(archive, webinar) == {"key": row.photo_key, "sha256": sha, "content_type": "image/png"}
    # Visitors get it through the speaker's page, as a redirect to the new object.
    page = staff.get("/speakers/ada-lovelace").get_data(as_text=True)
    assert 'src="/speakers/ada-lovelace/photo"' in page
    photo = staff.get("/speakers/ada-lovelace/photo")
    assert photo.status_code == 302 and f"/{row.photo_key}?" in photo.location
    with urllib.request.urlopen(photo.location, timeout=30) as r:
        assert r.read() == data
    # The form page shows it, and offers to remove it.
    form = staff.get(f"/staff/webinars/{listed.id}/edit").get_data(as_text=True)
    assert f'data-start-url="/staff/speakers/{sp.id}/photo/start"' in form
    assert 'src="/speakers/ada-lovelace/photo"' in form and "Remove photo" in form
    # On a webinar only staff see, the same (public) link: her page exists.
    assert 'src="/speakers/ada-lovelace/photo"' in staff.get(f"/staff/webinars/{draft.id}/edit").get_data(as_text=True)


def test_a_new_photo_gets_a_new_key_and_removing_it_clears_every_manifest(staff, archive, ada):
    sp, listed, draft = ada
    keys = []
    for colour in ((10, 20, 30), (200, 200, 10)):
        issued, status, _ = _upload(staff, sp.id, _png(colour))
        assert 200 <= status < 300
        assert staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": issued["key"]}).status_code == 200
        keys.append(_speaker(archive, sp.id).photo_key)
    assert keys[0] != keys[1]
    assert archive.store.head(keys[0]) is not None  # an earlier object never changes
    assert _manifest_photo(archive, draft)["key"] == keys[1]

    # Without the form's confirmation nothing happens.
    r = staff.post(f"/staff/speakers/{sp.id}/photo/remove", data={"webinar_id": listed.id})
    assert r.status_code == 302 and _speaker(archive, sp.id).photo_key == keys[1]
    r = staff.post(f"/staff/speakers/{sp.id}/photo/remove", data={"webinar_id": listed.id, "confirm": "yes"})
    assert r.status_code == 302 and r.location == f"/staff/webinars/{listed.id}/edit#speaker-{sp.id}"
    assert _speaker(archive, sp.id).photo_key is None
    assert _manifest_photo(archive, listed) is None and _manifest_photo(archive, draft) is None
    assert [archive.store.head(k) for k in keys] == [None, None]
    assert staff.get("/speakers/ada-lovelace/photo").status_code == 404


def test_a_file_that_is_not_an_image_is_refused_and_its_upload_deleted(staff, archive, ada):
    sp, listed, _ = ada
    # A browser would call it an image (by its name): the store takes it, the check does not.
    issued, status, _ = _upload(staff, sp.id, b"%PDF-1.4 not a photo at all\n" * 40, "image/png")
    assert 200 <= status < 300
    r = staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": issued["key"]})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error == "Photo: not a readable image (cannot identify image file)."  # no path of this machine
    assert archive.store.head(issued["key"]) is None
    assert _speaker(archive, sp.id).photo_key is None and _manifest_photo(archive, listed) is None
    # A GIF is an image, but not one of the kinds a photo may be.
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    issued, status, _ = _upload(staff, sp.id, gif.getvalue(), "image/gif")
    assert 200 <= status < 300
    r = staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": issued["key"]})
    assert r.status_code == 422 and "JPEG, PNG or WebP" in r.get_json()["error"]
    assert archive.store.head(issued["key"]) is None


def test_only_a_key_issued_for_that_speaker_is_taken(staff, archive, ada):
    sp, listed, _ = ada
    _webinar(archive, "Another talk", "Grace Hopper")
    with archive.catalog.session() as s:
        grace = s.query(Speaker).filter_by(slug="grace-hopper").one()
    issued, status, _ = _upload(staff, grace.id, _png())
    assert 200 <= status < 300
    for key in (issued["key"],  # Grace's upload, offered as Ada's
                f"speakers/{sp.id}/incoming/../photo-0123456789abcdef.png",
                f"speakers/{sp.id}/photo-0123456789abcdef.png",
                listed.manifest_key, "", None, 42, [issued["key"]]):
        r = staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": key})
        assert r.status_code == 422 and "not started for this speaker" in r.get_json()["error"], key
    assert archive.store.head(issued["key"]) is not None  # nobody's upload was touched
    assert _speaker(archive, sp.id).photo_key is None
    # An issued key whose file never arrived.
    start = staff.post(f"/staff/speakers/{sp.id}/photo/start", json={}).get_json()
    r = staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": start["key"]})
    assert r.status_code == 422 and "did not arrive" in r.get_json()["error"]
    # A speaker who does not exist, and a call without the CSRF header.
    assert staff.post("/staff/speakers/nosuchspeaker/photo/start", json={}).status_code == 404
    assert staff.post("/staff/speakers/nosuchspeaker/photo", json={"key": start["key"]}).status_code == 404
    r = staff.post(f"/staff/speakers/{sp.id}/photo/start", json={}, headers={"X-CSRFToken": "forged"})
    assert r.status_code == 400


def test_the_stores_policy_refuses_an_oversized_file_and_a_non_image_type(staff, archive, ada):
    sp, _, _ = ada
    issued, status, answer = _upload(staff, sp.id, b"\0" * (PHOTO_MAX_BYTES + 1))
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in answer, (status, answer)
    assert archive.store.head(issued["key"]) is None
    issued, status, answer = _upload(staff, sp.id, b"just some text", "text/plain")
    assert status == 403 and b"Policy Condition failed" in answer, (status, answer)
    assert archive.store.head(issued["key"]) is None
    # The form is for its key only.
    issued = staff.post(f"/staff/speakers/{sp.id}/photo/start", json={}).get_json()
    moved = {**issued, "fields": {**issued["fields"], "key": f"speakers/{sp.id}/photo-0000000000000000.png"}}
    status, _ = post_to_s3(moved, _png(), "image/png")
    assert status == 403 and archive.store.head(moved["fields"]["key"]) is None


def test_the_remove_route_answers_cleanly_for_an_unknown_speaker(staff):
    r = staff.post("/staff/speakers/nosuchspeaker/photo/remove", data={"confirm": "yes",
                                                                       "csrf_token": csrf_token(staff, "/staff/")})
    assert r.status_code == 302 and r.location == "/staff/"


def test_a_photo_sent_but_never_finished_is_swept(staff, archive, ada):
    sp, _, _ = ada
    issued, status, _ = _upload(staff, sp.id, _png())
    assert 200 <= status < 300
    done, status, _ = _upload(staff, sp.id, _png((1, 2, 3)))
    assert staff.post(f"/staff/speakers/{sp.id}/photo", json={"key": done["key"]}).status_code == 200
    photo = _speaker(archive, sp.id).photo_key
    assert photos.sweep_incoming(archive) == []  # young: the browser may still finish it
    assert archive.store.head(issued["key"]) is not None
    assert photos.sweep_incoming(archive, dt.timedelta(0)) == [issued["key"]]
    assert archive.store.head(issued["key"]) is None and archive.store.head(photo) is not None


@pytest.mark.browser
def test_a_photo_chosen_in_the_speaker_form_appears_in_the_page(live_server, page, archive, ada):
    sp, _, draft = ada
    grace_draft = _webinar(archive, "Hidden talk", "Grace Hopper")  # Grace has no public page
    with archive.catalog.session() as s:
        grace = s.query(Speaker).filter_by(slug="grace-hopper").one()
    sign_in_page(page, live_server)
    page.goto(f"{live_server}/staff/webinars/{grace_draft.id}/edit")
    box = page.locator(f"#speaker-{grace.id} [data-photo]")
    img = box.locator("img")
    expect(img).to_be_hidden()
    # A file that only calls itself an image: sent, then refused, the sentence shown.
    box.locator("input[type=file]").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text, not a picture\n" * 20}])
    expect(box.locator(".photo-status")).to_contain_text("notes.png: Photo: not a readable image")
    expect(img).to_be_hidden()
    assert list(archive.store.list_keys(f"{grace.prefix}incoming/")) == []
    # A real photo: it appears, loaded from the store.
    data = _png((30, 140, 90), (120, 120))
    box.locator("input[type=file]").set_input_files(
        files=[{"name": "grace.png", "mimeType": "image/png", "buffer": data}])
    expect(box.locator(".photo-status")).to_have_text("Saved the photo of Grace Hopper.")
    expect(img).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=img.element_handle())
    key = _speaker(archive, grace.id).photo_key
    assert key == f"{grace.prefix}photo-{hashlib.sha256(data).hexdigest()[:16]}.png"
    # After a reload the form shows it again: a presigned link (Grace has no public page).
    page.reload()
    src = img.get_attribute("src")
    assert f"/{key}?" in src and "X-Amz-Signature" in src
    page.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=img.element_handle())
    # Ada's photo, on a webinar of hers that visitors can open, shows through her public page.
    page.goto(f"{live_server}/staff/webinars/{draft.id}/edit")
    ada_box = page.locator(f"#speaker-{sp.id} [data-photo]")
    ada_box.locator("input[type=file]").set_input_files(
        files=[{"name": "ada.png", "mimeType": "image/png", "buffer": _png((90, 30, 140))}])
    expect(ada_box.locator(".photo-status")).to_have_text("Saved the photo of Ada Lovelace.")
    page.reload()
    assert ada_box.locator("img").get_attribute("src") == "/speakers/ada-lovelace/photo"
    page.wait_for_function("img => img.complete && img.naturalWidth === 48", arg=ada_box.locator("img").element_handle())
