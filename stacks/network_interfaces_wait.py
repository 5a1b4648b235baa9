"""On delete, waits until SageMaker has released its network interfaces in the zstc network.

Code and reasons in lambda/network_interfaces_wait/. The custom resource references the model
security group and the subnets, so CloudFormation deletes it before them, and deletes them only
once it has completed.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.function_logs import function_logs_and_role
from stacks.nag import acknowledge
from stacks.owned_provider import owned_provider
from stacks.python_function import python_function

WAIT_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "network_interfaces_wait"
RESOURCE_TYPE = "Custom::ModelNetworkInterfacesWait"
QUERY_INTERVAL = cdk.Duration.seconds(30)
# How long a delete may wait for SageMaker to release the interfaces (the framework allows at
# most 2 hours); after that the stack's delete fails, naming the interfaces, and a later
# destroy resumes the wait.
TOTAL_TIMEOUT = cdk.Duration.hours(1)


class ModelNetworkInterfacesWait(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        security_group: ec2.ISecurityGroup,
        subnet_ids: list[str],
        log_retention_days: int,
        log_encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group, role = function_logs_and_role(
            self,
            name="Wait",
            description="zstc network teardown: waits for SageMaker's network interfaces",
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=cdk.RemovalPolicy.DESTROY,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SeeNetworkInterfaces",
                actions=["ec2:DescribeNetworkInterfaces"],
                # EC2 Describe* actions have no resource-level permissions ("*" is required).
                resources=["*"],
            )
        )
        acknowledge(
            role,
            rule_id="AwsSolutions-IAM5[Resource::*]",
            reason="ec2:DescribeNetworkInterfaces supports no resource-level permissions; the "
            "role can only list interfaces, never change or delete one.",
        )
        functions = {
            function_id: python_function(
                self,
                function_id,
                asset_dir=WAIT_ASSET_DIR,
                handler=handler,
                description=f"zstc network teardown ({function_id}): waits for SageMaker's "
                "network interfaces",
                role=role,
                log_group=log_group,
                timeout=cdk.Duration.minutes(1),
                memory_size=128,
            )
            for function_id, handler in (
                ("OnEvent", "interfaces_wait_handler.on_event"),
                ("IsComplete", "interfaces_wait_handler.is_complete"),
            )
        }
        provider = owned_provider(
            self,
            purpose="network teardown",
            on_event=functions["OnEvent"],
            is_complete=functions["IsComplete"],
            query_interval=QUERY_INTERVAL,
            total_timeout=TOTAL_TIMEOUT,
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=cdk.RemovalPolicy.DESTROY,
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={
                "SecurityGroupId": security_group.security_group_id,
                # Referenced so that CloudFormation deletes this resource before the subnets.
                "SubnetIds": subnet_ids,
            },
        )
