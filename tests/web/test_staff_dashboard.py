"""The job dashboard over real processing: a real worker, real MinIO, real ffmpeg.
Failure details (reason, the tool's message, warnings) are shown to staff, with a retry
button that queues the job again; the public page of the same webinar shows none of it."""
from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archive import uploads
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job

from ..archive.test_uploads import send
from ..conftest import make_settings
from ..helpers import reload
from .staff_client import add_user, csrf_token, login, post

def text(response) -> str:
    """A page's text as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


BAD = b"This is a text file, not a recording.\n" * 10


@pytest.fixture
def settings(minio, tmp_path):  # replaces tests/conftest.py's: retries without delay
    return make_settings(minio, tmp_path, WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0")


@pytest.fixture
def staff(client, archive):
    add_user(archive, "editor@example.org", "editor")
    assert login(client, "editor@example.org").status_code == 302
    return client


def _job(archive, webinar_id: str) -> Job:
    with archive.catalog.session() as s:
        return s.query(Job).join(Job.asset).filter_by(webinar_id=webinar_id).order_by(Job.id).first()


@pytest.fixture
def broken(archive, worker, inputs):
    """A webinar whose recording is not media at all: ffprobe refuses it, once and for all."""
    w = import_webinar(archive, ImportRequest(title="Broken upload", recording=inputs["h264_aac.mp4"]))
    archive.store.put_bytes(w.recording.original_key, BAD, "video/mp4")
    with archive.catalog.transaction() as s:  # a consistent original: only its content is wrong
        s.get(Asset, w.recording.id).sha256 = hashlib.sha256(BAD).hexdigest()
    worker.run_until_idle()
    job = _job(archive, w.id)
    assert job.state == "failed" and job.error
    return w, job


def test_the_dashboard_shows_the_reason_the_tools_message_and_a_retry_button(staff, archive, broken):
    w, job = broken
    assert "moov atom not found" in job.log_tail  # ffprobe's own words
    for url in ("/staff/jobs", "/staff/jobs?state=failed", f"/staff/webinars/{w.id}"):
        page = html.unescape(staff.get(url).get_data(as_text=True))
        assert job.error in page, url
        assert "<summary>The tool's message</summary>" in page
        assert job.log_tail.strip().splitlines()[-1] in page
        assert f'action="/staff/jobs/{job.id}/retry"' in page
        assert "Making the recording watchable" in page  # the step's label
    home = staff.get("/staff/").get_data(as_text=True)
    assert "Broken upload" in home and '<span class="state failed">failed</span>' in home


def test_json_progress_for_the_dashboard(staff, broken):
    w, job = broken
    rows = staff.get("/staff/jobs.json", headers={"Accept": "application/json"}).get_json()["jobs"]
    assert [(r["id"], r["state"], r["webinar_id"], r["error"]) for r in rows] == [(job.id, "failed", w.id, job.error)]


def test_the_public_page_shows_none_of_the_failure_details(client, broken):
    w, job = broken
    page = html.unescape(client.get(f"/webinars/{w.id}").get_data(as_text=True))
    assert job.error not in page
    for line in (job.log_tail or "").strip().splitlines():
        if line.strip():
            assert line.strip() not in page


def test_warnings_and_later_failures_recorded_on_assets_are_shown(staff, archive, worker, inputs):
    w = import_webinar(archive, ImportRequest(title="Plays, with damage", recording=inputs["h264_aac.mp4"]))
    worker.run_until_idle()
    assert reload(archive, w.id).status == "ready"
    with archive.catalog.transaction() as s:  # as a handler records them (pipeline.on_finished)
        a = s.get(Asset, w.recording.id)
        a.info = {**a.info, "warnings": {"process_recording": ["3 damaged frames near 0:02; they were skipped."]},
                  "failures": {"recording_renditions": "the 360p rendition: ffmpeg ran out of time"}}
    page = text(staff.get(f"/staff/webinars/{w.id}"))
    assert "Warning (Making the recording watchable): 3 damaged frames near 0:02; they were skipped." in page
    assert ("Renditions for slow links, audio downloads, timeline thumbnails failed: "
            "the 360p rendition: ffmpeg ran out of time") in page
    jobs_page = text(staff.get("/staff/jobs"))
    assert "Warning: 3 damaged frames near 0:02; they were skipped." in jobs_page
    assert "ready, with warnings" in staff.get("/staff/").get_data(as_text=True)


def test_retry_queues_a_failed_job_again_and_the_worker_finishes_it(staff, archive, worker, inputs):
    w = import_webinar(archive, ImportRequest(title="Lost original", recording=inputs["h264_aac.mp4"]))
    key = w.recording.original_key
    original = archive.store.get_bytes(key)
    archive.store.delete_keys([key])  # every attempt fails to fetch it: a passing trouble, retried
    worker.run_until_idle()
    job = _job(archive, w.id)
    assert (job.state, job.attempts) == ("failed", job.max_attempts)
    page = html.unescape(staff.get(f"/staff/webinars/{w.id}").get_data(as_text=True))
    assert job.error in page

    archive.store.put_bytes(key, original, "video/mp4")  # the operator fixes the cause
    r = post(staff, f"/staff/jobs/{job.id}/retry", {"back": f"/staff/webinars/{w.id}"})
    assert (r.status_code, r.location) == (302, f"/staff/webinars/{w.id}")
    page = staff.get(r.location).get_data(as_text=True)
    assert f"Job {job.id} is queued again." in page
    job = _job(archive, w.id)
    assert (job.state, job.attempts, job.error) == ("queued", 0, None)
    assert reload(archive, w.id).recording.status == "queued"

    worker.run_until_idle()
    assert reload(archive, w.id).status == "ready"
    assert _job(archive, w.id).state == "done"
    r = staff.post(f"/staff/jobs/{job.id}/retry", json={}, headers={"X-CSRFToken": csrf_token(staff)})
    assert r.status_code == 200 and r.get_json() == {"id": job.id, "state": "queued"}  # a done job may run again


def test_a_file_waiting_for_its_check_is_listed_by_its_name(staff, archive, webinar_id, inputs):
    """The check of a browser upload is a job of the upload (there is no asset yet): the
    jobs page, the webinar's page, jobs.json and the CLI list it under the file's name."""
    data = inputs["h264_aac.mp4"].read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "recording", "Talk – final.mp4", len(data))
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    for url in ("/staff/jobs", f"/staff/webinars/{webinar_id}"):
        page = text(staff.get(url))
        assert "Talk – final.mp4" in page and "queued" in page, url
    listed = staff.get(f"/staff/jobs.json?webinar={webinar_id}").get_json()["jobs"]
    assert [(j["kind"], j["upload_id"], j["filename"], j["webinar_id"]) for j in listed] == [
        ("check_upload", up.id, "Talk – final.mp4", webinar_id)]
    env = {"PATH": os.environ["PATH"], "WEBINAR_ARCHIVE_DATA": str(archive.settings.data_dir),
           "WEBINAR_ARCHIVE_DATABASE_URL": archive.settings.database_url}
    out = subprocess.run([str(Path(sys.executable).parent / "webinar-archive"), "jobs"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"check_upload       upload {up.id} (Talk – final.mp4)" in out.stdout
