"""The readiness check of the serverless and async modes.

S3 is moto's (its missing-object errors are S3's own NoSuchKey); SageMaker and the runtime go
through botocore's Stubber, which validates every request against the service models and fails
on any call that was not queued, so an async probe sent twice fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from readiness_check import ReadinessError, is_complete, on_event, probe
from readiness_events import ENDPOINT_CONFIG_NAME, ENDPOINT_NAME, cloudformation_request
from readiness_probe import PROBE_CONTENT_TYPE, PROBE_LABELS, PROBE_TEXT, probe_request_body

REGION = "eu-west-1"
BUCKET = "zstc-data-bucket-test"
INPUT_PREFIX = "async/inputs/Zstc-Endpoint/readiness/"
OUTPUT_URL = f"s3://{BUCKET}/async/outputs/Zstc-Endpoint/0b7c-answer.out"
FAILURE_URL = f"s3://{BUCKET}/async/failures/Zstc-Endpoint/0b7c-answer-error.out"
START = 1_764_100_000.0
ENDPOINT_ARN = f"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/{ENDPOINT_NAME.lower()}"


def _async_event() -> dict[str, Any]:
    request = cloudformation_request("Create")
    request["ResourceProperties"].update(
        {"EndpointMode": "async", "ProbeBucket": BUCKET, "ProbeInputPrefix": INPUT_PREFIX}
    )
    return {**request, **on_event(request, now=START)}


def _describe(stub: Stubber) -> None:
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT_NAME,
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": ENDPOINT_CONFIG_NAME,
            "EndpointStatus": "InService",
            "CreationTime": "2026-11-25T22:00:00Z",
            "LastModifiedTime": "2026-11-25T22:20:00Z",
        },
        {"EndpointName": ENDPOINT_NAME},
    )


@pytest.fixture
def clients() -> Iterator[tuple[Any, Stubber, Any, Stubber, Any]]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    with mock_aws():
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker = session.client("sagemaker")
        runtime = session.client("sagemaker-runtime")
        with Stubber(sagemaker) as sagemaker_stub, Stubber(runtime) as runtime_stub:
            yield sagemaker, sagemaker_stub, runtime, runtime_stub, s3
            sagemaker_stub.assert_no_pending_responses()
            runtime_stub.assert_no_pending_responses()


def _queue_async_invocation(runtime_stub: Stubber, event: dict[str, Any]) -> None:
    request_key = f"{INPUT_PREFIX}readiness-{event['RequestId']}.json"
    runtime_stub.add_response(
        "invoke_endpoint_async",
        {"InferenceId": "0b7c", "OutputLocation": OUTPUT_URL, "FailureLocation": FAILURE_URL},
        {
            "EndpointName": ENDPOINT_NAME,
            "InputLocation": f"s3://{BUCKET}/{request_key}",
            "ContentType": PROBE_CONTENT_TYPE,
            "Accept": PROBE_CONTENT_TYPE,
        },
    )


def _poll(clients: tuple[Any, Stubber, Any, Stubber, Any], event: dict[str, Any]) -> Any:
    sagemaker, sagemaker_stub, runtime, _, s3 = clients
    _describe(sagemaker_stub)
    return is_complete(event, sagemaker=sagemaker, runtime=runtime, s3=s3, now=START + 60)


def _put(s3: Any, url: str, body: bytes) -> None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_async_probe_is_sent_once_then_waits_for_its_answer(
    clients: tuple[Any, Stubber, Any, Stubber, Any],
) -> None:
    _, _, _, runtime_stub, s3 = clients
    event = _async_event()
    _queue_async_invocation(runtime_stub, event)
    assert _poll(clients, event) == {"IsComplete": False}
    # The request the endpoint reads is the probe, in the stack's own prefix.
    request_key = f"{INPUT_PREFIX}readiness-{event['RequestId']}.json"
    assert s3.get_object(Bucket=BUCKET, Key=request_key)["Body"].read() == probe_request_body()
    # Still scaling out of zero: no answer yet, and no second request (nothing is queued).
    assert _poll(clients, event) == {"IsComplete": False}
    answer = {"sequence": PROBE_TEXT, "labels": list(PROBE_LABELS), "scores": [0.9, 0.07, 0.03]}
    _put(s3, OUTPUT_URL, json.dumps(answer).encode())
    assert _poll(clients, event) == {"IsComplete": True}


def test_async_failure_object_fails_the_deployment_with_its_text(
    clients: tuple[Any, Stubber, Any, Stubber, Any],
) -> None:
    _, _, _, runtime_stub, s3 = clients
    event = _async_event()
    _queue_async_invocation(runtime_stub, event)
    assert _poll(clients, event) == {"IsComplete": False}
    _put(s3, FAILURE_URL, b"Received server error (500) from model: Worker died.")
    with pytest.raises(ReadinessError, match=r"failed the async probe: .*Worker died"):
        _poll(clients, event)


def test_async_wrong_answer_fails_the_deployment(
    clients: tuple[Any, Stubber, Any, Stubber, Any],
) -> None:
    _, _, _, runtime_stub, s3 = clients
    event = _async_event()
    _queue_async_invocation(runtime_stub, event)
    _poll(clients, event)
    _put(s3, OUTPUT_URL, b'{"labels": ["travel"]}')
    with pytest.raises(ReadinessError, match="answered the probe wrongly"):
        _poll(clients, event)


class _ColdServerlessRuntime:
    """A runtime whose call outlasts the client's read timeout, as a cold start can."""

    def invoke_endpoint(self, **_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url=f"https://runtime.sagemaker/{ENDPOINT_NAME}")


def test_a_cold_serverless_endpoint_that_times_out_is_not_ready_yet() -> None:
    problem = probe(runtime=_ColdServerlessRuntime(), endpoint_name=ENDPOINT_NAME)
    assert problem is not None and "ReadTimeoutError" in problem


def test_a_throttled_serverless_endpoint_is_not_ready_yet() -> None:
    runtime = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("sagemaker-runtime")
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ThrottlingException",
            service_message="Rate exceeded: MaxConcurrency reached",
            http_status_code=429,
        )
        problem = probe(runtime=runtime, endpoint_name=ENDPOINT_NAME)
    assert problem is not None and problem.startswith("ThrottlingException")
