"""Deployment of the endpoint: blue/green with baking and rollback alarms, then the readiness
check that `cdk deploy` waits for (template side; the check's logic is in tests/readiness)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_synth import DEFAULT, EXISTING_KEY_RETAIN, SynthesizedApp, resources_of_type, synth

from stacks.endpoint_deployment import (
    BAKE_SECONDS,
    CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS,
    MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
)
from stacks.endpoint_readiness import READINESS_TIMEOUT

ENDPOINT_NAME = "Zstc-Endpoint"


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth(DEFAULT)


@pytest.fixture(scope="module")
def existing_key_app() -> SynthesizedApp:
    return synth(EXISTING_KEY_RETAIN)


def _endpoint(app: SynthesizedApp) -> tuple[Template, dict[str, Any]]:
    assert app.stacks.endpoint is not None
    return app.template(app.stacks.endpoint), app.templates[app.stacks.endpoint.stack_name]


def _of_readiness_check(raw: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Resources of the type that belong to the readiness check (the weights copy has its own
    provider in the same stack)."""
    return {
        logical_id: resource
        for logical_id, resource in resources_of_type(raw, resource_type).items()
        if "/ReadinessCheck/" in resource.get("Metadata", {}).get("aws:cdk:path", "")
    }


def _only_id(raw: dict[str, Any], resource_type: str) -> str:
    (logical_id,) = resources_of_type(raw, resource_type)
    return logical_id


def _readiness(raw: dict[str, Any]) -> dict[str, Any]:
    (check,) = resources_of_type(raw, "Custom::EndpointReadiness").values()
    return check


def _alarm_id(raw: dict[str, Any], metric_name: str) -> str:
    for logical_id, alarm in resources_of_type(raw, "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        names = {properties.get("MetricName")} | {
            query.get("MetricStat", {}).get("Metric", {}).get("MetricName")
            for query in properties.get("Metrics", [])
        }
        if metric_name in names:
            return logical_id
    raise AssertionError(f"no alarm on {metric_name}")


def test_updates_are_blue_green_baked_and_rolled_back_by_the_error_alarms(
    default_app: SynthesizedApp,
) -> None:
    template, raw = _endpoint(default_app)
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": ENDPOINT_NAME,
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "ALL_AT_ONCE",
                        "WaitIntervalInSeconds": BAKE_SECONDS,
                    },
                    "MaximumExecutionTimeoutInSeconds": Match.any_value(),
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [
                        {"AlarmName": {"Ref": _alarm_id(raw, "ServerErrors")}},
                        {"AlarmName": {"Ref": _alarm_id(raw, "InvocationModelErrors")}},
                    ]
                },
            },
        },
    )
    (endpoint,) = resources_of_type(raw, "AWS::SageMaker::Endpoint").values()
    policy = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    # The deployment may take the download, the start-up and the baking period, within
    # SageMaker's 600-28800 s range.
    timeout = policy["MaximumExecutionTimeoutInSeconds"]
    assert (
        timeout
        > (MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS + CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS)
        + BAKE_SECONDS
    )
    assert 600 <= timeout <= 28800
    assert 0 <= BAKE_SECONDS <= 3600
    # ProductionVariant allows 60-3600 s for the download and for the start-up health check.
    assert 60 <= MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS <= 3600
    assert 60 <= CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS <= 3600


