"""endpoint_mode=serverless: the serverless production variant, its provisioned concurrency
scaling and the alarms that only a serverless endpoint needs.

SageMaker Serverless Inference runs the same model.tar.gz on the CPU image, with no instance to
pay for while idle. Its limits and exclusions
(https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html):
- CPU only, MemorySizeInMB 1024-6144 in 1 GB steps, MaxConcurrency 1-200, ProvisionedConcurrency
  at most MaxConcurrency (botocore's ProductionVariantServerlessConfig shape);
- no VPC configuration and no network isolation (stacks/config.py refuses a VPC; the model is
  created with network isolation off);
- a request after an idle period starts a new container: a cold start, whose length is
  published as ModelSetupTime
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.config import ZstcConfig

# Cold starts (ModelSetupTime, microseconds, maximum over 5 minutes) longer than this mean the
# model download or load has grown: the first request after an idle period then waits that
# long. bart-large-mnli in hub mode downloads 1.6 GB at every cold start.
MODEL_SETUP_ALARM_MICROSECONDS = 120_000_000
# The share of MaxConcurrency in use (Little's law: invocations per second x seconds per
# invocation) above which new requests are close to being throttled (HTTP 429,
# ThrottlingException, once MaxConcurrency requests are in flight).
CONCURRENCY_ALARM_PERCENT = 80
ALARM_PERIOD = cdk.Duration.minutes(1)
CONCURRENCY_ALARM_PERIODS = 5
CONCURRENCY_ALARM_BREACHING_PERIODS = 3
# Provisioned concurrency target tracking: keep this share of it busy, adding more up to
# MaxConcurrency (the predefined metric SageMakerVariantProvisionedConcurrencyUtilization,
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html).
PROVISIONED_CONCURRENCY_TARGET_UTILIZATION = 0.7
PROVISIONED_SCALE_IN_COOLDOWN = cdk.Duration.minutes(10)
PROVISIONED_SCALE_OUT_COOLDOWN = cdk.Duration.minutes(1)
PROVISIONED_CONCURRENCY_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"


def serverless_variant(
    *, config: ZstcConfig, variant_name: str, model_name: str
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    """A ProductionVariant with ServerlessConfig and no instance type or count.

    The startup timeouts of the instance variant are left out: they describe an instance's
    download and health check, which Serverless Inference manages itself.
    """
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant_name,
        model_name=model_name,
        initial_variant_weight=1.0,
        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
            memory_size_in_mb=config.serverless_memory_size_mb,
            max_concurrency=config.serverless_max_concurrency,
            provisioned_concurrency=config.serverless_provisioned_concurrency or None,
        ),
    )


class ProvisionedConcurrencyScaling(Construct):
    """Target tracking on provisioned concurrency: from the configured amount up to
    MaxConcurrency, following SageMakerVariantProvisionedConcurrencyUtilization."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        resource_id: str,
        service_linked_role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=PROVISIONED_CONCURRENCY_DIMENSION,
            min_capacity=config.serverless_provisioned_concurrency,
            max_capacity=config.serverless_max_concurrency,
            role=service_linked_role,
        )
        self.scalable_target.scale_to_track_metric(
            "ProvisionedConcurrencyUtilization",
            target_value=PROVISIONED_CONCURRENCY_TARGET_UTILIZATION,
            predefined_metric=(
                appscaling.PredefinedMetric.SAGEMAKER_VARIANT_PROVISIONED_CONCURRENCY_UTILIZATION
            ),
            scale_in_cooldown=PROVISIONED_SCALE_IN_COOLDOWN,
            scale_out_cooldown=PROVISIONED_SCALE_OUT_COOLDOWN,
        )


class ServerlessAlarms(Construct):
    """Cold starts (ModelSetupTime) and concurrency close to MaxConcurrency (throttling)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variant_name: str,
        max_concurrency: int,
    ) -> None:
        super().__init__(scope, construct_id)
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=ALARM_PERIOD,
            )

        self.cold_start = cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="ModelSetupTime",
            dimensions_map=dimensions,
            statistic=cloudwatch.Stats.MAXIMUM,
            period=cdk.Duration.minutes(5),
        ).create_alarm(
            self,
            "ModelSetupTimeAlarm",
            alarm_description=(
                "A cold start of the zstc serverless endpoint (ModelSetupTime: new compute, "
                f"model download and load) took over {MODEL_SETUP_ALARM_MICROSECONDS / 1e6:g} s. "
                "Requests after an idle period wait that long; package the weights "
                "(model_weights=package) or set serverless_provisioned_concurrency."
            ),
            threshold=MODEL_SETUP_ALARM_MICROSECONDS,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # Little's law: requests in flight = arrival rate x time in the system. ModelLatency and
        # OverheadLatency are in microseconds; Invocations is a count per period.
        seconds = ALARM_PERIOD.to_seconds()
        concurrency_in_use = cloudwatch.MathExpression(
            expression=(
                f"100 * (FILL(invocations, 0) / {seconds}) * "
                f"(FILL(model, 0) + FILL(overhead, 0)) / 1000000 / {max_concurrency}"
            ),
            using_metrics={
                "invocations": metric("Invocations", cloudwatch.Stats.SUM),
                "model": metric("ModelLatency", cloudwatch.Stats.AVERAGE),
                "overhead": metric("OverheadLatency", cloudwatch.Stats.AVERAGE),
            },
            label="Share of MaxConcurrency in use (%)",
            period=ALARM_PERIOD,
        )
        self.concurrency = concurrency_in_use.create_alarm(
            self,
            "ConcurrencyNearLimitAlarm",
            alarm_description=(
                f"In {CONCURRENCY_ALARM_BREACHING_PERIODS} of the last "
                f"{CONCURRENCY_ALARM_PERIODS} minutes the zstc serverless endpoint used over "
                f"{CONCURRENCY_ALARM_PERCENT}% of its MaxConcurrency ({max_concurrency}) "
                "(Invocations x latency): requests beyond it are throttled with HTTP 429. Raise "
                "serverless_max_concurrency (and the account's serverless concurrency quota)."
            ),
            threshold=CONCURRENCY_ALARM_PERCENT,
            evaluation_periods=CONCURRENCY_ALARM_PERIODS,
            datapoints_to_alarm=CONCURRENCY_ALARM_BREACHING_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms: tuple[cloudwatch.Alarm, ...] = (self.cold_start, self.concurrency)
