"""S3 event notifications to an SQS queue encrypted with a customer managed key."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@jsii.implements(s3.IBucketNotificationDestination)
class EncryptedQueueDestination:
    """S3 notifications to a queue encrypted with the data stack's key.

    The CDK's SqsDestination grants S3 the key with an aws:SourceArn condition naming the
    bucket. The key policy would then refer to the bucket, whose encryption refers to the key:
    a circular dependency inside the data stack. Here the key statement is scoped by account
    instead, and the queue policy (in this stack) keeps the bucket condition.
    """

    def __init__(self, *, queue: sqs.Queue, key: kms.IKey, bucket_arn: str) -> None:
        self._queue = queue
        self._key = key
        self._bucket_arn = bucket_arn

    def bind(self, scope: Construct, bucket: object) -> s3.BucketNotificationDestinationConfig:
        self._queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowDataBucketNotifications",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                resources=[self._queue.queue_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": self._bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                },
            )
        )
        # A key imported from an ARN ignores this; its owner must allow S3 the same.
        self._key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowS3NotificationsToEncryptedQueues",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        # S3 checks that it may send to the queue when the configuration is saved.
        return s3.BucketNotificationDestinationConfig(
            arn=self._queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[self._queue.node.find_child("Policy")],
        )
