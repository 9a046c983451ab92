"""The app's S3 credentials reach its own bucket and nothing else: not another bucket,
not bucket creation, not MinIO's admin API. Development secrets stay on this machine."""
from __future__ import annotations

import secrets

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
    assert [b["Name"] for b in app.list_buckets()["Buckets"]] == [settings.bucket]

    admin = MinioAdmin(endpoint=minio.endpoint.split("//")[1], secure=False,
                       credentials=StaticProvider(settings.s3_access_key, settings.s3_secret_key))
    with pytest.raises(MinioAdminException, match="403"):
        admin.user_add("intruder", "intruder-secret-123")
    with pytest.raises(MinioAdminException, match="403"):
        admin.policy_add("everything", policy=localdev.bucket_policy("*"))


def test_provisioning_twice_keeps_the_user_working(minio, settings):
    secret = secrets.token_urlsafe(24)
    localdev.provision(minio.endpoint, MINIO_USER, MINIO_PASSWORD, settings.bucket,
                       settings.s3_access_key, secret)  # as scripts/run does on every start
    app = _s3(minio, settings.s3_access_key, secret)
    app.put_object(Bucket=settings.bucket, Key="again", Body=b"ok")
    with pytest.raises(ClientError):
        _s3(minio, settings.s3_access_key, settings.s3_secret_key).list_objects_v2(Bucket=settings.bucket)


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
