"""Walks every AWS service publisher in the app's templates and checks that it can publish.

moto and cfn-lint do not evaluate resource policies or key policies, so nothing else notices a
topic that CloudWatch may not publish to. For every publisher found in a template:

- each alarm action (AlarmActions, OKActions, InsufficientDataActions) naming an SNS topic;
- each EventBridge rule target that is an SNS topic;
- each S3 bucket notification (Custom::S3BucketNotifications) to an SQS queue;

the target's resource policy (AWS::SNS::TopicPolicy / AWS::SQS::QueuePolicy) must allow that
service principal to publish, with an aws:SourceArn condition naming exactly this publisher (its
ARN comes from this account and this stack), and the KMS key the target is encrypted with must
allow the principal too, with the conditions AWS documents for that path:

- cloudwatch.amazonaws.com: aws:SourceAccount and an aws:SourceArn that covers the alarm
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility
  between event sources from AWS services and encrypted topics");
- events.amazonaws.com to a topic: no aws:SourceAccount, aws:SourceArn or aws:SourceOrgID, which
  the same page says are not supported for EventBridge-to-encrypted-topic delivery; the
  kms:EncryptionContext:aws:sns:topicArn condition must cover the topic instead;
- s3.amazonaws.com to a queue: exactly the statement the S3 and SQS guides document
  (kms:GenerateDataKey and kms:Decrypt, no condition;
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).

A key given by ARN (kms_key=<arn>) belongs to its owner; its policy is not in any template, and
the batch stack warns about what it must allow.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cfn_resolve import resolve

# Stand-ins for the deploy account and region when a key policy pattern is checked against
# the ARN CloudFormation will give a resource.
SAMPLE_ACCOUNT = "111122223333"
SAMPLE_REGION = "eu-west-1"
# CloudFormation names a resource without an explicit name <stack name>-<logical id>-<suffix>
# (see the Fn::GetAtt Arn examples of AWS::CloudWatch::Alarm and the Ref examples of
# AWS::SNS::Topic in the CloudFormation template reference).
GENERATED_SUFFIX = "A1B2C3D4E5F6"
_UNSUPPORTED_FOR_EVENTBRIDGE_TO_SNS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID")
_ALARM_ACTION_LISTS = ("AlarmActions", "OKActions", "InsufficientDataActions")
ACCOUNT_REF = {"Ref": "AWS::AccountId"}


@dataclass(frozen=True)
class Finding:
    stack: str
    publisher: str
    problem: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.publisher}: {self.problem}"


@dataclass(frozen=True)
class Publisher:
    """An AWS service that publishes to a topic or queue of the same template."""

    stack: str
    source_id: str
    principal: str
    target_id: str
    target_type: str  # "AWS::SNS::Topic" or "AWS::SQS::Queue"
    # What aws:SourceArn must name in the target's resource policy.
    source_arn: Any

    @property
    def action(self) -> str:
        return "sns:Publish" if self.target_type == "AWS::SNS::Topic" else "sqs:SendMessage"

    @property
    def label(self) -> str:
        return f"{self.principal} from {self.source_id} to {self.target_id}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _local_target(template: dict[str, Any], reference: Any) -> tuple[str, str] | None:
    """(logical id, type) of the topic or queue a Ref / Fn::GetAtt Arn names in the template."""
    if not isinstance(reference, dict):
        return None
    if "Ref" in reference:
        logical_id = reference["Ref"]
    elif "Fn::GetAtt" in reference and reference["Fn::GetAtt"][1] == "Arn":
        logical_id = reference["Fn::GetAtt"][0]
    else:
        return None
    resource = template.get("Resources", {}).get(logical_id)
    if resource is None or resource["Type"] not in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
        return None
    return logical_id, resource["Type"]


def _import_names(value: Any) -> set[str]:
    """Every Fn::ImportValue name inside an expression."""
    text = json.dumps(value)
    found = set()
    for chunk in text.split('{"Fn::ImportValue": ')[1:]:
        found.add(json.loads(chunk[: chunk.index("}")]))
    return found


def publishers(stack: str, template: dict[str, Any]) -> Iterator[Publisher]:
    resources = template.get("Resources", {})
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for list_name in _ALARM_ACTION_LISTS:
                for action in properties.get(list_name, []):
                    target = _local_target(template, action)
                    if target is not None:
                        yield Publisher(
                            stack,
                            logical_id,
                            "cloudwatch.amazonaws.com",
                            *target,
                            {"Fn::GetAtt": [logical_id, "Arn"]},
                        )
        elif resource["Type"] == "AWS::Events::Rule":
            for rule_target in properties.get("Targets", []):
                target = _local_target(template, rule_target["Arn"])
                if target is not None:
                    yield Publisher(
                        stack,
                        logical_id,
                        "events.amazonaws.com",
                        *target,
                        {"Fn::GetAtt": [logical_id, "Arn"]},
                    )
        elif resource["Type"] == "Custom::S3BucketNotifications":
            bucket = properties["BucketName"]
            if isinstance(bucket, dict) and "Ref" in bucket:
                bucket_arn: Any = {"Fn::GetAtt": [bucket["Ref"], "Arn"]}
            else:
                (import_name,) = _import_names(bucket)
                bucket_arn = {"Fn::ImportValue": import_name}
            configuration = properties.get("NotificationConfiguration", {})
            for queue_configuration in configuration.get("QueueConfigurations", []):
                target = _local_target(template, queue_configuration["QueueArn"])
                if target is not None:
                    yield Publisher(stack, logical_id, "s3.amazonaws.com", *target, bucket_arn)


def _services(statement: dict[str, Any]) -> list[Any]:
    principal = statement.get("Principal", {})
    return _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []


def _allows(statement: dict[str, Any], principal: str, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    services = _services(statement)
    actions = _as_list(statement.get("Action", []))
    return principal in services and any(fnmatch.fnmatchcase(action, a) for a in actions)


def _condition_values(statement: dict[str, Any], key: str, operators: tuple[str, ...]) -> list:
    conditions = statement.get("Condition", {})
    return [
        value
        for operator in operators
        for value in _as_list(conditions.get(operator, {}).get(key, []))
    ]


def _resource_policy_findings(template: dict[str, Any], publisher: Publisher) -> list[str]:
    policy_type, list_key = (
        ("AWS::SNS::TopicPolicy", "Topics")
        if publisher.target_type == "AWS::SNS::Topic"
        else ("AWS::SQS::QueuePolicy", "Queues")
    )
    target_ref = {"Ref": publisher.target_id}
    statements = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == policy_type and target_ref in resource["Properties"][list_key]
        for statement in _as_list(resource["Properties"]["PolicyDocument"]["Statement"])
        if _allows(statement, publisher.principal, publisher.action)
    ]
    if not statements:
        return [f"the {policy_type} does not allow {publisher.principal} {publisher.action}"]
    for statement in statements:
        source_arns = _condition_values(statement, "aws:SourceArn", ("ArnEquals", "ArnLike"))
        if publisher.source_arn not in source_arns:
            continue
        if publisher.principal != "events.amazonaws.com":
            # The SNS and S3 guides pair aws:SourceArn with aws:SourceAccount for these.
            accounts = _condition_values(statement, "aws:SourceAccount", ("StringEquals",))
            if ACCOUNT_REF not in accounts:
                continue
        return []
    return [
        f"no {policy_type} statement for {publisher.principal} names this source "
        f"(aws:SourceArn {publisher.source_arn}) and account"
    ]


def _key_of(
    templates: dict[str, dict[str, Any]], stack: str, key_reference: Any
) -> tuple[str, dict[str, Any]] | None:
    """(stack, key resource) a KmsMasterKeyId names; None for a key given by ARN."""
    if isinstance(key_reference, str):
        return None
    if "Fn::ImportValue" in key_reference:
        export_name = key_reference["Fn::ImportValue"]
        for other_stack, other in templates.items():
            for output in other.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == export_name:
                    key_id = output["Value"]["Fn::GetAtt"][0]
                    return other_stack, other["Resources"][key_id]
        raise AssertionError(f"{stack}: no stack exports {export_name}")
    key_id = key_reference.get("Ref") or key_reference["Fn::GetAtt"][0]
    return stack, templates[stack]["Resources"][key_id]


def _generated_arn(publisher: Publisher, resource: dict[str, Any], kind: str) -> str:
    """The ARN CloudFormation gives an alarm ("alarm") or topic ("topic") of this stack."""
    logical_id = publisher.source_id if kind == "alarm" else publisher.target_id
    name_property = "AlarmName" if kind == "alarm" else "TopicName"
    name = resource.get("Properties", {}).get(
        name_property, f"{publisher.stack}-{logical_id}-{GENERATED_SUFFIX}"
    )
    if kind == "alarm":
        return f"arn:aws:cloudwatch:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:alarm:{name}"
    return f"arn:aws:sns:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:{name}"


def _covers(patterns: list[Any], template: dict[str, Any], arn: str) -> bool:
    for pattern in patterns:
        try:
            text = resolve(pattern, template=template, region=SAMPLE_REGION, account=SAMPLE_ACCOUNT)
        except ValueError:
            continue
        if isinstance(text, str) and fnmatch.fnmatchcase(arn, text):
            return True
    return False


def _key_statement_problem(
    statement: dict[str, Any],
    publisher: Publisher,
    key_template: dict[str, Any],
    templates: dict[str, dict[str, Any]],
) -> str | None:
    """Why this key statement does not let the publisher in as AWS documents; None if it does."""
    own = templates[publisher.stack]["Resources"]
    conditions = statement.get("Condition", {})
    condition_keys = {key for operator in conditions.values() for key in operator}
    actions = set(_as_list(statement["Action"]))
    if publisher.principal == "s3.amazonaws.com":
        if actions != {"kms:GenerateDataKey", "kms:Decrypt"} or conditions:
            return (
                "the key statement for s3.amazonaws.com must be the documented one: "
                "kms:GenerateDataKey and kms:Decrypt, no condition"
            )
        return None
    if publisher.principal == "events.amazonaws.com":
        unsupported = condition_keys & set(_UNSUPPORTED_FOR_EVENTBRIDGE_TO_SNS)
        if unsupported:
            return f"{sorted(unsupported)} are not supported for EventBridge to encrypted topics"
        topic_arn = _generated_arn(publisher, own[publisher.target_id], "topic")
        contexts = _condition_values(
            statement, "kms:EncryptionContext:aws:sns:topicArn", ("ArnLike", "ArnEquals")
        )
        if not _covers(contexts, key_template, topic_arn):
            return f"no kms:EncryptionContext:aws:sns:topicArn condition covers {topic_arn}"
        return None
    accounts = _condition_values(statement, "aws:SourceAccount", ("StringEquals",))
    alarm_arn = _generated_arn(publisher, own[publisher.source_id], "alarm")
    source_arns = _condition_values(statement, "aws:SourceArn", ("ArnLike", "ArnEquals"))
    if ACCOUNT_REF not in accounts or not _covers(source_arns, key_template, alarm_arn):
        return f"aws:SourceAccount and an aws:SourceArn covering {alarm_arn} are required"
    return None


def _key_policy_findings(templates: dict[str, dict[str, Any]], publisher: Publisher) -> list[str]:
    target = templates[publisher.stack]["Resources"][publisher.target_id]
    key_reference = target["Properties"].get("KmsMasterKeyId")
    if key_reference is None:
        return ["the target is not encrypted with a customer managed key"]
    located = _key_of(templates, publisher.stack, key_reference)
    if located is None:
        return []
    key_stack, key = located
    key_template = templates[key_stack]
    statements = [
        statement
        for statement in _as_list(key["Properties"]["KeyPolicy"]["Statement"])
        if statement.get("Effect") == "Allow" and publisher.principal in _services(statement)
    ]
    wanted = ("kms:Decrypt", "kms:GenerateDataKey")
    usable = [
        s
        for s in statements
        if all(any(fnmatch.fnmatchcase(a, g) for g in _as_list(s["Action"])) for a in wanted)
    ]
    if not usable:
        return [f"the key policy does not allow {publisher.principal} {' and '.join(wanted)}"]
    problems = [_key_statement_problem(s, publisher, key_template, templates) for s in usable]
    if any(problem is None for problem in problems):
        return []
    return [f"key policy: {problem}" for problem in problems if problem]


def notification_findings(templates: dict[str, dict[str, Any]]) -> list[Finding]:
    """Every publisher in the app that its target's policies would refuse."""
    findings = []
    for stack, template in templates.items():
        for publisher in publishers(stack, template):
            problems = _resource_policy_findings(template, publisher)
            problems += _key_policy_findings(templates, publisher)
            findings += [Finding(stack, publisher.label, problem) for problem in problems]
    return findings


def publishers_in(templates: dict[str, dict[str, Any]]) -> list[Publisher]:
    return [p for stack, template in templates.items() for p in publishers(stack, template)]
