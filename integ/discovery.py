"""Finds the alarms and notification topics that zstc's stacks create, from the constructs.

Alarms and topics are added as the stacks grow; the integration run covers every one of them
without a list to keep up to date. The L1 resources are what the templates hold, so an alarm or
topic made without an L2 construct is found too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import IConstruct


@dataclass(frozen=True)
class DiscoveredAlarm:
    # The construct path, for readable ids and messages.
    path: str
    alarm: cloudwatch.CfnAlarm | cloudwatch.CfnCompositeAlarm

    @property
    def alarm_name(self) -> str:
        """The deployed alarm's name (Ref of a metric or composite alarm is its name)."""
        return self.alarm.ref


@dataclass(frozen=True)
class DiscoveredTopic:
    path: str
    topic: sns.CfnTopic

    @property
    def topic_arn(self) -> str:
        return self.topic.attr_topic_arn


def _in_order(stacks: Sequence[cdk.Stack]) -> list[IConstruct]:
    return [node for stack in stacks for node in stack.node.find_all()]


def find_alarms(stacks: Sequence[cdk.Stack]) -> list[DiscoveredAlarm]:
    """Every CloudWatch alarm, metric or composite, in these stacks that notifies someone.

    SetAlarmState works on both kinds
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html).
    """
    found = []
    for node in _in_order(stacks):
        if not isinstance(node, (cloudwatch.CfnAlarm, cloudwatch.CfnCompositeAlarm)):
            continue
        # An L2 alarm's actions are a lazy list: a token until resolved, even when empty.
        if cdk.Stack.of(node).resolve(node.alarm_actions):
            found.append(DiscoveredAlarm(path=node.node.path, alarm=node))
    return found


def find_topics(stacks: Sequence[cdk.Stack]) -> list[DiscoveredTopic]:
    """Every SNS topic in these stacks."""
    return [
        DiscoveredTopic(path=node.node.path, topic=node)
        for node in _in_order(stacks)
        if isinstance(node, sns.CfnTopic)
    ]
