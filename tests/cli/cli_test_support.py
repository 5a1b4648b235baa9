"""Shared by the CLI tests: the moto stand-in for a deployed zstc, and transform jobs in it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
STACK_PREFIX = "ZstcTest"
JOB_NAME_PREFIX = "zstctest"
ENDPOINT_NAME = "zstc-test-endpoint"
# Deliberately not cdk.json's 50: the CLI must read the deployed stack's limit.
DEPLOYED_MAX_LABELS = 7


@dataclass(frozen=True)
class DeployedZstc:
    """What `cdk deploy` would have created, as moto resources with real stack outputs."""

    bucket: str
    kms_key_arn: str
    s3: Any
    sagemaker: Any
    cloudformation: Any

    def cli_args(self) -> list[str]:
        return ["--stack-prefix", STACK_PREFIX, "--region", REGION]


def create_stack(cloudformation: Any, name: str, template: dict[str, Any]) -> None:
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def create_transform_job(sagemaker: Any, *, job_name: str, bucket: str) -> None:
    """A transform job as the trigger creates it (moto completes jobs at once)."""
    sagemaker.create_model(
        ModelName=f"{job_name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/zstc-sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hf:latest"},
    )
    sagemaker.create_transform_job(
        TransformJobName=job_name,
        ModelName=f"{job_name}-model",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/input/a.jsonl"}
            },
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{bucket}/output/{job_name}",
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
    )
