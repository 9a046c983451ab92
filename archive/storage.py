"""The S3 store: the only module that talks to boto3.

Everything else speaks in archive terms (keys, files, presigned links) and sees
one error type, StorageError.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from urllib.parse import quote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .config import Settings

# Parallel multipart transfers for big recordings; 64 MiB parts keep a 50 GB file
# far below S3's 10,000-part ceiling.
def _transfer_config(threads: int) -> TransferConfig:
    """Multipart transfers with `threads` parts in flight (Settings.upload_threads)."""
    return TransferConfig(
        multipart_threshold=64 * 1024 * 1024,
        multipart_chunksize=32 * 1024 * 1024,
        max_concurrency=threads,
    )


class StorageError(Exception):
    """Any failure of the object store, with the S3 error chained."""


class DeleteIncomplete(StorageError):
    """S3 accepted a DeleteObjects request but refused some of its keys: `failed` maps
    each key left in the bucket to S3's "Code: Message" for it."""

    def __init__(self, failed: dict[str, str]):
        named = "; ".join(f"{key} ({why})" for key, why in list(failed.items())[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        super().__init__(f"delete left {len(failed)} object(s): {named}{more}")
        self.failed = failed


class ObjectExists(StorageError):
    """A conditional write found the key taken: nothing was written."""


# Error codes of a request the server does not implement: community MinIO answers
# PutBucketCors so (its CORS is a server setting).
NOT_IMPLEMENTED = frozenset({"NotImplemented", "501"})


def _code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def cors_rules(origins: list[str]) -> dict:
    """The bucket CORS rule the browser uploader needs: GET/HEAD for media, PUT for
    parts, POST for a speaker's photo, and `ETag` readable (the uploader lists parts by it)."""
    return {"CORSRules": [{"AllowedOrigins": list(origins), "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
                           "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3600}]}


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes from a pipe (which hands out what it has), fewer only at its end."""
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def content_disposition(filename: str, inline: bool = False) -> str:
    """An RFC 6266 header value with an ASCII fallback and the UTF-8 name."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    fallback = fallback.strip() or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class S3Store:
    """One bucket on S3 or an S3-compatible server (MinIO)."""

    HASH_BACKLOG = 32  # 1 MiB pieces read but not hashed yet (download_hashed)

    def __init__(self, settings: Settings):
        self.bucket = settings.bucket
        self.presign_seconds = settings.presign_seconds
        self.media_cdn_url = settings.media_cdn_url
        self._transfer = _transfer_config(settings.upload_threads)
        config = Config(
            max_pool_connections=max(10, 2 * settings.upload_threads),
            signature_version="s3v4",
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            retries={"max_attempts": 5, "mode": "standard"},
        )
        common = dict(
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            config=config,
        )
        self._client = boto3.client("s3", endpoint_url=settings.s3_endpoint, **common)
        # Presigned URLs are signed for the host the browser uses, which differs
        # from the server-side one behind Docker or a proxy.
        if settings.s3_public_endpoint and settings.s3_public_endpoint != settings.s3_endpoint:
            self._presigner = boto3.client(
                "s3", endpoint_url=settings.s3_public_endpoint, **common
            )
        else:
            self._presigner = self._client

    # -- bucket ---------------------------------------------------------------
    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("403", "AccessDenied"):
                raise StorageError(f"no access to bucket {self.bucket!r} with these credentials: {e}") from e
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"bucket {self.bucket!r}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"cannot reach the object store: {e}") from e
        try:
            self._client.create_bucket(Bucket=self.bucket)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("403", "AccessDenied"):
                raise StorageError(f"bucket {self.bucket!r} does not exist and these credentials may not "
                                   "create it: create it first (scripts/run and docker compose do)") from e
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageError(f"cannot create bucket {self.bucket!r}: {e}") from e

    def set_cors(self, origins: list[str]) -> bool:
        """Give the bucket the uploader's CORS rule (cors_rules) for `origins`, where the
        server keeps CORS per bucket (AWS S3, versitygw); False where it has none
        (community MinIO: its CORS is the server-wide MINIO_API_CORS_ALLOW_ORIGIN). Needs
        the bucket owner's credentials (set-up only: the app's user may not)."""
        try:
            self._client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration=cors_rules(origins))
        except ClientError as e:
            if _code(e) in NOT_IMPLEMENTED:
                return False
            raise StorageError(f"cannot set the CORS rule of bucket {self.bucket!r}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"cannot set the CORS rule of bucket {self.bucket!r}: {e}") from e
        return True

    def set_policy(self, policy: dict) -> None:
        """The bucket's policy (set-up only, with the owner's credentials): how servers
        without per-user policies (versitygw) limit the app's user to this bucket."""
        try:
            self._client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot set the policy of bucket {self.bucket!r}: {e}") from e

    # -- objects --------------------------------------------------------------
    def upload_file(
        self,
        path: Path,
        key: str,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        callback: Callable[[int], None] | None = None,
    ) -> None:
        """Upload in parallel parts (TransferConfig); `callback`, when given, is called with
        the number of bytes just sent, from the transfer's threads (boto3's Callback)."""
        extra: dict = {}
        ctype = content_type or mimetypes.guess_type(str(path))[0]
        if ctype:
            extra["ContentType"] = ctype
        if metadata:
            # S3 user metadata is ASCII only; callers quote non-ASCII values.
            extra["Metadata"] = metadata
        try:
            self._client.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=self._transfer,
                                     Callback=callback)
        except (ClientError, BotoCoreError, boto3.exceptions.S3UploadFailedError) as e:
            raise StorageError(f"upload of {key} failed: {e}") from e

    def upload_stream(self, stream: BinaryIO, key: str, content_type: str, writer: Future,
                      part_bytes: int = 16 * 1024 * 1024, keep_head: int = 0) -> bytes | None:
        """Upload what a writer sends down a pipe (ffmpeg writing an output to `pipe:N`) as
        it comes: each part is sent once `part_bytes` have arrived, several at a time (at
        most as many in memory as parts in flight), and nothing touches the disk. At the
        end of the stream the upload is completed if `writer` (a Future set by whoever
        waits for the writer) says True, else aborted: a writer that failed leaves no
        object, and None is returned. Returns the stream's first `keep_head` bytes."""
        try:
            upload_id = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot start an upload to {key}: {e}") from e
        threads = max(1, self._transfer.max_request_concurrency)
        room = threading.BoundedSemaphore(threads)
        head = b""

        def send(number: int, data: bytes) -> dict:
            try:
                r = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                             PartNumber=number, Body=data)
                return {"PartNumber": number, "ETag": r["ETag"]}
            finally:
                room.release()

        try:
            parts: list[Future] = []
            with ThreadPoolExecutor(max_workers=threads) as pool:
                while True:
                    data = _read_full(stream, part_bytes)
                    if not data and parts:
                        break
                    if not head and keep_head:
                        head = data[:keep_head]
                    room.acquire()
                    parts.append(pool.submit(send, len(parts) + 1, data))
                    if len(data) < part_bytes or any(p.done() and p.exception() for p in parts):
                        break
                done = [p.result() for p in parts]
            if not writer.result():
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                return None
            self._client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                   MultipartUpload={"Parts": done})
        except BaseException as e:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass  # `sweep` removes abandoned uploads
            if isinstance(e, (ClientError, BotoCoreError)):
                raise StorageError(f"upload of {key} failed: {e}") from e
            raise
        return head

    def put_bytes(self, key: str, data: bytes, content_type: str, if_absent: bool = False) -> None:
        """Write one small object; with `if_absent`, only if the key is free (If-None-Match:
        *, decided by the server, so two writers racing cannot both win): ObjectExists
        otherwise. MinIO, versitygw and AWS S3 answer 412; AWS S3 409 when a concurrent
        write of the key won; either way nothing was written."""
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)
        except ClientError as e:
            if if_absent and _code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise ObjectExists(f"{key} exists already") from e
            raise StorageError(f"write of {key} failed: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"write of {key} failed: {e}") from e

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"read of {key} failed: {e}") from e

    def download_file(self, key: str, path: Path) -> None:
        try:
            self._client.download_file(self.bucket, key, str(path), Config=self._transfer)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"download of {key} failed: {e}") from e

    def head(self, key: str) -> dict | None:
        """Size, type and metadata of an object, or None when it does not exist."""
        try:
            r = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"HEAD of {key} failed: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"HEAD of {key} failed: {e}") from e
        return {
            "size": r["ContentLength"],
            "content_type": r.get("ContentType"),
            "etag": r.get("ETag", "").strip('"'),
            "metadata": r.get("Metadata", {}),
        }

    def _objects(self, prefix: str) -> Iterator[dict]:
        """Every object under `prefix` as ListObjectsV2 describes it (Key, Size, LastModified...),
        page by page."""
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix,
                                           PaginationConfig={"PageSize": self.LIST_PAGE}):
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"listing {prefix} failed: {e}") from e

    def list_keys(self, prefix: str) -> Iterator[str]:
        for obj in self._objects(prefix):
            yield obj["Key"]

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` with its size in bytes."""
        return {obj["Key"]: obj["Size"] for obj in self._objects(prefix)}

    # Per-key errors of DeleteObjects worth sending again; any other (AccessDenied, a
    # WORM-protected object, ...) would fail the same way.
    DELETE_RETRY_CODES = frozenset({"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout",
                                    "OperationAborted"})
    DELETE_ATTEMPTS = 3
    DELETE_BATCH = 1000  # keys per DeleteObjects request: S3's most
    LIST_PAGE = 1000  # keys per ListObjectsV2 answer: S3's most

    def delete_keys(self, keys: list[str]) -> None:
        """Delete every key, or raise: DeleteObjects answers 200 even when it refuses some
        keys, listing them under `Errors` (DeleteIncomplete names them). Keys refused for a
        passing reason are sent again, up to DELETE_ATTEMPTS times in all."""
        pending = list(dict.fromkeys(keys))
        for attempt in range(1, self.DELETE_ATTEMPTS + 1):
            failed: dict[str, tuple[str, str]] = {}
            for start in range(0, len(pending), self.DELETE_BATCH):
                failed.update(self._delete_batch(pending[start : start + self.DELETE_BATCH]))
            if not failed:
                return
            pending = [k for k, (code, _) in failed.items() if code in self.DELETE_RETRY_CODES]
            if len(pending) < len(failed) or attempt == self.DELETE_ATTEMPTS:
                break
            time.sleep(0.2 * 2**attempt)  # back off before sending the keys again
        raise DeleteIncomplete({key: f"{code}: {message}" for key, (code, message) in failed.items()})

    def _delete_batch(self, keys: list[str]) -> dict[str, tuple[str, str]]:
        """One DeleteObjects request (at most 1000 keys); the keys it refused, with S3's
        code and message for each."""
        try:
            answer = self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"delete failed: {e}") from e
        return {e.get("Key", "?"): (e.get("Code", "unknown"), e.get("Message", "")) for e in answer.get("Errors", [])}

    def delete_prefix(self, prefix: str) -> None:
        self.delete_keys(list(self.list_keys(prefix)))

    # -- links ----------------------------------------------------------------
    def presigned_get(
        self,
        key: str,
        download_name: str | None = None,
        content_type: str | None = None,
        inline: bool = False,
        expires: int | None = None,
    ) -> str:
        params: dict = {"Bucket": self.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition(download_name, inline=inline)
        if content_type:
            params["ResponseContentType"] = content_type
        try:
            url = self._presigner.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires or self.presign_seconds
            )
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot sign a link to {key}: {e}") from e
        if self.media_cdn_url:
            # Signed for S3's host; the CDN forwards the same path and query to S3 with S3's
            # Host, so the signature holds, and the link still expires and names the file.
            signed = urlsplit(url)
            url = f"{self.media_cdn_url}{signed.path}?{signed.query}"
        return url

    # -- multipart uploads from the browser -----------------------------------
    # The browser PUTs parts straight to S3 on presigned URLs; the server only
    # starts, signs, lists, completes and aborts.
    def create_multipart(self, key: str, content_type: str, metadata: dict[str, str] | None = None) -> str:
        """Start a multipart upload under `key`; returns S3's UploadId."""
        try:
            r = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=metadata or {})
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot start an upload to {key}: {e}") from e
        return r["UploadId"]

    def presign_upload_part(self, key: str, upload_id: str, part_number: int, length: int,
                            expires: int = 3600) -> str:
        """A URL the browser PUTs one part of exactly `length` bytes to (signed for the
        browser-facing endpoint): the length is signed in, and S3 refuses any other."""
        try:
            return self._presigner.generate_presigned_url(
                "upload_part", ExpiresIn=expires,
                Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number,
                        "ContentLength": length})
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot sign part {part_number} of {key}: {e}") from e

    def list_parts(self, key: str, upload_id: str) -> list[dict]:
        """The parts S3 holds: [{"PartNumber", "ETag", "Size"}], by part number."""
        parts: list[dict] = []
        try:
            paginator = self._client.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                parts += [{"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                          for p in page.get("Parts", [])]
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot list the parts of {key}: {e}") from e
        return sorted(parts, key=lambda p: p["PartNumber"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict]) -> None:
        """Join the parts ([{"PartNumber", "ETag"}], ascending) into the object."""
        try:
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]})
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot complete the upload to {key}: {e}") from e

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts; one that is already gone is fine."""
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                return
            raise StorageError(f"cannot abort the upload to {key}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"cannot abort the upload to {key}: {e}") from e

    def download_hashed(self, key: str, path: Path, chunk: int = 1024 * 1024) -> str:
        """Download to `path` in one GET and return the SHA-256 of what was written, taken
        as it arrives: one pass over the bytes instead of a download and a second read. The
        hash runs in a thread of its own, beside the download (hashlib and socket reads
        both let go of the GIL: on two cores a 1 GB file is hashed by the time its last
        byte is written). Read in 1 MiB pieces with at most HASH_BACKLOG of them waiting
        for the hash, so memory stays flat (the transfer manager's parallel ranged GETs
        buffer tens of MB): the web process fetches photos this way."""
        h = hashlib.sha256()
        blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=self.HASH_BACKLOG)

        def hash_blocks() -> None:
            while (block := blocks.get()) is not None:
                h.update(block)

        hasher = threading.Thread(target=hash_blocks, name=f"sha256 {key}", daemon=True)
        hasher.start()
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            with open(path, "wb") as f:
                for block in body.iter_chunks(chunk):
                    blocks.put(block)
                    f.write(block)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"download of {key} failed: {e}") from e
        finally:
            blocks.put(None)
            hasher.join()
        return h.hexdigest()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes of an object from `start` (one ranged GET): a few MiB at most."""
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key,
                                           Range=f"bytes={start}-{start + length - 1}")["Body"]
            return body.read()
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"reading bytes {start}-{start + length - 1} of {key} failed: {e}") from e

    def list_multipart_uploads(self, prefix: str = "") -> list[dict]:
        """Unfinished uploads in the bucket under `prefix`: [{"Key", "UploadId", "Initiated"}]."""
        found: list[dict] = []
        try:
            # The prefix is applied here: MinIO lists nothing for a Prefix that is not
            # a whole object name (measured with the pinned release).
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket):
                found += [{"Key": u["Key"], "UploadId": u["UploadId"], "Initiated": u["Initiated"]}
                          for u in page.get("Uploads", []) if u["Key"].startswith(prefix)]
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot list unfinished uploads: {e}") from e
        return found

    # -- small uploads from the browser (one POST) and server-side copies ------
    def presigned_post(self, key: str, content_type_prefix: str, max_bytes: int, expires: int = 600) -> dict:
        """A form the browser POSTs one file to, straight to S3: {"url", "fields"}. The
        policy holds S3 to this key, a size of 1..max_bytes and a Content-Type field that
        starts with `content_type_prefix` (the browser adds that field, then the file)."""
        try:
            post = self._presigner.generate_presigned_post(
                Bucket=self.bucket, Key=key, ExpiresIn=expires,
                Conditions=[["content-length-range", 1, max_bytes],
                            ["starts-with", "$Content-Type", content_type_prefix]])
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot sign an upload to {key}: {e}") from e
        return {"url": post["url"], "fields": dict(post["fields"])}

    def copy(self, source: str, key: str, content_type: str | None = None) -> None:
        """Copy an object inside the bucket, on the server (at most 5 GB: one CopyObject);
        with `content_type`, the copy gets that type instead of the source's."""
        extra: dict = {"MetadataDirective": "REPLACE", "ContentType": content_type} if content_type else {}
        try:
            self._client.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source},
                                     **extra)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"copy of {source} to {key} failed: {e}") from e

    def list_objects(self, prefix: str) -> dict[str, tuple[int, dt.datetime]]:
        """Every key under `prefix` with its size and last change (aware, UTC)."""
        return {obj["Key"]: (obj["Size"], obj["LastModified"]) for obj in self._objects(prefix)}

    def sha256_of(self, key: str, chunk: int = 1024 * 1024) -> str:
        """The SHA-256 of an object, read in one GET and hashed as it arrives (nothing is
        written to disk; memory stays flat)."""
        h = hashlib.sha256()
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            for block in body.iter_chunks(chunk):
                h.update(block)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"read of {key} failed: {e}") from e
        return h.hexdigest()

    def list_modified(self, prefix: str) -> dict[str, dt.datetime]:
        """Every key under `prefix` with its last change (aware, UTC)."""
        return {obj["Key"]: obj["LastModified"] for obj in self._objects(prefix)}
