"""Alarms and topics added to any stack later are found without a list to update."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns

from integ.discovery import find_alarms, find_topics


def test_metric_and_composite_alarms_with_actions_are_found_and_silent_ones_are_not() -> None:
    app = cdk.App()
    first, second = cdk.Stack(app, "First"), cdk.Stack(app, "Second")
    topic = sns.Topic(first, "Topic")
    raw_topic = sns.CfnTopic(second, "RawTopic")
    metric = cloudwatch.Metric(namespace="zstc/test", metric_name="Errors")
    notifying = metric.create_alarm(first, "Notifying", threshold=1, evaluation_periods=1)
    notifying.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    metric.create_alarm(first, "Silent", threshold=1, evaluation_periods=1)
    composite = cloudwatch.CompositeAlarm(
        second,
        "Composite",
        alarm_rule=cloudwatch.AlarmRule.from_alarm(notifying, cloudwatch.AlarmState.ALARM),
    )
    composite.add_alarm_action(cloudwatch_actions.SnsAction(topic))

    found = find_alarms([first, second])
    assert [alarm.path for alarm in found] == [
        "First/Notifying/Resource",
        "Second/Composite/Resource",
    ]
    assert [topic.path for topic in find_topics([first, second])] == [
        "First/Topic/Resource",
        raw_topic.node.path,
    ]
