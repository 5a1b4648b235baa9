"""Endpoint updates keep capacity, and the instance type can change while autoscaling is used.

- RetainAllVariantProperties: without it every UpdateEndpoint resets the variant to the new
  config's InitialInstanceCount (botocore sagemaker service model, UpdateEndpoint).
- Changing the instance type of a variant registered with Application Auto Scaling fails
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html): the documented
  path is one deploy with autoscaling_enabled=false (CloudFormation deregisters the target),
  then one with the new type and autoscaling back on, which registers the target only after the
  endpoint update, because the scalable target depends on the endpoint.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from infra_synth import SynthesizedApp, resources_of_type, synth

SCALING_TYPES = (
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
)


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth()


@pytest.fixture(scope="module")
def paused_app() -> SynthesizedApp:
    return synth({"autoscaling_enabled": False})


def _endpoint_template(app: SynthesizedApp) -> dict[str, Any]:
    assert app.stacks.endpoint is not None
    return app.templates[app.stacks.endpoint.stack_name]


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = resources_of_type(template, resource_type).items()
    return found


def test_updates_retain_the_scaled_instance_count(default_app: SynthesizedApp) -> None:
    _, endpoint = _only(_endpoint_template(default_app), "AWS::SageMaker::Endpoint")
    properties = endpoint["Properties"]

    assert properties["RetainAllVariantProperties"] is True
    # Nothing excluded: the count, like the weight, stays what autoscaling made it.
    assert "ExcludeRetainedVariantProperties" not in properties
    # The parameter CloudFormation passes on, as the UpdateEndpoint API takes it.
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("UpdateEndpoint")
        .input_shape
    )
    report = ParamValidator().validate(
        {
            "EndpointName": "Zstc-Endpoint",
            "EndpointConfigName": "EndpointConfig-new",
            "RetainAllVariantProperties": properties["RetainAllVariantProperties"],
        },
        shape,
    )
    assert not report.has_errors(), report.generate_report()


def test_autoscaling_enabled_false_removes_only_the_scaling(
    default_app: SynthesizedApp, paused_app: SynthesizedApp
) -> None:
    default = _endpoint_template(default_app)
    paused = _endpoint_template(paused_app)

    for resource_type in SCALING_TYPES:
        assert len(resources_of_type(default, resource_type)) == 1
        assert resources_of_type(paused, resource_type) == {}
    # The endpoint and its config are untouched, so this deploy does not update the endpoint.
    for resource_type in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig"):
        assert _only(paused, resource_type) == _only(default, resource_type)


def test_the_scalable_target_is_registered_only_after_the_endpoint_update(
    default_app: SynthesizedApp,
) -> None:
    template = _endpoint_template(default_app)
    endpoint_id, _ = _only(template, "AWS::SageMaker::Endpoint")
    _, target = _only(template, "AWS::ApplicationAutoScaling::ScalableTarget")

    assert endpoint_id in target.get("DependsOn", [])
