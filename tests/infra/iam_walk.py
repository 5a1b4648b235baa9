"""Walks every IAM policy in a CloudFormation template and reports what breaks least privilege.

Checked: AWS::IAM::Policy, AWS::IAM::ManagedPolicy and the inline Policies and ManagedPolicyArns
of AWS::IAM::Role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Actions that AWS only authorizes on Resource "*" (no resource-level permissions), with why
# zstc needs each, and the condition key that must narrow it where one exists.
STAR_RESOURCE_ACTIONS: dict[str, tuple[str, str | None]] = {
    "ecr:GetAuthorizationToken": ("registry login token before pulling the image", None),
    "cloudwatch:PutMetricData": (
        "SageMaker and the trigger publish metrics",
        "cloudwatch:namespace",
    ),
    # SageMaker describes the VPC to attach model containers (VPC mode only).
    "ec2:DescribeDhcpOptions": ("VPC attachment of model containers", None),
    "ec2:DescribeNetworkInterfaces": ("VPC attachment of model containers", None),
    "ec2:DescribeSecurityGroups": ("VPC attachment of model containers", None),
    "ec2:DescribeSubnets": ("VPC attachment of model containers", None),
    "ec2:DescribeVpcs": ("VPC attachment of model containers", None),
    # Lambda active tracing writes segments, which have no resource ARN.
    "xray:PutTraceSegments": ("Lambda X-Ray tracing", None),
    "xray:PutTelemetryRecords": ("Lambda X-Ray tracing", None),
}

# Roles that aws-cdk-lib itself creates for its singleton custom-resource providers, with the
# AWS managed logs-only policy it attaches; zstc cannot change them. Matched on aws:cdk:path.
CDK_PROVIDER_ROLE_PATHS: dict[str, str] = {
    "/Custom::S3AutoDeleteObjectsCustomResourceProvider/": (
        "empties the buckets on cdk destroy (removal_policy=destroy)"
    ),
    "/BucketNotificationsHandler": "sets the data bucket's event notifications",
}

_AWS_MANAGED_POLICY = re.compile(r"(^|:)iam::aws:policy/")


@dataclass(frozen=True)
class Finding:
    logical_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.logical_id}: {self.problem}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, properties["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for inline in properties.get("Policies", []):
                yield logical_id, inline["PolicyDocument"]


def _flatten_managed_arn(arn: Any) -> str:
    """Managed policy ARNs are strings or Fn::Join / Fn::Sub of strings and pseudo parameters."""
    if isinstance(arn, str):
        return arn
    if isinstance(arn, dict):
        if "Fn::Join" in arn:
            separator, parts = arn["Fn::Join"]
            return separator.join(_flatten_managed_arn(part) for part in parts)
        if "Fn::Sub" in arn:
            return str(_as_list(arn["Fn::Sub"])[0])
        if "Ref" in arn:
            return f"<{arn['Ref']}>"
    return str(arn)


def _is_cdk_provider_role(resource: dict[str, Any]) -> bool:
    path = resource.get("Metadata", {}).get("aws:cdk:path", "")
    return any(marker in path for marker in CDK_PROVIDER_ROLE_PATHS)


def statement_findings(logical_id: str, statement: dict[str, Any]) -> list[Finding]:
    if statement.get("Effect") != "Allow":
        return []
    findings = []
    if "NotResource" in statement or "NotAction" in statement:
        findings.append(Finding(logical_id, f"Allow with NotResource/NotAction: {statement}"))
        return findings
    resources = _as_list(statement.get("Resource", []))
    if "*" not in resources:
        return findings
    conditions = statement.get("Condition", {})
    condition_keys = {key for operator in conditions.values() for key in operator}
    for action in _as_list(statement.get("Action", [])):
        allowed = STAR_RESOURCE_ACTIONS.get(action)
        if allowed is None:
            findings.append(Finding(logical_id, f'{action} on Resource "*" is not allowed'))
            continue
        _, required_condition = allowed
        if required_condition is not None and required_condition not in condition_keys:
            findings.append(
                Finding(logical_id, f'{action} on "*" needs a {required_condition} condition')
            )
    return findings


def template_findings(template: dict[str, Any]) -> list[Finding]:
    """Every least-privilege problem in the template's IAM policies and roles."""
    findings = []
    for logical_id, document in _policy_documents(template):
        for statement in _as_list(document.get("Statement", [])):
            findings.extend(statement_findings(logical_id, statement))
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::IAM::Role" or _is_cdk_provider_role(resource):
            continue
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            flat = _flatten_managed_arn(arn)
            if _AWS_MANAGED_POLICY.search(flat):
                findings.append(Finding(logical_id, f"AWS managed policy attached: {flat}"))
    return findings
