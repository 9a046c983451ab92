"""The uploader's JSON calls through Flask, parts PUT to MinIO with urllib as a browser would."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from archive import uploads
from archive.config import Settings
from archive.models import Asset
from archive.worker import Worker

from ..helpers import put_part
from ..staff import OTHER_EMAIL, signed_in, signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)

# In the scale-out configuration too (scripts/test; tests/conftest.py).
pytestmark = pytest.mark.scaleout


def test_the_page_carries_its_settings_and_no_inline_script(client, webinar_id):
    r = client.get(f"/staff/webinars/{webinar_id}/upload")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert f'data-webinar="{webinar_id}"' in html
    assert "vendor/uppy.min.js" in html and "upload.js" in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # no inline script (CSP)
    assert client.get("/staff/webinars/nope/upload").status_code == 404


def test_create_sign_list_complete(app, client, archive, webinar_id, inputs):
    data = Path(inputs["deck.pdf"]).read_bytes()
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "slides",
                                            "filename": "Folien ü.pdf", "size": len(data)})
    assert r.status_code == 201, r.json
    upload_id, key = r.json["uploadId"], r.json["key"]
    assert key == f"webinars/{webinar_id}/originals/{upload_id}/original.pdf"

    url = client.post(f"/staff/uploads/{upload_id}/parts/1").json["url"]
    etag = put_part(url, data)
    assert client.get(f"/staff/uploads/{upload_id}/parts").json == [
        {"PartNumber": 1, "ETag": etag, "Size": len(data)}]

    # Another staff member can neither sign, list nor complete it.
    other = signed_in(app, OTHER_EMAIL)
    assert other.post(f"/staff/uploads/{upload_id}/parts/2").status_code == 404
    assert other.get(f"/staff/uploads/{upload_id}/parts").status_code == 404
    r = other.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 404 and r.json == {"error": "no such upload"}

    # The answer comes before the content is checked: a worker does that.
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 202, r.json
    assert r.json["state"] == "checking" and r.json["page"] == f"/webinars/{webinar_id}"
    assert client.get(f"/staff/uploads/{upload_id}").json["state"] == "checking"
    with archive.catalog.session() as s:
        assert s.get(Asset, upload_id) is None
    assert other.get(f"/staff/uploads/{upload_id}").status_code == 404

    assert Worker(archive, "checker").run_once(kinds={uploads.CHECK_KIND})
    assert client.get(f"/staff/uploads/{upload_id}").json["state"] == "done"
    with archive.catalog.session() as s:
        assert s.get(Asset, upload_id).original_filename == "Folien ü.pdf"
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 200 and r.json["state"] == "done"  # asked again: the answer stands


def test_refusals_are_sentences(client, archive, webinar_id):
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "slides", "filename": "x.exe", "size": 5})
    assert r.status_code == 422 and "must be one of .pdf" in r.json["error"]
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "recording", "filename": "t.mp4",
                                            "size": 10**12})
    assert r.status_code == 422 and "more than the" in r.json["error"]
    r = client.post("/staff/uploads", data="not json", content_type="application/json")
    assert r.status_code == 422

    # A file that is not what it says: refused by its check, its object removed, the reason
    # in its status.
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "slides",
                                            "filename": "deck.pdf", "size": 11})
    upload_id, key = r.json["uploadId"], r.json["key"]
    etag = put_part(client.post(f"/staff/uploads/{upload_id}/parts/1").json["url"], b"hello world")
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 202 and r.json["state"] == "checking"
    assert archive.store.head(key) is not None
    assert Worker(archive, "checker").run_once(kinds={uploads.CHECK_KIND})
    assert archive.store.head(key) is None
    status = client.get(f"/staff/uploads/{upload_id}").json
    assert status["state"] == "refused" and status["error"] == "slides deck.pdf: not a PDF, PPTX or ODP file"
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 422 and r.json["error"] == "slides deck.pdf: not a PDF, PPTX or ODP file"
    with archive.catalog.session() as s:
        assert s.get(Asset, upload_id) is None


def test_cancel_aborts_the_multipart_upload(client, archive, webinar_id):
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "recording",
                                            "filename": "talk.mp4", "size": 10**7})
    upload_id = r.json["uploadId"]
    assert client.delete(f"/staff/uploads/{upload_id}").json["state"] == "aborted"
    assert archive.store.list_multipart_uploads() == []
    assert client.post(f"/staff/uploads/{upload_id}/parts/1").status_code == 422


def test_sweep_command_aborts_abandoned_uploads(client, archive, webinar_id, minio, tmp_path, monkeypatch, capsys):
    from web.cli import main

    from ..services import use_archive_env

    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "recording",
                                            "filename": "talk.mp4", "size": 10**7})
    key = r.json["key"]
    env = use_archive_env(monkeypatch, minio, tmp_path, archive)
    # What killed workers left: a job's scratch (no worker holds job 999) and an upload
    # check's from before the check was a job.
    work = Settings.from_env(env).work_dir
    for leftover in ("job-999-1", "upload-0a1b2c3d4e5f-1"):
        (work / leftover / "rec-x").mkdir(parents=True)
    assert main(["sweep"]) == 0  # young and alive: kept
    out = capsys.readouterr().out
    assert "aborted 0 unfinished upload(s)" in out and "removed 2 scratch folder(s)" in out
    assert not (work / "job-999-1").exists() and not (work / "upload-0a1b2c3d4e5f-1").exists()
    assert main(["sweep", "--older-than-hours", "0"]) == 0
    assert key in capsys.readouterr().out
    assert archive.store.list_multipart_uploads() == []
    assert client.get(f"/staff/uploads/{r.json['uploadId']}").json["state"] == "aborted"
