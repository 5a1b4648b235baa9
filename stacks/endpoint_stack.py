"""The endpoint stack: model, endpoint config, endpoint, autoscaling and alarms.

One stack for every endpoint_mode (docs/serving-modes.md), each mode with its own resources:
- realtime: an always-on instance variant, target tracking on invocations per instance;
- serverless: a ServerlessConfig variant on the CPU image (stacks/serverless_endpoint.py);
- async: an instance variant with AsyncInferenceConfig that scales to zero
  (stacks/async_endpoint.py).

An endpoint can cost money every hour it runs, so this stack can be deployed and destroyed on its
own (endpoint_enabled=false leaves it out); nothing else depends on it.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.async_endpoint import ASYNC_MODEL_SERVER, AsyncInference
from stacks.config import ZstcConfig
from stacks.data_stack import DataStack
from stacks.endpoint_alarms import EndpointErrorAlarms, has_gpu
from stacks.endpoint_deployment import (
    CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS,
    MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
    RETAIN_ALL_VARIANT_PROPERTIES,
    blue_green_deployment,
)
from stacks.endpoint_readiness import AsyncProbeLocations, EndpointReadinessCheck
from stacks.instance_storage import supports_volume_kms_key
from stacks.log_retention import retention
from stacks.network_stack import NetworkStack
from stacks.serverless_endpoint import (
    ProvisionedConcurrencyScaling,
    ServerlessAlarms,
    serverless_variant,
)
from stacks.serving_model import ServingModel
from stacks.topic_publishers import allow_alarms_to_publish
from zstc.model_server_settings import REAL_TIME_MODEL_SERVER

VARIANT_NAME = "AllTraffic"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
# Model latency (microseconds, p90 over 5 minutes) above which someone should look.
MODEL_LATENCY_ALARM_MICROSECONDS = 5_000_000
ALARM_PERIOD = cdk.Duration.minutes(5)
AUTOSCALING_SERVICE_LINKED_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
SCALE_IN_COOLDOWN = cdk.Duration.minutes(10)
SCALE_OUT_COOLDOWN = cdk.Duration.minutes(5)


# SageMaker cannot update an instance endpoint into a serverless one
# (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html: "Updating a
# real-time inference endpoint to an on-demand serverless endpoint ... is currently not
# supported"), nor is turning AsyncInferenceConfig on or off an update of the same endpoint. So
# each mode family has its own endpoint name: a change of mode makes CloudFormation create the
# new endpoint, then delete the old one, instead of an UpdateEndpoint that fails. realtime keeps
# the name it always had.
_MODE_NAME_SUFFIX = {"realtime": "", "serverless": "-Serverless", "async": "-Async"}


def endpoint_name_for(stack_name: str, mode: str = "realtime") -> str:
    """The endpoint's name: the stack's own name (unique per account and region), plus the mode
    for serverless and async (at most 32 + 9 + 11 = 52 of the 63 characters SageMaker allows).

    It is known at synth time so the log group can be created before the endpoint writes to it.
    """
    return stack_name + _MODE_NAME_SUFFIX[mode]


class EndpointStack(cdk.Stack):
    """A SageMaker real-time endpoint serving the zstc model, with autoscaling and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        data: DataStack,
        network: NetworkStack | None,
        model_archive: Path,
        env: cdk.Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="zstc real-time endpoint: model, endpoint, autoscaling and alarms",
        )
        self.mode = config.endpoint_mode
        # Serverless has no instance type: SageMaker runs it on CPU compute of its choosing.
        instance_type = None if self.mode == "serverless" else config.endpoint_instance_type
        self.endpoint_name = endpoint_name_for(self.stack_name, self.mode)
        log_group_name = f"{ENDPOINT_LOG_GROUP_PREFIX}{self.endpoint_name}"

        # The name is fixed, so a retained group would block the next deploy of this stack:
        # endpoint logs always go with the endpoint.
        self.log_group = logs.LogGroup(
            self,
            "EndpointLogGroup",
            log_group_name=log_group_name,
            retention=retention(config.log_retention_days),
            encryption_key=data.log_encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        self.serving_model = ServingModel(
            self,
            "Model",
            config=config,
            instance_type=instance_type,
            model_server=ASYNC_MODEL_SERVER if self.mode == "async" else REAL_TIME_MODEL_SERVER,
            model_archive=model_archive,
            key=data.key,
            network=network,
            log_group_name_prefix=log_group_name,
            data=data,
            # Real-time and async endpoints load an uncompressed S3 prefix: nothing to unpack at
            # start. Serverless takes only ModelDataUrl (a .tar.gz), as botocore's ModelDataSource
            # documentation says.
            uncompressed_model_data=self.mode != "serverless",
            # Serverless Inference supports no network isolation (config.py refuses a VPC).
            network_isolation=False if self.mode == "serverless" else None,
        )

        # The data bucket travels through the data stack's fixed-name export (the one the model's
        # grants use), so that cdk-nag's finding ids do not depend on hashed logical ids. The
        # data stack exports it in every mode: an export that came and went with endpoint_mode
        # would fail the data stack's update while this stack still imports it.
        self.bucket_export_name = data.bucket_arn_export_name
        self.data_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "DataBucket",
            bucket_arn=data.bucket_arn_for_grants,
            encryption_key=data.key,
        )
        if self.mode == "serverless" and config.weights_source == "hub":
            # Every cold start of a serverless container runs model_fn, so hub mode downloads
            # the weights again each time, and ModelSetupTime grows with the model.
            cdk.Annotations.of(self).add_warning_v2(
                "zstc:serverlessHubWeights",
                "endpoint_mode: 'serverless' with model_weights='hub' downloads the model from "
                "the hub at every cold start; set model_weights to 's3' (the default), 'package' "
                "or a local model directory so cold starts only load it",
            )
        self.async_inference: AsyncInference | None = None
        if self.mode == "async":
            self.async_inference = AsyncInference(
                self,
                "AsyncInference",
                config=config,
                bucket=self.data_bucket,
                bucket_export_name=self.bucket_export_name,
                key=data.key,
                execution_role=self.serving_model.role,
                endpoint_name=self.endpoint_name,
                variant_name=VARIANT_NAME,
            )

        if instance_type is None:
            variant = serverless_variant(
                config=config,
                variant_name=VARIANT_NAME,
                model_name=self.serving_model.model_name,
            )
        else:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=self.serving_model.model_name,
                instance_type=instance_type,
                # Async starts with one instance (the API's minimum) and scales to zero.
                initial_instance_count=config.endpoint_instance_count,
                initial_variant_weight=1.0,
                model_data_download_timeout_in_seconds=MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
                container_startup_health_check_timeout_in_seconds=(
                    CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS
                ),
            )
        # The volume key: instance types with local NVMe storage reject it (their storage is
        # hardware-encrypted); serverless takes it to encrypt the model's image
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-create-config.html).
        volume_key = instance_type is None or supports_volume_kms_key(instance_type)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[variant],
            kms_key_id=data.key.key_arn if volume_key else None,
            async_inference_config=(
                self.async_inference.async_inference_config if self.async_inference else None
            ),
        )

        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=RETAIN_ALL_VARIANT_PROPERTIES,
        )
        self.endpoint.node.add_dependency(self.log_group)

        # Changing the instance type fails while autoscaling is registered: deploy once with
        # autoscaling_enabled=false first (docs/lifecycle.md, "Changing the instance type").
        if config.autoscaling_enabled:
            self._add_autoscaling(config=config)
        self.alarm_topic = self._add_alarms(config=config, data=data, instance_type=instance_type)
        # Updates bake on the new fleet and roll back when the error alarms trip. Blue/green is
        # available to serverless and async endpoints too; only rolling updates exclude
        # serverless (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html).
        self.endpoint.deployment_config = blue_green_deployment(
            rollback_alarms=self.error_alarms.rollback_alarms
        )
        self.readiness_check = EndpointReadinessCheck(
            self,
            "ReadinessCheck",
            endpoint=self.endpoint,
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            model_name=self.serving_model.model_name,
            mode=self.mode,
            async_probe=(
                AsyncProbeLocations(
                    bucket=self.data_bucket,
                    bucket_export_name=self.bucket_export_name,
                    key=data.key,
                    inputs_prefix=self.async_inference.inputs_prefix,
                    outputs_prefix=self.async_inference.outputs_prefix,
                    failures_prefix=self.async_inference.failures_prefix,
                )
                if self.async_inference
                else None
            ),
            log_retention_days=config.log_retention_days,
            log_encryption_key=data.log_encryption_key,
            endpoint_log_group=self.log_group,
        )

        cdk.CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint.attr_endpoint_name,
            description="SageMaker endpoint to invoke with application/json requests",
        )
        cdk.CfnOutput(
            self,
            "EndpointMode",
            value=self.mode,
            description="How the endpoint is invoked: realtime, serverless (InvokeEndpoint) or "
            "async (InvokeEndpointAsync with the request in S3)",
        )
        cdk.CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic of the endpoint's error and latency alarms",
        )
        if self.async_inference is not None:
            outputs = {
                "AsyncInputPrefix": (self.async_inference.inputs_prefix, "where requests go"),
                "AsyncOutputPrefix": (self.async_inference.outputs_prefix, "where answers land"),
                "AsyncFailurePrefix": (self.async_inference.failures_prefix, "where failures land"),
                "AsyncSuccessTopicArn": (
                    self.async_inference.success_topic.topic_arn,
                    "SNS topic told of each answer",
                ),
                "AsyncErrorTopicArn": (
                    self.async_inference.error_topic.topic_arn,
                    "SNS topic told of each failure",
                ),
            }
            for output_id, (value, description) in outputs.items():
                cdk.CfnOutput(
                    self, output_id, value=value, description=f"Async inference: {description}"
                )

    def _service_linked_role(self) -> iam.IRole:
        # Application Auto Scaling always acts through its service-linked role for SageMaker
        # (creating it on first use); naming it stops the CDK from adding an unused role.
        existing = self.node.try_find_child("AutoScalingServiceLinkedRole")
        if existing is not None:
            return existing  # type: ignore[return-value]
        return iam.Role.from_role_arn(
            self,
            "AutoScalingServiceLinkedRole",
            self.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=AUTOSCALING_SERVICE_LINKED_ROLE,
            ),
        )

    def _add_autoscaling(self, *, config: ZstcConfig) -> None:
        resource_id = f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}"
        if self.async_inference is not None:
            self.scalable_target = self.async_inference.add_scaling(
                config=config,
                resource_id=resource_id,
                service_linked_role=self._service_linked_role(),
                depends_on=self.endpoint,
            )
            return
        if self.mode == "serverless":
            # Serverless scales itself up to MaxConcurrency; only provisioned concurrency, when
            # configured, is an Application Auto Scaling target.
            if config.serverless_provisioned_concurrency:
                scaling = ProvisionedConcurrencyScaling(
                    self,
                    "ProvisionedConcurrency",
                    config=config,
                    resource_id=resource_id,
                    service_linked_role=self._service_linked_role(),
                )
                scaling.scalable_target.node.add_dependency(self.endpoint)
            return
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.autoscaling_min_capacity,
            max_capacity=config.autoscaling_max_capacity,
            role=self._service_linked_role(),
        )
        # The variant only exists once the endpoint does.
        self.scalable_target.node.add_dependency(self.endpoint)
        self.scalable_target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=config.autoscaling_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=SCALE_IN_COOLDOWN,
            scale_out_cooldown=SCALE_OUT_COOLDOWN,
        )

    def _add_alarms(
        self, *, config: ZstcConfig, data: DataStack, instance_type: str | None
    ) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="zstc endpoint alarms",
            master_key=data.key,
            enforce_ssl=True,
        )
        if config.notification_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.notification_email))
        dimensions = {"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME}
        server_errors = cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="Invocation5XXErrors",
            dimensions_map=dimensions,
            statistic=cloudwatch.Stats.SUM,
            period=ALARM_PERIOD,
        ).create_alarm(
            self,
            "Invocation5XXErrorsAlarm",
            alarm_description="The zstc endpoint answered requests with HTTP 5xx",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # An async request may take up to an hour by design (large JSON Lines bodies), so a
        # seconds-scale latency alarm only fits the modes that answer callers directly; async has
        # its own alarm on requests that wait too long (stacks/async_endpoint.py).
        latency_alarms: tuple[cloudwatch.Alarm, ...] = ()
        if self.mode != "async":
            latency = cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ModelLatency",
                dimensions_map=dimensions,
                statistic=cloudwatch.Stats.percentile(90),
                period=ALARM_PERIOD,
            ).create_alarm(
                self,
                "ModelLatencyAlarm",
                alarm_description="p90 model latency of the zstc endpoint is above "
                f"{MODEL_LATENCY_ALARM_MICROSECONDS / 1_000_000:g} s",
                threshold=MODEL_LATENCY_ALARM_MICROSECONDS,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            latency_alarms = (latency,)
        # Failures the 5XX metric cannot see: the toolkit answers them with 400.
        self.error_alarms = EndpointErrorAlarms(
            self,
            "ErrorAlarms",
            endpoint_name=self.endpoint_name,
            variant_name=VARIANT_NAME,
            log_group=self.log_group,
            gpu_metrics=instance_type is not None and has_gpu(instance_type),
        )
        mode_alarms: tuple[cloudwatch.Alarm, ...] = ()
        if self.mode == "serverless":
            mode_alarms = ServerlessAlarms(
                self,
                "ServerlessAlarms",
                endpoint_name=self.endpoint_name,
                variant_name=VARIANT_NAME,
                max_concurrency=config.serverless_max_concurrency,
            ).alarms
        elif self.async_inference is not None:
            mode_alarms = self.async_inference.add_alarms()
        self.alarms = (server_errors, *latency_alarms, *self.error_alarms.alarms, *mode_alarms)
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        allow_alarms_to_publish(topic)
        return topic
