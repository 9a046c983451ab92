"""Browser uploads, the server's side, against real MinIO: the parts are PUT to the
presigned URLs with urllib exactly as a browser would."""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import urllib.request
from pathlib import Path

import pytest

from archive import uploads
from archive.models import Asset, Job, new_id, utcnow
from archive.uploads import Upload, UploadNotFound, UploadRefused

PART = 5 * 1024 * 1024  # S3's smallest part but the last


def put_part(url: str, data: bytes) -> str:
    req = urllib.request.Request(url, data=data, method="PUT")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.headers["ETag"]


def send(archive, up: Upload, data: bytes, owner: str = "staff-1", skip: set[int] = frozenset()) -> list[dict]:
    parts = []
    for i, start in enumerate(range(0, len(data), PART), start=1):
        if i in skip:
            continue
        url = uploads.sign_part(archive, up.id, owner, i)
        parts.append({"PartNumber": i, "ETag": put_part(url, data[start:start + PART])})
    return parts


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

    assert uploads.check_next(archive, "checker") is True
    assert uploads.check_next(archive, "checker") is False  # nothing else waits
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
    assert uploads.check_next(archive, "checker") is True
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
    assert "uploadId=" in uploads.sign_part(archive, up.id, "staff-1", 10_000)


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
    assert uploads.check_next(archive, "checker")
    with archive.catalog.session() as s:
        deck = s.get(Asset, up.id)
        assert deck.info["page_count"] == 3
        assert s.query(Job).filter_by(asset_id=up.id).one().kind == "process_slides"


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


def test_a_size_other_than_announced_is_refused_by_the_request(archive, webinar_id, inputs):
    data = Path(inputs["deck.pdf"]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "slides", "deck.pdf", len(data) + 1)
    parts = send(archive, up, data)
    with pytest.raises(UploadRefused, match=f"deck.pdf: announced {len(data) + 1} bytes, S3 holds {len(data)} bytes"):
        uploads.complete(archive, up.id, "staff-1", parts)
    assert archive.store.head(up.key) is None
    assert uploads.get(archive, up.id, "staff-1").state == "refused"
    assert uploads.check_next(archive, "checker") is False  # nothing for a worker


def _completed(archive, webinar_id, inputs, name="h264_aac.mp4") -> Upload:
    data = Path(inputs[name]).read_bytes()
    up = uploads.create(archive, "staff-1", webinar_id, "recording", name, len(data))
    assert uploads.complete(archive, up.id, "staff-1", send(archive, up, data)).state == "checking"
    return up


def _expire(archive, upload_id: str) -> None:
    """The lease of a worker that died mid-check runs out."""
    with archive.catalog.transaction() as s:
        s.get(Upload, upload_id).check_expires_at = utcnow() - dt.timedelta(seconds=1)


def test_a_check_whose_worker_died_is_taken_over_once(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    dead = uploads.claim_check(archive, "dead-worker")  # claimed, then the worker is killed
    assert dead.id == up.id and dead.check_attempts == 1
    assert uploads.check_next(archive, "other-worker") is False  # its lease still holds
    _expire(archive, up.id)

    assert uploads.check_next(archive, "other-worker") is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    # The first worker was only stalled and carries on: it publishes nothing.
    assert uploads.run_check(archive, dead, "dead-worker") == "lost"
    with archive.catalog.session() as s:
        assert s.query(Asset).filter_by(webinar_id=webinar_id).count() == 1
        assert [(j.kind, j.state) for j in s.query(Job).filter_by(asset_id=up.id)] == [
            ("process_recording", "queued")]
        assert s.get(Asset, up.id).info["direct_play"] is True
    assert archive.store.head(up.key)["size"] == up.size
    assert not list(archive.settings.work_dir.glob(f"upload-{up.id}-*"))  # no scratch left


def test_a_check_that_dies_on_every_attempt_is_refused(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    for attempt in range(1, archive.settings.job_max_attempts + 1):
        assert uploads.claim_check(archive, f"doomed-{attempt}").check_attempts == attempt
        _expire(archive, up.id)
    assert uploads.check_next(archive, "last") is False  # none left to try: refused instead
    refused = uploads.get(archive, up.id, "staff-1")
    assert refused.state == "refused" and "the check stopped during its last attempt" in refused.error
    assert archive.store.head(up.key) is None
    with archive.catalog.session() as s:
        assert s.get(Asset, up.id) is None


def test_a_check_that_fails_not_for_the_file_is_tried_again(archive, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    record = uploads.claim_check(archive, "w1")
    work = archive.settings.work_dir
    shutil.rmtree(work)
    work.write_text("not a folder")  # the scratch space is unusable for now
    try:
        assert uploads.run_check(archive, record, "w1") == "checking"  # another attempt is due
    finally:
        work.unlink()
        work.mkdir()
    again = uploads.get(archive, up.id, "staff-1")
    assert again.check_owner is None and again.check_attempts == 1 and again.error is None
    assert archive.store.head(up.key) is not None
    assert uploads.check_next(archive, "w2") is False  # not before the retry delay
    _expire(archive, up.id)  # the delay has passed
    assert uploads.check_next(archive, "w2") is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"


def test_the_worker_checks_uploads_before_jobs(archive, worker, webinar_id, inputs):
    up = _completed(archive, webinar_id, inputs)
    assert worker.run_once() is True
    assert uploads.get(archive, up.id, "staff-1").state == "done"
    with archive.catalog.session() as s:
        assert s.query(Job).filter_by(asset_id=up.id).one().state == "queued"  # the check only
