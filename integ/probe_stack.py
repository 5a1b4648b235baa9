"""What the integration run adds beside zstc's stacks to observe them: a person's inbox, a checker.

- One queue per alarm, subscribed to every zstc topic with a filter on that alarm's name: a
  message there proves the alarm's action, the topic policy and the key policy together.
- One queue subscribed to every zstc topic without a filter: transform job notifications land
  there.
- A checker Lambda that reads the endpoint's answers and the transform outputs and reports, as
  JSON, each property the README promises (the assertions compare that report).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from integ.discovery import DiscoveredAlarm, DiscoveredTopic
from stacks.app_wiring import ZstcStacks
from stacks.data_layout import INPUT_PREFIX, OUTPUT_PREFIX
from stacks.nag import acknowledge

CHECKER_ASSET_DIR = Path(__file__).resolve().parent / "checker"
PROBE_RETENTION = cdk.Duration.days(1)
CHECKER_TIMEOUT = cdk.Duration.seconds(60)


class ProbeStack(cdk.Stack):
    """Test-only observers of one integration run; destroyed with it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zstc: ZstcStacks,
        alarms: list[DiscoveredAlarm],
        topics: list[DiscoveredTopic],
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="zstc integration run: probe queues and the checker Lambda (test only)",
        )
        self.key = kms.Key(
            self,
            "ProbeKey",
            description="zstc integration run: probe queues",
            enable_key_rotation=True,
            pending_window=cdk.Duration.days(7),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        imported_topics = [
            sns.Topic.from_topic_arn(self, f"Topic{index}", topic.topic_arn)
            for index, topic in enumerate(topics)
        ]
        self.alarm_queues: dict[str, sqs.Queue] = {}
        for index, alarm in enumerate(alarms):
            queue = self._probe_queue(f"AlarmProbe{index}")
            # CloudWatch publishes a JSON document with AlarmName and NewStateValue
            # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html);
            # a message-body filter lets only this alarm's ALARM notification in.
            body_filter = {
                "AlarmName": sns.FilterOrPolicy.filter(
                    sns.SubscriptionFilter.string_filter(allowlist=[alarm.alarm_name])
                ),
                "NewStateValue": sns.FilterOrPolicy.filter(
                    sns.SubscriptionFilter.string_filter(allowlist=["ALARM"])
                ),
            }
            for topic in imported_topics:
                topic.add_subscription(
                    subscriptions.SqsSubscription(
                        queue,
                        raw_message_delivery=True,
                        filter_policy_with_message_body=body_filter,
                    )
                )
            self.alarm_queues[alarm.path] = queue

        self.notification_queue = self._probe_queue("NotificationProbe")
        for topic in imported_topics:
            topic.add_subscription(
                subscriptions.SqsSubscription(self.notification_queue, raw_message_delivery=True)
            )

        self.checker = self._checker(zstc=zstc)

    def _probe_queue(self, construct_id: str) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=PROBE_RETENTION,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(
            queue,
            rule_id="AwsSolutions-SQS3",
            reason="A probe queue is the end of the line: the assertions read it, and a message "
            "that nobody reads is itself the finding. It lives only for one integration run.",
        )
        return queue

    def _checker(self, *, zstc: ZstcStacks) -> lambda_.Function:
        endpoint = zstc.endpoint
        assert endpoint is not None, "the integration configuration enables the endpoint"
        log_group = logs.LogGroup(
            self,
            "CheckerLogs",
            retention=logs.RetentionDays.ONE_DAY,
            encryption_key=zstc.data.log_encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "CheckerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="zstc integration checker: invoke the endpoint, read inputs and outputs",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeZstcEndpoint",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[
                    self.format_arn(
                        service="sagemaker",
                        resource="endpoint",
                        # SageMaker lowercases endpoint names in ARNs.
                        resource_name=endpoint.endpoint_name.lower(),
                    )
                ],
            )
        )
        # The fixed-name export of the batch stack keeps nag finding ids free of hashed ids.
        bucket_arn = zstc.batch.bucket_arn
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadInputsAndOutputs",
                actions=["s3:GetObject"],
                resources=[f"{bucket_arn}/{INPUT_PREFIX}*", f"{bucket_arn}/{OUTPUT_PREFIX}*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptInputsAndOutputs",
                actions=["kms:Decrypt"],
                resources=[zstc.data.key.key_arn],
            )
        )
        function = lambda_.Function(
            self,
            "Checker",
            description="zstc integration run: checks the endpoint's answer and transform outputs",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="checker_handler.handler",
            code=lambda_.Code.from_asset(str(CHECKER_ASSET_DIR), exclude=["__pycache__", "*.pyc"]),
            role=role,
            timeout=CHECKER_TIMEOUT,
            memory_size=256,
            log_group=log_group,
            environment={
                "ENDPOINT_NAME": endpoint.endpoint.attr_endpoint_name,
                "BUCKET_NAME": zstc.data.bucket.bucket_name,
            },
        )
        acknowledge(
            function,
            rule_id="AwsSolutions-L1",
            reason="Python 3.12, the runtime of zstc's own trigger Lambda and of the test suite.",
        )
        for prefix in (INPUT_PREFIX, OUTPUT_PREFIX):
            acknowledge(
                role,
                rule_id=f"AwsSolutions-IAM5[Resource::{zstc.batch.bucket_export_name}/{prefix}*]",
                reason=f"The checker reads the run's objects under {prefix}; their names come "
                "from the run id and the job names, known only at run time.",
            )
        return function
