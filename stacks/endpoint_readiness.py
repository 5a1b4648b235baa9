"""The deploy-time readiness check: `cdk deploy` does not succeed unless the endpoint classifies.

A custom resource, run by the CDK Provider framework after the endpoint is InService, sends a
tiny classification request and waits until the answer is correct, for at most
READINESS_TIMEOUT; otherwise the resource fails and CloudFormation rolls the deployment back.
Its properties name the endpoint config and the model, so any change to either runs it again.
The Lambda code is in lambda/endpoint_readiness/.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.log_retention import retention
from stacks.nag import acknowledge
from stacks.owned_provider import owned_provider

READINESS_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "endpoint_readiness"
# How long after the endpoint is InService the model may take to answer: the hub download of
# bart-large-mnli plus loading, with a wide margin (README, "Model load time").
READINESS_TIMEOUT = cdk.Duration.minutes(20)
# The framework's own limit comes later, so the check's failure (which names the endpoint's
# last answer) is the one CloudFormation reports, not a bare "Operation timed out".
PROVIDER_TOTAL_TIMEOUT = READINESS_TIMEOUT.plus(cdk.Duration.minutes(5))
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
    ) -> None:
        super().__init__(scope, construct_id)
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
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProbeThisEndpoint",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                # Ref of AWS::SageMaker::Endpoint is the endpoint's ARN.
                resources=[endpoint.ref],
            )
        )
        code = lambda_.Code.from_asset(str(READINESS_ASSET_DIR), exclude=["__pycache__", "*.pyc"])
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
            function = lambda_.Function(
                self,
                function_id,
                function_name=function_name,
                environment=environment,
                description=f"zstc readiness check ({function_id}) of endpoint {endpoint_name}",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler=handler,
                code=code,
                role=role,
                timeout=FUNCTION_TIMEOUT,
                memory_size=256,
                log_group=log_group,
                logging_format=lambda_.LoggingFormat.JSON,
            )
            # Its permissions must be in place before the custom resource runs it.
            function.node.add_dependency(role)
            acknowledge(
                function,
                rule_id="AwsSolutions-L1",
                reason="Pinned to Python 3.12, the Python of the inference container and of the "
                "test suite; a runtime upgrade is a deliberate, tested change.",
            )
            built[function_id] = function

        provider = owned_provider(
            self,
            purpose="readiness check",
            on_event=built["OnEvent"],
            is_complete=built["IsComplete"],
            query_interval=QUERY_INTERVAL,
            total_timeout=PROVIDER_TOTAL_TIMEOUT,
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
                "TimeoutSeconds": str(READINESS_TIMEOUT.to_seconds()),
            },
        )
        self.resource.node.add_dependency(endpoint)
