"""Uploads a validated JSON Lines batch so the trigger starts one transform job, and names it.

Two shapes, both KMS-encrypted with the stack's key (SSE-KMS):
- one file under input/<name>.jsonl: one job over that file;
- a dataset split into parts under datasets/<name>/part-NNNNN.jsonl, then a zero-byte _SUCCESS
  marker: one job over all parts, which SageMaker spreads across the job's instances.
The job name is computed with the trigger's own function (lambda/transform_trigger/job_names.py,
installed with the client: zstc/bundled_code.py) from the key and version that S3 returned, so
the printed name is exactly the job the trigger starts. That code is loaded before the first
upload: an upload starts a job, so nothing that can fail may come after it.

Uploads go through boto3's managed transfer (`upload_fileobj`: multipart above 8 MB, with a
progress callback; boto3/s3/inject.py). It returns no response, so each upload carries a unique
token in its user metadata, and the version that holds the token is the one S3 created for it.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.batch.limits import BYTES_PER_MB
from zstc.cli_errors import CliError

# Mirrors stacks/data_layout.py; the CLI does not import the CDK app's modules.
INPUT_PREFIX = "input/"
DATASETS_PREFIX = "datasets/"
MARKER_NAME = "_SUCCESS"
JSONL_SUFFIX = ".jsonl"
# Zero-padded so that sorting part names restores input order.
PART_NAME = "part-{index:05d}.jsonl"
MAX_PARTS = 10_000


def trigger_job_name(*, prefix: str, bucket: str, key: str, version_id: str | None) -> str | None:
    """The job the trigger starts for this upload, or None where only the trigger can know it.

    The trigger names a job after the upload's VersionId, or after the S3 event's sequencer
    where the version is "null" (versioning suspended); a PutObject response has no sequencer.
    """
    from zstc.bundled_code import job_names

    naming = job_names()
    identity = naming.upload_identity(version_id=version_id, sequencer=None)
    if identity is None:
        return None
    name: str = naming.transform_job_name(prefix=prefix, bucket=bucket, key=key, version=identity)
    return name


def check_job_naming() -> None:
    """Fails now, before any upload, when the trigger's naming code cannot be loaded."""
    from zstc.bundled_code import job_names

    job_names()


def split_by_count(lines: Sequence[str], *, parts: int) -> list[list[str]]:
    """Contiguous parts of (almost) equal line counts, in input order."""
    if parts < 1 or parts > MAX_PARTS:
        raise CliError(f"--parts: {parts} is out of range; expected 1 to {MAX_PARTS}", exit_code=2)
    if parts > len(lines):
        raise CliError(
            f"--parts: {parts} parts asked for a file of {len(lines)} lines; expected at most "
            "one part per line",
            exit_code=2,
        )
    size, extra = divmod(len(lines), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(lines[start:end]))
        start = end
    return chunks


def split_by_size(lines: Sequence[str], *, max_mb: float) -> list[list[str]]:
    """Contiguous parts of at most max_mb megabytes each (lines are never cut)."""
    if max_mb <= 0:
        raise CliError(f"--split-mb: {max_mb} must be greater than 0", exit_code=2)
    limit = int(max_mb * BYTES_PER_MB)
    chunks: list[list[str]] = [[]]
    used = 0
    for line_number, line in enumerate(lines, start=1):
        size = len(line.encode("utf-8")) + 1
        if size > limit:
            raise CliError(
                f"--split-mb: line {line_number} alone is {size} bytes, more than {max_mb} MB",
                exit_code=2,
            )
        if used + size > limit and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += size
    if len(chunks) > MAX_PARTS:
        raise CliError(
            f"--split-mb: {max_mb} MB makes {len(chunks)} parts; at most {MAX_PARTS} are allowed",
            exit_code=2,
        )
    return chunks


