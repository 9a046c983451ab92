"""The S3 store against each S3 server the archive supports (MinIO and versitygw, the
`storage` marker): round trips, multipart from a file, a pipe and the browser, presigned
GETs with a file name and ranges, conditional writes, listings and batch deletes past one
page, and the browser's CORS preflight."""
import dataclasses
import secrets
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit

import pytest

from archive.storage import DeleteIncomplete, S3Store, StorageError, content_disposition

from ..services import MINIO_PASSWORD, MINIO_USER, TEST_ORIGINS

# Every test here runs against each S3 server (tests/conftest.py): MinIO and versitygw.
pytestmark = pytest.mark.storage


def test_bucket_is_created_once(settings):
    store = S3Store(settings)
    store.ensure_bucket()
    store.ensure_bucket()  # idempotent
    store.put_bytes("probe.txt", b"x", "text/plain")
    assert store.head("probe.txt")["size"] == 1


def test_round_trips(archive, tmp_path):
    store = archive.store
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 4000)
    store.upload_file(src, "a/blob.bin", "application/octet-stream", metadata={"sha256": "abc"})
    head = store.head("a/blob.bin")
    assert head["size"] == src.stat().st_size
    assert head["metadata"] == {"sha256": "abc"}
    dst = tmp_path / "back.bin"
    store.download_file("a/blob.bin", dst)
    assert dst.read_bytes() == src.read_bytes()
    store.put_bytes("a/b.json", b"{}", "application/json")
    assert store.get_bytes("a/b.json") == b"{}"
    assert sorted(store.list_keys("a/")) == ["a/b.json", "a/blob.bin"]
    store.delete_prefix("a/")
    assert list(store.list_keys("a/")) == []
    assert store.head("a/blob.bin") is None


