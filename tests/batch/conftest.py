"""Fixtures for the batch trigger tests: moto AWS, validated SageMaker clients, settings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from batch_events import (
    ACCOUNT,
    BUCKET,
    MODEL_NAME,
    REGION,
    TOPIC_ARN,
    TOPIC_NAME,
    TRIGGER_ENVIRONMENT,
)
from batch_validation import RequestValidator
from botocore.exceptions import ClientError
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


def enforce_copy_source_if_match(s3: Any) -> None:
    """Makes moto's CopyObject honour CopySourceIfMatch, as S3 does.

    moto 5 ignores the x-amz-copy-source-if-match header (moto/s3/responses.py, copy_object
    checks only if-none-match). S3 refuses the copy with 412 PreconditionFailed when the
    source's ETag differs (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html,
    x-amz-copy-source-if-match), so a fake without the check would hide an overwrite.
    """

    def check(params: dict[str, Any], **_: Any) -> None:
        expected = params.get("CopySourceIfMatch")
        if expected is None:
            return
        source = params["CopySource"]
        if isinstance(source, str):
            # botocore may already have encoded it as "bucket/key?versionId=...".
            path, _, _ = source.partition("?")
            bucket, _, key = unquote(path).partition("/")
            source = {"Bucket": bucket, "Key": key}
        current = s3.get_object(Bucket=source["Bucket"], Key=source["Key"])["ETag"]
        if current.strip('"') != expected.strip('"'):
            raise ClientError(
                {
                    "Error": {
                        "Code": "PreconditionFailed",
                        "Message": "At least one of the pre-conditions you specified did not hold",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 412},
                },
                "CopyObject",
            )

    s3.meta.events.register("before-parameter-build.s3.CopyObject", check)


@dataclass
class MotoAws:
    s3: Any
    sagemaker: Any
    sqs: Any
    sns: Any
    validator: RequestValidator
    # An SQS queue subscribed to the notification topic: what a subscriber would receive.
    notices_queue_url: str
    # S3 gives every PUT of a key a new, larger sequencer; so does this fake.
    sequencers: Iterator[int] = field(default_factory=lambda: itertools.count(0x0A1B2C3D4E5F))

    def put(
        self, key: str, body: bytes = b'{"inputs": "text"}\n', *, tagging: str = ""
    ) -> dict[str, Any]:
        """Uploads an object (with tags in URL query form, if given); returns what the S3
        event for it would carry."""
        extra = {"Tagging": tagging} if tagging else {}
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        return {
            "key": key,
            "size": len(body),
            "etag": response["ETag"].strip('"'),
            # S3 reports the version "null" while versioning is suspended.
            "version_id": response.get("VersionId") or "null",
            "sequencer": f"{next(self.sequencers):018X}",
        }

    def suspend_versioning(self) -> None:
        self.s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
        )

    def transform_job_names(self) -> list[str]:
        jobs = self.sagemaker.list_transform_jobs()["TransformJobSummaries"]
        return sorted(job["TransformJobName"] for job in jobs)

    def notices(self) -> list[dict[str, str]]:
        """Every notice published to the topic so far ({"Subject": ..., "Message": ...})."""
        received = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.notices_queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                envelope = json.loads(message["Body"])
                received.append({"Subject": envelope["Subject"], "Message": envelope["Message"]})
                self.sqs.delete_message(
                    QueueUrl=self.notices_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def read(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))


@pytest.fixture
def moto_aws(aws_credentials: None, request_validator: RequestValidator) -> Iterator[MotoAws]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        enforce_copy_source_if_match(s3)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sagemaker = request_validator.attach(boto3.client("sagemaker", region_name=REGION))
        sagemaker.create_model(
            ModelName=MODEL_NAME,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/zstc-batch-model-role",
            PrimaryContainer={"Image": "huggingface-pytorch-inference", "ModelDataUrl": "s3://x/y"},
        )
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        assert sns.create_topic(Name=TOPIC_NAME)["TopicArn"] == TOPIC_ARN
        notices_queue_url = sqs.create_queue(QueueName="zstc-notices")["QueueUrl"]
        notices_queue_arn = sqs.get_queue_attributes(
            QueueUrl=notices_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=TOPIC_ARN, Protocol="sqs", Endpoint=notices_queue_arn)
        yield MotoAws(
            s3=s3,
            sagemaker=sagemaker,
            sqs=sqs,
            sns=sns,
            validator=request_validator,
            notices_queue_url=notices_queue_url,
        )


@pytest.fixture(scope="session")
def default_batch_stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The batch stack with the default configuration, synthesized once for every module."""
    from batch_synth import synth_batch

    return synth_batch(tmp_path_factory.mktemp("batch"), {})
