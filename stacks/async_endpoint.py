"""endpoint_mode=async: SageMaker Asynchronous Inference on the same model and GPU instances.

Requests are S3 objects (up to 1 GB, processed for up to an hour); SageMaker queues them, writes
each answer or failure to S3 and notifies SNS topics, and the instances scale to zero while the
queue is empty (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html).

This module builds:
- the AsyncInferenceConfig: answers under async/outputs/<stack>/, failures under
  async/failures/<stack>/ of the data bucket, encrypted with the data key
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AsyncInferenceOutputConfig.html);
- the success and error topics, encrypted with the data key. SageMaker publishes to them with
  the model's execution role ("your IAM role must have sns:Publish permissions",
  https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html), so
  each topic policy lets exactly that role of this account publish;
- the execution role's access to exactly those prefixes and topics;
- autoscaling from zero: a step-scaling policy on HasBacklogWithoutCapacity adds the first
  instance, target tracking on ApproximateBacklogSizePerInstance does the rest, minimum 0
  (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html);
- alarms on requests waiting too long and on answers SageMaker could not deliver.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import ZstcConfig
from stacks.data_layout import ASYNC_FAILURES_PREFIX, ASYNC_INPUTS_PREFIX, ASYNC_OUTPUTS_PREFIX
from stacks.nag import acknowledge
from zstc.model_server_settings import MAX_BATCH_RESPONSE_BYTES, ModelServerSettings

# An asynchronous request may run for up to an hour (InvokeEndpointAsync's
# InvocationTimeoutSeconds: 1 to 3600, botocore sagemaker-runtime service model), so the model
# server waits as long as SageMaker does, and its answers are not held to MMS's 6.5 MB default
# (zstc/model_server_settings.py): an answer goes to S3, not back over HTTP to a caller.
ASYNC_INVOCATION_LIMIT_SECONDS = 3600
# SageMaker takes async payloads up to 1 GB, but hands each to the container over HTTP, where
# multi-model-server refuses bodies above max_request_size (6,553,500 bytes by default; MMS reads
# MMS_MAX_REQUEST_SIZE over its properties, zstc/model_server_settings.py). 100 MB is batch
# transform's largest MaxPayloadInMB, the largest body zstc's server is sized for; a larger
# request ends as a failure object naming the limit, not as a worker out of memory.
ASYNC_MAX_REQUEST_BYTES = 100 * 1024 * 1024
MAX_REQUEST_SIZE_ENV = "MMS_MAX_REQUEST_SIZE"


@dataclass(frozen=True, kw_only=True)
class AsyncModelServerSettings(ModelServerSettings):
    """The model server settings of an async endpoint: also a larger request limit."""

    max_request_bytes: int = ASYNC_MAX_REQUEST_BYTES

    def environment(self) -> dict[str, str]:
        return {**super().environment(), MAX_REQUEST_SIZE_ENV: str(self.max_request_bytes)}


ASYNC_MODEL_SERVER = AsyncModelServerSettings(
    timeout_seconds=ASYNC_INVOCATION_LIMIT_SECONDS, max_response_bytes=MAX_BATCH_RESPONSE_BYTES
)
# Scaling out of zero: HasBacklogWithoutCapacity is 1 while requests wait and no instance runs.
# The alarm's shape is the one the async autoscaling guide gives (1-minute average, 2 of 2
# periods, >= 1); each breach adds one instance, then target tracking takes over.
BACKLOG_WITHOUT_CAPACITY_PERIOD = cdk.Duration.minutes(1)
BACKLOG_WITHOUT_CAPACITY_PERIODS = 2
SCALE_OUT_OF_ZERO_COOLDOWN = cdk.Duration.minutes(5)
# Target tracking scale-in: slow, so a short pause between bursts does not pay a cold start.
BACKLOG_SCALE_IN_COOLDOWN = cdk.Duration.minutes(10)
BACKLOG_SCALE_OUT_COOLDOWN = cdk.Duration.minutes(5)
# A request older than this (ApproximateAgeOfOldestRequest, seconds) is waiting for capacity
# that does not come: a quota, or a failing instance start.
OLDEST_REQUEST_ALARM_SECONDS = 1800
ALARM_PERIOD = cdk.Duration.minutes(5)


def async_inputs_prefix(stack_name: str) -> str:
    return f"{ASYNC_INPUTS_PREFIX}{stack_name}/"


def async_outputs_prefix(stack_name: str) -> str:
    return f"{ASYNC_OUTPUTS_PREFIX}{stack_name}/"


def async_failures_prefix(stack_name: str) -> str:
    return f"{ASYNC_FAILURES_PREFIX}{stack_name}/"


class AsyncInference(Construct):
    """The async endpoint's output locations, topics, role grants, scaling and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        bucket: s3.IBucket,
        bucket_export_name: str,
        key: kms.IKey,
        execution_role: iam.IRole,
        endpoint_name: str,
        variant_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.inputs_prefix = async_inputs_prefix(stack.stack_name)
        self.outputs_prefix = async_outputs_prefix(stack.stack_name)
        self.failures_prefix = async_failures_prefix(stack.stack_name)

        self.success_topic = self._topic("SuccessTopic", "zstc async answers", key, execution_role)
        self.error_topic = self._topic("ErrorTopic", "zstc async failures", key, execution_role)

        # SageMaker reads each request and writes each answer with the role: exactly these
        # actions on this stack's prefixes, and the data key for the SSE-KMS bucket and the
        # encrypted topics (no wildcard actions).
        execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadAsyncRequests",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{self.inputs_prefix}*")],
            )
        )
        execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteAsyncAnswers",
                actions=["s3:PutObject"],
                resources=[
                    bucket.arn_for_objects(f"{self.outputs_prefix}*"),
                    bucket.arn_for_objects(f"{self.failures_prefix}*"),
                ],
            )
        )
        execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseDataKeyForAsync",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        # SNS encrypts each message with a data key it asks for as the publisher
        # (kms:GenerateDataKey, https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishAsyncNotifications",
                actions=["sns:Publish"],
                resources=[self.success_topic.topic_arn, self.error_topic.topic_arn],
            )
        )

        self.async_inference_config = sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=config.async_max_concurrent_invocations
            ),
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=bucket.s3_url_for_object(self.outputs_prefix),
                s3_failure_path=bucket.s3_url_for_object(self.failures_prefix),
                kms_key_id=key.key_arn,
                notification_config=(
                    sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=self.success_topic.topic_arn,
                        error_topic=self.error_topic.topic_arn,
                    )
                ),
            ),
        )
        self._acknowledge_role_findings(execution_role, bucket_export_name=bucket_export_name)
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name

    def _topic(
        self, construct_id: str, display_name: str, key: kms.IKey, role: iam.IRole
    ) -> sns.Topic:
        topic = sns.Topic(
            self, construct_id, display_name=display_name, master_key=key, enforce_ssl=True
        )
        stack = cdk.Stack.of(self)
        # enforce_ssl writes a topic policy, which replaces the default one: name the one
        # publisher, this stack's execution role, in this account.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksSageMakerRole",
                principals=[iam.ArnPrincipal(role.role_arn)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:PrincipalAccount": stack.account},
                    "ArnEquals": {"aws:PrincipalArn": role.role_arn},
                },
            )
        )
        return topic

    def add_scaling(
        self,
        *,
        config: ZstcConfig,
        resource_id: str,
        service_linked_role: iam.IRole,
        depends_on: Construct,
    ) -> appscaling.ScalableTarget:
        """Minimum 0 instances: step scaling out of zero, target tracking on the backlog."""
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=0,
            max_capacity=config.autoscaling_max_capacity,
            role=service_linked_role,
        )
        self.scalable_target.node.add_dependency(depends_on)
        endpoint_dimension = {"EndpointName": self.endpoint_name}
        self.scalable_target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=config.async_backlog_per_instance,
            custom_metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ApproximateBacklogSizePerInstance",
                dimensions_map=endpoint_dimension,
                statistic=cloudwatch.Stats.AVERAGE,
            ),
            scale_in_cooldown=BACKLOG_SCALE_IN_COOLDOWN,
            scale_out_cooldown=BACKLOG_SCALE_OUT_COOLDOWN,
        )
        scale_out_of_zero = appscaling.StepScalingAction(
            self,
            "ScaleOutOfZero",
            scaling_target=self.scalable_target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=SCALE_OUT_OF_ZERO_COOLDOWN,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        scale_out_of_zero.add_adjustment(adjustment=1, lower_bound=0)
        self.backlog_without_capacity = cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="HasBacklogWithoutCapacity",
            dimensions_map=endpoint_dimension,
            statistic=cloudwatch.Stats.AVERAGE,
            period=BACKLOG_WITHOUT_CAPACITY_PERIOD,
        ).create_alarm(
            self,
            "HasBacklogWithoutCapacityAlarm",
            alarm_description=(
                "Requests wait at the zstc async endpoint while it has no instance: scale out "
                "of zero (this alarm's action is the step-scaling policy)."
            ),
            threshold=1,
            evaluation_periods=BACKLOG_WITHOUT_CAPACITY_PERIODS,
            datapoints_to_alarm=BACKLOG_WITHOUT_CAPACITY_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        self.backlog_without_capacity.add_alarm_action(
            cloudwatch_actions.ApplicationScalingAction(scale_out_of_zero)
        )
        return self.scalable_target

    def add_alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        """Requests that wait too long, and answers or notifications SageMaker could not write."""
        oldest = cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="ApproximateAgeOfOldestRequest",
            dimensions_map={"EndpointName": self.endpoint_name},
            statistic=cloudwatch.Stats.MAXIMUM,
            period=ALARM_PERIOD,
        ).create_alarm(
            self,
            "OldestRequestAlarm",
            alarm_description=(
                f"A request has waited at the zstc async endpoint for over "
                f"{OLDEST_REQUEST_ALARM_SECONDS // 60} minutes: instances do not start (check the "
                "instance quota and the endpoint's events) or the backlog outgrows "
                "autoscaling_max_capacity."
            ),
            threshold=OLDEST_REQUEST_ALARM_SECONDS,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        variant_dimensions = {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}
        delivery_failures = cloudwatch.MathExpression(
            expression="FILL(download, 0) + FILL(upload, 0) + FILL(notify, 0)",
            using_metrics={
                short: cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name=name,
                    dimensions_map=variant_dimensions,
                    statistic=cloudwatch.Stats.SUM,
                    period=ALARM_PERIOD,
                )
                for short, name in (
                    ("download", "RequestDownloadFailures"),
                    ("upload", "ResponseUploadFailures"),
                    ("notify", "NotificationFailures"),
                )
            },
            label="Async request downloads, answer uploads and notifications that failed",
            period=ALARM_PERIOD,
        ).create_alarm(
            self,
            "DeliveryFailuresAlarm",
            alarm_description=(
                "The zstc async endpoint could not read a request, write an answer or publish a "
                "notification: check the execution role's access to the data bucket's async/ "
                "prefixes, the data key, and the success and error topics."
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return (oldest, delivery_failures)

    def _acknowledge_role_findings(self, role: iam.IRole, *, bucket_export_name: str) -> None:
        prefixes = (self.inputs_prefix, self.outputs_prefix, self.failures_prefix)
        for prefix in prefixes:
            acknowledge(
                role,
                rule_id=f"AwsSolutions-IAM5[Resource::{bucket_export_name}/{prefix}*]",
                reason=f"SageMaker reads each async request and writes each answer under {prefix} "
                "of the data bucket, this stack's own prefix; object names are made per request.",
            )
