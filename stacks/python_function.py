"""The one way zstc builds a Python Lambda function: its own code folder, a role and log group
that the caller owns, JSON logs, and the runtime pinned on purpose."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_12


def python_function(
    scope: Construct,
    function_id: str,
    *,
    asset_dir: Path,
    handler: str,
    description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: cdk.Duration,
    memory_size: int,
    function_name: str | None = None,
    environment: dict[str, str] | None = None,
) -> lambda_.Function:
    """A function running `handler` from the modules in asset_dir (no package: Lambda imports
    them as top-level modules, so every code folder names its modules apart)."""
    function = lambda_.Function(
        scope,
        function_id,
        function_name=function_name,
        description=description,
        runtime=RUNTIME,
        handler=handler,
        code=lambda_.Code.from_asset(str(asset_dir), exclude=["__pycache__", "*.pyc"]),
        role=role,
        timeout=timeout,
        memory_size=memory_size,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment=environment,
    )
    # Its permissions must be in place before anything invokes it.
    function.node.add_dependency(role)
    acknowledge(
        function,
        rule_id="AwsSolutions-L1",
        reason="Pinned to Python 3.12, the Python of the inference container and of the "
        "test suite; a runtime upgrade is a deliberate, tested change.",
    )
    return function
