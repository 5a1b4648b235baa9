"""Writing the copied model into the data bucket: verified uploads, reuse, the archive, removal.

Every object is written with SSE-KMS under the stack's data key and carries the hub's digest of
its content in its metadata (`x-amz-meta-zstc-content-digest`), so a retried or resumed copy
knows which files are already there and correct. A file is streamed from the hub to S3 in parts
and its hash is checked before the upload is completed: on a mismatch the multipart upload is
aborted, so a corrupt file never becomes visible, and nothing is written to the function's disk.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from botocore.exceptions import ClientError
from hub_files import ContentHasher, HubFile

DIGEST_METADATA_KEY = "zstc-content-digest"
# Multipart part size: S3 allows 5 MiB to 5 GiB per part and 10,000 parts, so 64 MiB parts
# carry files up to 625 GiB; the function holds one part in memory at a time.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
PART_SIZE = 64 * 1024 * 1024
READ_SIZE = 8 * 1024 * 1024
# safetensors and .bin weights barely compress; level 1 keeps the archive fast to build.
ARCHIVE_GZIP_LEVEL = 1


class CorruptDownload(Exception):
    """The bytes read from the hub do not have the hub's hash or size."""


def encryption_args(kms_key_arn: str) -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}


def stored_digest(s3: Any, *, bucket: str, key: str) -> str | None:
    """The content digest recorded on an object, or None when there is no such object."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    digest: str | None = head.get("Metadata", {}).get(DIGEST_METADATA_KEY)
    return digest


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = source.read(min(READ_SIZE, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def upload_verified(
    s3: Any, *, bucket: str, key: str, kms_key_arn: str, source: BinaryIO, hub_file: HubFile
) -> None:
    """Streams source to s3://bucket/key; completes only if size and hash match the hub's."""
    hasher = ContentHasher(hub_file)
    metadata = {DIGEST_METADATA_KEY: hub_file.expected_digest}
    first = _read_exactly(source, PART_SIZE)
    hasher.update(first)
    if len(first) < PART_SIZE:
        trailing = source.read(1)
        hasher.update(trailing)
        problem = hasher.problem()
        if problem is not None:
            raise CorruptDownload(problem)
        s3.put_object(
            Bucket=bucket, Key=key, Body=first, Metadata=metadata, **encryption_args(kms_key_arn)
        )
        return
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, Metadata=metadata, **encryption_args(kms_key_arn)
    )["UploadId"]
    try:
        parts: list[dict[str, Any]] = []
        part = first
        while part:
            number = len(parts) + 1
            etag = s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
            part = _read_exactly(source, PART_SIZE)
            hasher.update(part)
        problem = hasher.problem()
        if problem is not None:
            raise CorruptDownload(problem)
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        # Nothing half-written stays: the parts are discarded (the bucket's lifecycle rule
        # aborting incomplete uploads is the backstop if this call itself fails).
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def copy_verified(
    s3: Any, *, bucket: str, source_key: str, key: str, kms_key_arn: str, digest: str
) -> bool:
    """Copies an earlier verified copy of the same content inside the bucket, without the hub.

    Returns False (copies nothing) unless the source carries exactly this digest.
    """
    if stored_digest(s3, bucket=bucket, key=source_key) != digest:
        return False
    # The managed copy switches to a multipart UploadPartCopy above 8 MiB, so files over
    # CopyObject's 5 GiB limit work too; the source's metadata (its digest) is copied along.
    s3.copy(
        {"Bucket": bucket, "Key": source_key},
        bucket,
        key,
        ExtraArgs=encryption_args(kms_key_arn),
    )
    return True


class _MultipartWriter(io.RawIOBase):
    """A write-only file that uploads what is written as the parts of one multipart upload."""

    def __init__(self, s3: Any, *, bucket: str, key: str, upload_id: str) -> None:
        self._s3, self._bucket, self._key, self._upload_id = s3, bucket, key, upload_id
        self._buffer = bytearray()
        self.parts: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) >= PART_SIZE:
            self._send(bytes(self._buffer[:PART_SIZE]))
            del self._buffer[:PART_SIZE]
        return len(data)

    def flush_last(self) -> None:
        if self._buffer or not self.parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()

    def _send(self, part: bytes) -> None:
        number = len(self.parts) + 1
        etag = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})


def write_archive(
    s3: Any,
    *,
    bucket: str,
    members: Sequence[tuple[str, str]],
    key: str,
    kms_key_arn: str,
    digest: str,
) -> None:
    """Writes model.tar.gz from objects already in the bucket: (source key, name in archive).

    SageMaker batch transform cannot read an uncompressed S3 prefix (ModelDataSource), only a
    gzip-compressed tar in ModelDataUrl, so the batch model gets this archive of the same files.
    """
    upload_id = s3.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        Metadata={DIGEST_METADATA_KEY: digest},
        **encryption_args(kms_key_arn),
    )["UploadId"]
    writer = _MultipartWriter(s3, bucket=bucket, key=key, upload_id=upload_id)
    try:
        gz = gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=ARCHIVE_GZIP_LEVEL, mtime=0)
        with gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for source_key, name in members:
                obj = s3.get_object(Bucket=bucket, Key=source_key)
                info = tarfile.TarInfo(name)
                info.size = obj["ContentLength"]
                info.mode = 0o644
                tar.addfile(info, obj["Body"])
        writer.flush_last()
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": writer.parts}
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def delete_everything_under(s3: Any, *, bucket: str, prefixes: Iterable[str]) -> int:
    """Deletes every version of every object under the prefixes; returns how many.

    The data bucket is versioned: a plain delete would leave the weights billing as noncurrent
    versions for the lifecycle rule's 30 days.
    """
    deleted = 0
    for prefix in prefixes:
        try:
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                versions = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in (*page.get("Versions", ()), *page.get("DeleteMarkers", ()))
                ]
                # DeleteObjects takes at most 1,000 keys per request.
                for start in range(0, len(versions), 1000):
                    batch = versions[start : start + 1000]
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                    deleted += len(batch)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return deleted
            raise
    return deleted
