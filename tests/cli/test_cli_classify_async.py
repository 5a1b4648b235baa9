"""`zstc classify` (and every invoke_sagemaker caller) against an async endpoint.

S3 and CloudFormation are moto's; sagemaker-runtime is behind botocore's Stubber, which checks
every InvokeEndpointAsync call against the service model and fails on any call not queued.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from cli_test_support import ENDPOINT_NAME, STACK_PREFIX, DeployedZstc, create_stack

from zstc.cli import main
from zstc.cli_errors import CliError
from zstc.endpoint_client import JSON_LINES, AsyncEndpointRuntime, invoke_sagemaker
from zstc.stack_outputs import endpoint_target

INPUT_PREFIX = f"async/inputs/{STACK_PREFIX}-Endpoint/"
OUTPUT_KEY = f"async/outputs/{STACK_PREFIX}-Endpoint/6f1c.out"
FAILURE_KEY = f"async/failures/{STACK_PREFIX}-Endpoint/6f1c-error.out"
RESPONSE = {"sequence": "pay off my card", "labels": ["Finance", "Health"], "scores": [0.9, 0.1]}


@pytest.fixture
def async_deployed(deployed: DeployedZstc) -> DeployedZstc:
    """The Endpoint stack of an endpoint_mode=async deployment, with its real outputs."""
    name = f"{STACK_PREFIX}-Endpoint"
    deployed.cloudformation.delete_stack(StackName=name)
    create_stack(
        deployed.cloudformation,
        name,
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                "EndpointName": {"Value": ENDPOINT_NAME},
                "EndpointMode": {"Value": "async"},
                "AsyncInputPrefix": {"Value": INPUT_PREFIX},
            },
        },
    )
    return deployed


def _queue_invocation(runtime: Stubber, bucket: str, content_type: str) -> None:
    runtime.add_response(
        "invoke_endpoint_async",
        {
            "InferenceId": "6f1c",
            "OutputLocation": f"s3://{bucket}/{OUTPUT_KEY}",
            "FailureLocation": f"s3://{bucket}/{FAILURE_KEY}",
        },
        {
            "EndpointName": ENDPOINT_NAME,
            "InputLocation": ANY,
            "ContentType": content_type,
            "Accept": content_type,
            "InvocationTimeoutSeconds": 3600,
        },
    )


def _uploaded_requests(deployed: DeployedZstc) -> list[bytes]:
    listed = deployed.s3.list_objects_v2(Bucket=deployed.bucket, Prefix=INPUT_PREFIX)
    return [
        deployed.s3.get_object(Bucket=deployed.bucket, Key=item["Key"])["Body"].read()
        for item in listed.get("Contents", [])
    ]


def test_the_stack_says_async_and_where_requests_go(async_deployed: DeployedZstc) -> None:
    target = endpoint_target(
        cloudformation=async_deployed.cloudformation, stack_prefix=STACK_PREFIX
    )
    assert (target.name, target.mode) == (ENDPOINT_NAME, "async")
    assert (target.bucket_name, target.async_input_prefix) == (async_deployed.bucket, INPUT_PREFIX)


def test_a_stack_without_a_mode_output_is_realtime(deployed: DeployedZstc) -> None:
    target = endpoint_target(cloudformation=deployed.cloudformation, stack_prefix=STACK_PREFIX)
    assert target.mode == "realtime" and target.bucket_name is None


def test_classify_uploads_the_request_invokes_async_and_prints_the_answer(
    async_deployed: DeployedZstc, runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # SageMaker's answer, already written: the first poll finds it.
    async_deployed.s3.put_object(
        Bucket=async_deployed.bucket, Key=OUTPUT_KEY, Body=json.dumps(RESPONSE).encode()
    )
    _queue_invocation(runtime, async_deployed.bucket, "application/json")
    with runtime:
        code = main(
            [
                "classify",
                "pay off my card",
                "--labels",
                "Finance,Health",
                "--json",
                *async_deployed.cli_args(),
            ]
        )
    runtime.assert_no_pending_responses()
    assert code == 0
    assert json.loads(capsys.readouterr().out) == RESPONSE
    (request,) = _uploaded_requests(async_deployed)
    assert json.loads(request) == {
        "inputs": "pay off my card",
        "parameters": {"candidate_labels": ["Finance", "Health"], "multi_label": False},
    }


def test_classify_reports_the_failure_object_of_an_async_request(
    async_deployed: DeployedZstc, runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    async_deployed.s3.put_object(
        Bucket=async_deployed.bucket,
        Key=FAILURE_KEY,
        Body=b'{"code": 400, "message": "parameters.candidate_labels: too many labels"}',
    )
    _queue_invocation(runtime, async_deployed.bucket, "application/json")
    with runtime:
        code = main(["classify", "x", "--labels", "a,b", *async_deployed.cli_args()])
    assert code == 1
    error = capsys.readouterr().err
    assert "failed the async request 6f1c" in error
    assert "parameters.candidate_labels: too many labels" in error


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_runtime_waits_with_progress_until_the_answer_appears(
    async_deployed: DeployedZstc, runtime: Stubber
) -> None:
    """JSON Lines too (what zstc eval sends), through invoke_sagemaker like any endpoint."""
    clock = _Clock()
    waits: list[str] = []
    answer = b'{"id": 1, "labels": ["a"], "scores": [1.0]}\n'

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if len(waits) == 3:  # the endpoint answers after scaling out
            async_deployed.s3.put_object(Bucket=async_deployed.bucket, Key=OUTPUT_KEY, Body=answer)

    _queue_invocation(runtime, async_deployed.bucket, JSON_LINES)
    client: Any = runtime.client
    async_runtime = AsyncEndpointRuntime(
        runtime=client,
        s3=async_deployed.s3,
        bucket=async_deployed.bucket,
        input_prefix=INPUT_PREFIX,
        timeout_s=60,
        on_wait=waits.append,
        clock=clock,
        sleep=sleep,
    )
    body = b'{"id": 1, "inputs": "x", "parameters": {"candidate_labels": ["a"]}}\n'
    with runtime:
        result = invoke_sagemaker(
            runtime=async_runtime, endpoint_name=ENDPOINT_NAME, body=body, content_type=JSON_LINES
        )
    assert result == answer
    assert len(waits) == 3 and all("waiting for the async answer" in w for w in waits)
    (uploaded,) = _uploaded_requests(async_deployed)
    assert uploaded == body


def test_the_runtime_gives_up_at_the_timeout_and_says_where_the_answer_will_be(
    async_deployed: DeployedZstc, runtime: Stubber
) -> None:
    clock = _Clock()

    def sleep(seconds: float) -> None:
        clock.now += seconds

    _queue_invocation(runtime, async_deployed.bucket, "application/json")
    client: Any = runtime.client
    async_runtime = AsyncEndpointRuntime(
        runtime=client,
        s3=async_deployed.s3,
        bucket=async_deployed.bucket,
        input_prefix=INPUT_PREFIX,
        timeout_s=30,
        clock=clock,
        sleep=sleep,
    )
    with runtime, pytest.raises(CliError, match=r"no async answer within 30 s") as raised:
        invoke_sagemaker(
            runtime=async_runtime,
            endpoint_name=ENDPOINT_NAME,
            body=b"{}",
            content_type="application/json",
        )
    assert f"s3://{async_deployed.bucket}/{OUTPUT_KEY}" in str(raised.value)
    assert clock.now >= 30


def test_an_unknown_endpoint_is_the_runtimes_own_validation_error(
    async_deployed: DeployedZstc, runtime: Stubber
) -> None:
    runtime.add_client_error(
        "invoke_endpoint_async",
        service_error_code="ValidationError",
        service_message=f"Endpoint {ENDPOINT_NAME} of account 111122223333 not found.",
        http_status_code=400,
    )
    client: Any = runtime.client
    async_runtime = AsyncEndpointRuntime(
        runtime=client,
        s3=async_deployed.s3,
        bucket=async_deployed.bucket,
        input_prefix=INPUT_PREFIX,
    )
    with runtime, pytest.raises(CliError, match=r"answered ValidationError: Endpoint .* not found"):
        invoke_sagemaker(
            runtime=async_runtime,
            endpoint_name=ENDPOINT_NAME,
            body=b"{}",
            content_type="application/json",
        )
