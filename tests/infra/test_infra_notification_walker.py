"""The notification walker itself: it must catch a publisher that its target would refuse."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from infra_synth import DEFAULT, synth
from notification_walk import notification_findings


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    return synth(DEFAULT).templates


def _resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def _statements_for(resource: dict[str, Any], document: str, service: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in resource["Properties"][document]["Statement"]
        if isinstance(statement.get("Principal"), dict)
        and statement["Principal"].get("Service") == service
    ]


def test_the_real_templates_pass(templates: dict[str, dict[str, Any]]) -> None:
    assert not notification_findings(templates)


def test_any_new_alarm_on_a_topic_must_be_let_in(templates: dict[str, dict[str, Any]]) -> None:
    # An alarm added without the topic policy naming it: CloudWatch would be refused.
    changed = copy.deepcopy(templates)
    endpoint = changed["Zstc-Endpoint"]
    (topic_id,) = _resources_of(endpoint, "AWS::SNS::Topic")
    (_, alarm), *_ = _resources_of(endpoint, "AWS::CloudWatch::Alarm").items()
    endpoint["Resources"]["AnotherAlarm"] = copy.deepcopy(alarm)
    (finding,) = notification_findings(changed)
    assert "AnotherAlarm" in str(finding) and topic_id in str(finding)
    assert "aws:SourceArn" in finding.problem


def test_rule_statement_without_the_rule_arn_is_refused(
    templates: dict[str, dict[str, Any]],
) -> None:
    changed = copy.deepcopy(templates)
    (policy,) = _resources_of(changed["Zstc-Batch"], "AWS::SNS::TopicPolicy").values()
    for statement in _statements_for(policy, "PolicyDocument", "events.amazonaws.com"):
        del statement["Condition"]
    findings = notification_findings(changed)
    assert [f for f in findings if "events.amazonaws.com" in f.publisher]


def test_source_conditions_on_the_eventbridge_key_statement_are_refused(
    templates: dict[str, dict[str, Any]],
) -> None:
    # The SNS guide: aws:SourceAccount is not supported for EventBridge to encrypted topics.
    changed = copy.deepcopy(templates)
    (key,) = _resources_of(changed["Zstc-Data"], "AWS::KMS::Key").values()
    for statement in _statements_for(key, "KeyPolicy", "events.amazonaws.com"):
        statement["Condition"]["StringEquals"] = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (finding,) = notification_findings(changed)
    assert "not supported for EventBridge" in finding.problem


def test_a_conditioned_s3_key_statement_is_refused(templates: dict[str, dict[str, Any]]) -> None:
    changed = copy.deepcopy(templates)
    (key,) = _resources_of(changed["Zstc-Data"], "AWS::KMS::Key").values()
    for statement in _statements_for(key, "KeyPolicy", "s3.amazonaws.com"):
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    findings = notification_findings(changed)
    assert findings and all("documented one" in f.problem for f in findings)


def test_an_alarm_key_statement_without_source_conditions_is_refused(
    templates: dict[str, dict[str, Any]],
) -> None:
    changed = copy.deepcopy(templates)
    (key,) = _resources_of(changed["Zstc-Data"], "AWS::KMS::Key").values()
    for statement in _statements_for(key, "KeyPolicy", "cloudwatch.amazonaws.com"):
        del statement["Condition"]["ArnLike"]
    findings = notification_findings(changed)
    assert findings and all("cloudwatch.amazonaws.com" in f.publisher for f in findings)
