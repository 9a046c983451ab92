"""Browser uploads, the server's side, against real MinIO: the parts are PUT to the
presigned URLs with urllib exactly as a browser would. Those marked `storage` (parts,
resume, abort, sweep, a size other than signed) run against versitygw too."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import shutil
import urllib.error
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from archive import jobs, pipeline, uploads
from archive.catalog import MIGRATIONS, Catalog
from archive.models import Asset, Job, new_id, utcnow
from archive.uploads import Upload, UploadNotFound, UploadRefused
from archive.worker import Worker

from ..helpers import put_part, work_dir_entries

PART = 5 * 1024 * 1024  # S3's smallest part but the last


def send(archive, up: Upload, data: bytes, owner: str = "staff-1", skip: set[int] = frozenset()) -> list[dict]:
    parts = []
    for i, start in enumerate(range(0, len(data), PART), start=1):
        if i in skip:
            continue
        url = uploads.sign_part(archive, up.id, owner, i, preferred=PART)
        parts.append({"PartNumber": i, "ETag": put_part(url, data[start:start + PART])})
    return parts


def check(archive, owner: str = "checker") -> bool:
    """What a worker's lane does with an upload's check job, and only that (the asset's
    first job stays queued); False when no check was waiting."""
    return Worker(archive, owner).run_once(kinds={uploads.CHECK_KIND})


def _check_job(archive, upload_id: str) -> Job:
    with archive.catalog.session() as s:
        return s.query(Job).filter_by(upload_id=upload_id).one()


@pytest.mark.storage
def test_a_recording_goes_up_in_parts_and_becomes_an_asset_with_its_job(archive, webinar_id, inputs):
    data = Path(inputs["h264_aac.mp4"]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "recording", "Talk – Ana.mp4", len(data))
    assert up.key == f"webinars/{webinar_id}/originals/{up.id}/original.mp4"
    assert "Ana" not in up.key
    parts = send(archive, up, data)
    listed = uploads.list_parts(archive, up.id, "staff-1")
    assert [p["PartNumber"] for p in listed] == [p["PartNumber"] for p in parts]

    # The request only joins the parts and checks the size: the content waits for a worker.
    answer = uploads.complete(archive, up.id, "staff-1", parts)
    assert answer.state == "checking"
    assert archive.store.head(up.key)["size"] == len(data)
    with archive.catalog.session() as s:
        assert s.get(Asset, up.id) is None and s.query(Job).filter_by(asset_id=up.id).count() == 0
    assert uploads.complete(archive, up.id, "staff-1", parts).state == "checking"  # asked again
    # Its check is a job of the upload, queued once.
    assert (_check_job(archive, up.id).kind, _check_job(archive, up.id).state) == ("check_upload", "queued")

    assert check(archive) is True
    assert check(archive) is False  # nothing else waits
    assert _check_job(archive, up.id).state == "done"
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    with archive.catalog.session() as s:
        asset = s.get(Asset, up.id)
        jobs = s.query(Job).filter_by(asset_id=up.id).all()
    assert asset.original_filename == "Talk – Ana.mp4"
    assert asset.original_key == up.key
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.info["direct_play"] is True  # H.264 4:2:0 + AAC in MP4
    assert [(j.kind, j.state) for j in jobs] == [("process_recording", "queued")]
    assert archive.store.head(up.key)["size"] == len(data)
    # Completing twice (a browser retry) answers the same.
    assert uploads.complete(archive, up.id, "staff-1", parts).state == "done"


@pytest.mark.storage
def test_a_large_upload_resumes_with_list_parts(archive, webinar_id, inputs, tmp_path):
    # Three parts (the last one short) of bytes that are no recording.
    data = b"\0" * (2 * PART + 1000)
    up = uploads.create(archive, "staff-1", webinar_id, "recording", "big.mp4", len(data))
    first = send(archive, up, data, skip={2, 3})
    assert [p["PartNumber"] for p in uploads.list_parts(archive, up.id, "staff-1")] == [1]
    rest = send(archive, up, data, skip={1})
    assert [p["PartNumber"] for p in uploads.list_parts(archive, up.id, "staff-1")] == [1, 2, 3]
    # Zeros are not a recording: refused by the check with the CLI's sentence, the object gone.
    assert uploads.complete(archive, up.id, "staff-1", first + rest).state == "checking"
    assert check(archive) is True
    assert archive.store.head(up.key) is None
    refused = uploads.get(archive, up.id, "staff-1")
    assert refused.state == "refused" and refused.error == "recording big.mp4: not a readable recording: the file is not media"
    with pytest.raises(UploadRefused, match="big.mp4: not a readable recording"):  # asked again
        uploads.complete(archive, up.id, "staff-1", first + rest)
    with archive.catalog.session() as s:
        assert s.get(Asset, up.id) is None
    with pytest.raises(UploadRefused):
        uploads.sign_part(archive, up.id, "staff-1", 1)


def test_only_the_owner_signs_and_only_real_part_numbers(archive, webinar_id):
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", 1000)
    with pytest.raises(UploadNotFound):
        uploads.sign_part(archive, up.id, "staff-2", 1)
    with pytest.raises(UploadNotFound):
        uploads.list_parts(archive, up.id, "staff-2")
    with pytest.raises(UploadNotFound):
        uploads.complete(archive, up.id, "staff-2", [{"PartNumber": 1, "ETag": "x"}])
    with pytest.raises(UploadNotFound):
        uploads.sign_part(archive, "nonexistent", "staff-1", 1)
    for n in (0, 10_001, "1"):
        with pytest.raises(UploadRefused, match="part number"):
            uploads.sign_part(archive, up.id, "staff-1", n)
    # Only the parts the announced size needs are signed (1000 bytes: one).
    assert "uploadId=" in uploads.sign_part(archive, up.id, "staff-1", 1)
    with pytest.raises(UploadRefused, match="1000 bytes make 1 part"):
        uploads.sign_part(archive, up.id, "staff-1", 2)


def test_sizes_and_names_are_checked_before_any_byte(archive, webinar_id, settings):
    with pytest.raises(UploadRefused, match="more than the 500 MB accepted for slides"):
        uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", 500_000_001)
    with pytest.raises(UploadRefused, match=r"must be one of \.pdf, \.pptx, \.odp"):
        uploads.create(archive, "staff-1", webinar_id, "slides", "deck.exe", 10)
    with pytest.raises(UploadRefused, match="empty"):
        uploads.create(archive, "staff-1", webinar_id, "recording", "talk.mp4", 0)
    with pytest.raises(UploadRefused, match="no such webinar"):
        uploads.create(archive, "staff-1", "nowebinar", "recording", "talk.mp4", 10)
    assert archive.store.list_multipart_uploads() == []


def test_a_deck_is_checked_like_the_cli_does(archive, webinar_id, inputs):
    data = Path(inputs["deck.pdf"]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "Präsentation.pdf", len(data))
    parts = send(archive, up, data)
    uploads.complete(archive, up.id, "staff-1", parts)
    assert check(archive)
    with archive.catalog.session() as s:
        deck = s.get(Asset, up.id)
        assert deck.info["page_count"] == 3
        assert s.query(Job).filter_by(asset_id=up.id).one().kind == "process_slides"


@pytest.mark.storage
def test_sweep_aborts_abandoned_uploads(archive, webinar_id):
    live = uploads.create(archive, "staff-1", webinar_id, "slides", "live.pdf", 1000)
    cancelled = uploads.create(archive, "staff-1", webinar_id, "slides", "gone.pdf", 1000)
    with archive.catalog.transaction() as s:  # its record says it was dropped
        s.get(Upload, cancelled.id).state = "aborted"
    orphan_key = uploads.object_key(webinar_id, new_id(), "mp4")
    archive.store.create_multipart(orphan_key, "video/mp4")  # no record at all

    assert sorted(uploads.sweep(archive)) == [cancelled.key]  # the orphan is young: maybe a CLI import
    left = {u["Key"] for u in archive.store.list_multipart_uploads()}
    assert left == {live.key, orphan_key}

    assert sorted(uploads.sweep(archive, orphan_grace=dt.timedelta(0))) == [orphan_key]
    assert {u["Key"] for u in archive.store.list_multipart_uploads()} == {live.key}

    assert uploads.sweep(archive, older_than=dt.timedelta(0)) == [live.key]
    assert archive.store.list_multipart_uploads() == []
    assert uploads.get(archive, live.id, "staff-1").state == "aborted"


@pytest.mark.storage
def test_abort_drops_the_parts(archive, webinar_id):
    up = uploads.create(archive, "staff-1", webinar_id, "recording", "talk.mov", 10 * PART)
    send(archive, up, b"x" * PART)
    assert uploads.abort(archive, up.id, "staff-1").state == "aborted"
    assert archive.store.list_multipart_uploads() == []


@pytest.mark.parametrize("info, playable", [
    ({"demuxer": "mov", "video_codec": "h264", "pix_fmt": "yuv420p", "audio_codec": "aac"}, True),
    ({"demuxer": "mov", "video_codec": "h264", "pix_fmt": "yuv422p", "audio_codec": "aac"}, False),
    ({"demuxer": "matroska", "video_codec": "h264", "pix_fmt": "yuv420p", "audio_codec": "aac"}, False),
    ({"demuxer": "mov", "video_codec": "h264", "pix_fmt": "yuv420p", "audio_codec": "mp3"}, False),
    ({"demuxer": "mov", "audio_codec": "aac"}, True),
    ({"demuxer": "mp3", "audio_codec": "mp3"}, True),
    ({"demuxer": "wav", "audio_codec": "pcm_s16le"}, False),
])
def test_direct_play(info, playable):
    assert uploads.direct_play(info) is playable


@pytest.mark.storage
def test_an_interrupted_completion_is_cleaned_up(archive, webinar_id):
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", 1000)
    with archive.catalog.transaction() as s:  # the web process died while completing
        s.get(Upload, up.id).state = "completing"
    archive.store.abort_multipart(up.key, up.s3_upload_id)
    archive.store.put_bytes(up.key, b"%PDF-1.4 half", "application/pdf")
    assert uploads.sweep(archive) == []  # recent: maybe still completing
    assert uploads.sweep(archive, older_than=dt.timedelta(0)) == [up.key]
    assert archive.store.head(up.key) is None
    assert uploads.get(archive, up.id, "staff-1").state == "aborted"


def test_the_idle_worker_sweeps(archive, worker, webinar_id):
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", 1000)
    with archive.catalog.transaction() as s:
        s.get(Upload, up.id).state = "aborted"  # dropped, but its parts are still in S3
    worker.stopping.set()  # one pass through the idle path, no waiting
    worker._idle()
    assert archive.store.list_multipart_uploads() == []


@pytest.mark.storage
def test_a_size_other_than_announced_is_refused_by_s3(archive, webinar_id, inputs):
    """Each part's length is signed in: bytes other than announced never reach S3, so no
    upload completes with another size (the completion's HEAD check stays behind it)."""
    data = Path(inputs["deck.pdf"]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", len(data) + 1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        send(archive, up, data)
    assert refused.value.code == 403
    assert uploads.list_parts(archive, up.id, "staff-1") == []
    with pytest.raises(UploadRefused, match="could not be completed"):
        uploads.complete(archive, up.id, "staff-1", [{"PartNumber": 1, "ETag": '"0"'}])
    assert archive.store.head(up.key) is None
    assert check(archive) is False  # nothing for a worker


def _completed(archive, webinar_id, inputs, name="h264_aac.mp4") -> Upload:
    data = Path(inputs[name]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "recording", name, len(data))
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    return up


def _expire(archive, job_id: int) -> None:
    """The lease of a worker that died mid-check runs out (or a retry's delay passes)."""
    past = utcnow() - dt.timedelta(seconds=1)
    with archive.catalog.transaction() as s:
        s.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past, run_after=past))


