"""Every assertion's AWS call is valid for botocore's service model, before any account sees it."""

from __future__ import annotations

import json

import pytest
from checker_handler import CHECKS
from integ_synth import SynthesizedIntegApp, synth_integ_app
from sdk_calls import (
    PLACEHOLDER,
    SdkCall,
    botocore_service_name,
    decode_parameters,
    sdk_calls,
    validation_errors,
)


@pytest.fixture(scope="module")
def calls() -> list[SdkCall]:
    synthesized: SynthesizedIntegApp = synth_integ_app()
    return sdk_calls(synthesized.template_of(synthesized.integ.assertion_stack))


def test_every_assertion_call_is_valid_for_botocore(calls: list[SdkCall]) -> None:
    assert {(call.service, call.api) for call in calls} >= {
        ("Lambda", "invoke"),
        ("S3", "putObject"),
        ("SageMaker", "listTransformJobs"),
        ("SQS", "sendMessage"),
        ("SQS", "receiveMessage"),
        ("SQS", "getQueueAttributes"),
        ("CloudWatchLogs", "filterLogEvents"),
        ("CloudWatch", "setAlarmState"),
    }
    problems = {call.logical_id: validation_errors(call) for call in calls}
    assert {name: errors for name, errors in problems.items() if errors} == {}


def test_checker_invocations_name_a_check_and_carry_its_fields(calls: list[SdkCall]) -> None:
    invocations = [call for call in calls if (call.service, call.api) == ("Lambda", "invoke")]
    assert invocations
    for call in invocations:
        payload = json.loads(call.parameters["Payload"])
        assert payload["check"] in CHECKS, payload
        needed, _ = CHECKS[payload["check"]]
        assert needed <= set(payload), payload


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (SdkCall("misspelt", "S3", "putObject", {"Bukcet": "b", "Key": "k"}), "Bukcet"),
        (SdkCall("missing", "S3", "putObject", {"Key": "k"}), "Bucket"),
        (SdkCall("no such action", "SQS", "receiveMessages", {"QueueUrl": "q"}), "ReceiveMessages"),
        (
            SdkCall(
                "wrong type", "SQS", "receiveMessage", {"QueueUrl": "q", "WaitTimeSeconds": "20"}
            ),
            "WaitTimeSeconds",
        ),
        (SdkCall("no such service", "SageMakerz", "listModels", {}), "SageMakerz"),
    ],
    ids=lambda value: value.logical_id if isinstance(value, SdkCall) else "",
)
def test_validation_catches_what_the_account_would_refuse(call: SdkCall, complaint: str) -> None:
    errors = validation_errors(call)
    assert errors
    assert complaint in "\n".join(errors)


def test_service_names_resolve_through_the_providers_own_tables() -> None:
    # CloudWatchLogs is a v2 name the adapter maps to @aws-sdk/client-cloudwatch-logs, whose
    # serviceId ("CloudWatch Logs") is botocore's "logs".
    assert botocore_service_name("CloudWatchLogs") == "logs"
    assert botocore_service_name("SageMakerRuntime") == "sagemaker-runtime"
    assert botocore_service_name("@aws-sdk/client-sqs") == "sqs"


def test_parameters_decode_as_the_provider_decodes_them() -> None:
    encoded = {
        "Key": json.dumps("input/a.jsonl"),
        "Bucket": {"Fn::Join": ["", ['"', {"Fn::ImportValue": "Data:Bucket"}, '"']]},
        "MaxNumberOfMessages": json.dumps(10),
        "Body": {"$type": "ArrayBufferView", "string": "raw"},
    }
    assert decode_parameters(encoded) == {
        "Key": "input/a.jsonl",
        "Bucket": PLACEHOLDER,
        "MaxNumberOfMessages": 10,
        "Body": b"raw",
    }
    with pytest.raises(ValueError, match="not JSON-encoded"):
        decode_parameters({"Key": "input/a.jsonl"})
