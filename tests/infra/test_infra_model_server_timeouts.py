"""The model server timeouts in the synthesized templates: seconds, not MMS's minutes.

multi-model-server 1.1.11 reads SAGEMAKER_MODEL_SERVER_TIMEOUT (default_response_timeout) as
minutes (ConfigManager.getDefaultResponseTimeoutSeconds); SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS
(default_response_timeout_seconds) is seconds and wins. The endpoint's model must give up within
SageMaker's 60-second invocation limit; the batch model exactly when the transform job does.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match
from infra_synth import SynthesizedApp, synth

from zstc.model_server_settings import (
    BATCH_MODEL_SERVER,
    MAX_BATCH_RESPONSE_BYTES,
    MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS,
    REAL_TIME_INVOCATION_LIMIT_SECONDS,
)


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth()


def _model_environment(app: SynthesizedApp, stack: Any) -> dict[str, str]:
    environment = Capture()
    app.template(stack).has_resource_properties(
        "AWS::SageMaker::Model",
        {"PrimaryContainer": Match.object_like({"Environment": environment})},
    )
    captured: dict[str, str] = environment.as_object()
    return captured


def _timeout_seconds_mms_applies(environment: dict[str, str]) -> int:
    """What MMS 1.1.11 waits for, from the properties the toolkit writes for this environment."""
    if "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS" in environment:
        return int(environment["SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"])
    # default_response_timeout alone is minutes (120 when unset).
    return 60 * int(environment.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "120"))


def test_endpoint_model_gives_up_within_the_real_time_invocation_limit(
    default_app: SynthesizedApp,
) -> None:
    assert default_app.stacks.endpoint is not None
    environment = _model_environment(default_app, default_app.stacks.endpoint)

    assert environment["SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"] == "60"
    assert _timeout_seconds_mms_applies(environment) <= REAL_TIME_INVOCATION_LIMIT_SECONDS
    # The minutes variable agrees with the seconds, rounded up: 60 s is 1 minute.
    assert environment["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == "1"
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    # SageMaker caps real-time responses at 6 MB: MMS's default response limit stays.
    assert "MMS_MAX_RESPONSE_SIZE" not in environment


def test_batch_model_gives_up_exactly_when_the_transform_job_does(
    default_app: SynthesizedApp,
) -> None:
    batch = default_app.stacks.batch
    environment = _model_environment(default_app, batch)
    trigger_environment = Capture()
    default_app.template(batch).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"INVOCATIONS_TIMEOUT_SECONDS": trigger_environment})
            }
        },
    )
    job_timeout = int(trigger_environment.as_string())

    assert job_timeout == BATCH_MODEL_SERVER.timeout_seconds == 3600
    assert job_timeout <= MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS
    assert _timeout_seconds_mms_applies(environment) == job_timeout
    assert environment["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == "60"
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    # Above MMS's default 6,553,500 bytes, which a full 6 MB payload's answer exceeds.
    assert environment["MMS_MAX_RESPONSE_SIZE"] == str(MAX_BATCH_RESPONSE_BYTES)


def test_no_model_keeps_the_old_ten_hour_timeout(default_app: SynthesizedApp) -> None:
    """The old templates set only SAGEMAKER_MODEL_SERVER_TIMEOUT=600: 600 minutes in MMS."""
    for stack_name, template in default_app.templates.items():
        for resource in template.get("Resources", {}).values():
            if resource["Type"] != "AWS::SageMaker::Model":
                continue
            environment = resource["Properties"]["PrimaryContainer"]["Environment"]
            applied = _timeout_seconds_mms_applies(environment)
            assert applied <= MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS, (stack_name, applied)
            minutes = int(environment["SAGEMAKER_MODEL_SERVER_TIMEOUT"])
            assert minutes == -(-applied // 60), "minutes = seconds / 60, rounded up"
