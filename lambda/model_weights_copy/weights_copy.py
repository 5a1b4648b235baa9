"""The model weights copy, a CloudFormation custom resource run by the CDK Provider framework.

At deploy time it copies the model's files from the Hugging Face hub into the data bucket, so
the SageMaker containers load them from S3 with network isolation on, and synth never needs the
hub. on_event resolves the revision to a commit and lists the files with their hashes; then
is_complete, polled by the framework, copies file after file, each verified against the hub's
hash, until all are there. A poll stops taking new files when the function's remaining time is
short, and the next poll resumes: files already copied (their digest is in their metadata) are
skipped, so a failed or timed-out poll costs only the file it was on.

Where the files go: `<PrefixRoot><commit>-<code digest>/`, the model's files at the root and the
inference code under `code/` (the Hugging Face toolkit imports `<model dir>/code/inference.py`),
and for a batch model also `<PrefixRoot><commit>-<code digest>.tar.gz`. The physical resource id
is that prefix's S3 URI, so a new revision or new code is a new id: CloudFormation then replaces
the SageMaker Model, and deletes the old copy only after the update succeeded (its clean-up
phase); a rollback returns to the old id, whose files were never touched.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from hub_files import (
    HubError,
    HubFile,
    HubUnavailable,
    Opener,
    open_file,
    resolve_snapshot,
    select_files,
)
from s3_objects import (
    CorruptDownload,
    copy_verified,
    delete_everything_under,
    encryption_args,
    stored_digest,
    upload_verified,
    write_archive,
)

logger = logging.getLogger(__name__)

CODE_DIR = "code/"
LAYOUTS = ("prefix", "archive")
# Planning figure for a hub download inside AWS (bytes per second), deliberately low: a poll
# starts a file only if the remaining time covers it at this rate plus SAFETY_MARGIN_MS.
PLANNING_BYTES_PER_SECOND = 10 * 1024 * 1024
SAFETY_MARGIN_MS = 60_000
# A file whose bytes do not match the hub's hash is read again once; twice is an error.
DOWNLOAD_ATTEMPTS = 2
# Retries of the metadata request in on_event, which must not fail on one dropped connection.
RESOLVE_ATTEMPTS = 3
RESOLVE_BACKOFF_SECONDS = 5.0


class CopyError(Exception):
    """The copy cannot succeed; the message says which property or file and why."""


def _properties(event: dict[str, Any]) -> dict[str, Any]:
    properties = dict(event["ResourceProperties"])
    layout = properties.get("Layout")
    if layout not in LAYOUTS:
        raise CopyError(f"Layout: {layout!r} is not allowed; expected one of {LAYOUTS}")
    for name in ("ModelId", "Revision", "HubEndpoint", "Bucket", "KmsKeyArn", "PrefixRoot"):
        if not properties.get(name):
            raise CopyError(f"{name}: missing from the resource properties")
    if not str(properties["PrefixRoot"]).endswith("/"):
        raise CopyError(f"PrefixRoot: {properties['PrefixRoot']!r} must end with '/'")
    return properties


def _location(properties: dict[str, Any], commit: str) -> str:
    # The code archive's key is its content hash (a CDK asset), so new code is a new location.
    code_digest = hashlib.sha256(str(properties["CodeArchiveKey"]).encode()).hexdigest()[:16]
    return f"{properties['PrefixRoot']}{commit}-{code_digest}"


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _prefix_of(physical_id: str, *, bucket: str, prefix_root: str) -> str | None:
    """The prefix key a physical id names, if it is one of this resource's copies."""
    start = f"s3://{bucket}/{prefix_root}"
    if physical_id.startswith(start) and physical_id.endswith("/"):
        return physical_id[len(f"s3://{bucket}/") :]
    return None


