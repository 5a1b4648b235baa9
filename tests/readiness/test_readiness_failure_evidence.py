"""A readiness failure quotes the container's last log lines.

On a failed first deploy CloudFormation deletes the endpoint's log group with the stack; the
failure reason, which CloudFormation keeps in the stack's events, must carry the evidence.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from readiness_events import (
    ENDPOINT_NAME,
    REGION,
    TIMEOUT_SECONDS,
    cloudformation_request,
    is_complete_request,
)

from readiness_check import (  # isort: skip
    EVIDENCE_MAX_CHARS,
    EVIDENCE_WINDOW_SECONDS,
    ReadinessError,
    is_complete,
    on_event,
)

START = 1_700_000_000.0
LOG_GROUP = f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"


def _logs_stub() -> tuple[Any, Stubber]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    logs = session.client("logs")
    return logs, Stubber(logs)


def _failing_poll(sagemaker_stub: Stubber) -> dict[str, Any]:
    sagemaker_stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT_NAME,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:111122223333:endpoint/zstc-endpoint",
            "EndpointConfigName": "EndpointConfig-a1B2c3D4e5F6",
            "EndpointStatus": "Failed",
            "FailureReason": "The primary container for production variant AllTraffic did not "
            "pass the ping health check.",
            "CreationTime": START,
            "LastModifiedTime": START,
        },
        {"EndpointName": ENDPOINT_NAME},
    )
    return is_complete_request(on_event(cloudformation_request("Create"), now=START))


@pytest.fixture
def sagemaker() -> Any:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client("sagemaker"), session.client("sagemaker-runtime")


def test_a_failure_quotes_the_last_container_log_lines(sagemaker: Any) -> None:
    client, runtime = sagemaker
    logs, logs_stub = _logs_stub()
    now = START + 60
    lines = [f"line {n}: loading model" for n in range(30)] + [
        "OSError: Can't load tokenizer for '/opt/ml/model'"
    ]
    logs_stub.add_response(
        "filter_log_events",
        {
            "events": [
                {"logStreamName": "AllTraffic/i-0abc", "timestamp": 1, "message": line + "\n"}
                for line in lines
            ]
        },
        {
            "logGroupName": LOG_GROUP,
            "startTime": int((now - EVIDENCE_WINDOW_SECONDS) * 1000),
            "limit": 1000,
        },
    )
    with Stubber(client) as sagemaker_stub, logs_stub:
        event = _failing_poll(sagemaker_stub)
        with pytest.raises(ReadinessError) as failure:
            is_complete(
                event,
                sagemaker=client,
                runtime=runtime,
                now=now,
                logs_client=lambda: logs,
                log_group_name=LOG_GROUP,
            )
        logs_stub.assert_no_pending_responses()

    message = str(failure.value)
    assert "did not pass the ping health check" in message
    assert f"Last container log lines ({LOG_GROUP})" in message
    assert message.rstrip().endswith("OSError: Can't load tokenizer for '/opt/ml/model'")
    # Only the newest lines, and short enough for CloudFormation's 4096-byte response.
    assert "line 0:" not in message
    assert len(message) < EVIDENCE_MAX_CHARS + 500


def test_without_access_to_the_logs_the_failure_says_so(sagemaker: Any) -> None:
    client, runtime = sagemaker
    logs, logs_stub = _logs_stub()
    logs_stub.add_client_error("filter_log_events", service_error_code="AccessDeniedException")
    with Stubber(client) as sagemaker_stub, logs_stub:
        event = _failing_poll(sagemaker_stub)
        with pytest.raises(ReadinessError, match=r"no container log: AccessDeniedException"):
            is_complete(
                event,
                sagemaker=client,
                runtime=runtime,
                now=START + TIMEOUT_SECONDS,
                logs_client=lambda: logs,
                log_group_name=LOG_GROUP,
            )
