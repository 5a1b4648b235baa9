"""Copies the exact object versions a job is for to keys that nobody else writes.

A transform job's manifest can name keys only, not versions, and a job may start hours after
the upload (retries) and read for hours. Had the manifest named input/x.jsonl, an overwrite in
the meantime would make the job read the new bytes under the old upload's job name, and the old
upload would never be classified. So the trigger copies each version first (CopyObject with the
VersionId in CopySource) to <pinned prefix><job name>/<relative key>, and the manifest names
the copies. The job name is derived from the upload's identity, so a copy's key belongs to one
upload forever: a repeated copy (a retried message) writes the same bytes again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_errors import error_code
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from input_limits import InputLimits, InputTooLargeError, dataset_too_large
from job_names import NULL_VERSION_ID
from object_routing import DATASET_MARKER

# Server-side copies run side by side: a dataset's parts, and the parts of one large object, so
# pinning stays far within the Lambda's timeout. boto3 clients may be shared between threads.
COPY_WORKERS = 16
# CopyObject copies at most 5 GB in one request; larger objects need a multipart copy
# (UploadPartCopy; https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). Above
# this size boto3's managed copy splits the object into parts copied in parallel
# (s3transfer/copies.py: HeadObject of the exact version, then CreateMultipartUpload and
# UploadPartCopy, each given the same VersionId and CopySourceIfMatch); below it one
# CopyObject is quicker.
MULTIPART_COPY_THRESHOLD = 256 * 1024**2
# What S3 answers when CopySourceIfMatch no longer matches the source: 412 PreconditionFailed.
_SOURCE_CHANGED = frozenset({"PreconditionFailed", "412"})


class PinningError(Exception):
    """A version that can never be copied: retrying the message cannot help."""


@dataclass(frozen=True, kw_only=True)
class SourceVersion:
    """One object version a job reads, and where its copy goes under the job's folder."""

    key: str
    # "null" where versioning is suspended: S3 then holds a single version of the key.
    version_id: str
    # Without quotes. For a "null" version it guards the copy: the key may have been
    # overwritten in place since the upload, and then the copy must fail, not read new bytes.
    etag: str | None
    size: int | None
    # The path below the job's folder; SageMaker names each result after it (<path>.out).
    relative_key: str


def pinned_folder(*, pinned_prefix: str, job_name: str) -> str:
    return f"{pinned_prefix}{job_name}/"


def copy_request(
    *, bucket: str, source: SourceVersion, folder: str, kms_key_id: str
) -> dict[str, Any]:
    """The CopyObject arguments that copy exactly `source` into `folder`, under the stack key."""
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": f"{folder}{source.relative_key}",
        "CopySource": {"Bucket": bucket, "Key": source.key, "VersionId": source.version_id},
        # Named explicitly rather than left to the bucket default, like every object the
        # trigger writes.
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_key_id,
        # The copy gets no tags. CopyObject's TaggingDirective defaults to COPY, and copying the
        # tag-set of a tagged version needs s3:GetObjectVersionTagging on the source and
        # s3:PutObjectTagging on the copy (CopyObject, x-amz-tagging-directive and
        # x-amz-tagging: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html);
        # without both, every tagged upload failed with AccessDenied. The copy is the job's
        # private input, read only by SageMaker and removed with the job's files: the user's
        # tags mean nothing there, so the trigger neither reads nor writes any. REPLACE with no
        # Tagging writes the empty tag-set and needs neither permission. For a multipart copy,
        # boto3's managed copy (s3transfer/copies.py, _apply_tags) reads and writes tags only
        # for COPY, or for REPLACE with a non-empty Tagging; UploadPartCopy copies none.
        "TaggingDirective": "REPLACE",
    }
    if source.version_id == NULL_VERSION_ID and source.etag:
        # An entity tag in its quoted form (RFC 9110), as S3 returns it.
        request["CopySourceIfMatch"] = f'"{source.etag.strip(chr(34))}"'
    return request


