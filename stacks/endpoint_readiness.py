"""The deploy-time readiness check: `cdk deploy` does not succeed unless the endpoint classifies.

A custom resource, run by the CDK Provider framework after the endpoint is InService, sends a
tiny classification request and waits until the answer is correct, for at most
READINESS_TIMEOUT; otherwise the resource fails and CloudFormation rolls the deployment back.
Its properties name the endpoint config and the model, so any change to either runs it again.
The Lambda code is in lambda/endpoint_readiness/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.log_retention import retention
from stacks.nag import acknowledge
from stacks.owned_provider import owned_provider
from stacks.python_function import python_function

READINESS_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "endpoint_readiness"
# How long after the endpoint is InService the model may take to answer: the hub download of
# bart-large-mnli plus loading, with a wide margin (README, "Model load time").
READINESS_TIMEOUT = cdk.Duration.minutes(20)
# An async endpoint may first scale out of zero: two one-minute periods of the
# HasBacklogWithoutCapacity alarm, an instance start, then the same model load.
ASYNC_READINESS_TIMEOUT = cdk.Duration.minutes(40)
# The framework's own limit comes later, so the check's failure (which names the endpoint's
# last answer) is the one CloudFormation reports, not a bare "Operation timed out".
PROVIDER_MARGIN = cdk.Duration.minutes(5)
PROVIDER_TOTAL_TIMEOUT = READINESS_TIMEOUT.plus(PROVIDER_MARGIN)
QUERY_INTERVAL = cdk.Duration.seconds(30)
# One probe: InvokeEndpoint may take up to SageMaker's 60-second real-time limit.
FUNCTION_TIMEOUT = cdk.Duration.minutes(2)
RESOURCE_TYPE = "Custom::EndpointReadiness"
# Lambda function names are at most 64 characters.
MAX_FUNCTION_NAME = 64


def readiness_function_name(stack_name: str, function_id: str) -> str:
    """The check's function names: fixed, so the framework's "Logs:" line names their group."""
    name = f"{stack_name}-Readiness{function_id}"
    if len(name) > MAX_FUNCTION_NAME:
        raise ValueError(f"stack name {stack_name!r} is too long for function name {name!r}")
    return name


@dataclass(frozen=True, kw_only=True)
class AsyncProbeLocations:
    """Where the async probe puts its request, and where the endpoint writes answers."""

    bucket: s3.IBucket
    # The fixed export name of the bucket's ARN, which cdk-nag's finding ids show.
    bucket_export_name: str
    key: kms.IKey
    inputs_prefix: str
    outputs_prefix: str
    failures_prefix: str

    @property
    def probe_prefix(self) -> str:
        return f"{self.inputs_prefix}readiness/"


class EndpointReadinessCheck(Construct):
    """Waits, at deploy time, until the endpoint answers a classification request correctly."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        endpoint_name: str,
        endpoint_config_name: str,
        model_name: str,
        log_retention_days: int,
        log_encryption_key: kms.IKey | None,
        endpoint_log_group: logs.ILogGroup | None = None,
        mode: str = "realtime",
        async_probe: AsyncProbeLocations | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (mode == "async") != (async_probe is not None):
            raise ValueError("async_probe: required with mode 'async', and only then")
        timeout = ASYNC_READINESS_TIMEOUT if async_probe is not None else READINESS_TIMEOUT
        stack = cdk.Stack.of(self)
        # The check's logs belong with the endpoint, like the endpoint's own log group.
        removal = cdk.RemovalPolicy.DESTROY
        role = iam.Role(
            self,
            "CheckRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="zstc readiness check: describe and invoke this stack's endpoint",
        )
        if endpoint_log_group is not None:
            # A failure quotes the container's last log lines (readiness_check.py explains why).
            endpoint_log_group.grant(role, "logs:FilterLogEvents")
        invoke = "sagemaker:InvokeEndpointAsync" if async_probe else "sagemaker:InvokeEndpoint"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProbeThisEndpoint",
                actions=["sagemaker:DescribeEndpoint", invoke],
                # Ref of AWS::SageMaker::Endpoint is the endpoint's ARN.
                resources=[endpoint.ref],
            )
        )
        async_properties: dict[str, str] = {}
        if async_probe is not None:
            # The probe's request goes under this stack's inputs prefix; the answer is read
            # back from the outputs and failures prefixes the endpoint config names.
            # Exactly the calls readiness_check.probe_async makes, and no wildcard actions.
            bucket = async_probe.bucket
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="WriteAndReadTheProbe",
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{async_probe.probe_prefix}*")],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadTheAnswer",
                    actions=["s3:GetObject"],
                    resources=[
                        bucket.arn_for_objects(f"{async_probe.outputs_prefix}*"),
                        bucket.arn_for_objects(f"{async_probe.failures_prefix}*"),
                    ],
                )
            )
            # Without ListBucket, S3 answers a missing object with 403 instead of 404 (NoSuchKey),
            # and the check could not tell "no answer yet" from "not allowed".
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="TellMissingFromDenied",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={
                        "StringLike": {
                            "s3:prefix": [
                                f"{async_probe.probe_prefix}*",
                                f"{async_probe.outputs_prefix}*",
                                f"{async_probe.failures_prefix}*",
                            ]
                        }
                    },
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="UseDataKeyForTheProbe",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[async_probe.key.key_arn],
                )
            )
            self._acknowledge_probe_findings(role=role, async_probe=async_probe)
            async_properties = {
                "ProbeBucket": async_probe.bucket.bucket_name,
                "ProbeInputPrefix": async_probe.probe_prefix,
            }
        functions = {
            "OnEvent": "readiness_handler.on_event",
            "IsComplete": "readiness_handler.is_complete",
        }
        built: dict[str, lambda_.Function] = {}
        for function_id, handler in functions.items():
            # When a function fails, the CDK Provider framework adds "Logs: /aws/lambda/<function
            # name>" to the reason CloudFormation shows (provider-framework/runtime/framework.js,
            # invokeUserFunction). A named function logging to exactly that group keeps the line
            # true, and the group is still this stack's, with retention.
            function_name = readiness_function_name(stack.stack_name, function_id)
            log_group = logs.LogGroup(
                self,
                f"{function_id}Logs",
                log_group_name=f"/aws/lambda/{function_name}",
                retention=retention(log_retention_days),
                encryption_key=log_encryption_key,
                removal_policy=removal,
            )
            log_group.grant_write(role)
            environment = (
                {"ENDPOINT_LOG_GROUP": endpoint_log_group.log_group_name}
                if endpoint_log_group is not None
                else {}
            )
            built[function_id] = python_function(
                self,
                function_id,
                asset_dir=READINESS_ASSET_DIR,
                handler=handler,
                function_name=function_name,
                environment=environment,
                description=f"zstc readiness check ({function_id}) of endpoint {endpoint_name}",
                role=role,
                log_group=log_group,
                timeout=FUNCTION_TIMEOUT,
                memory_size=256,
            )

        provider = owned_provider(
            self,
            purpose="readiness check",
            on_event=built["OnEvent"],
            is_complete=built["IsComplete"],
            query_interval=QUERY_INTERVAL,
            total_timeout=timeout.plus(PROVIDER_MARGIN),
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=removal,
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={
                "EndpointName": endpoint_name,
                "EndpointConfigName": endpoint_config_name,
                "ModelName": model_name,
                "EndpointMode": mode,
                "TimeoutSeconds": str(timeout.to_seconds()),
                **async_properties,
            },
        )
        self.resource.node.add_dependency(endpoint)

    def _acknowledge_probe_findings(
        self, *, role: iam.IRole, async_probe: AsyncProbeLocations
    ) -> None:
        """The async probe's objects are named per request and per answer, under its prefixes."""
        export = async_probe.bucket_export_name
        for prefix in (
            async_probe.probe_prefix,
            async_probe.outputs_prefix,
            async_probe.failures_prefix,
        ):
            acknowledge(
                role,
                rule_id=f"AwsSolutions-IAM5[Resource::{export}/{prefix}*]",
                reason=f"The probe's objects under {prefix} are named per CloudFormation request "
                "and per answer, at run time; the prefix is this stack's own.",
            )
