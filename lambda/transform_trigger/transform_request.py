"""Builds the CreateTransformJob request for one job."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

JSON_LINES = "application/jsonlines"
# A request that failed (an instance restarting, a timeout) is retried once before its records
# count as failed.
INVOCATIONS_MAX_RETRIES = 1
MAX_TAG_VALUE_LENGTH = 256
# SageMaker tag values allow letters, digits, whitespace and these (\p{L}\p{Z}\p{N}_.:/=+\-@).
_TAG_PUNCTUATION = set("_.:/=+-@")
# Job Environment entries naming the upload that started the job. The job-state event carries
# the job's Environment, so the batch stack's e-mail can name the file a person uploaded
# (stacks/batch_stack.py SOURCE_OBJECT_ENV and DATASET_ENV). Unlike tag values, environment
# values take any character (botocore: TransformEnvironmentValue, pattern [\S\s]*).
SOURCE_OBJECT_ENV = "ZSTC_SOURCE_OBJECT"
DATASET_ENV = "ZSTC_DATASET"
NO_DATASET = "none (a single uploaded file)"


@dataclass(frozen=True, kw_only=True)
class TransformSettings:
    """What every job of this stack shares; from the stack, via the Lambda's environment."""

    model_name: str
    instance_type: str
    # Dataset jobs run on this many instances; a single file cannot be split across machines.
    dataset_instance_count: int
    max_payload_mb: int
    max_concurrent_transforms: int
    batch_strategy: str
    # A MultiRecord request carries up to max_payload_mb of lines, which a large model needs
    # minutes for. The stack sets this to the model server's own timeout (the batch model's
    # SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS), so the job and the server give up together.
    invocations_timeout_seconds: int
    output_kms_key_id: str
    # None where the instance type has hardware-encrypted NVMe storage and SageMaker rejects it.
    volume_kms_key_id: str | None


@dataclass(frozen=True, kw_only=True)
class JobInput:
    """What one job reads and why it was started."""

    job_name: str
    bucket: str
    manifest_key: str
    instance_count: int
    # Identify the object that started the job, for the console and cost reports.
    source_key: str
    source_version: str
    trigger: str


def tag_value(text: str) -> str:
    """`text` made acceptable as a SageMaker tag value: other characters become '_'."""
    allowed = (
        character
        if character.isalnum()
        or unicodedata.category(character).startswith("Z")
        or character in _TAG_PUNCTUATION
        else "_"
        for character in text
    )
    return "".join(allowed)[:MAX_TAG_VALUE_LENGTH]


def source_environment(job: JobInput) -> dict[str, str]:
    """The Environment entries that say which upload (and dataset) a job classifies."""
    dataset = job.source_key.rpartition("/")[0] + "/" if job.trigger == "dataset" else NO_DATASET
    return {
        SOURCE_OBJECT_ENV: f"s3://{job.bucket}/{job.source_key}",
        DATASET_ENV: dataset,
    }


def build_transform_request(
    *, settings: TransformSettings, job: JobInput, output_prefix: str
) -> dict[str, Any]:
    """The keyword arguments for sagemaker.create_transform_job."""
    resources: dict[str, Any] = {
        "InstanceType": settings.instance_type,
        "InstanceCount": job.instance_count,
    }
    if settings.volume_kms_key_id:
        resources["VolumeKmsKeyId"] = settings.volume_kms_key_id
    return {
        "TransformJobName": job.job_name,
        "ModelName": settings.model_name,
        "BatchStrategy": settings.batch_strategy,
        "MaxPayloadInMB": settings.max_payload_mb,
        "MaxConcurrentTransforms": settings.max_concurrent_transforms,
        "ModelClientConfig": {
            "InvocationsTimeoutInSeconds": settings.invocations_timeout_seconds,
            "InvocationsMaxRetries": INVOCATIONS_MAX_RETRIES,
        },
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    # With several instances, batch transform hands each instance a distinct
                    # share of the listed objects (a transform data source has no
                    # distribution setting), so a dataset needs many part files to scale.
                    "S3Uri": f"s3://{job.bucket}/{job.manifest_key}",
                }
            },
            "ContentType": JSON_LINES,
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{job.bucket}/{output_prefix}{job.job_name}",
            "Accept": JSON_LINES,
            "AssembleWith": "Line",
            "KmsKeyId": settings.output_kms_key_id,
        },
        "TransformResources": resources,
        "Environment": source_environment(job),
        # The inference code already copies each record's "id" into its output line.
        "DataProcessing": {"JoinSource": "None"},
        "Tags": [
            {"Key": "zstc:source-bucket", "Value": tag_value(job.bucket)},
            {"Key": "zstc:source-key", "Value": tag_value(job.source_key)},
            {"Key": "zstc:source-version", "Value": tag_value(job.source_version)},
            {"Key": "zstc:trigger", "Value": job.trigger},
        ],
    }
