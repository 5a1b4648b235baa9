"""Fixtures for the batch trigger tests: moto AWS, validated SageMaker clients, settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from batch_events import ACCOUNT, BUCKET, MODEL_NAME, REGION, TRIGGER_ENVIRONMENT
from batch_validation import RequestValidator
from moto import mock_aws


@pytest.fixture
def trigger_settings() -> Any:
    from trigger_settings import load_settings

    return load_settings(TRIGGER_ENVIRONMENT)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake credentials and region, so no test can ever reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def request_validator() -> RequestValidator:
    return RequestValidator()


@dataclass
class MotoAws:
    s3: Any
    sagemaker: Any
    sqs: Any
    validator: RequestValidator

    def put(self, key: str, body: bytes = b'{"inputs": "text"}\n') -> dict[str, Any]:
        """Uploads an object; returns what the S3 event for it would carry."""
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return {
            "key": key,
            "size": len(body),
            "etag": response["ETag"].strip('"'),
            "version_id": response["VersionId"],
        }

    def transform_job_names(self) -> list[str]:
        jobs = self.sagemaker.list_transform_jobs()["TransformJobSummaries"]
        return sorted(job["TransformJobName"] for job in jobs)

    def read(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))


@pytest.fixture
def moto_aws(aws_credentials: None, request_validator: RequestValidator) -> Iterator[MotoAws]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sagemaker = request_validator.attach(boto3.client("sagemaker", region_name=REGION))
        sagemaker.create_model(
            ModelName=MODEL_NAME,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/zstc-batch-model-role",
            PrimaryContainer={"Image": "huggingface-pytorch-inference", "ModelDataUrl": "s3://x/y"},
        )
        yield MotoAws(
            s3=s3,
            sagemaker=sagemaker,
            sqs=boto3.client("sqs", region_name=REGION),
            validator=request_validator,
        )
