"""A local MinIO made ready for the archive (scripts/run and the tests): the bucket, and
a user allowed only the object, multipart and listing actions the app uses, on that bucket
alone. Only this set-up holds the root credentials; the app is given the user's. Needs the
`local` extra (MinIO's admin client). `share_bucket` does the same on versitygw (the
tests' second S3 server), through the bucket's own policy and CORS rule.

    python -m archive.localdev BUCKET USER      (root credentials in MINIO_ROOT_USER and
                                                 MINIO_ROOT_PASSWORD, the user's secret in
                                                 WEBINAR_ARCHIVE_APP_SECRET, the endpoint in
                                                 AWS_ENDPOINT_URL_S3)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .config import Settings
from .storage import S3Store


# What the app does with its bucket, and nothing more: objects (HeadObject and CopyObject's
# source need GetObject; DeleteObjects needs DeleteObject per key), multipart uploads
# (CreateMultipartUpload, UploadPart and CompleteMultipartUpload are PutObject) and
# listings (ListObjectsV2, and HeadBucket at start-up, are ListBucket). Not the bucket's
# policy, versioning, lifecycle, tags or deletion, nor ListAllMyBuckets.
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                  "s3:ListMultipartUploadParts")
# MinIO answers ListBuckets to a user without ListAllMyBuckets with every bucket it may
# list "with delimiter /" (cmd/bucket-handlers.go). The app never lists with a delimiter,
# so ListBucket is allowed only without that one, and ListBuckets is refused.
NOT_A_BUCKET_LISTING = {"StringNotEquals": {"s3:delimiter": ["/"]}}


def bucket_policy(bucket: str, principal: str | None = None) -> dict:
    """The app's user: the object, multipart and listing actions it uses on one bucket.
    Without `principal`, a user policy (MinIO, AWS IAM); with it, the same as the
    bucket's own policy naming that user (versitygw, whose users have no policies)."""
    who = {"Principal": {"AWS": [principal]}} if principal else {}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", **who, "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket}"],
             "Condition": NOT_A_BUCKET_LISTING},
            {"Effect": "Allow", **who, "Action": ["s3:ListBucketMultipartUploads"],
             "Resource": [f"arn:aws:s3:::{bucket}"]},
            {"Effect": "Allow", **who, "Action": list(OBJECT_ACTIONS), "Resource": [f"arn:aws:s3:::{bucket}/*"]},
        ],
    }


def _root_store(endpoint: str, root_user: str, root_password: str, bucket: str, region: str) -> S3Store:
    root = Settings(data_dir=Path("."), database_url="", bucket=bucket, s3_endpoint=endpoint,
                    s3_public_endpoint=endpoint, s3_region=region, s3_access_key=root_user,
                    s3_secret_key=root_password, public_url="", secret_key="", work_dir=Path("."))
    return S3Store(root)


def share_bucket(endpoint: str, root_user: str, root_password: str, bucket: str, user: str,
                 cors_origins: list[str], region: str = "us-east-1") -> bool:
    """For a server whose accounts carry no policy (versitygw; the account itself is made
    with its admin tool): the bucket (owned by root), a bucket policy giving `user` what
    bucket_policy allows and nothing more, and the uploader's CORS rule on the bucket.
    Idempotent. Returns whether the server keeps CORS per bucket."""
    store = _root_store(endpoint, root_user, root_password, bucket, region)
    store.ensure_bucket()
    store.set_policy(bucket_policy(bucket, principal=user))
    return store.set_cors(cors_origins)


def provision(endpoint: str, root_user: str, root_password: str, bucket: str, user: str,
              secret: str, region: str = "us-east-1") -> None:
    """Create the bucket (as root) and `user` with a policy limited to it. Idempotent: a
    second run sets the user's secret again and keeps the policy attached once."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider
    from minio.error import MinioAdminException

    _root_store(endpoint, root_user, root_password, bucket, region).ensure_bucket()
    url = urlsplit(endpoint)
    admin = MinioAdmin(endpoint=url.netloc, credentials=StaticProvider(root_user, root_password),
                       secure=url.scheme == "https", region=region)
    policy = f"{user}-bucket"
    admin.policy_add(policy, policy=bucket_policy(bucket))
    admin.user_add(user, secret)
    try:
        admin.attach_policy([policy], user=user)
    except MinioAdminException as e:
        if "already" not in str(e):  # "policy change is already in effect"
            raise


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    bucket, user = argv
    env = os.environ
    provision(env["AWS_ENDPOINT_URL_S3"], env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"],
              bucket, user, env["WEBINAR_ARCHIVE_APP_SECRET"], env.get("AWS_DEFAULT_REGION", "us-east-1"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
