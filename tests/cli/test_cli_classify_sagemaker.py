"""`zstc classify` against the deployed endpoint: name from the stack, request, table, errors."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from cli_test_support import ENDPOINT_NAME, REGION, DeployedZstc

import zstc.cli.context
from zstc.cli import main

RESPONSE = {"sequence": "pay off my card", "labels": ["Finance", "Health"], "scores": [0.9, 0.1]}


def _body(payload: Any) -> StreamingBody:
    import io

    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_classify_finds_the_endpoint_from_the_stack_and_sends_the_contract(
    deployed: DeployedZstc, runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expected_body = json.dumps(
        {
            "inputs": "pay off my card",
            "parameters": {
                "candidate_labels": ["Finance", "Health"],
                "multi_label": True,
                "hypothesis_template": "This text is about {}.",
            },
        }
    ).encode()
    runtime.add_response(
        "invoke_endpoint",
        {"Body": _body(RESPONSE), "ContentType": "application/json"},
        {
            "EndpointName": ENDPOINT_NAME,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": expected_body,
        },
    )
    with runtime:
        code = main(
            [
                "classify",
                "pay off my card",
                "--labels",
                "Finance, Health",
                "--multi-label",
                "--template",
                "This text is about {}.",
                *deployed.cli_args(),
            ]
        )
    runtime.assert_no_pending_responses()
    assert code == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["label", "score"]
    assert rows[1].startswith("Finance") and "0.900" in rows[1]
    assert rows[1].count("█") == 27 and rows[2].count("█") == 3


def test_json_prints_the_raw_response(
    deployed: DeployedZstc, runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime.add_response("invoke_endpoint", {"Body": _body(RESPONSE)}, None)
    with runtime:
        code = main(["classify", "x", "--labels", "a,b", "--json", *deployed.cli_args()])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == RESPONSE


def test_the_endpoints_400_message_reaches_the_user_in_one_line(
    deployed: DeployedZstc, runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    message = '"parameters.candidate_labels" has 60 labels, more than the limit of 50'
    runtime.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message=f"Received client error (400) from primary: {message}",
        http_status_code=424,
        expected_params={
            "EndpointName": ENDPOINT_NAME,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": ANY,
        },
    )
    with runtime:
        code = main(["classify", "x", "--labels", "a,b", *deployed.cli_args()])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"zstc: error: endpoint '{ENDPOINT_NAME}' answered ModelError:")
    assert message in err and err.count("\n") == 1


def test_endpoint_name_flag_skips_the_stack_lookup(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No stacks exist at all: the flag alone must be enough.
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    monkeypatch.setattr(zstc.cli.context.Settings, "client", lambda settings, service: client)
    stubber = Stubber(client)
    stubber.add_response(
        "invoke_endpoint",
        {"Body": _body(RESPONSE)},
        {
            "EndpointName": "my-endpoint",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": ANY,
        },
    )
    with stubber:
        assert main(["classify", "x", "--labels", "a,b", "--endpoint-name", "my-endpoint"]) == 0
    stubber.assert_no_pending_responses()


def test_undeployed_endpoint_stack_is_named(
    aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    with mock_aws():
        code = main(["classify", "x", "--labels", "a,b", "--stack-prefix", "Gone"])
    assert code == 1
    assert "stack 'Gone-Endpoint' is not deployed" in capsys.readouterr().err
