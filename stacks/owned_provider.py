"""A CDK custom resource Provider whose every function logs to a log group its stack owns.

The Provider framework adds Node.js functions (onEvent, and with an isComplete handler also
isComplete and onTimeout) and a Step Functions waiter. Left to itself each function logs to
`/aws/lambda/<function name>`, a group Lambda creates on first use that no stack owns, so it
outlives `cdk destroy` with no retention. Here the framework functions get one log group of
this stack (with retention, encryption and the stack's removal) and roles that may write only
there, and the user functions get theirs from the caller.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.function_logs import function_logs_and_role, function_role
from stacks.nag import acknowledge


def owned_provider(
    scope: Construct,
    *,
    purpose: str,
    on_event: lambda_.Function,
    is_complete: lambda_.Function | None,
    log_retention_days: int,
    log_encryption_key: kms.IKey | None,
    removal: cdk.RemovalPolicy,
    query_interval: cdk.Duration | None = None,
    total_timeout: cdk.Duration | None = None,
) -> cr.Provider:
    """A Provider (onEvent, and isComplete when given) with stack-owned logs and roles."""
    # The framework's onEvent starts the waiter state machine, whose isComplete task the other
    # role runs: one role for both would make the state machine depend on itself.
    framework_logs, on_event_role = function_logs_and_role(
        scope,
        name="FrameworkOnEvent",
        description=f"zstc {purpose}: the CDK provider framework's onEvent",
        log_retention_days=log_retention_days,
        log_encryption_key=log_encryption_key,
        removal=removal,
    )
    if is_complete is None:
        provider = cr.Provider(
            scope,
            "Provider",
            on_event_handler=on_event,
            framework_on_event_role=on_event_role,
            log_group=framework_logs,
        )
        _acknowledge_provider_findings(
            scope,
            provider=provider,
            framework_roles=(on_event_role,),
            user_functions=(on_event,),
        )
        return provider
    complete_role = function_role(
        scope,
        name="FrameworkIsComplete",
        description=f"zstc {purpose}: the CDK provider framework's isComplete, onTimeout",
        log_group=framework_logs,
    )
    provider = cr.Provider(
        scope,
        "Provider",
        on_event_handler=on_event,
        is_complete_handler=is_complete,
        query_interval=query_interval,
        total_timeout=total_timeout,
        framework_on_event_role=on_event_role,
        framework_complete_and_timeout_role=complete_role,
        log_group=framework_logs,
        # Every step is logged by the user functions; Step Functions keeps the execution history.
        disable_waiter_state_machine_logging=True,
    )
    _acknowledge_provider_findings(
        scope,
        provider=provider,
        framework_roles=(on_event_role, complete_role),
        user_functions=(on_event, is_complete),
    )
    return provider


def _acknowledge_provider_findings(
    scope: Construct,
    *,
    provider: cr.Provider,
    framework_roles: tuple[iam.Role, ...],
    user_functions: tuple[lambda_.Function, ...],
) -> None:
    """What the CDK's Provider framework grants and builds, which zstc cannot narrow."""
    stack = cdk.Stack.of(scope)
    invoke_reason = (
        "The CDK Provider framework grants lambda:InvokeFunction on the function and on "
        "its versions and aliases (<arn>:*); the function is this custom resource's own."
    )
    for role in framework_roles:
        for function in user_functions:
            arn = stack.resolve(function.function_arn)["Fn::GetAtt"][0]
            acknowledge(
                role, rule_id=f"AwsSolutions-IAM5[Resource::<{arn}.Arn>:*]", reason=invoke_reason
            )
    waiter = provider.node.try_find_child("waiter-state-machine")
    if waiter is None:
        return
    for function_id in ("framework-isComplete", "framework-onTimeout"):
        framework_function = provider.node.find_child(function_id)
        assert isinstance(framework_function, lambda_.Function)
        arn = stack.resolve(framework_function.function_arn)["Fn::GetAtt"][0]
        acknowledge(
            waiter, rule_id=f"AwsSolutions-IAM5[Resource::<{arn}.Arn>:*]", reason=invoke_reason
        )
    acknowledge(
        waiter,
        rule_id="AwsSolutions-SF1",
        reason="The CDK Provider framework's waiter only polls isComplete; each poll's "
        "outcome is logged by the custom resource's functions in their own log group.",
    )
    acknowledge(
        waiter,
        rule_id="AwsSolutions-SF2",
        reason="The CDK Provider framework offers no X-Ray tracing for its waiter state "
        "machine; it runs only while a deployment waits.",
    )