def jsonl_body(lines: Sequence[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _version_of(response: dict[str, Any]) -> str | None:
    """The VersionId S3 gave the upload; None or "null" where versioning is not enabled."""
    version = response.get("VersionId")
    return str(version) if version else None


UPLOAD_TOKEN_METADATA = "zstc-upload-token"
ProgressCallback = Callable[[int], None]


def _version_holding(*, s3: Any, bucket: str, key: str, token: str) -> dict[str, Any]:
    """The head of the version of `key` whose metadata carries `token` (newest checked first)."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []):
            if version["Key"] != key:
                continue
            extra = (
                {}
                if version.get("VersionId") in (None, "null")
                else {"VersionId": version["VersionId"]}
            )
            head = s3.head_object(Bucket=bucket, Key=key, **extra)
            if head.get("Metadata", {}).get(UPLOAD_TOKEN_METADATA) == token:
                return {**head, "VersionId": version.get("VersionId")}
    # An unversioned bucket lists the one current object as version "null"; head it directly.
    head = s3.head_object(Bucket=bucket, Key=key)
    if head.get("Metadata", {}).get(UPLOAD_TOKEN_METADATA) == token:
        return dict(head)
    raise CliError(
        f"uploaded s3://{bucket}/{key}, but cannot find the version it created (overwritten at "
        "once?); see `zstc batch status` for the job it started"
    )


def put_encrypted(
    *,
    s3: Any,
    bucket: str,
    key: str,
    body: bytes,
    kms_key_arn: str,
    on_bytes: ProgressCallback | None = None,
) -> str | None:
    """Uploads with SSE-KMS under the stack's key; returns the VersionId S3 gave it."""
    token = uuid.uuid4().hex
    try:
        s3.upload_fileobj(
            io.BytesIO(body),
            bucket,
            key,
            ExtraArgs={
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": kms_key_arn,
                "ContentType": "application/jsonlines",
                "Metadata": {UPLOAD_TOKEN_METADATA: token},
            },
            Callback=on_bytes,
        )
        response = _version_holding(s3=s3, bucket=bucket, key=key, token=token)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"upload to s3://{bucket}/{key} failed: {error}") from error
    return _version_of(response)


@dataclass(frozen=True, kw_only=True)
class Submission:
    # None where the bucket's versioning is suspended: the trigger names the job after the S3
    # event's sequencer, which only it sees.
    job_name: str | None
    bucket: str
    # The data the job reads: one input/ key, or the datasets/<name>/ prefix.
    input_uri: str
    uploaded_keys: list[str]
    line_count: int


def check_object_name(name: str, *, given_as: str = "--name") -> str:
    """given_as: where the name came from, for the message ("--name", or FILE's own name)."""
    fix = "" if given_as == "--name" else "; rename it, or choose the object name with --name"
    if not name.endswith(JSONL_SUFFIX) or name == JSONL_SUFFIX:
        raise CliError(
            f"{given_as}: {name!r} must end with {JSONL_SUFFIX}; the trigger only starts jobs "
            f"for .jsonl files{fix}",
            exit_code=2,
        )
    if name.startswith("/") or ".." in name.split("/"):
        raise CliError(
            f"{given_as}: {name!r} must be a relative key such as team/x.jsonl", exit_code=2
        )
    return name


def submit_file(
    *,
    s3: Any,
    bucket: str,
    kms_key_arn: str,
    job_name_prefix: str,
    lines: Sequence[str],
    object_name: str,
    on_bytes: ProgressCallback | None = None,
) -> Submission:
    """Uploads the lines as input/<object_name>; the upload itself starts the job."""
    key = INPUT_PREFIX + check_object_name(object_name)
    check_job_naming()
    version = put_encrypted(
        s3=s3,
        bucket=bucket,
        key=key,
        body=jsonl_body(lines),
        kms_key_arn=kms_key_arn,
        on_bytes=on_bytes,
    )
    return Submission(
        job_name=trigger_job_name(
            prefix=job_name_prefix, bucket=bucket, key=key, version_id=version
        ),
        bucket=bucket,
        input_uri=f"s3://{bucket}/{key}",
        uploaded_keys=[key],
        line_count=len(lines),
    )


def check_dataset_name(name: str) -> str:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    if not name or not set(name) <= allowed or name.startswith("."):
        raise CliError(
            f"--dataset: {name!r} is not allowed; expected letters, digits, '-', '_' or '.'",
            exit_code=2,
        )
    return name


def submit_dataset(
    *,
    s3: Any,
    bucket: str,
    kms_key_arn: str,
    job_name_prefix: str,
    parts: Sequence[Sequence[str]],
    dataset_name: str,
    on_part_uploaded: Callable[[str], None] | None = None,
    on_bytes: ProgressCallback | None = None,
) -> Submission:
    """Uploads each part, then the _SUCCESS marker whose upload starts the one job over all."""
    prefix = f"{DATASETS_PREFIX}{check_dataset_name(dataset_name)}/"
    check_job_naming()
    try:
        existing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot list s3://{bucket}/{prefix}: {error}") from error
    if existing:
        # Old parts under the same prefix would silently join the new job's input.
        raise CliError(
            f"--dataset: s3://{bucket}/{prefix} already holds objects; choose another dataset "
            "name or delete them first",
            exit_code=2,
        )
    keys = []
    for index, part in enumerate(parts):
        key = prefix + PART_NAME.format(index=index)
        put_encrypted(
            s3=s3,
            bucket=bucket,
            key=key,
            body=jsonl_body(part),
            kms_key_arn=kms_key_arn,
            on_bytes=on_bytes,
        )
        keys.append(key)
        if on_part_uploaded is not None:
            on_part_uploaded(key)
    marker_key = prefix + MARKER_NAME
    version = put_encrypted(s3=s3, bucket=bucket, key=marker_key, body=b"", kms_key_arn=kms_key_arn)
    return Submission(
        job_name=trigger_job_name(
            prefix=job_name_prefix, bucket=bucket, key=marker_key, version_id=version
        ),
        bucket=bucket,
        input_uri=f"s3://{bucket}/{prefix}",
        uploaded_keys=[*keys, marker_key],
        line_count=sum(len(part) for part in parts),
    )
