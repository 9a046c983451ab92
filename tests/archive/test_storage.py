import urllib.request
from urllib.parse import unquote

import pytest

from archive.storage import S3Store, StorageError, content_disposition


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