def _resolve_with_retries(
    properties: dict[str, Any], *, opener: Opener, sleep: Callable[[float], None]
) -> Any:
    for attempt in range(1, RESOLVE_ATTEMPTS + 1):
        try:
            return resolve_snapshot(
                endpoint=properties["HubEndpoint"],
                model_id=properties["ModelId"],
                revision=properties["Revision"],
                opener=opener,
            )
        except HubUnavailable as error:
            if attempt == RESOLVE_ATTEMPTS:
                raise CopyError(
                    f"model {properties['ModelId']!r} revision {properties['Revision']!r}: the "
                    f"hub could not be reached after {RESOLVE_ATTEMPTS} attempts: {error}"
                ) from error
            logger.warning("Hub unavailable (attempt %d): %s", attempt, error)
            sleep(RESOLVE_BACKOFF_SECONDS * attempt)
    raise AssertionError("unreachable")


def on_event(
    event: dict[str, Any],
    *,
    s3: Any,
    opener: Opener,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Create/Update: resolves the commit and plans the copy. Delete: removes this copy."""
    properties = _properties(event)
    bucket, root = properties["Bucket"], properties["PrefixRoot"]
    if event["RequestType"] == "Delete":
        physical_id = event["PhysicalResourceId"]
        prefix = _prefix_of(physical_id, bucket=bucket, prefix_root=root)
        if prefix is None:
            logger.info("Nothing to delete for %s: not a copy of this resource", physical_id)
        else:
            count = delete_everything_under(
                s3, bucket=bucket, prefixes=(prefix, prefix.rstrip("/") + ".tar.gz")
            )
            logger.info("Deleted %d object versions of %s", count, physical_id)
        return {"PhysicalResourceId": physical_id}

    try:
        snapshot = _resolve_with_retries(properties, opener=opener, sleep=sleep)
        files = select_files(
            snapshot.files,
            config_patterns=json.loads(properties["ConfigPatterns"]),
            weights_alternatives=json.loads(properties["WeightsAlternatives"]),
        )
    except HubError as error:
        raise CopyError(
            f"model {properties['ModelId']!r} revision {properties['Revision']!r}: {error}"
        ) from error
    location = _location(properties, snapshot.commit)
    prefix = f"{location}/"
    previous = None
    if event["RequestType"] == "Update":
        previous = _prefix_of(event.get("PhysicalResourceId", ""), bucket=bucket, prefix_root=root)
    total = sum(f.size for f in files)
    logger.info(
        "Copying %s at %s (revision %r): %d files, %d bytes, to %s",
        snapshot.model_id,
        snapshot.commit,
        snapshot.requested_revision,
        len(files),
        total,
        _uri(bucket, prefix),
    )
    data = {"S3Uri": _uri(bucket, prefix), "Commit": snapshot.commit}
    if properties["Layout"] == "archive":
        data["ArchiveS3Uri"] = _uri(bucket, f"{location}.tar.gz")
    return {
        "PhysicalResourceId": _uri(bucket, prefix),
        "Data": data,
        "Commit": snapshot.commit,
        "Files": [asdict(f) for f in files],
        "PreviousPrefix": previous,
    }


def _copy_code(s3: Any, *, properties: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """Puts the inference code of model.tar.gz under <prefix>code/; returns (key, name) pairs."""
    archive = s3.get_object(
        Bucket=properties["CodeArchiveBucket"], Key=properties["CodeArchiveKey"]
    )
    written = []
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read()), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not (member.isfile() and member.name.startswith(CODE_DIR)):
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            content = extracted.read()
            digest = f"sha256:{hashlib.sha256(content).hexdigest()}"
            key = f"{prefix}{member.name}"
            if stored_digest(s3, bucket=properties["Bucket"], key=key) != digest:
                s3.put_object(
                    Bucket=properties["Bucket"],
                    Key=key,
                    Body=content,
                    Metadata={"zstc-content-digest": digest},
                    **encryption_args(properties["KmsKeyArn"]),
                )
            written.append((key, member.name))
    if not written:
        raise CopyError(
            f"CodeArchiveKey: {properties['CodeArchiveKey']!r} holds no code/ directory; the "
            "container would serve without zstc's inference code"
        )
    return written


def _copy_one(
    s3: Any,
    *,
    properties: dict[str, Any],
    event: dict[str, Any],
    hub_file: HubFile,
    key: str,
    opener: Opener,
) -> str:
    """Copies one file; returns how ('reused' from the previous copy, or 'downloaded')."""
    previous = event.get("PreviousPrefix")
    if previous and copy_verified(
        s3,
        bucket=properties["Bucket"],
        source_key=f"{previous}{hub_file.name}",
        key=key,
        kms_key_arn=properties["KmsKeyArn"],
        digest=hub_file.expected_digest,
    ):
        return "reused"
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        response = open_file(
            endpoint=properties["HubEndpoint"],
            model_id=properties["ModelId"],
            commit=event["Commit"],
            name=hub_file.name,
            opener=opener,
            token=None,
        )
        try:
            with response:
                upload_verified(
                    s3,
                    bucket=properties["Bucket"],
                    key=key,
                    kms_key_arn=properties["KmsKeyArn"],
                    source=response,
                    hub_file=hub_file,
                )
            return "downloaded"
        except CorruptDownload as error:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise CopyError(
                    f"model {properties['ModelId']!r} at {event['Commit']}: {error} "
                    f"({DOWNLOAD_ATTEMPTS} attempts); nothing of this file was kept"
                ) from error
            logger.warning("Discarded a corrupt download (attempt %d): %s", attempt, error)
    raise AssertionError("unreachable")


def _manifest_digest(
    files: list[HubFile], code: list[tuple[str, str]], s3: Any, bucket: str
) -> str:
    lines = [f"{f.name} {f.expected_digest}" for f in files]
    lines += [f"{name} {stored_digest(s3, bucket=bucket, key=key)}" for key, name in code]
    return "sha256:" + hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def is_complete(
    event: dict[str, Any], *, s3: Any, opener: Opener, remaining_ms: Callable[[], int]
) -> dict[str, Any]:
    """One poll: copies files while time allows. IsComplete once every file is in place."""
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    properties = _properties(event)
    bucket = properties["Bucket"]
    prefix = event["PhysicalResourceId"][len(f"s3://{bucket}/") :]
    files = [HubFile(**f) for f in event["Files"]]
    copied_this_poll = 0
    for hub_file in files:
        key = f"{prefix}{hub_file.name}"
        if stored_digest(s3, bucket=bucket, key=key) == hub_file.expected_digest:
            continue
        needed_ms = hub_file.size * 1000 // PLANNING_BYTES_PER_SECOND + SAFETY_MARGIN_MS
        if copied_this_poll and remaining_ms() < needed_ms:
            logger.info("Stopping this poll before %s: too little time left", hub_file.name)
            return {"IsComplete": False}
        try:
            how = _copy_one(
                s3, properties=properties, event=event, hub_file=hub_file, key=key, opener=opener
            )
        except HubUnavailable as error:
            # Not fatal: the next poll resumes here, until the provider's total timeout.
            logger.warning("Hub unavailable at %s, retrying next poll: %s", hub_file.name, error)
            return {"IsComplete": False}
        except HubError as error:
            raise CopyError(f"model {properties['ModelId']!r}: {error}") from error
        copied_this_poll += 1
        logger.info("%s %s (%d bytes) to %s", how, hub_file.name, hub_file.size, key)
    code = _copy_code(s3, properties=properties, prefix=prefix)
    if properties["Layout"] == "archive":
        archive_key = prefix.rstrip("/") + ".tar.gz"
        digest = _manifest_digest(files, code, s3, bucket)
        if stored_digest(s3, bucket=bucket, key=archive_key) != digest:
            members = [(f"{prefix}{f.name}", f.name) for f in files] + code
            write_archive(
                s3,
                bucket=bucket,
                members=members,
                key=archive_key,
                kms_key_arn=properties["KmsKeyArn"],
                digest=digest,
            )
            logger.info("Wrote %s", _uri(bucket, archive_key))
    return {"IsComplete": True}
