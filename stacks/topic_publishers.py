"""Who may publish to a zstc SNS topic: exactly this stack's alarms and rules that target it.

`enforce_ssl=True` gives a topic an AWS::SNS::TopicPolicy, and that policy replaces the topic's
default one, so every AWS service that publishes needs its own Allow statement
(https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html). Each statement
names the publishing resources by ARN (aws:SourceArn), which names the account and the stack.
The matching KMS key statements are in the data stack, with the key.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.interfaces import aws_events as events_refs
from constructs import IConstruct


def _alarm_actions(alarm: cloudwatch.CfnAlarm) -> list[object]:
    """Every action of the alarm, resolved to its template form (the lists are lazy tokens)."""
    stack = cdk.Stack.of(alarm)
    actions: list[object] = []
    for listed in (alarm.alarm_actions, alarm.ok_actions, alarm.insufficient_data_actions):
        actions.extend(stack.resolve(listed) or [])
    return actions


def _alarms_notifying(topic: sns.ITopic) -> list[str]:
    """The ARNs of every alarm in the topic's stack with the topic among its actions."""
    stack = cdk.Stack.of(topic)
    topic_arn = stack.resolve(topic.topic_arn)
    arns = [
        construct.attr_arn
        for construct in stack.node.find_all()
        if isinstance(construct, cloudwatch.CfnAlarm) and topic_arn in _alarm_actions(construct)
    ]
    if not arns:
        raise ValueError(
            f"{topic.node.path}: no alarm notifies this topic; drop allow_alarms_to_publish"
        )
    return arns


@jsii.implements(cdk.IStableListProducer)
class _AlarmsNotifying:
    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def produce(self) -> list[str]:
        return _alarms_notifying(self._topic)


def allow_alarms_to_publish(topic: sns.Topic) -> None:
    """Lets CloudWatch publish to the topic for the alarms of this stack that notify it.

    The alarm list is read when the template is written, so an alarm added to the stack later,
    by any construct, is let in without touching this statement. CloudWatch alarm actions to
    SNS are authorized by the topic policy for cloudwatch.amazonaws.com
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html).
    """
    stack = cdk.Stack.of(topic)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisStacksAlarms",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnEquals": {"aws:SourceArn": cdk.Lazy.list(_AlarmsNotifying(topic))},
            },
        )
    )


@jsii.implements(events.IRuleTarget)
class EncryptedTopicTarget:
    """An EventBridge rule target publishing `message` to an encrypted topic of the same stack.

    Unlike targets.SnsTopic, the topic policy statement names the rule (aws:SourceArn), as the
    EventBridge user guide's resource-based policies do
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html), and
    no unconditioned statement is added to the key policy.
    """

    def __init__(self, topic: sns.Topic, *, message: events.RuleTargetInput) -> None:
        self._topic = topic
        self._message = message

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        construct: IConstruct = rule
        if cdk.Stack.of(construct) is not cdk.Stack.of(self._topic):
            raise ValueError(f"{construct.node.path}: the rule and the topic must share a stack")
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"AllowRule{cdk.Names.node_unique_id(construct.node)}",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.rule_ref.rule_arn}},
            )
        )
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)
