"""Deterministic SageMaker transform job names, one per upload of an object.

Stdlib only and free of sibling imports: the zstc CLI loads this file by path to print the job
name an upload will start, so the Lambda and the CLI can never disagree.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# SageMaker's rule for TransformJobName (botocore service model, CreateTransformJob).
JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MAX_JOB_NAME_LENGTH = 63
# 16 hex digits = 64 bits of the digest: collisions between distinct object versions of one
# bucket are negligible, and the name keeps room for a readable slug.
HASH_LENGTH = 16
# Lowercase only: SageMaker lowercases names in ARNs, and IAM matches the ARN, so an uppercase
# prefix would never match the transform-job/<prefix>* resource in the trigger's policy.
_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]*")
_NOT_NAME_CHARACTER = re.compile(r"[^a-z0-9]+")
MAX_PREFIX_LENGTH = MAX_JOB_NAME_LENGTH - HASH_LENGTH - 1
# What S3 reports as the version of an object written while versioning is suspended (or before
# it was ever enabled): every such upload of a key has this same version.
NULL_VERSION_ID = "null"
_SEQUENCER_IDENTITY = "sequencer:"


def upload_identity(*, version_id: str | None, sequencer: str | None) -> str | None:
    """What tells one upload of a key from every other upload of that key, or None.

    A real VersionId is unique per upload. Where versioning is suspended, every upload of a key
    has the version "null" and identical content has the same ETag, so neither can tell a
    re-upload from a duplicate delivery of the first upload's event. The event's `sequencer`
    can: S3 gives each PUT or DELETE of a key a new, increasing sequencer, and a redelivered
    event carries the same one (S3 event message structure,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
    A client that only has a PutObject response (no sequencer) gets None for a "null" version:
    the job name of such an upload is known only to the trigger.
    """
    if version_id and version_id != NULL_VERSION_ID:
        return version_id
    if sequencer:
        return f"{_SEQUENCER_IDENTITY}{sequencer}"
    return None


def _slug(text: str) -> str:
    # Never "--": stacks/job_name_prefix.py relies on the first "--" of a job name ending its
    # deployment's part, which keeps one deployment's prefix from matching another's names.
    # NFKD splits "é" into "e" plus a combining accent, so accented names stay readable.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_NAME_CHARACTER.sub("-", ascii_text.lower()).strip("-")


def transform_job_name(*, prefix: str, bucket: str, key: str, version: str) -> str:
    """The transform job name for one upload of one S3 object.

    The same bucket, key and version always give the same name, which is what makes SageMaker
    refuse a second job for a duplicate event. The name is `prefix`, then the tail of the key as
    a slug (the file name is the most telling part), then a hash of bucket, key and version.

    `key` is the decoded object key; `version` is the upload's identity from `upload_identity`
    (the VersionId, or the event's sequencer where the version is "null").
    """
    if not _PREFIX.fullmatch(prefix) or len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(
            f"prefix: {prefix!r} is not allowed; expected 1 to {MAX_PREFIX_LENGTH} lowercase "
            "letters, digits or '-', starting with a letter or digit"
        )
    if not bucket or not key or not version:
        raise ValueError(
            f"bucket, key and version must all be non-empty; got bucket={bucket!r}, "
            f"key={key!r}, version={version!r}"
        )
    identity = "\n".join((bucket, key, version)).encode("utf-8")
    digest = hashlib.sha256(identity).hexdigest()[:HASH_LENGTH]
    separator = "" if prefix.endswith("-") else "-"
    room = MAX_JOB_NAME_LENGTH - len(prefix) - len(separator) - len(digest) - 1
    slug = _slug(key)[-room:].strip("-") if room > 0 else ""
    if not slug:
        return f"{prefix}{separator}{digest}"
    return f"{prefix}{separator}{slug}-{digest}"