def test_readiness_check_runs_after_the_endpoint_for_each_model_and_config(
    default_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(default_app)
    check = _readiness(raw)
    endpoint_id = _only_id(raw, "AWS::SageMaker::Endpoint")
    assert endpoint_id in check["DependsOn"]
    assert check["Properties"]["EndpointName"] == ENDPOINT_NAME
    # A new model or config replaces the EndpointConfig (and the Model), so these values change
    # and CloudFormation sends the check an Update: it runs again.
    assert check["Properties"]["EndpointConfigName"] == {
        "Fn::GetAtt": [_only_id(raw, "AWS::SageMaker::EndpointConfig"), "EndpointConfigName"]
    }
    assert check["Properties"]["ModelName"] == {
        "Fn::GetAtt": [_only_id(raw, "AWS::SageMaker::Model"), "ModelName"]
    }
    assert check["Properties"]["TimeoutSeconds"] == str(int(READINESS_TIMEOUT.to_seconds()))
    assert check["DeletionPolicy"] == "Delete"


def _check_functions(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: function
        for logical_id, function in resources_of_type(raw, "AWS::Lambda::Function").items()
        if function["Properties"].get("Handler", "").startswith("readiness_handler.")
    }


def test_the_check_polls_is_complete_within_a_bounded_wait(default_app: SynthesizedApp) -> None:
    _, raw = _endpoint(default_app)
    handlers = {f["Properties"]["Handler"] for f in _check_functions(raw).values()}
    assert handlers == {"readiness_handler.on_event", "readiness_handler.is_complete"}
    for function in _check_functions(raw).values():
        assert function["Properties"]["Runtime"] == "python3.12"
    (state_machine,) = _of_readiness_check(raw, "AWS::StepFunctions::StateMachine").values()
    definition = "".join(
        part if isinstance(part, str) else "ARN"
        for part in state_machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    )
    (retry,) = json.loads(definition)["States"]["framework-isComplete-task"]["Retry"]
    total_wait = retry["IntervalSeconds"] * retry["MaxAttempts"]
    # Bounded, and longer than the check's own deadline, so that the check's failure (naming
    # the endpoint's last answer) is the one CloudFormation reports.
    assert READINESS_TIMEOUT.to_seconds() < total_wait <= 2 * 3600


def test_the_check_may_only_describe_and_invoke_this_endpoint(
    default_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(default_app)
    endpoint_id = _only_id(raw, "AWS::SageMaker::Endpoint")
    (role_arn,) = {json.dumps(f["Properties"]["Role"]) for f in _check_functions(raw).values()}
    role_id = json.loads(role_arn)["Fn::GetAtt"][0]
    role = resources_of_type(raw, "AWS::IAM::Role")[role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = [
        statement
        for policy in resources_of_type(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    sagemaker_statements = [s for s in statements if "sagemaker:InvokeEndpoint" in s["Action"]]
    assert sagemaker_statements == [
        {
            "Sid": "ProbeThisEndpoint",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
            # Ref of AWS::SageMaker::Endpoint is its ARN.
            "Resource": {"Ref": endpoint_id},
        }
    ]
    other_actions = {
        action
        for statement in statements
        if statement not in sagemaker_statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    # Its own log groups, and reading the endpoint's log for a failure's evidence.
    assert other_actions == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents"}


def test_the_checks_logs_are_its_own_and_encrypted_with_the_data_key(
    default_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(default_app)
    log_group_ids = {
        f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for f in _of_readiness_check(raw, "AWS::Lambda::Function").values()
    }
    # One group per check function (named as the framework's failure text says), and one for
    # the provider framework's functions.
    assert len(log_group_ids) == 3
    groups = resources_of_type(raw, "AWS::Logs::LogGroup")
    for log_group_id in log_group_ids:
        properties = groups[log_group_id]["Properties"]
        assert properties["RetentionInDays"] == 30
        # The data stack's key, exported for log groups like the other Lambdas' logs.
        key_import = properties["KmsKeyId"]["Fn::ImportValue"]
        assert key_import.startswith("Zstc-Data:")
        assert "DataKey" in key_import


def test_with_an_existing_key_the_checks_logs_use_default_encryption(
    existing_key_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(existing_key_app)
    for function in resources_of_type(raw, "AWS::Lambda::Function").values():
        log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = resources_of_type(raw, "AWS::Logs::LogGroup")[log_group_id]
        assert "KmsKeyId" not in group["Properties"]


def test_the_failure_reasons_log_line_names_the_group_each_function_logs_to(
    default_app: SynthesizedApp,
) -> None:
    """The CDK Provider framework appends "Logs: /aws/lambda/<function name>" to a failure
    (provider-framework/runtime/framework.js, invokeUserFunction); it must be the real group."""
    _, raw = _endpoint(default_app)
    functions = _of_readiness_check(raw, "AWS::Lambda::Function")
    user_functions = {
        logical_id: function
        for logical_id, function in functions.items()
        if str(function["Properties"]["Handler"]).startswith("readiness_handler.")
    }
    assert len(user_functions) == 2
    groups = resources_of_type(raw, "AWS::Logs::LogGroup")
    for function in user_functions.values():
        name = function["Properties"]["FunctionName"]
        group = groups[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["LogGroupName"] == f"/aws/lambda/{name}"
        assert group["DeletionPolicy"] == "Delete"


def test_a_failure_can_quote_the_endpoints_log(default_app: SynthesizedApp) -> None:
    _, raw = _endpoint(default_app)
    endpoint_log_group = {
        logical_id
        for logical_id, group in resources_of_type(raw, "AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"
    }
    (group_id,) = endpoint_log_group
    for function in _of_readiness_check(raw, "AWS::Lambda::Function").values():
        if str(function["Properties"]["Handler"]) == "readiness_handler.is_complete":
            assert function["Properties"]["Environment"]["Variables"]["ENDPOINT_LOG_GROUP"] == {
                "Ref": group_id
            }
    statements = [
        statement
        for policy in resources_of_type(raw, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "logs:FilterLogEvents"
    ]
    (statement,) = statements
    assert statement["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}
