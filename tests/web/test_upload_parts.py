"""Only the parts an upload's announced size needs are signed, each with its length: the
browser (here urllib, against the real MinIO) cannot store a byte beyond what it announced."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from archive import uploads

from ..staff import signed_in_fixture, staff_app  # noqa: F401 (fixtures)

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part


@pytest.fixture
def app(archive):
    return staff_app(archive, UPLOAD_PART_BYTES=PART)


REFUSED = 403


def _put(url: str, data: bytes) -> tuple[int, str | None]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT"), timeout=120) as r:
            return r.status, r.headers["ETag"]
    except urllib.error.HTTPError as e:
        return e.code, None
    except urllib.error.URLError as e:
        # S3 answers 403 before reading a long body, and closes the connection on the rest.
        if isinstance(e.reason, ConnectionError):
            return REFUSED, None
        raise


def _create(client, webinar_id: str, size: int) -> dict:
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "recording",
                                            "filename": "talk.mp4", "size": size})
    assert r.status_code == 201, r.json
    return r.json


def test_no_part_beyond_the_announced_size(client, archive, webinar_id):
    """The report's case: announced as 100 bytes, then 30 MiB parts sent. Part 2 is not
    signed; part 1 takes 100 bytes and nothing else; the upload still completes."""
    up = _create(client, webinar_id, 100)
    assert (up["partBytes"], up["partCount"]) == (PART, 1)
    upload_id = up["uploadId"]
    for n in (2, 3, 10_000):
        r = client.post(f"/staff/uploads/{upload_id}/parts/{n}")
        assert r.status_code == 422 and r.json["error"] == f"talk.mp4: 100 bytes make 1 part(s), not {n}"
    url = client.post(f"/staff/uploads/{upload_id}/parts/1").json["url"]
    assert _put(url, b"\0" * (30 * MIB))[0] == REFUSED  # S3 refuses more than the length signed in
    assert client.get(f"/staff/uploads/{upload_id}/parts").json == []
    status, etag = _put(url, b"\0" * 100)
    assert status == 200
    r = client.post(f"/staff/uploads/{upload_id}/complete", json={"parts": [{"PartNumber": 1, "ETag": etag}]})
    assert r.status_code == 202, r.json
    assert archive.store.head(up["key"])["size"] == 100


def test_every_part_but_the_last_is_the_size_the_server_gave(client, archive, webinar_id):
    """12 MiB in 5 MiB parts: 5, 5 and 2 MiB, each refused at any other length; the parts
    S3 holds are listed for a resume, which sends only the others."""
    size = 12 * MIB
    data = bytes(range(256)) * (size // 256)
    up = _create(client, webinar_id, size)
    assert (up["partBytes"], up["partCount"]) == (PART, 3)
    upload_id = up["uploadId"]
    assert client.post(f"/staff/uploads/{upload_id}/parts/4").status_code == 422

    def url(n: int) -> str:
        return client.post(f"/staff/uploads/{upload_id}/parts/{n}").json["url"]

    assert _put(url(1), data[:PART - 1])[0] == REFUSED  # a non-last part shorter than signed
    assert _put(url(1), data[:PART + 1])[0] == REFUSED
    assert _put(url(3), data[2 * PART:] + b"\0")[0] == REFUSED  # the last one too: exactly what is left
    etags = {}
    for n in (1, 3):
        status, etags[n] = _put(url(n), data[(n - 1) * PART:n * PART])
        assert status == 200
    # Resumed: S3 says which parts it holds, the one missing goes, the upload completes.
    listed = client.get(f"/staff/uploads/{upload_id}/parts").json
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, PART), (3, 2 * MIB)]
    status, etags[2] = _put(url(2), data[PART:2 * PART])
    assert status == 200
    r = client.post(f"/staff/uploads/{upload_id}/complete",
                    json={"parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    assert r.status_code == 202, r.json
    tmp = archive.store.get_bytes(up["key"])
    assert tmp == data


@pytest.mark.parametrize("size", [1, PART, PART + 1, 16 * MIB * 10_000, 16 * MIB * 10_000 + 1,
                                  50_000 * 1_000_000, 5 * 10**12])
def test_part_sizes_keep_within_s3_limits(size):
    part = uploads.part_size(size, PART)
    count = uploads.part_count(size, part)
    assert part >= PART and part % MIB == 0
    assert count <= uploads.MAX_PARTS
    assert (count - 1) * part < size <= count * part
    assert uploads.part_size(size) >= uploads.PART_BYTES  # the default when none is preferred


def test_parts_are_signed_a_batch_at_a_time_within_the_announced_size(client, archive, webinar_id):
    """The uploader asks for the next parts' URLs in one request: each is the URL of its own
    part (S3 takes that part's bytes through it and no others), and a batch holding a part
    beyond the announced size, or too many parts, is refused whole."""
    size = 12 * MIB
    data = bytes(range(256)) * (size // 256)
    up = _create(client, webinar_id, size)
    upload_id = up["uploadId"]
    r = client.post(f"/staff/uploads/{upload_id}/parts", json={"numbers": [1, 2, 3]})
    assert r.status_code == 200, r.json
    urls = {int(n): url for n, url in r.json["urls"].items()}
    assert sorted(urls) == [1, 2, 3]
    assert _put(urls[2], data[:PART])[0] == 200  # any 5 MiB goes to part 2's URL...
    assert _put(urls[3], data[:PART])[0] == REFUSED  # ...but part 3 is the 2 MiB that are left
    etags = {n: _put(urls[n], data[(n - 1) * PART:n * PART])[1] for n in (1, 2, 3)}
    assert all(etags.values())
    r = client.post(f"/staff/uploads/{upload_id}/parts", json={"numbers": [3, 4]})
    assert r.status_code == 422 and r.json["error"] == "talk.mp4: 12582912 bytes make 3 part(s), not 4"
    for numbers in ([], list(range(1, uploads.SIGN_AT_ONCE + 2)), ["1"], [0], None):
        assert client.post(f"/staff/uploads/{upload_id}/parts", json={"numbers": numbers}).status_code == 422
    other = _create(client, webinar_id, size)["uploadId"]
    assert client.delete(f"/staff/uploads/{other}").status_code in (200, 204)
    assert client.post(f"/staff/uploads/{other}/parts", json={"numbers": [1]}).status_code in (404, 422)
    r = client.post(f"/staff/uploads/{upload_id}/complete",
                    json={"parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    assert r.status_code == 202, r.json
    assert archive.store.get_bytes(up["key"]) == data
