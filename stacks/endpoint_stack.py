"""The real-time endpoint stack: model, endpoint config, endpoint, autoscaling and alarms.

A GPU endpoint costs money every hour it runs, so this stack can be deployed and destroyed on its
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
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import ZstcConfig
from stacks.data_stack import DataStack
from stacks.endpoint_alarms import EndpointErrorAlarms
from stacks.endpoint_deployment import (
    CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS,
    MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
    RETAIN_ALL_VARIANT_PROPERTIES,
    blue_green_deployment,
)
from stacks.endpoint_readiness import EndpointReadinessCheck
from stacks.instance_storage import supports_volume_kms_key
from stacks.log_retention import retention
from stacks.network_stack import NetworkStack
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


def endpoint_name_for(stack_name: str) -> str:
    """The endpoint's name: the stack's own name, unique per account and region.

    It is known at synth time so the log group can be created before the endpoint writes to it.
    """
    return stack_name


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
        instance_type = config.endpoint_instance_type
        self.endpoint_name = endpoint_name_for(self.stack_name)
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
            model_server=REAL_TIME_MODEL_SERVER,
            model_archive=model_archive,
            key=data.key,
            network=network,
            log_group_name_prefix=log_group_name,
            data=data,
            # Real-time endpoints load an uncompressed S3 prefix: nothing to unpack at start.
            uncompressed_model_data=True,
        )

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.serving_model.model_name,
                    instance_type=instance_type,
                    initial_instance_count=config.endpoint_instance_count,
                    initial_variant_weight=1.0,
                    model_data_download_timeout_in_seconds=MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
                    container_startup_health_check_timeout_in_seconds=(
                        CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS
                    ),
                )
            ],
            # Instance types with local NVMe storage reject a volume key (their storage is
            # hardware-encrypted); every other type gets the zstc key.
            kms_key_id=data.key.key_arn if supports_volume_kms_key(instance_type) else None,
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
        self.alarm_topic = self._add_alarms(config=config, data=data)
        # Updates bake on the new fleet and roll back when the error alarms trip.
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
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic of the endpoint's error and latency alarms",
        )

    def _add_autoscaling(self, *, config: ZstcConfig) -> None:
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.autoscaling_min_capacity,
            max_capacity=config.autoscaling_max_capacity,
            # Application Auto Scaling always acts through its service-linked role for SageMaker
            # (creating it on first use); naming it stops the CDK from adding an unused role.
            role=iam.Role.from_role_arn(
                self,
                "AutoScalingServiceLinkedRole",
                self.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name=AUTOSCALING_SERVICE_LINKED_ROLE,
                ),
            ),
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

    def _add_alarms(self, *, config: ZstcConfig, data: DataStack) -> sns.Topic:
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
        # Failures the 5XX metric cannot see: the toolkit answers them with 400.
        self.error_alarms = EndpointErrorAlarms(
            self,
            "ErrorAlarms",
            endpoint_name=self.endpoint_name,
            variant_name=VARIANT_NAME,
            log_group=self.log_group,
            instance_type=config.endpoint_instance_type,
        )
        self.alarms = (server_errors, latency, *self.error_alarms.alarms)
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        allow_alarms_to_publish(topic)
        return topic
