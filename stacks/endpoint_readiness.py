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
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.function_logs import function_logs_and_role, function_role
from stacks.nag import acknowledge

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
        mode: str = "realtime",
        async_probe: AsyncProbeLocations | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (mode == "async") != (async_probe is not None):
            raise ValueError("async_probe: required with mode 'async', and only then")
        timeout = ASYNC_READINESS_TIMEOUT if async_probe is not None else READINESS_TIMEOUT
        # The check's logs belong with the endpoint, like the endpoint's own log group.
        removal = cdk.RemovalPolicy.DESTROY
        log_group, role = function_logs_and_role(
            self,
            name="Check",
            description="zstc readiness check: describe and invoke this stack's endpoint",
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=removal,
        )
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
        code = lambda_.Code.from_asset(str(READINESS_ASSET_DIR), exclude=["__pycache__", "*.pyc"])
        functions = {
            "OnEvent": "readiness_handler.on_event",
            "IsComplete": "readiness_handler.is_complete",
        }
        built: dict[str, lambda_.Function] = {}
        for function_id, handler in functions.items():
            function = lambda_.Function(
                self,
                function_id,
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

        # The framework's onEvent starts the waiter state machine, whose isComplete task the
        # other role runs: one role for both would make the state machine depend on itself.
        framework_logs, on_event_role = function_logs_and_role(
            self,
            name="FrameworkOnEvent",
            description="zstc readiness check: the CDK provider framework's onEvent",
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=removal,
        )
        complete_role = function_role(
            self,
            name="FrameworkIsComplete",
            description="zstc readiness check: the CDK provider framework's isComplete, onTimeout",
            log_group=framework_logs,
        )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=built["OnEvent"],
            is_complete_handler=built["IsComplete"],
            query_interval=QUERY_INTERVAL,
            total_timeout=timeout.plus(PROVIDER_MARGIN),
            framework_on_event_role=on_event_role,
            framework_complete_and_timeout_role=complete_role,
            log_group=framework_logs,
            # Every step of the wait is logged by the functions above; the state machine's own
            # execution history is kept by Step Functions.
            disable_waiter_state_machine_logging=True,
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
        self._acknowledge_provider_findings(
            provider=provider,
            framework_roles=(on_event_role, complete_role),
            user_functions=tuple(built.values()),
        )

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

    def _acknowledge_provider_findings(
        self,
        *,
        provider: cr.Provider,
        framework_roles: tuple[iam.Role, ...],
        user_functions: tuple[lambda_.Function, ...],
    ) -> None:
        """What the CDK's Provider framework grants and builds, which zstc cannot narrow."""
        stack = cdk.Stack.of(self)
        invoke_reason = (
            "The CDK Provider framework grants lambda:InvokeFunction on the function and on "
            "its versions and aliases (<arn>:*); the function is the readiness check's own."
        )
        for role in framework_roles:
            for function in user_functions:
                arn = stack.resolve(function.function_arn)["Fn::GetAtt"][0]
                acknowledge(
                    role,
                    rule_id=f"AwsSolutions-IAM5[Resource::<{arn}.Arn>:*]",
                    reason=invoke_reason,
                )
        waiter = provider.node.find_child("waiter-state-machine")
        for function_id in ("framework-isComplete", "framework-onTimeout"):
            framework_function = provider.node.find_child(function_id)
            assert isinstance(framework_function, lambda_.Function)
            arn = stack.resolve(framework_function.function_arn)["Fn::GetAtt"][0]
            acknowledge(
                waiter,
                rule_id=f"AwsSolutions-IAM5[Resource::<{arn}.Arn>:*]",
                reason=invoke_reason,
            )
        acknowledge(
            waiter,
            rule_id="AwsSolutions-SF1",
            reason="The CDK Provider framework's waiter only polls isComplete; each poll's "
            "outcome is logged by the readiness check's functions in their own log group.",
        )
        acknowledge(
            waiter,
            rule_id="AwsSolutions-SF2",
            reason="The CDK Provider framework offers no X-Ray tracing for its waiter state "
            "machine; it runs only while a deployment waits for the endpoint.",
        )
