"""The readiness check: waits while the endpoint loads, fails when it never classifies.

Every SageMaker call goes through botocore's Stubber, which validates the request parameters and
the stubbed answers against the sagemaker and sagemaker-runtime service models.
"""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from readiness_check import ReadinessError, is_complete, on_event
from readiness_events import (
    ENDPOINT_CONFIG_NAME,
    ENDPOINT_NAME,
    OLD_ENDPOINT_CONFIG_NAME,
    TIMEOUT_SECONDS,
    cloudformation_request,
    is_complete_request,
)
from readiness_probe import PROBE_CONTENT_TYPE, PROBE_LABELS, PROBE_TEXT, probe_request_body

START = 1_764_100_000.0
ENDPOINT_ARN = f"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/{ENDPOINT_NAME.lower()}"
LOG_STREAM_ARN = (
    "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/sagemaker/Endpoints/Zstc-Endpoint:"
    "log-stream:AllTraffic/i-0abc123def4567890"
)
INVOKE_PARAMS = {
    "EndpointName": ENDPOINT_NAME,
    "ContentType": PROBE_CONTENT_TYPE,
    "Accept": PROBE_CONTENT_TYPE,
    "Body": probe_request_body(),
}
Clients = tuple[Any, Stubber, Any, Stubber]


def correct_answer() -> dict[str, Any]:
    return {"sequence": PROBE_TEXT, "labels": list(PROBE_LABELS), "scores": [0.93, 0.05, 0.02]}


def _describe(stub: Stubber, status: str = "InService", config: str = ENDPOINT_CONFIG_NAME) -> None:
    answer: dict[str, Any] = {
        "EndpointName": ENDPOINT_NAME,
        "EndpointArn": ENDPOINT_ARN,
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": "2026-11-25T22:00:00Z",
        "LastModifiedTime": "2026-11-25T22:20:00Z",
    }
    if status == "Failed":
        answer["FailureReason"] = "Image size 12 GB is greater than supported size 10 GB"
    stub.add_response("describe_endpoint", answer, {"EndpointName": ENDPOINT_NAME})


def _answers(stub: Stubber, body: bytes) -> None:
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": PROBE_CONTENT_TYPE},
        INVOKE_PARAMS,
    )


def _model_error(stub: Stubber, original_status: int, original_message: str) -> None:
    """The container answered non-2XX: SageMaker's ModelError, as the service model shapes it."""
    stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message=f"Received server error ({original_status}) from primary with message "
        f'"{original_message}"',
        http_status_code=424,
        modeled_fields={
            "OriginalStatusCode": original_status,
            "OriginalMessage": original_message,
            "LogStreamArn": LOG_STREAM_ARN,
        },
        expected_params=INVOKE_PARAMS,
    )


def _started(request_type: str = "Create", **kwargs: Any) -> dict[str, Any]:
    return is_complete_request(
        on_event(cloudformation_request(request_type, **kwargs), now=START), request_type, **kwargs
    )


def _poll(event: dict[str, Any], clients: Clients, now: float) -> dict[str, Any]:
    sagemaker, _, runtime, _ = clients
    return is_complete(event, sagemaker=sagemaker, runtime=runtime, now=now)


def test_on_event_keeps_the_endpoint_as_id_and_sets_the_deadline() -> None:
    result = on_event(cloudformation_request("Create"), now=START)
    assert result == {"PhysicalResourceId": ENDPOINT_NAME, "Deadline": START + TIMEOUT_SECONDS}
    update = on_event(cloudformation_request("Update"), now=START + 5)
    assert update["PhysicalResourceId"] == ENDPOINT_NAME
    assert update["Deadline"] == START + 5 + TIMEOUT_SECONDS


def test_succeeds_after_not_ready_answers(stubbed_clients: Clients) -> None:
    _, sagemaker_stub, _, runtime_stub = stubbed_clients
    event = _started()
    # The worker is still loading: no worker to serve, then not ready, then the answer.
    _describe(sagemaker_stub)
    _model_error(runtime_stub, 503, "No worker is available to serve request: model")
    _describe(sagemaker_stub)
    runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelNotReadyException",
        service_message="Model is not ready",
        http_status_code=429,
        expected_params=INVOKE_PARAMS,
    )
    _describe(sagemaker_stub)
    _answers(runtime_stub, json.dumps(correct_answer()).encode())
    results = [_poll(event, stubbed_clients, START + 30 * poll) for poll in range(1, 4)]
    assert results == [{"IsComplete": False}, {"IsComplete": False}, {"IsComplete": True}]


def test_an_updating_endpoint_is_waited_for_without_invoking(stubbed_clients: Clients) -> None:
    _, sagemaker_stub, _, _ = stubbed_clients
    _describe(sagemaker_stub, status="Updating")
    assert _poll(_started("Update"), stubbed_clients, START + 30) == {"IsComplete": False}


