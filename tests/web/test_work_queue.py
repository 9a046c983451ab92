"""Work that waits for a busy worker is visible: the webinar's staff page and the jobs page
list its queued jobs (the check of an upload too) with their place in the queue and what
the worker is on; `status` and `import --wait` say what the webinar waits behind."""
from __future__ import annotations

import json

import pytest

from archive import jobs, staff_queries, uploads
from archive.importer import ImportRequest, import_webinar
from archive.models import Job
from web import cli

from ..helpers import put_part
from ..services import use_archive_env
from ..staff import signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)


@pytest.fixture
def busy(archive, inputs) -> tuple[str, str, Job]:
    """Two webinars waiting for processing; a worker is on the first one's first job."""
    first = import_webinar(archive, ImportRequest(title="Worked on", recording=inputs["h264_aac.mp4"]))
    second = import_webinar(archive, ImportRequest(title="Waiting", recording=inputs["vp9_opus.webm"]))
    on = jobs.claim(archive.catalog, "busy-worker", 600)
    assert on is not None and on.asset_id == first.recording.id
    return first.id, second.id, on


def test_the_staff_pages_say_the_place_in_the_queue_and_what_the_worker_is_on(client, archive, busy, inputs):
    first, second, on = busy
    with archive.catalog.session() as s:
        places = staff_queries.places(s)
        waiting = staff_queries.waiting(s, second)
        mine = next(j for j in staff_queries.jobs(s, webinar_id=second))
    assert waiting.place == places[mine.id] and waiting.running[0].id == on.id

    page = client.get(f"/staff/webinars/{second}").get_data(as_text=True)
    assert f"place {places[mine.id]} in the queue" in page
    assert "The worker is on:" in page and "Making the recording watchable" in page and "Worked on" in page
    assert "No job." not in page
    board = client.get("/staff/jobs").get_data(as_text=True)
    assert f"place {places[mine.id]} in the queue" in board and "queued (1)" in board
    listed = {j["id"]: j for j in client.get("/staff/jobs.json").json["jobs"]}
    assert listed[mine.id]["place"] == places[mine.id] and listed[on.id]["place"] is None

    # A browser upload waiting for its check: listed, with its job and that job's place.
    data = inputs["deck.pdf"].read_bytes()
    r = client.post("/staff/uploads", json={"webinar": second, "kind": "slides", "filename": "Folien.pdf",
                                            "size": len(data)})
    upload_id = r.json["uploadId"]
    etag = put_part(client.post(f"/staff/uploads/{upload_id}/parts/1").json["url"], data)
    client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    with archive.catalog.session() as s:
        check = s.query(Job).filter_by(upload_id=upload_id).one()
        place = staff_queries.places(s)[check.id]
    assert check.kind == uploads.CHECK_KIND and place == places[mine.id] + 1  # behind the older job
    page = client.get(f"/staff/webinars/{second}").get_data(as_text=True)
    assert "being checked" in page and "Folien.pdf" in page
    assert "Checking the uploaded file" in page and f"place {place} in the queue" in page
    assert "1 upload being checked." in client.get(f"/staff/webinars/{second}/edit").get_data(as_text=True)


def test_the_cli_says_what_it_waits_behind(archive, busy, minio, tmp_path, monkeypatch, capsys):
    first, second, on = busy
    use_archive_env(monkeypatch, minio, tmp_path, archive)
    assert cli.main(["status", second]) == 0
    queue = json.loads(capsys.readouterr().out)["queue"]
    assert queue["place"] >= 1 and queue["worker_on"] == [{
        "job": on.id, "kind": "process_recording", "label": "Making the recording watchable",
        "file": "h264_aac.mp4", "webinar": first, "progress": 0}]

    monkeypatch.setattr(cli, "WAIT_NOTE_SECONDS", 0)
    with pytest.raises(TimeoutError):
        cli._wait(archive, second, timeout=0.2)
    said = capsys.readouterr().err
    assert "waiting for the worker, busy with Making the recording watchable of h264_aac.mp4 (“Worked on”, 0%)" \
        in said
    assert "is `webinar-archive worker`" not in said

    # Nobody on any job: then the question is whether a worker runs at all.
    jobs.finish(archive.catalog, on.id, "busy-worker", on.attempts, error="stopped for the test")
    with pytest.raises(TimeoutError):
        cli._wait(archive, second, timeout=0.2)
    assert "is `webinar-archive worker` (or scripts/run) running?" in capsys.readouterr().err
