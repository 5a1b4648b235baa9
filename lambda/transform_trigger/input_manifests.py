"""Manifest files that name exactly the objects a transform job reads.

An S3Prefix data source of input/a.jsonl would also read input/a.jsonl.bak, and one of
datasets/news/ would read the _SUCCESS marker too. A ManifestFile lists the objects one by one,
so a job reads exactly what it was started for: the pinned copies of the uploaded versions
(version_pinning.py). SageMaker writes each object's result to
<S3OutputPath>/<path relative to the manifest prefix>.out, so input/x.jsonl, pinned as
<pinned prefix><job>/x.jsonl, becomes output/<job>/x.jsonl.out.
"""

from __future__ import annotations

import json
from typing import Any

MANIFEST_SUFFIX = ".manifest"


def manifest_key(*, manifests_prefix: str, job_name: str) -> str:
    """One manifest per job name, so a duplicate event rewrites the same object."""
    return f"{manifests_prefix}{job_name}{MANIFEST_SUFFIX}"


def manifest_document(*, bucket: str, base_prefix: str, relative_keys: list[str]) -> str:
    """The manifest JSON: a {"prefix": ...} object followed by keys relative to it."""
    if not relative_keys:
        raise ValueError("relative_keys: a manifest must name at least one object")
    return json.dumps([{"prefix": f"s3://{bucket}/{base_prefix}"}, *relative_keys])


def write_manifest(*, s3: Any, bucket: str, key: str, document: str, kms_key_id: str) -> None:
    # Named explicitly rather than left to the bucket default, so the manifest is encrypted with
    # the stack's key even if the bucket's default encryption changes.
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=document.encode("utf-8"),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key_id,
    )
