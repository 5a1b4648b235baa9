"""The access-log bucket's teardown: late log deliveries can no longer block its deletion.

Why and how: lambda/access_log_teardown/log_bucket_teardown.py. Used only with
removal_policy=destroy; retained buckets are never emptied.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.function_logs import function_logs_and_role
from stacks.nag import acknowledge
from stacks.owned_provider import owned_provider
from stacks.python_function import python_function

TEARDOWN_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "access_log_teardown"
RESOURCE_TYPE = "Custom::AccessLogBucketTeardown"


class AccessLogBucketTeardown(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_bucket: s3.Bucket,
        log_retention_days: int,
        log_encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group, role = function_logs_and_role(
            self,
            name="Teardown",
            description="zstc: closes the access-log bucket to deliveries and empties it",
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=cdk.RemovalPolicy.DESTROY,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CloseAccessLogBucket",
                actions=["s3:DeleteBucketPolicy", "s3:ListBucketVersions"],
                resources=[log_bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EmptyAccessLogBucket",
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[log_bucket.arn_for_objects("*")],
            )
        )
        bucket_id = cdk.Stack.of(self).resolve(log_bucket.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            role,
            rule_id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
            reason="Emptying the access-log bucket on destroy deletes every object in it; the "
            "objects are named by S3 at delivery time.",
        )
        function = python_function(
            self,
            "OnEvent",
            asset_dir=TEARDOWN_ASSET_DIR,
            handler="teardown_handler.on_event",
            description="zstc: on destroy, closes the access-log bucket to deliveries, empties it",
            role=role,
            log_group=log_group,
            timeout=cdk.Duration.minutes(15),
            memory_size=256,
        )
        provider = owned_provider(
            self,
            purpose="access-log bucket teardown",
            on_event=function,
            is_complete=None,
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=cdk.RemovalPolicy.DESTROY,
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={"BucketName": log_bucket.bucket_name},
        )
        # BucketName makes CloudFormation delete this before the bucket. No dependency on the
        # bucket's policy: that policy names the data bucket (the logs' source), which depends
        # on this resource; it is deleted even before the data bucket, closing deliveries early.
