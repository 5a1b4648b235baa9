"""The batch stack: S3 uploads -> SQS -> trigger Lambda -> SageMaker batch transform -> SNS."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import ZstcConfig
from stacks.data_layout import (
    DATASETS_PREFIX,
    INPUT_PREFIX,
    MANIFESTS_PREFIX,
    OUTPUT_PREFIX,
    PINNED_INPUTS_PREFIX,
)
from stacks.data_stack import DataStack
from stacks.encrypted_queue_destination import EncryptedQueueDestination
from stacks.function_logs import function_logs_and_role
from stacks.instance_storage import supports_volume_kms_key
from stacks.job_name_prefix import deployment_job_name_prefix
from stacks.nag import acknowledge
from stacks.network_stack import NetworkStack
from stacks.python_function import python_function
from stacks.serving_model import ServingModel
from stacks.topic_publishers import EncryptedTopicTarget, allow_alarms_to_publish
from stacks.trigger_budget import (
    QUEUE_VISIBILITY_TIMEOUT_SECONDS,
    TRIGGER_TIMEOUT_SECONDS,
    trigger_limit_environment,
)
from zstc.model_server_settings import BATCH_MODEL_SERVER

TRIGGER_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "transform_trigger"
INPUT_SUFFIX = ".jsonl"
DATASET_MARKER_SUFFIX = "/_SUCCESS"

# The function timeout and the queue's visibility timeout (6x) are sized for the largest input
# the trigger accepts: stacks/trigger_budget.py.
# Throttling and instance quotas clear with time: 24 receives x the visibility timeout (about
# half an hour) is about 12 hours of retries before a message lands in the DLQ (and the alarm
# fires). A message deferred for lack of time also spends a receive; every invocation starts at
# least one record, so deferrals cannot go on without progress.
MAX_RECEIVE_COUNT = 24
DLQ_RETENTION = cdk.Duration.days(14)
# Few concurrent triggers are plenty (each starts up to 10 jobs in seconds), and a small bound
# keeps a burst of uploads from hammering the SageMaker API. The SQS event source's
# MaximumConcurrency is the bound: it reserves nothing. Reserved concurrency would, and Lambda
# refuses any that leaves fewer than 10 unreserved executions, which fails the deploy on new
# accounts whose limit is 10
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
TRIGGER_CONCURRENCY = 2
SQS_BATCH_SIZE = 10
TERMINAL_JOB_STATES = ["Completed", "Failed", "Stopped"]
# The transform job Environment entries naming the upload that started the job; they must match
# lambda/transform_trigger/transform_request.py.
SOURCE_OBJECT_ENV = "ZSTC_SOURCE_OBJECT"
DATASET_ENV = "ZSTC_DATASET"
# The CDK's singleton that writes the bucket's notification configuration.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def job_state_message() -> str:
    """The e-mail a person reads when a job ends: which upload, which dataset, what happened.

    The "SageMaker Transform Job State Change" event carries the job's Environment
    (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html),
    where the trigger records the uploaded object and the dataset
    (lambda/transform_trigger/transform_request.py); the job's input is only the manifest.
    """

    def field(path: str) -> str:
        return events.EventField.from_path(f"$.detail.{path}")

    return (
        f"zstc batch transform job {field('TransformJobName')} is "
        f"{field('TransformJobStatus')}.\n"
        f"Uploaded file: {field(f'Environment.{SOURCE_OBJECT_ENV}')}\n"
        f"Dataset: {field(f'Environment.{DATASET_ENV}')}\n"
        f"Results: {field('TransformOutput.S3OutputPath')}\n"
        f"Failure reason: {field('FailureReason')}"
    )


def job_name_prefix(config: ZstcConfig) -> str:
    """The prefix of every transform job name of this stack."""
    return deployment_job_name_prefix(config.stack_prefix)


class BatchStack(cdk.Stack):
    """Starts one batch transform job per uploaded JSON Lines file or finished dataset."""

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
            description="zstc batch: S3 uploads start SageMaker batch transform jobs",
        )
        prefix = job_name_prefix(config)
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY

        serving = ServingModel(
            self,
            "Model",
            config=config,
            instance_type=config.batch_instance_type,
            model_server=BATCH_MODEL_SERVER,
            model_archive=model_archive,
            key=data.key,
            network=network,
            log_group_name_prefix="/aws/sagemaker/TransformJobs",
            data=data,
        )
        # The bucket ARN travels through an export with a fixed name, so that cdk-nag's finding
        # ids (and their acknowledgements below) do not depend on hashed logical ids.
        self.bucket_export_name = f"{data.stack_name}-DataBucketArn"
        self.bucket_arn = data.export_value(data.bucket.bucket_arn, name=self.bucket_export_name)
        self._grant_transform_data_access(role=serving.role, data=data)

        if config.existing_kms_key_arn is not None:
            # The statements this stack adds to the key policy are dropped for an imported key.
            cdk.Annotations.of(self).add_warning_v2(
                "zstc:existingKeyPolicy",
                f"kms_key: the policy of {config.existing_kms_key_arn} must allow "
                "kms:GenerateDataKey and kms:Decrypt to s3.amazonaws.com (upload notifications "
                "to the encrypted queue), events.amazonaws.com and cloudwatch.amazonaws.com (job "
                "and alarm notifications to the encrypted topic), as the data stack's own key "
                "policy does; zstc cannot change it",
            )
        self.topic = self._notification_topic(config=config, data=data)
        dead_letters = sqs.Queue(
            self,
            "TriggerDeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=removal,
        )
        self.queue = sqs.Queue(
            self,
            "TriggerQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(QUEUE_VISIBILITY_TIMEOUT_SECONDS),
            retention_period=DLQ_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT
            ),
            removal_policy=removal,
        )
        dead_letter_alarm = cloudwatch.Alarm(
            self,
            "TriggerDeadLettersAlarm",
            alarm_description="S3 upload messages the transform trigger gave up on: read the "
            "trigger's log, fix the cause, then redrive the dead-letter queue",
            metric=dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        dead_letter_alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))

        self.function = self._trigger_function(
            config=config, data=data, serving=serving, prefix=prefix, removal=removal
        )
        self._route_uploads(config=config, data=data, removal=removal)
        self._notify_job_states(prefix=prefix)

        cdk.CfnOutput(
            self,
            "JobNamePrefix",
            value=prefix,
            description="Every transform job this stack starts has a name with this prefix",
        )
        cdk.CfnOutput(
            self,
            "MaxCandidateLabels",
            value=str(config.max_candidate_labels),
            description="Most candidate labels per line the deployed model accepts; "
            "`zstc batch submit` checks files against it before uploading",
        )
        cdk.CfnOutput(
            self,
            "MaxPayloadInMB",
            value=str(config.batch_payload_mb),
            description="MaxPayloadInMB of the transform jobs: no line may be larger; "
            "`zstc batch submit` checks files against it before uploading",
        )
        cdk.CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.topic.topic_arn,
            description="SNS topic told when a transform job completes, fails or stops",
        )
        cdk.CfnOutput(
            self,
            "QueueUrl",
            value=self.queue.queue_url,
            description="SQS queue of S3 upload notifications feeding the transform trigger",
        )

    def _grant_transform_data_access(self, *, role: iam.IRole, data: DataStack) -> None:
        """Jobs read their manifest and the pinned copies it lists, and write results; nothing
        else: the uploads themselves are read only by the trigger, which copies them."""
        # The objects are SSE-KMS under the data key: reading decrypts, writing generates a data
        # key (and a multipart upload decrypts it again for each part).
        data.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        readable = (MANIFESTS_PREFIX, PINNED_INPUTS_PREFIX)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTransformInputs",
                actions=["s3:GetObject"],
                resources=[f"{self.bucket_arn}/{prefix}*" for prefix in readable],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListTransformInputs",
                actions=["s3:ListBucket"],
                resources=[self.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in readable]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteTransformResults",
                # Results are uploaded in parts; an interrupted job aborts its uploads.
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"{self.bucket_arn}/{OUTPUT_PREFIX}*"],
            )
        )
        for prefix in (*readable, OUTPUT_PREFIX):
            acknowledge(
                role,
                rule_id=f"AwsSolutions-IAM5[Resource::{self.bucket_export_name}/{prefix}*]",
                reason=f"Transform jobs read or write any object under {prefix} of the data "
                "bucket; the prefix is the narrowest scope, object names are the users'.",
            )

    def _notification_topic(self, *, config: ZstcConfig, data: DataStack) -> sns.Topic:
        topic = sns.Topic(
            self,
            "JobNotifications",
            display_name="zstc batch transform jobs",
            master_key=data.key,
            enforce_ssl=True,
        )
        if config.notification_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.notification_email))
        allow_alarms_to_publish(topic)
        return topic

    def _function_logs_and_role(
        self,
        *,
        name: str,
        description: str,
        config: ZstcConfig,
        data: DataStack,
        removal: cdk.RemovalPolicy,
    ) -> tuple[logs.LogGroup, iam.Role]:
        return function_logs_and_role(
            self,
            name=name,
            description=description,
            log_retention_days=config.log_retention_days,
            log_encryption_key=data.log_encryption_key,
            removal=removal,
        )

    def _trigger_function(
        self,
        *,
        config: ZstcConfig,
        data: DataStack,
        serving: ServingModel,
        prefix: str,
        removal: cdk.RemovalPolicy,
    ) -> lambda_.Function:
        log_group, role = self._function_logs_and_role(
            name="Trigger",
            description="zstc transform trigger: start this stack's transform jobs",
            config=config,
            data=data,
            removal=removal,
        )
        function = python_function(
            self,
            "TransformTrigger",
            asset_dir=TRIGGER_ASSET_DIR,
            handler="handler.handler",
            description="Starts one SageMaker batch transform job per uploaded object version",
            role=role,
            log_group=log_group,
            timeout=cdk.Duration.seconds(TRIGGER_TIMEOUT_SECONDS),
            memory_size=256,
            environment={
                "JOB_NAME_PREFIX": prefix,
                # Told of every upload the trigger rejects (rejections.py).
                "NOTIFICATION_TOPIC_ARN": self.topic.topic_arn,
                # The largest accepted input and the per-record time budget it needs.
                **trigger_limit_environment(),
                "INPUT_PREFIX": INPUT_PREFIX,
                "DATASETS_PREFIX": DATASETS_PREFIX,
                "OUTPUT_PREFIX": OUTPUT_PREFIX,
                "MANIFESTS_PREFIX": MANIFESTS_PREFIX,
                "PINNED_INPUTS_PREFIX": PINNED_INPUTS_PREFIX,
                "MODEL_NAME": serving.model_name,
                "INSTANCE_TYPE": config.batch_instance_type,
                "DATASET_INSTANCE_COUNT": str(config.batch_instance_count),
                "MAX_PAYLOAD_MB": str(config.batch_payload_mb),
                "MAX_CONCURRENT_TRANSFORMS": str(config.batch_max_concurrent_transforms),
                "BATCH_STRATEGY": config.batch_strategy,
                # The job waits for a payload exactly as long as the model server works on it.
                "INVOCATIONS_TIMEOUT_SECONDS": str(BATCH_MODEL_SERVER.timeout_seconds),
                "KMS_KEY_ARN": data.key.key_arn,
                "VOLUME_KMS_KEY_ENABLED": str(
                    supports_volume_kms_key(config.batch_instance_type)
                ).lower(),
            },
        )
        transform_jobs = self.format_arn(
            service="sagemaker", resource="transform-job", resource_name=f"{prefix}*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartOwnTransformJobs",
                # AddTags: CreateTransformJob with Tags is also authorized as tagging the job.
                actions=[
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:AddTags",
                ],
                resources=[transform_jobs],
            )
        )
        # No iam:PassRole: CreateTransformJob takes no role (botocore's sagemaker service model
        # has no role member in CreateTransformJobRequest); jobs run as the model's execution
        # role, which SageMaker took when the Model was created by CloudFormation.
        self._grant_version_pinning(role=role, key=data.key)
        # Rejected uploads are reported on the job topic. Not grant_publish: it also grants
        # kms:GenerateDataKey* on the topic's key, a wildcard; the key is the data key, and
        # kms:GenerateDataKey and kms:Decrypt on it are granted above for the copies.
        self.topic.grants.actions(role, ["sns:Publish"])
        acknowledge(
            role,
            rule_id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
            f"<AWS::AccountId>:transform-job/{prefix}*]",
            reason="The trigger may start, describe and tag only transform jobs whose name has "
            "this stack's prefix; the rest of each name is derived from the upload.",
        )
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=TRIGGER_CONCURRENCY,
            )
        )
        return function

    def _grant_version_pinning(self, *, role: iam.Role, key: kms.IKey) -> None:
        """The trigger copies the uploaded versions to its own prefix and writes manifests.

        CopyObject of a given version needs s3:GetObjectVersion on the source (the trigger
        always names a version, "null" where versioning is suspended) and s3:PutObject on the
        destination; both objects are SSE-KMS, so kms:Decrypt and kms:GenerateDataKey
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html, Permissions).
        ListObjectVersions is authorized as s3:ListBucketVersions. A version above 256 MB is
        copied in parts (CreateMultipartUpload, UploadPartCopy, CompleteMultipartUpload: all
        s3:PutObject on the destination). No tag permissions: the copies are made with
        TaggingDirective=REPLACE and no tags, so S3 neither reads the source's tags
        (s3:GetObjectVersionTagging) nor writes any (s3:PutObjectTagging); see
        lambda/transform_trigger/version_pinning.py and docs/batch-reliability.md.
        """
        uploads = (INPUT_PREFIX, DATASETS_PREFIX)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadUploadedVersions",
                actions=["s3:GetObjectVersion"],
                resources=[f"{self.bucket_arn}/{prefix}*" for prefix in uploads],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListDatasetPartVersions",
                actions=["s3:ListBucketVersions"],
                resources=[self.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{DATASETS_PREFIX}*"]}},
            )
        )
        written = (MANIFESTS_PREFIX, PINNED_INPUTS_PREFIX)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteManifestsAndPinnedInputs",
                actions=["s3:PutObject"],
                resources=[f"{self.bucket_arn}/{prefix}*" for prefix in written],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AbortPinningCopies",
                # A large version is copied in parts; a failed copy aborts its upload.
                actions=["s3:AbortMultipartUpload"],
                resources=[f"{self.bucket_arn}/{PINNED_INPUTS_PREFIX}*"],
            )
        )
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        for prefix in (*uploads, *written):
            acknowledge(
                role,
                rule_id=f"AwsSolutions-IAM5[Resource::{self.bucket_export_name}/{prefix}*]",
                reason=f"The trigger reads uploaded versions under {INPUT_PREFIX} and "
                f"{DATASETS_PREFIX} and writes one manifest and one folder of copies per job "
                "under its own prefixes; object names are the users', so the prefix is the "
                "narrowest scope.",
            )

    def _route_uploads(
        self, *, config: ZstcConfig, data: DataStack, removal: cdk.RemovalPolicy
    ) -> None:
        """S3 notifications: input/**.jsonl and datasets/<name>/_SUCCESS, nothing else.

        bucket.add_event_notification on the data stack's bucket would put the notification
        resource into the data stack, pointing at this stack's queue, while this stack already
        depends on the data stack: a dependency cycle. The bucket is imported here instead, so
        the CDK's notification custom resource lives in this stack, in its "unmanaged" mode that
        leaves any other notification of the bucket in place.
        """
        handler_logs, handler_role = self._function_logs_and_role(
            name="BucketNotifications",
            description="zstc: writes the data bucket's notification configuration",
            config=config,
            data=data,
            removal=removal,
        )
        handler_role.add_to_policy(
            iam.PolicyStatement(
                sid="ConfigureDataBucketNotifications",
                actions=["s3:GetBucketNotification", "s3:PutBucketNotification"],
                resources=[self.bucket_arn],
            )
        )
        bucket = s3.Bucket.from_bucket_attributes(
            self,
            "DataBucket",
            bucket_arn=self.bucket_arn,
            # Immutable: otherwise the CDK adds AWSLambdaBasicExecutionRole and a "*" resource.
            notifications_handler_role=handler_role.without_policy_updates(),
        )
        destination = EncryptedQueueDestination(queue=self.queue, bucket_arn=self.bucket_arn)
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            destination,
            s3.NotificationKeyFilter(prefix=INPUT_PREFIX, suffix=INPUT_SUFFIX),
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            destination,
            s3.NotificationKeyFilter(prefix=DATASETS_PREFIX, suffix=DATASET_MARKER_SUFFIX),
        )
        handler = self.node.find_child(NOTIFICATIONS_HANDLER_ID)
        handler_function = handler.node.default_child
        assert isinstance(handler_function, cdk.CfnResource)
        # Its logs go to a log group with retention, which the role may write to.
        handler_function.add_property_override(
            "LoggingConfig", {"LogGroup": handler_logs.log_group_name}
        )
        # Its permissions must be in place before the custom resource runs it.
        handler_function.node.add_dependency(handler_role.node.find_child("DefaultPolicy"))

    def _notify_job_states(self, *, prefix: str) -> None:
        rule = events.Rule(
            self,
            "TransformJobStateChange",
            description="This stack's transform jobs reaching a final state",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Transform Job State Change"],
                detail={
                    "TransformJobName": events.Match.prefix(prefix),
                    "TransformJobStatus": TERMINAL_JOB_STATES,
                },
            ),
        )
        message = events.RuleTargetInput.from_multiline_text(job_state_message())
        rule.add_target(EncryptedTopicTarget(self.topic, message=message))
