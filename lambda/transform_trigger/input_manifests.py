"""Manifest files that name exactly the objects a transform job reads.

An S3Prefix data source of input/a.jsonl would also read input/a.jsonl.bak, and one of
datasets/news/ would read the _SUCCESS marker too. A ManifestFile lists the objects one by one,
so a job reads exactly what it was started for. SageMaker writes each object's result to
<S3OutputPath>/<path relative to the manifest prefix>.out, so input/x.jsonl becomes
output/<job>/x.jsonl.out.
"""

from __future__ import annotations

import json
from typing import Any

from object_routing import DATASET_MARKER

MANIFEST_SUFFIX = ".manifest"


def manifest_key(*, manifests_prefix: str, job_name: str) -> str:
    """One manifest per job name, so a duplicate event rewrites the same object."""
    return f"{manifests_prefix}{job_name}{MANIFEST_SUFFIX}"


def manifest_document(*, bucket: str, base_prefix: str, relative_keys: list[str]) -> str:
    """The manifest JSON: a {"prefix": ...} object followed by keys relative to it."""
    if not relative_keys:
        raise ValueError("relative_keys: a manifest must name at least one object")
    return json.dumps([{"prefix": f"s3://{bucket}/{base_prefix}"}, *relative_keys])


def single_file_manifest(*, bucket: str, key: str) -> str:
    """A manifest naming one object, relative to its own folder."""
    folder, _, name = key.rpartition("/")
    return manifest_document(bucket=bucket, base_prefix=f"{folder}/", relative_keys=[name])


def _is_part_file(relative_key: str, size: int) -> bool:
    # Names starting with '_' or '.' are markers and checksums (_SUCCESS, .part-0.crc) in the
    # Hadoop/Spark convention, not data; empty parts have no records to classify.
    name = relative_key.rpartition("/")[2]
    return size > 0 and not name.startswith(("_", ".")) and name != DATASET_MARKER


def list_dataset_parts(*, s3: Any, bucket: str, dataset_prefix: str) -> list[str]:
    """The dataset's part files (any folder depth), relative to the dataset prefix, sorted."""
    parts: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=dataset_prefix):
        for item in page.get("Contents", []):
            relative_key = item["Key"][len(dataset_prefix) :]
            if _is_part_file(relative_key, int(item["Size"])):
                parts.append(relative_key)
    return sorted(parts)


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
