"""The app's S3 credentials reach its own bucket and nothing else: not another bucket,
not bucket creation, not MinIO's admin API; and on its own bucket only the object,
multipart and listing actions the app uses, not the bucket's policy, versioning or
deletion. Development secrets stay on this machine."""
from __future__ import annotations

import hashlib
import json
import secrets
import urllib.error
import urllib.request
from concurrent.futures import Future
from io import BytesIO

import boto3
import pytest
from botocore.exceptions import ClientError
from minio import MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException

from archive import localdev
from archive.config import ConfigError, Settings
from archive.context import Archive
from archive.storage import StorageError

from ..services import MINIO_PASSWORD, MINIO_USER, bucket_user


def _s3(minio, key: str, secret: str):
    return boto3.client("s3", endpoint_url=minio.endpoint, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1")


def test_the_app_credentials_reach_only_their_bucket(minio, archive):
    settings = archive.settings
    assert settings.s3_access_key != MINIO_USER
    archive.store.put_bytes("webinars/x/probe.txt", b"mine", "text/plain")
    assert archive.store.get_bytes("webinars/x/probe.txt") == b"mine"

    other = f"other-{secrets.token_hex(6)}"
    bucket_user(minio, other)  # another archive's bucket, with its own user
    root = _s3(minio, MINIO_USER, MINIO_PASSWORD)
    root.put_object(Bucket=other, Key="secret.txt", Body=b"not yours")
    app = _s3(minio, settings.s3_access_key, settings.s3_secret_key)
    for denied in (lambda: app.get_object(Bucket=other, Key="secret.txt"),
                   lambda: app.list_objects_v2(Bucket=other),
                   lambda: app.put_object(Bucket=other, Key="x", Body=b"x"),
                   lambda: app.create_bucket(Bucket=f"new-{secrets.token_hex(6)}")):
        with pytest.raises(ClientError) as e:
            denied()
        assert e.value.response["Error"]["Code"] == "AccessDenied"

    admin = MinioAdmin(endpoint=minio.endpoint.split("//")[1], secure=False,
                       credentials=StaticProvider(settings.s3_access_key, settings.s3_secret_key))
    with pytest.raises(MinioAdminException, match="403"):
        admin.user_add("intruder", "intruder-secret-123")
    with pytest.raises(MinioAdminException, match="403"):
        admin.policy_add("everything", policy=localdev.bucket_policy("*"))


def test_the_app_user_does_its_work_on_its_bucket_and_nothing_more(archive, tmp_path):
    """Every S3Store operation works with the app's user (uploads plain, multipart from a
    file, a pipe and the browser; links; listings; copies; deletes) ..."""
    store, bucket = archive.store, archive.settings.bucket
    store.ensure_bucket()  # HeadBucket at start-up
    store.put_bytes("w/a.txt", b"small", "text/plain")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(70 * 1024 * 1024)  # above the transfer manager's multipart threshold
    store.upload_file(big, "w/big.bin")
    assert "-" in store.head("w/big.bin")["etag"]
    assert store.download_hashed("w/big.bin", tmp_path / "back.bin") == hashlib.sha256(big.read_bytes()).hexdigest()
    store.download_file("w/a.txt", tmp_path / "a.txt")
    done: Future = Future()
    done.set_result(True)
    assert store.upload_stream(BytesIO(b"piped"), "w/piped.bin", "application/octet-stream", done, keep_head=5) == b"piped"
    # a browser upload: parts PUT on presigned links, listed, completed; another aborted
    upload = store.create_multipart("w/browser.bin", "application/octet-stream")
    put = urllib.request.Request(store.presign_upload_part("w/browser.bin", upload, 1, len(b"part")), data=b"part", method="PUT")
    with urllib.request.urlopen(put) as r:
        assert r.status == 200
    assert [u["UploadId"] for u in store.list_multipart_uploads("w/")] == [upload]
    store.complete_multipart("w/browser.bin", upload, store.list_parts("w/browser.bin", upload))
    dropped = store.create_multipart("w/dropped.bin", "application/octet-stream")
    store.abort_multipart("w/dropped.bin", dropped)
    assert store.list_multipart_uploads("w/") == []
    with urllib.request.urlopen(store.presigned_get("w/browser.bin", download_name="b.bin")) as r:
        assert r.read() == b"part"
    store.copy("w/a.txt", "w/copy.txt", content_type="text/markdown")
    assert store.head("w/copy.txt")["content_type"] == "text/markdown"
    assert set(store.list_sizes("w/")) == set(store.list_modified("w/")) == {
        "w/a.txt", "w/big.bin", "w/piped.bin", "w/browser.bin", "w/copy.txt"}
    store.delete_prefix("w/")
    assert list(store.list_keys("w/")) == []

    # ... and is refused everything else S3 answers about the bucket itself.
    settings = archive.settings
    app = boto3.client("s3", endpoint_url=settings.s3_endpoint, aws_access_key_id=settings.s3_access_key,
                       aws_secret_access_key=settings.s3_secret_key, region_name=settings.s3_region)
    open_to_all = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/*"]}]})
    refused = {
        "PutBucketPolicy": lambda: app.put_bucket_policy(Bucket=bucket, Policy=open_to_all),
        "GetBucketPolicy": lambda: app.get_bucket_policy(Bucket=bucket),
        "DeleteBucketPolicy": lambda: app.delete_bucket_policy(Bucket=bucket),
        "PutBucketVersioning": lambda: app.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
        "DeleteBucket": lambda: app.delete_bucket(Bucket=bucket),
        "ListBuckets": lambda: app.list_buckets(),
    }
    answered = {}
    for name, call in refused.items():
        try:
            call()
            answered[name] = "allowed"
        except ClientError as e:
            answered[name] = e.response["Error"]["Code"]
    assert answered == dict.fromkeys(refused, "AccessDenied")
    store.put_bytes("still/here.txt", b"x", "text/plain")  # the bucket is still there, and private
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(f"{settings.s3_endpoint}/{bucket}/still/here.txt")


def test_provisioning_twice_keeps_the_user_working(minio, settings):
    secret = secrets.token_urlsafe(24)
    localdev.provision(minio.endpoint, MINIO_USER, MINIO_PASSWORD, settings.bucket,
                       settings.s3_access_key, secret)  # as scripts/run does on every start
    app = _s3(minio, settings.s3_access_key, secret)
    app.put_object(Bucket=settings.bucket, Key="again", Body=b"ok")
    with pytest.raises(ClientError):
        _s3(minio, settings.s3_access_key, settings.s3_secret_key).list_objects_v2(Bucket=settings.bucket)


def test_provisioning_narrows_the_wider_policy_of_an_older_data_folder(minio, settings):
    """scripts/run provisions on every start: a user made when the policy was s3:* on the
    bucket keeps its name and loses the rest."""
    user, bucket = settings.s3_access_key, settings.bucket
    admin = MinioAdmin(endpoint=minio.endpoint.split("//")[1], secure=False,
                       credentials=StaticProvider(MINIO_USER, MINIO_PASSWORD))
    admin.policy_add(f"{user}-bucket", policy={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:*"], "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
    app = _s3(minio, user, settings.s3_secret_key)
    versioning = {"Status": "Suspended"}
    app.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=versioning)  # the old policy allowed it
    localdev.provision(minio.endpoint, MINIO_USER, MINIO_PASSWORD, bucket, user, settings.s3_secret_key)
    with pytest.raises(ClientError, match="AccessDenied"):
        app.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=versioning)
    app.put_object(Bucket=bucket, Key="still", Body=b"ok")


def test_a_bucket_the_credentials_cannot_reach_is_a_clear_error(settings):
    archive = Archive.from_settings(settings.with_(bucket=f"missing-{secrets.token_hex(6)}"))
    with pytest.raises(StorageError, match="no access to bucket 'missing-"):
        archive.setup()
    archive.close()


@pytest.mark.parametrize("endpoint, refused", [
    ("http://127.0.0.1:9000", False), ("http://localhost:9000", False), ("http://[::1]:9000", False),
    ("http://minio:9000", True), ("http://192.168.1.5:9000", True), (None, True),  # None: AWS
])
@pytest.mark.parametrize("name, value", [
    ("AWS_SECRET_ACCESS_KEY", "webinar-archive-secret"), ("WEBINAR_ARCHIVE_SECRET_KEY", None),
])
def test_development_secrets_only_beside_a_local_minio(tmp_path, endpoint, refused, name, value):
    env = {"WEBINAR_ARCHIVE_DATA": str(tmp_path), "AWS_SECRET_ACCESS_KEY": "a-real-secret",
           "WEBINAR_ARCHIVE_SECRET_KEY": "a-real-key", **({"AWS_ENDPOINT_URL_S3": endpoint} if endpoint else {})}
    if value is None:
        del env[name]  # the default
    else:
        env[name] = value
    settings = Settings.from_env(env)
    if refused:
        with pytest.raises(ConfigError, match=f"{name} is a development secret"):
            settings.refuse_development_secrets()
    else:
        settings.refuse_development_secrets()
    Settings.from_env({**env, name: "a-real-one"}).refuse_development_secrets()
