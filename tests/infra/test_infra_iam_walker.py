"""The IAM gate itself: it must catch what it is there to catch."""

from __future__ import annotations

from typing import Any

from iam_walk import STAR_RESOURCE_ACTIONS, template_findings


def _template_with(*statements: dict[str, Any], resource_type: str = "AWS::IAM::Policy") -> dict:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    if resource_type == "AWS::IAM::Role":
        properties: dict[str, Any] = {"Policies": [{"PolicyName": "p", "PolicyDocument": document}]}
    else:
        properties = {"PolicyDocument": document}
    return {"Resources": {"Thing": {"Type": resource_type, "Properties": properties}}}


def test_star_resource_on_a_scopable_action_is_a_finding() -> None:
    for resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
        template = _template_with(
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            resource_type=resource_type,
        )
        (finding,) = template_findings(template)
        assert "s3:GetObject" in str(finding)


def test_allow_listed_action_on_star_passes_and_its_condition_is_required() -> None:
    assert not template_findings(
        _template_with({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    )
    unconditioned = {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
    (finding,) = template_findings(_template_with(unconditioned))
    assert "cloudwatch:namespace" in str(finding)
    conditioned = {
        **unconditioned,
        "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
    }
    assert not template_findings(_template_with(conditioned))


def test_mixed_statement_flags_only_the_action_not_allowed_on_star() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken", "iam:PassRole"],
        "Resource": ["*"],
    }
    (finding,) = template_findings(_template_with(statement))
    assert "iam:PassRole" in str(finding)


def test_not_resource_and_scoped_statements() -> None:
    (finding,) = template_findings(
        _template_with({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::x"})
    )
    assert "NotResource" in str(finding)
    assert not template_findings(
        _template_with(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        )
    )


def test_aws_managed_policy_on_a_role_is_a_finding_except_cdk_provider_roles() -> None:
    managed = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerFullAccess"}
    ours = {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [managed]}}
    (finding,) = template_findings({"Resources": {"ModelRole": ours}})
    assert "AmazonSageMakerFullAccess" in str(finding)
    provider = {
        **ours,
        "Metadata": {
            "aws:cdk:path": "Zstc-Data/Custom::S3AutoDeleteObjectsCustomResourceProvider/Role"
        },
    }
    assert not template_findings({"Resources": {"ProviderRole": provider}})


def test_allow_list_is_short_and_every_entry_says_why() -> None:
    assert len(STAR_RESOURCE_ACTIONS) <= 12
    assert all(reason for reason, _ in STAR_RESOURCE_ACTIONS.values())
