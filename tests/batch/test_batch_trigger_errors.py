"""SageMaker errors the trigger must survive: duplicates count as done, back-pressure retries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from batch_events import BUCKET, JOB_NAME_PREFIX, REGION, event_for, sqs_event
from batch_validation import RequestValidator
from botocore.stub import ANY, Stubber
from job_names import transform_job_name
from trigger import handle_sqs_batch

NOT_FOUND = ("ValidationException", "Could not find requested job with name {name}", 400)
# What SageMaker answers when CreateTransformJob names a job that already exists.
NAME_TAKEN = (
    "ValidationException",
    "Job name must be unique within an AWS account and region, and a job with this name "
    "already exists (arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name})",
    400,
)
IN_USE = ("ResourceInUse", "Job {name} already exists", 400)
THROTTLED = ("ThrottlingException", "Rate exceeded", 400)
QUOTA = (
    "ResourceLimitExceeded",
    "The account-level service limit 'ml.g4dn.xlarge for transform job usage' is 2 Instances",
    400,
)
SERVER_ERROR = ("InternalFailure", "An internal error occurred", 500)
UNAVAILABLE = ("ServiceUnavailable", "Service is unavailable", 503)
ACCESS_DENIED = (
    "AccessDeniedException",
    "not authorized to perform sagemaker:CreateTransformJob",
    400,
)
BAD_REQUEST = ("ValidationException", "Could not find model 'zstc-batch-model'", 400)


class StubbedSageMaker:
    """A SageMaker client whose answers are scripted, with every request validated."""

    def __init__(self, validator: RequestValidator) -> None:
        self.validator = validator
        self.client = validator.attach(boto3.client("sagemaker", region_name=REGION))
        self.stubber = Stubber(self.client)

    def error(self, operation: str, error: tuple[str, str, int], *, name: str) -> None:
        code, message, status = error
        self.stubber.add_client_error(
            operation,
            service_error_code=code,
            service_message=message.format(name=name),
            http_status_code=status,
            expected_params=self._params(operation, name),
        )

    def job_exists(self, *, name: str) -> None:
        self.stubber.add_response(
            "describe_transform_job",
            {
                "TransformJobName": name,
                "TransformJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/{name}",
                "TransformJobStatus": "InProgress",
                "ModelName": "zstc-batch-model",
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m"}
                    }
                },
                "TransformResources": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1},
                "CreationTime": "2026-11-25T12:00:00Z",
            },
            {"TransformJobName": name},
        )

    def created(self, *, name: str) -> None:
        self.stubber.add_response(
            "create_transform_job",
            {"TransformJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/{name}"},
            self._params("create_transform_job", name),
        )

    @staticmethod
    def _params(operation: str, name: str) -> dict[str, Any]:
        if operation == "create_transform_job":
            return {
                "TransformJobName": name,
                "ModelName": ANY,
                "BatchStrategy": ANY,
                "MaxPayloadInMB": ANY,
                "MaxConcurrentTransforms": ANY,
                "ModelClientConfig": ANY,
                "TransformInput": ANY,
                "TransformOutput": ANY,
                "TransformResources": ANY,
                "DataProcessing": ANY,
                "Environment": ANY,
                "Tags": ANY,
            }
        return {"TransformJobName": name}


@pytest.fixture
def sagemaker(moto_aws: Any, request_validator: RequestValidator) -> Iterator[StubbedSageMaker]:
    stubbed = StubbedSageMaker(request_validator)
    with stubbed.stubber:
        yield stubbed
        stubbed.stubber.assert_no_pending_responses()


def upload(moto_aws: Any, key: str, message_id: str) -> tuple[dict[str, Any], str]:
    """Uploads `key`; returns its SQS record and the job name it maps to."""
    uploaded = moto_aws.put(key)
    name = transform_job_name(
        prefix=JOB_NAME_PREFIX, bucket=BUCKET, key=key, version=uploaded["version_id"]
    )
    return event_for(uploaded, message_id=message_id)["Records"][0], name


def run(moto_aws: Any, settings: Any, sagemaker: StubbedSageMaker, *records: Any) -> Any:
    return handle_sqs_batch(
        event=sqs_event(*records),
        settings=settings,
        s3=moto_aws.s3,
        sagemaker=sagemaker.client,
        sns=moto_aws.sns,
    )


@pytest.mark.parametrize("create_error", [IN_USE, NAME_TAKEN], ids=["ResourceInUse", "name-taken"])
def test_losing_a_race_to_a_concurrent_duplicate_counts_as_success(
    moto_aws: Any,
    trigger_settings: Any,
    sagemaker: StubbedSageMaker,
    caplog: pytest.LogCaptureFixture,
    create_error: tuple[str, str, int],
) -> None:
    record, name = upload(moto_aws, "input/a.jsonl", "m-1")
    # The other Lambda creates the job between this one's check and its create call.
    sagemaker.error("describe_transform_job", NOT_FOUND, name=name)
    sagemaker.error("create_transform_job", create_error, name=name)
    if create_error is NAME_TAKEN:
        sagemaker.job_exists(name=name)

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, sagemaker, record) == {"batchItemFailures": []}

    assert [r.status for r in caplog.records] == ["duplicate"]  # type: ignore[attr-defined]
    assert len(sagemaker.validator.requests) == 1


@pytest.mark.parametrize(
    "create_error",
    [THROTTLED, QUOTA, SERVER_ERROR, UNAVAILABLE],
    ids=["throttling", "instance-quota", "500", "503"],
)
def test_back_pressure_returns_exactly_the_affected_messages_to_the_queue(
    moto_aws: Any,
    trigger_settings: Any,
    sagemaker: StubbedSageMaker,
    caplog: pytest.LogCaptureFixture,
    create_error: tuple[str, str, int],
) -> None:
    first, first_name = upload(moto_aws, "input/first.jsonl", "m-first")
    second, second_name = upload(moto_aws, "input/second.jsonl", "m-second")
    third, third_name = upload(moto_aws, "input/third.jsonl", "m-third")
    sagemaker.error("describe_transform_job", NOT_FOUND, name=first_name)
    sagemaker.created(name=first_name)
    sagemaker.error("describe_transform_job", NOT_FOUND, name=second_name)
    sagemaker.error("create_transform_job", create_error, name=second_name)
    sagemaker.error("describe_transform_job", NOT_FOUND, name=third_name)
    sagemaker.error("create_transform_job", create_error, name=third_name)

    with caplog.at_level(logging.INFO):
        response = run(moto_aws, trigger_settings, sagemaker, first, second, third)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-second"}, {"itemIdentifier": "m-third"}]
    }
    statuses = [r.status for r in caplog.records]  # type: ignore[attr-defined]
    assert statuses == ["started", "retry", "retry"]
    assert len(sagemaker.validator.requests) == 3


def test_throttled_existence_check_is_retried_later(
    moto_aws: Any, trigger_settings: Any, sagemaker: StubbedSageMaker
) -> None:
    record, name = upload(moto_aws, "input/a.jsonl", "m-1")
    sagemaker.error("describe_transform_job", THROTTLED, name=name)

    assert run(moto_aws, trigger_settings, sagemaker, record) == {
        "batchItemFailures": [{"itemIdentifier": "m-1"}]
    }


@pytest.mark.parametrize("create_error", [ACCESS_DENIED, BAD_REQUEST], ids=["denied", "invalid"])
def test_permanent_errors_are_logged_and_kept_for_the_dlq(
    moto_aws: Any,
    trigger_settings: Any,
    sagemaker: StubbedSageMaker,
    caplog: pytest.LogCaptureFixture,
    create_error: tuple[str, str, int],
) -> None:
    record, name = upload(moto_aws, "input/a.jsonl", "m-1")
    sagemaker.error("describe_transform_job", NOT_FOUND, name=name)
    sagemaker.error("create_transform_job", create_error, name=name)
    if create_error is BAD_REQUEST:
        # A ValidationException only means "duplicate" when the job really exists.
        sagemaker.error("describe_transform_job", NOT_FOUND, name=name)

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, sagemaker, record) == {
            "batchItemFailures": [{"itemIdentifier": "m-1"}]
        }

    [log] = caplog.records
    assert log.levelno == logging.ERROR
    assert log.status == "failed"  # type: ignore[attr-defined]
    assert create_error[1] in log.getMessage()
