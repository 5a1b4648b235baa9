"""S3 event notifications to an SQS queue encrypted with a customer managed key."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@jsii.implements(s3.IBucketNotificationDestination)
class EncryptedQueueDestination:
    """S3 notifications to a queue encrypted with the data stack's key.

    The queue policy lets in s3.amazonaws.com for this bucket and account only, as the S3
    developer guide's queue policy does
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
    The key's statement for S3 lives in the data stack with the key (DataStack
    ._allow_s3_notifications_to_queues): CDK's SqsDestination would add it from here, but a key
    imported from an ARN silently drops it, and the data stack is where its policy is read.
    """

    def __init__(self, *, queue: sqs.Queue, bucket_arn: str) -> None:
        self._queue = queue
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
        # S3 checks that it may send to the queue when the configuration is saved.
        return s3.BucketNotificationDestinationConfig(
            arn=self._queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[self._queue.node.find_child("Policy")],
        )