def _copy(
    *,
    s3: Any,
    bucket: str,
    source: SourceVersion,
    request: dict[str, Any],
    multipart_threshold: int,
) -> None:
    try:
        if (source.size or 0) <= multipart_threshold:
            s3.copy_object(**request)
            return
        extra_args = {
            name: value
            for name, value in request.items()
            if name not in ("Bucket", "Key", "CopySource")
        }
        s3.copy(
            request["CopySource"],
            request["Bucket"],
            request["Key"],
            ExtraArgs=extra_args,
            Config=TransferConfig(
                multipart_threshold=multipart_threshold,
                multipart_chunksize=multipart_threshold,
                max_concurrency=COPY_WORKERS,
            ),
        )
    except ClientError as error:
        if error_code(error) in _SOURCE_CHANGED:
            raise PinningError(
                f"s3://{bucket}/{source.key} was overwritten before its upload could be copied; "
                "with versioning suspended that upload's bytes no longer exist (the newer "
                "upload starts its own job)"
            ) from error
        raise


def pin_versions(
    *,
    s3: Any,
    bucket: str,
    sources: list[SourceVersion],
    folder: str,
    kms_key_id: str,
    multipart_threshold: int = MULTIPART_COPY_THRESHOLD,
) -> None:
    """Copies every source version into `folder`; raises on the first copy that failed."""
    requests = [
        (source, copy_request(bucket=bucket, source=source, folder=folder, kms_key_id=kms_key_id))
        for source in sources
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(COPY_WORKERS, len(requests)))) as pool:
        copies = [
            pool.submit(
                _copy,
                s3=s3,
                bucket=bucket,
                source=source,
                request=request,
                multipart_threshold=multipart_threshold,
            )
            for source, request in requests
        ]
        for copy in copies:
            copy.result()


def is_part_file(relative_key: str, size: int) -> bool:
    """Whether an object under a dataset's folder is data for its job.

    In the Hadoop/Spark convention, names starting with '_' or '.' are markers, checksums and
    work in progress, not data: _SUCCESS, .part-0.crc, and whole folders such as
    _temporary/0/part-9.jsonl (a task's uncommitted output) or .spark-staging/. So every path
    component is checked, not only the file name. Empty parts have no records to classify.
    """
    components = relative_key.split("/")
    return (
        size > 0
        and not any(component.startswith(("_", ".")) for component in components)
        and components[-1] != DATASET_MARKER
    )


def latest_dataset_parts(
    *, s3: Any, bucket: str, dataset_prefix: str, limits: InputLimits
) -> list[SourceVersion]:
    """The current version of each part file of the dataset (any folder depth), sorted.

    ListObjectVersions, not ListObjectsV2: only it says which version is current, so the job
    reads the parts as they were when the trigger saw the dataset's marker, even if a part is
    overwritten while the job runs. A key whose current version is a delete marker has no
    current entry in Versions, so deleted parts are left out.

    Raises InputTooLargeError as soon as the dataset is past a limit: listing stops there, so
    even a folder of millions of versions costs a bounded number of pages (1,000 entries each).
    """
    parts: list[SourceVersion] = []
    total_bytes = 0
    listed = 0
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=dataset_prefix)
    for page in pages:
        listed += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        refusal = dataset_too_large(
            listed=listed, parts=len(parts), total_bytes=total_bytes, largest=0, limits=limits
        )
        if refusal:
            raise InputTooLargeError(refusal)
        for version in page.get("Versions", []):
            relative_key = version["Key"][len(dataset_prefix) :]
            size = int(version["Size"])
            if not (version.get("IsLatest") and is_part_file(relative_key, size)):
                continue
            parts.append(
                SourceVersion(
                    key=version["Key"],
                    version_id=str(version.get("VersionId") or NULL_VERSION_ID),
                    etag=str(version["ETag"]).strip('"'),
                    size=size,
                    relative_key=relative_key,
                )
            )
            total_bytes += size
            refusal = dataset_too_large(
                listed=listed,
                parts=len(parts),
                total_bytes=total_bytes,
                largest=size,
                limits=limits,
            )
            if refusal:
                raise InputTooLargeError(refusal)
    return sorted(parts, key=lambda part: part.relative_key)