def _claim_check(archive, owner: str) -> Job | None:
    return jobs.claim(archive.catalog, owner, archive.settings.job_lease_seconds, kinds={uploads.CHECK_KIND})


def test_a_check_whose_worker_died_is_taken_over_once(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    dead = _claim_check(archive, "dead-worker")  # claimed, then the worker is killed
    assert dead.upload_id == up.id and dead.attempts == 1
    assert check(archive, "other-worker") is False  # its lease still holds
    _expire(archive, dead.id)

    assert check(archive, "other-worker") is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    # The first worker was only stalled and carries on: its finish changes nothing.
    state = jobs.finish(archive.catalog, dead.id, "dead-worker", dead.attempts,
                        error="recording: refused by a stalled worker", permanent=True,
                        on_finished=lambda *a: pipeline.on_finished(*a, store=archive.store))
    assert state == "done"  # the taker's result stands
    with archive.catalog.session() as s:
        assert s.query(Asset).filter_by(webinar_id=webinar_id).count() == 1
        assert [(j.kind, j.state) for j in s.query(Job).filter_by(asset_id=up.id)] == [
            ("process_recording", "queued")]
        assert s.get(Asset, up.id).info["direct_play"] is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    assert archive.store.head(up.key)["size"] == up.size
    assert work_dir_entries(archive) == []  # no scratch left


def test_a_check_that_dies_on_every_attempt_is_refused_and_its_scratch_swept(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    work = archive.settings.work_dir
    for attempt in range(1, archive.settings.job_max_attempts + 1):
        claimed = _claim_check(archive, f"doomed-{attempt}")
        assert claimed.attempts == attempt
        (work / f"job-{claimed.id}-{attempt}").mkdir(parents=True)  # what each killed worker left
        _expire(archive, claimed.id)
    (work / f"upload-{up.id}-1").mkdir()  # what a check killed before the check was a job left
    assert check(archive, "last") is False  # none left to try: refused instead
    refused = uploads.get(archive, up.id, "staff-1")
    assert refused.state == "refused"
    assert refused.error.startswith(f"{up.filename}: the check failed or stopped on each of its 3 attempt(s)")
    assert archive.store.head(up.key) is None
    with archive.catalog.session() as s:
        assert s.get(Asset, up.id) is None
    assert _check_job(archive, up.id).state == "failed" and "worker stopped" in _check_job(archive, up.id).error
    assert work_dir_entries(archive) == []  # the idle worker swept every one of them


def test_a_check_that_fails_not_for_the_file_is_tried_again(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    work = archive.settings.work_dir
    shutil.rmtree(work)
    work.write_text("not a folder")  # the scratch space is unusable for now
    try:
        assert check(archive, "w1") is True  # ran, failed, another attempt is due
    finally:
        work.unlink()
        work.mkdir()
    job = _check_job(archive, up.id)
    assert (job.state, job.attempts) == ("queued", 1) and job.error.startswith("NotADirectoryError")
    again = uploads.get(archive, up.id, "staff-1")
    assert again.state == "checking" and again.error is None
    assert archive.store.head(up.key) is not None
    assert check(archive, "w2") is False  # not before the retry delay
    _expire(archive, job.id)  # the delay has passed
    assert check(archive, "w2") is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"


def test_a_staff_retry_of_a_check_is_refused(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    assert check(archive)
    with pytest.raises(jobs.JobStateError, match="upload the file again"):
        pipeline.retry(archive.catalog, _check_job(archive, up.id).id)
    assert _check_job(archive, up.id).state == "done"


def _deleting_after_check(archive) -> dict[str, pipeline.JobKind]:
    """The real graph, except that the check deletes the uploaded object once it has read
    it: whatever runs after it can only use the check's copy."""
    real = pipeline.GRAPH[uploads.CHECK_KIND]

    def handler(scoped, upload, hb):
        outcome = real.handler(scoped, upload, hb)
        archive.store.delete_keys([upload.key])
        return outcome

    return {**pipeline.GRAPH, real.name: dataclasses.replace(real, handler=handler)}


def test_the_check_hands_its_copy_to_the_fast_path_read_once(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    assert Worker(archive, "w", graph=_deleting_after_check(archive)).run_once() is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    with archive.catalog.session() as s:
        asset = s.get(Asset, up.id)
        fast = s.query(Job).filter_by(asset_id=up.id, kind="process_recording").one()
    # One claim ran the check and then the fast path, on the check's copy (S3 no longer
    # has the object), checksum taken once as the check downloaded it.
    assert (fast.state, fast.attempts, fast.lease_owner) == ("done", 1, None)
    assert asset.status == "ready" and archive.store.head(asset.outputs["web"]) is not None
    assert asset.sha256 == hashlib.sha256(Path(inputs["h264_aac.mp4"]).read_bytes()).hexdigest()
    assert work_dir_entries(archive) == []


def test_a_follow_up_another_worker_took_downloads_the_file(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    # A lane that does not run the fast path (as if another worker had claimed it first).
    assert Worker(archive, "checker").run_once(kinds={uploads.CHECK_KIND, "process_slides"}) is True
    with archive.catalog.session() as s:
        assert s.query(Job).filter_by(asset_id=up.id).one().state == "queued"
    assert work_dir_entries(archive) == []  # the copy went with the check's scratch
    assert Worker(archive, "other").run_once() is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    with archive.catalog.session() as s:
        assert s.get(Asset, up.id).status == "ready"


def _alembic(catalog: Catalog, step, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with catalog.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        step(cfg, revision)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migration_0009_gives_an_upload_waiting_for_its_check_a_job(tmp_path, request, engine):
    url = (f"sqlite:///{tmp_path / 'c.sqlite3'}" if engine == "sqlite"
           else request.getfixturevalue("postgres").create_database())
    catalog = Catalog(url)
    try:
        _alembic(catalog, command.upgrade, "0008")
        with catalog.engine.begin() as c:
            c.execute(text("INSERT INTO webinars (id, title, description, visibility, created_at, updated_at) "
                           "VALUES ('w1', 't', '', 'draft', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            for upload_id, state in (("u1", "checking"), ("u2", "done")):
                c.execute(text("INSERT INTO uploads (id, owner, webinar_id, kind, filename, ext, size, content_type, "
                               "key, s3_upload_id, state, created_at, updated_at, check_attempts) VALUES "
                               f"('{upload_id}', 'o', 'w1', 'slides', 'd.pdf', 'pdf', 1, 'application/pdf', 'k', "
                               f"'s', '{state}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
        _alembic(catalog, command.upgrade, "head")
        with catalog.session() as s:
            assert [(j.upload_id, j.asset_id, j.kind, j.state) for j in s.query(Job)] == [
                ("u1", None, "check_upload", "queued")]
        with pytest.raises(IntegrityError), catalog.transaction() as s:  # a job of nothing
            s.add(Job(kind="check_upload", state="queued"))
        _alembic(catalog, command.downgrade, "0008")
        with catalog.engine.begin() as c:
            assert c.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
            assert c.execute(text("SELECT state FROM uploads WHERE id = 'u1'")).scalar() == "checking"
        _alembic(catalog, command.upgrade, "head")
    finally:
        catalog.dispose()
