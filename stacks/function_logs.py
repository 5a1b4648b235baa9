"""A Lambda function's own log group and execution role, shared by every zstc function."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.log_retention import retention


def function_logs_and_role(
    scope: Construct,
    *,
    name: str,
    description: str,
    log_retention_days: int,
    log_encryption_key: kms.IKey | None,
    removal: cdk.RemovalPolicy,
) -> tuple[logs.LogGroup, iam.Role]:
    """A log group (with retention, under the data key's log key when there is one) and a role
    that may write to it and to nothing else yet.

    Our own role: the CDK's default one carries the AWSLambdaBasicExecutionRole managed policy,
    which may write to any log group.
    """
    log_group = logs.LogGroup(
        scope,
        f"{name}Logs",
        retention=retention(log_retention_days),
        encryption_key=log_encryption_key,
        removal_policy=removal,
    )
    return log_group, function_role(scope, name=name, description=description, log_group=log_group)


def function_role(
    scope: Construct, *, name: str, description: str, log_group: logs.ILogGroup
) -> iam.Role:
    """A Lambda execution role that may write to this one log group."""
    role = iam.Role(
        scope,
        f"{name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    log_group.grant_write(role)
    return role


# aws-cdk-lib's singleton provider behind `auto_delete_objects=True` (one per stack).
S3_AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


def own_cdk_provider_logs(
    stack: cdk.Stack,
    *,
    provider_id: str,
    log_retention_days: int,
    log_encryption_key: kms.IKey | None,
) -> logs.LogGroup | None:
    """Sends the logs of an aws-cdk-lib singleton provider's function to a group this stack owns.

    Left alone, such a function logs to /aws/lambda/<function name>, which Lambda creates on
    first use and no stack owns: it has no retention and outlives `cdk destroy`. The function
    is a plain CfnResource, so its LoggingConfig is set by property override
    (AWS::Lambda::Function LoggingConfig.LogGroup). The reference also orders the deletion:
    the custom resource, which runs the function one last time, goes first, then the function,
    then its log group. Its role keeps aws-cdk-lib's AWSLambdaBasicExecutionRole, which may
    write to any group. Returns None when the stack has no such provider.
    """
    provider = stack.node.try_find_child(provider_id)
    if provider is None:
        return None
    handler = provider.node.find_child("Handler")
    assert isinstance(handler, cdk.CfnResource)
    log_group = logs.LogGroup(
        stack,
        "AutoDeleteProviderLogs",
        retention=retention(log_retention_days),
        encryption_key=log_encryption_key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    handler.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
    return log_group