def test_model_errors_until_the_deadline_fail_with_the_containers_message(
    stubbed_clients: Clients,
) -> None:
    _, sagemaker_stub, _, runtime_stub = stubbed_clients
    event = _started()
    _describe(sagemaker_stub)
    _model_error(runtime_stub, 503, "No worker is available to serve request: model")
    assert _poll(event, stubbed_clients, START + TIMEOUT_SECONDS - 1) == {"IsComplete": False}
    _describe(sagemaker_stub)
    _model_error(runtime_stub, 503, "No worker is available to serve request: model")
    with pytest.raises(ReadinessError) as failure:
        _poll(event, stubbed_clients, START + TIMEOUT_SECONDS)
    message = str(failure.value)
    assert f"did not classify within {TIMEOUT_SECONDS} s" in message
    assert "container answered 503: No worker is available" in message
    assert LOG_STREAM_ARN in message


def test_an_endpoint_that_stays_updating_fails_at_the_deadline(stubbed_clients: Clients) -> None:
    _, sagemaker_stub, _, _ = stubbed_clients
    _describe(sagemaker_stub, status="Updating")
    with pytest.raises(ReadinessError, match="last answer: endpoint is Updating"):
        _poll(_started(), stubbed_clients, START + TIMEOUT_SECONDS + 60)


def test_a_missing_endpoint_fails_at_once(stubbed_clients: Clients) -> None:
    _, sagemaker_stub, _, runtime_stub = stubbed_clients
    _describe(sagemaker_stub)
    runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message=f"Endpoint {ENDPOINT_NAME} of account 111122223333 not found.",
        http_status_code=400,
        expected_params=INVOKE_PARAMS,
    )
    with pytest.raises(ReadinessError, match="cannot be invoked: ValidationError"):
        _poll(_started(), stubbed_clients, START + 30)


def test_a_failed_endpoint_fails_at_once_with_its_reason(stubbed_clients: Clients) -> None:
    _, sagemaker_stub, _, _ = stubbed_clients
    _describe(sagemaker_stub, status="Failed")
    with pytest.raises(ReadinessError, match="is Failed: Image size 12 GB"):
        _poll(_started(), stubbed_clients, START + 30)


def _unsorted() -> dict[str, Any]:
    return {**correct_answer(), "scores": [0.05, 0.93, 0.02]}


def _label_missing() -> dict[str, Any]:
    return {**correct_answer(), "labels": ["technology", "cooking"], "scores": [0.95, 0.05]}


def _not_normalised() -> dict[str, Any]:
    return {**correct_answer(), "scores": [0.9, 0.8, 0.7]}


def _other_sequence() -> dict[str, Any]:
    return {**correct_answer(), "sequence": "something else"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (json.dumps(_unsorted()).encode(), "not sorted by score"),
        (json.dumps(_label_missing()).encode(), "labels: expected each of"),
        (json.dumps(_not_normalised()).encode(), "must sum to 1"),
        (json.dumps(_other_sequence()).encode(), "sequence: expected the probe text"),
        (json.dumps([correct_answer()]).encode(), "expected one JSON object"),
        (json.dumps({**correct_answer(), "scores": ["0.9", 0.05, 0.05]}).encode(), "numbers"),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
    ],
)
def test_a_wrong_answer_fails_at_once(stubbed_clients: Clients, body: bytes, problem: str) -> None:
    _, sagemaker_stub, _, runtime_stub = stubbed_clients
    _describe(sagemaker_stub)
    _answers(runtime_stub, body)
    with pytest.raises(ReadinessError, match="answered the probe wrongly") as failure:
        _poll(_started(), stubbed_clients, START + 30)
    assert problem in str(failure.value)


def test_rollback_to_an_older_config_completes_without_probing(stubbed_clients: Clients) -> None:
    """CloudFormation's rollback Update names the old config while the endpoint still runs the
    new one; probing would test the wrong config and could wedge the rollback."""
    _, sagemaker_stub, _, _ = stubbed_clients
    _describe(sagemaker_stub, config=ENDPOINT_CONFIG_NAME)
    rollback = _started("Update", endpoint_config_name=OLD_ENDPOINT_CONFIG_NAME)
    # No invoke_endpoint is queued: the Stubber would fail the test if one were made.
    assert _poll(rollback, stubbed_clients, START + 30) == {"IsComplete": True}


def test_delete_needs_no_call(stubbed_clients: Clients) -> None:
    request = cloudformation_request("Delete")
    assert on_event(request, now=START) == {"PhysicalResourceId": ENDPOINT_NAME}
    assert _poll(request, stubbed_clients, START) == {"IsComplete": True}


def test_the_lambda_handlers_pass_the_clock_and_clients(
    stubbed_clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler names the synthesized functions use exist and delegate to the check."""
    import readiness_handler

    sagemaker, sagemaker_stub, runtime, runtime_stub = stubbed_clients
    # A realtime endpoint's check never touches S3: a Stubber with nothing queued fails any call.
    s3 = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    ).client("s3")
    Stubber(s3).activate()
    monkeypatch.setattr(readiness_handler, "_clients", lambda: (sagemaker, runtime, s3))
    started = readiness_handler.on_event(cloudformation_request("Create"), None)
    assert started["PhysicalResourceId"] == ENDPOINT_NAME
    _describe(sagemaker_stub)
    _answers(runtime_stub, json.dumps(correct_answer()).encode())
    event = is_complete_request(started)
    assert readiness_handler.is_complete(event, None) == {"IsComplete": True}
