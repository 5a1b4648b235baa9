"""How the endpoint rolls out a new model or config: blue/green, baked, rolled back on alarms.

SageMaker updates an endpoint blue/green: it starts a new (green) fleet, shifts the traffic to
it, then terminates the old (blue) fleet. It shifts traffic once the green containers answer
/ping, and multi-model-server answers /ping with 200 while its worker is still loading the
model, so the first requests after the shift can fail. zstc narrows that window:

- the green fleet is baked: for BAKE_SECONDS after the shift SageMaker keeps the blue fleet and
  watches the rollback alarms (marked server errors, the share of failed invocations); if one
  trips, all traffic goes back to the blue fleet and the update fails, so CloudFormation rolls
  the stack back;
- the readiness check (stacks/endpoint_readiness.py) then holds the deployment until the
  endpoint answers a real classification request correctly.

BlueGreenUpdatePolicy, TrafficRoutingConfig and AutoRollbackConfig:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker as sagemaker

# The model's own start-up allowances (seconds). bart-large-mnli is 1.6 GB: SageMaker downloads
# model.tar.gz before the container starts, and in hub mode model_fn downloads the weights
# itself; both, plus loading onto the GPU, need far more than SageMaker's defaults on a cold
# instance. Measured load times are in the README ("Model load time"). SageMaker allows 60 to
# 3600 s for each: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html
MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS = 1800
CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS = 1800
# Baking period (TrafficRoutingConfig.WaitIntervalInSeconds, 0-3600): the rollback alarms need
# a few minutes of traffic to trip (three bad minutes of five, or one marked server error in a
# five-minute period), and the blue fleet costs money while it waits.
BAKE_SECONDS = 600
# The whole deployment (600-28800): provisioning, download, start-up, baking, and a margin.
DEPLOYMENT_MARGIN_SECONDS = 600
MAXIMUM_EXECUTION_TIMEOUT_SECONDS = (
    MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS
    + CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS
    + BAKE_SECONDS
    + DEPLOYMENT_MARGIN_SECONDS
)


# Every update keeps the variant's current instance count (and weight) instead of resetting it to
# the new config's InitialInstanceCount: an endpoint scaled out to serve its load stays scaled
# out through the update, and the rollback alarms do not trip on a fleet cut back to its initial
# size. Nothing is excluded (ExcludeRetainedVariantProperties is left out), so autoscaling alone
# owns the count; endpoint_instance_count only sizes the first deployment. The instance type
# is not a variant property: it always comes from the new config.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html
# (RetainAllVariantProperties, ExcludeRetainedVariantProperties; VariantPropertyType is
# DesiredInstanceCount, DesiredWeight or DataCaptureConfig).
RETAIN_ALL_VARIANT_PROPERTIES = True


def blue_green_deployment(
    *, rollback_alarms: Sequence[cloudwatch.IAlarm]
) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
    """All traffic to the green fleet at once, then BAKE_SECONDS watching the rollback alarms."""
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="ALL_AT_ONCE", wait_interval_in_seconds=BAKE_SECONDS
            ),
            maximum_execution_timeout_in_seconds=MAXIMUM_EXECUTION_TIMEOUT_SECONDS,
        ),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name)
                for alarm in rollback_alarms
            ]
        ),
    )
