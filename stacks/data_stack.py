"""The data stack: the KMS key, the data bucket and its access-log bucket."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.access_log_teardown import AccessLogBucketTeardown
from stacks.config import ZstcConfig
from stacks.data_layout import (
    ASYNC_PREFIX,
    INPUT_PREFIX,
    MANIFESTS_PREFIX,
    OUTPUT_PREFIX,
    PINNED_INPUTS_PREFIX,
)
from stacks.function_logs import S3_AUTO_DELETE_PROVIDER_ID, own_cdk_provider_logs

# Old object versions are kept this long, so an overwrite or delete can be undone for a while.
NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_DAYS = 365
MANIFEST_DAYS = 90
# A pinned copy is read while its job runs (the job may first wait hours for instances); after
# that it only costs storage. Its replaced version is kept one day, not NONCURRENT_VERSION_DAYS:
# S3 applies the shorter of two overlapping expirations
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html).
PINNED_INPUT_DAYS = 14
PINNED_INPUT_NONCURRENT_DAYS = 1
# Asynchronous inference requests and answers are read once, by the endpoint and then by the
# client that waits for them; a week leaves time to fetch an answer late. Replaced versions go
# after a day, as for pinned inputs.
ASYNC_OBJECT_DAYS = 7
ASYNC_NONCURRENT_DAYS = 1
# A created key is deleted this long after `cdk destroy`; the key can be restored until then.
KEY_PENDING_WINDOW_DAYS = 7


class DataStack(cdk.Stack):
    """The key, the data bucket (input/, output/, datasets/) and its access-log bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        env: cdk.Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="zstc data: KMS key, data bucket and access-log bucket",
        )
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        auto_delete = not config.retain_data

        existing_key_arn = config.existing_kms_key_arn
        # The key CloudWatch Logs may encrypt log groups with: only a key whose policy this stack
        # writes. An existing key's policy is the owner's, so log groups then use the default
        # CloudWatch Logs encryption instead of failing to create.
        self.log_encryption_key: kms.IKey | None
        if existing_key_arn is not None:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "DataKey", existing_key_arn)
            self.log_encryption_key = None
        else:
            created_key = kms.Key(
                self,
                "DataKey",
                description="zstc: data bucket, model volumes, queues, topics and log groups",
                enable_key_rotation=True,
                pending_window=cdk.Duration.days(KEY_PENDING_WINDOW_DAYS),
                removal_policy=removal,
            )
            self._allow_cloudwatch_logs(created_key)
            self._allow_cloudwatch_alarms(created_key, stack_prefix=config.stack_prefix)
            self._allow_eventbridge_to_topics(created_key, stack_prefix=config.stack_prefix)
            self._allow_s3_notifications_to_queues(created_key)
            self.key = created_key
            self.log_encryption_key = created_key

        # Server access logs cannot be delivered to a bucket encrypted with SSE-KMS, so this one
        # uses S3-managed keys.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=cdk.Duration.days(ACCESS_LOG_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        INCOMPLETE_UPLOAD_DAYS
                    ),
                )
            ],
            removal_policy=removal,
            # Emptied by AccessLogBucketTeardown instead (below): the CDK's own emptying runs
            # while log deliveries can still arrive (aws/aws-cdk#21776).
            auto_delete_objects=False,
        )
        self.bucket = s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        INCOMPLETE_UPLOAD_DAYS
                    ),
                ),
                s3.LifecycleRule(
                    id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True
                ),
                # A manifest is read once, when its transform job starts; keep it long enough
                # to explain a job afterwards.
                s3.LifecycleRule(
                    id="ExpireJobManifests",
                    prefix=MANIFESTS_PREFIX,
                    expiration=cdk.Duration.days(MANIFEST_DAYS),
                ),
                s3.LifecycleRule(
                    id="ExpirePinnedInputs",
                    prefix=PINNED_INPUTS_PREFIX,
                    expiration=cdk.Duration.days(PINNED_INPUT_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(PINNED_INPUT_NONCURRENT_DAYS),
                ),
                s3.LifecycleRule(
                    id="ExpireAsyncInference",
                    prefix=ASYNC_PREFIX,
                    expiration=cdk.Duration.days(ASYNC_OBJECT_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(ASYNC_NONCURRENT_DAYS),
                ),
            ],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )

        if auto_delete:
            teardown = AccessLogBucketTeardown(
                self,
                "AccessLogTeardown",
                log_bucket=self.access_log_bucket,
                log_retention_days=config.log_retention_days,
                log_encryption_key=self.log_encryption_key,
            )
            # The data bucket goes first (its emptying writes access logs), then the teardown
            # closes and empties the log bucket, then CloudFormation deletes it.
            self.bucket.node.add_dependency(teardown)

        # The provider that empties the data bucket on destroy logs to a group this stack owns.
        own_cdk_provider_logs(
            self,
            provider_id=S3_AUTO_DELETE_PROVIDER_ID,
            log_retention_days=config.log_retention_days,
            log_encryption_key=self.log_encryption_key,
        )

        # The bucket ARN for IAM statements in other stacks, through an export with a fixed name:
        # cdk-nag's finding ids (and their acknowledgements) then do not depend on hashed ids.
        # The endpoint stack's model and async roles import this one export too.
        self.bucket_arn_export_name = f"{self.stack_name}-BucketArnForModels"
        self.bucket_arn_for_grants = self.export_value(
            self.bucket.bucket_arn, name=self.bucket_arn_export_name
        )

        cdk.CfnOutput(
            self,
            "BucketName",
            value=self.bucket.bucket_name,
            description=f"Data bucket: put JSON Lines under {INPUT_PREFIX}, results appear under "
            f"{OUTPUT_PREFIX}",
        )
        cdk.CfnOutput(
            self, "KmsKeyArn", value=self.key.key_arn, description="KMS key of the zstc data"
        )

    def _allow_cloudwatch_logs(self, key: kms.Key) -> None:
        """Lets CloudWatch Logs encrypt this account's log groups in this region with the key."""
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsEncryption",
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}")],
                actions=[
                    "kms:Decrypt*",
                    "kms:Describe*",
                    "kms:Encrypt*",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def _allow_cloudwatch_alarms(self, key: kms.Key, *, stack_prefix: str) -> None:
        """Lets this app's CloudWatch alarms publish to SNS topics encrypted with the key.

        CloudWatch calls KMS as cloudwatch.amazonaws.com, and the SNS developer guide asks for
        aws:SourceAccount and aws:SourceArn on such statements ("Enable compatibility between
        event sources from AWS services and encrypted topics",
        https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). The alarms live in
        stacks that depend on this one, so their ARNs are matched by name: CloudFormation names
        an alarm <stack name>-<logical id>-<suffix>, and every zstc stack name starts with the
        stack prefix.
        """
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAppsAlarmsToEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{stack_prefix}-*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )

    def _allow_eventbridge_to_topics(self, key: kms.Key, *, stack_prefix: str) -> None:
        """Lets EventBridge rules publish to this app's SNS topics encrypted with the key.

        The SNS developer guide says aws:SourceAccount, aws:SourceArn and aws:SourceOrgID are
        not supported in a key policy for EventBridge-to-encrypted-topic delivery
        (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), so the statement is
        scoped by the encryption context SNS itself sets on the topic's data keys,
        aws:sns:topicArn (https://docs.aws.amazon.com/sns/latest/dg/sns-enable-encryption-for-topic.html):
        only topics of this account and region named after a zstc stack. The topic policy (in
        the batch stack) names the one rule that may publish.
        """
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToThisAppsTopics",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:sns:topicArn": self.format_arn(
                            service="sns", resource=f"{stack_prefix}-*"
                        )
                    }
                },
            )
        )

    def _allow_s3_notifications_to_queues(self, key: kms.Key) -> None:
        """Lets S3 send event notifications to SQS queues encrypted with the key.

        Exactly the statement the S3 and SQS developer guides document for this path: principal
        s3.amazonaws.com, kms:GenerateDataKey and kms:Decrypt, no condition
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html,
        "AWS KMS key policy"; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html,
        "Configure KMS permissions for AWS services"). S3 sends a test event when the bucket's
        notification configuration is saved; a condition the request does not satisfy makes
        PutBucketNotificationConfiguration, and so the batch stack's deploy, fail. The queue
        policy is what names the bucket and the account.
        """
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowS3NotificationsToEncryptedQueues",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                # In a key policy "*" means this key.
                resources=["*"],
            )
        )
