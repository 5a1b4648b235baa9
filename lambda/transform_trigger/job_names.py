"""Deterministic SageMaker transform job names, one per uploaded object version.

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


def _slug(text: str) -> str:
    # NFKD splits "é" into "e" plus a combining accent, so accented names stay readable.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_NAME_CHARACTER.sub("-", ascii_text.lower()).strip("-")


def transform_job_name(*, prefix: str, bucket: str, key: str, version: str) -> str:
    """The transform job name for one version of one S3 object.

    The same bucket, key and version always give the same name, which is what makes SageMaker
    refuse a second job for a duplicate event. The name is `prefix`, then the tail of the key as
    a slug (the file name is the most telling part), then a hash of bucket, key and version.

    `key` is the decoded object key; `version` is the S3 VersionId, or the ETag for an
    unversioned bucket.
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