def test_multipart_upload_of_a_large_file(archive, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(70 * 1024 * 1024)  # above the 64 MiB multipart threshold
    archive.store.upload_file(big, "big.bin")
    head = archive.store.head("big.bin")
    assert head["size"] == 70 * 1024 * 1024
    assert "-" in head["etag"]  # a multipart ETag


def test_presigned_download_carries_a_utf8_file_name(archive):
    name = "Präsentation – 東京 “final”.pdf"
    archive.store.put_bytes("k/deck.pdf", b"%PDF-1.4 test", "application/pdf")
    url = archive.store.presigned_get("k/deck.pdf", download_name=name, content_type="application/pdf")
    with urllib.request.urlopen(url) as r:
        body = r.read()
        disposition = r.headers["Content-Disposition"]
        ctype = r.headers["Content-Type"]
    assert body == b"%PDF-1.4 test"
    assert ctype == "application/pdf"
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == name
    # and an ASCII fallback for old clients
    assert 'filename="Pr_sentation' in disposition


def test_presigned_links_answer_range_requests(archive):
    archive.store.put_bytes("r.bin", bytes(range(100)), "application/octet-stream")
    req = urllib.request.Request(archive.store.presigned_get("r.bin"), headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 206
        assert r.read() == bytes(range(10, 20))


def test_errors_are_ours(settings):
    store = S3Store(settings.with_(bucket="no-such-bucket-here"))
    with pytest.raises(StorageError):
        store.put_bytes("x", b"x", "text/plain")


def test_content_disposition_ascii_name():
    assert content_disposition("talk.mp4") == "attachment; filename=\"talk.mp4\"; filename*=UTF-8''talk.mp4"


def test_presigning_uses_the_browser_facing_endpoint(settings):
    store = S3Store(settings.with_(s3_public_endpoint="https://media.example.org"))
    url = store.presigned_get("webinars/x/original.mp4")
    assert url.startswith(f"https://media.example.org/{settings.bucket}/webinars/x/original.mp4?")


def test_a_cdn_in_front_carries_the_links_to_read_and_never_the_uploads(settings):
    plain = S3Store(settings)
    store = S3Store(settings.with_(media_cdn_url="https://cdn.example.org"))
    url = store.presigned_get("webinars/x/web.mp4", download_name="talk.mp4")
    assert url.startswith(f"https://cdn.example.org/{settings.bucket}/webinars/x/web.mp4?")
    signed = urlsplit(plain.presigned_get("webinars/x/web.mp4", download_name="talk.mp4"))
    # the same path and the same kind of query (the signature is for S3's host)
    assert urlsplit(url).path == signed.path
    assert {k.split("=")[0] for k in urlsplit(url).query.split("&")} == \
        {k.split("=")[0] for k in signed.query.split("&")}
    assert "response-content-disposition" in urlsplit(url).query
    part = store.presign_upload_part("webinars/x/original.mp4", "upload-id", 1, 10)
    assert part.startswith(settings.s3_public_endpoint)  # uploads go to S3 itself


def _piped(store, key: str, data: bytes, ok: bool, part_bytes: int):
    """A writer thread sends `data` down a pipe, as ffmpeg writes an output to `pipe:N`."""
    import os
    import threading
    from concurrent.futures import Future

    read_end, write_end = os.pipe()
    writer: Future = Future()

    def write():
        with open(write_end, "wb", buffering=0) as f:
            for i in range(0, len(data), 100_000):  # in pieces smaller and larger than a part
                f.write(data[i:i + 100_000])
        writer.set_result(ok)

    t = threading.Thread(target=write)
    t.start()
    with open(read_end, "rb", buffering=0) as stream:
        head = store.upload_stream(stream, key, "video/mp4", writer, part_bytes=part_bytes, keep_head=1000)
    t.join()
    return head


def test_an_upload_from_a_pipe_goes_part_by_part_and_only_a_finished_writer_leaves_an_object(archive):
    store = archive.store
    part = 5 * 1024 * 1024  # S3's smallest part
    data = bytes(range(256)) * (3 * part // 256) + b"tail"  # three full parts and a short one
    assert _piped(store, "piped/ok.m4s", data, True, part) == data[:1000]
    assert store.get_bytes("piped/ok.m4s") == data
    assert store.head("piped/ok.m4s")["content_type"] == "video/mp4"
    assert _piped(store, "piped/exact.m4s", data[:2 * part], True, part) == data[:1000]  # ends on a part
    assert store.get_bytes("piped/exact.m4s") == data[:2 * part]
    assert _piped(store, "piped/empty.m4s", b"", True, part) == b""
    assert store.get_bytes("piped/empty.m4s") == b""
    # The writer failed: nothing is left, not even the unfinished multipart upload.
    assert _piped(store, "piped/failed.m4s", data, False, part) is None
    assert store.head("piped/failed.m4s") is None
    assert [u for u in store.list_multipart_uploads("piped/")] == []


def _user_who_may_not_delete(minio, settings, prefix: str) -> S3Store:
    """The bucket as seen by a second MinIO user whose policy refuses s3:DeleteObject under
    `prefix`. MinIO checks that key by key inside DeleteObjects: the request succeeds and
    the refused keys come back under `Errors` (AccessDenied)."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    b = settings.bucket
    user, secret = f"nodelete-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    admin = MinioAdmin(endpoint=urlsplit(minio.endpoint).netloc, secure=False,
                       credentials=StaticProvider(MINIO_USER, MINIO_PASSWORD))
    admin.policy_add(user, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]},
        {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{b}/{prefix}*"]},
    ]})
    admin.user_add(user, secret)
    admin.attach_policy([user], user=user)
    return S3Store(dataclasses.replace(settings, s3_access_key=user, s3_secret_key=secret))


@pytest.mark.storage("minio")  # a second user with a Deny: MinIO's admin API
def test_a_key_the_store_refuses_to_delete_is_an_error(minio, settings):
    store = S3Store(settings)
    store.ensure_bucket()
    keys = [f"gone/{n}.txt" for n in range(3)] + ["kept/held.txt", "kept/too.txt"]
    for key in keys:
        store.put_bytes(key, b"x", "text/plain")
    limited = _user_who_may_not_delete(minio, settings, "kept/")
    with pytest.raises(DeleteIncomplete, match=r"^delete left 2 object\(s\): kept/held\.txt \(AccessDenied: ") as e:
        limited.delete_keys(keys)
    assert sorted(e.value.failed) == ["kept/held.txt", "kept/too.txt"]
    assert isinstance(e.value, StorageError)  # what every caller already catches
    assert sorted(store.list_keys("")) == ["kept/held.txt", "kept/too.txt"]  # the others went
    limited.delete_keys([f"gone/{n}.txt" for n in range(3)])  # keys already gone are no error


def _put_status(url: str, data: bytes) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT"), timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_presigned_part_takes_only_the_length_signed_in(archive):
    """The part's length is signed into its URL: S3 refuses a PUT of more, or of less."""
    store = archive.store
    upload_id = store.create_multipart("parts/x.bin", "application/octet-stream")
    url = store.presign_upload_part("parts/x.bin", upload_id, 1, 1000)
    assert "content-length" in url.lower()  # among the signed headers
    assert _put_status(url, b"x" * 1001) == 403
    assert _put_status(url, b"x" * 999) == 403
    assert store.list_parts("parts/x.bin", upload_id) == []
    assert _put_status(url, b"x" * 1000) == 200  # the positive control
    assert [p["Size"] for p in store.list_parts("parts/x.bin", upload_id)] == [1000]
    store.abort_multipart("parts/x.bin", upload_id)


def test_a_conditional_write_never_replaces_an_object(archive):
    from archive.storage import ObjectExists

    store = archive.store
    store.put_bytes("cond/manifest.json", b"first", "application/json", if_absent=True)
    with pytest.raises(ObjectExists, match="cond/manifest.json exists already"):
        store.put_bytes("cond/manifest.json", b"second", "application/json", if_absent=True)
    assert store.get_bytes("cond/manifest.json") == b"first"
    assert isinstance(ObjectExists("x"), StorageError)
    store.put_bytes("cond/manifest.json", b"third", "application/json")  # a plain write replaces
    assert store.get_bytes("cond/manifest.json") == b"third"


def test_listing_and_deleting_go_past_one_page(archive):
    """ListObjectsV2 answers a page of keys at a time (continuation tokens) and
    DeleteObjects takes a batch (1,000 at most): both with smaller pages here."""
    from concurrent.futures import ThreadPoolExecutor

    store = archive.store
    store.LIST_PAGE, store.DELETE_BATCH = 4, 7
    keys = [f"many/{n:03d}" for n in range(23)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put_bytes(k, b"", "application/octet-stream"), keys))
    store.put_bytes("other/kept", b"", "application/octet-stream")
    assert sorted(store.list_keys("many/")) == keys
    assert len(store.list_sizes("many/")) == 23
    store.delete_prefix("many/")
    assert list(store.list_keys("many/")) == []
    assert list(store.list_keys("")) == ["other/kept"]


def _preflight(url: str, origin: str) -> dict[str, str]:
    """What a browser asks before PUTting a part from a page of `origin`."""
    req = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return {k.lower(): v for k, v in e.headers.items()}


def test_the_browser_may_put_parts_from_the_app_and_read_their_etag(s3, archive):
    """MinIO: the server-wide MINIO_API_CORS_ALLOW_ORIGIN; versitygw: the bucket's own rule
    (localdev.share_bucket), which admits the app's origin and no other."""
    from archive.storage import S3Store

    store = archive.store
    upload_id = store.create_multipart("cors/x.bin", "application/octet-stream")
    url = store.presign_upload_part("cors/x.bin", upload_id, 1, 4)
    allowed = _preflight(url, TEST_ORIGINS[0])
    assert allowed.get("access-control-allow-origin") in ("*", TEST_ORIGINS[0])
    assert "PUT" in allowed.get("access-control-allow-methods", "")
    root = S3Store(archive.settings.with_(s3_access_key=MINIO_USER, s3_secret_key=MINIO_PASSWORD))
    if root.set_cors(TEST_ORIGINS):  # the server keeps CORS per bucket: others are refused
        assert "access-control-allow-origin" not in _preflight(url, "http://elsewhere.test")
    req = urllib.request.Request(url, data=b"part", method="PUT", headers={"Origin": TEST_ORIGINS[0]})
    with urllib.request.urlopen(req) as r:
        exposed = r.headers.get("Access-Control-Expose-Headers", "")
        assert r.headers["ETag"]
    assert "etag" in exposed.lower() or s3.name == "minio"  # MinIO exposes every header: it lists none
    store.abort_multipart("cors/x.bin", upload_id)
