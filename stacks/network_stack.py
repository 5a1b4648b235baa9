"""The optional network for SageMaker models: a new isolated VPC, or an existing one.

vpc=create builds two isolated subnets with no NAT and no internet gateway. Everything the models
and the trigger reach goes through VPC endpoints: S3 (gateway) for the model artifact and the
batch data; ECR api/dkr for the image; CloudWatch Logs; STS; SageMaker API and runtime for
clients inside the VPC.

vpc=<vpc id> imports an existing VPC with Vpc.from_lookup. That lookup is the one thing in zstc
that needs AWS credentials at synth time (the result is cached in cdk.context.json). The VPC must
already give its private subnets a way to S3 (gateway endpoint or NAT): zstc creates no endpoints
there, because a second interface endpoint with private DNS for the same service fails to create.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import ZstcConfig
from stacks.log_retention import retention
from stacks.network_interfaces_wait import ModelNetworkInterfacesWait

# The interface endpoints a SageMaker model and its callers need inside an isolated VPC.
INTERFACE_ENDPOINT_SERVICES: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
}
AVAILABILITY_ZONES = 2
HTTPS = ec2.Port.tcp(443)


class NetworkStack(cdk.Stack):
    """The VPC, subnets and security group that SageMaker models run in."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        log_encryption_key: kms.IKey | None = None,
        env: cdk.Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="zstc network: VPC, subnets and endpoints for SageMaker models",
        )
        existing_vpc_id = config.existing_vpc_id
        if existing_vpc_id is not None:
            self.vpc: ec2.IVpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=existing_vpc_id)
            # Prefer subnets with a route out (NAT), else isolated ones; never public subnets.
            subnet_type = (
                ec2.SubnetType.PRIVATE_WITH_EGRESS
                if self.vpc.private_subnets
                else ec2.SubnetType.PRIVATE_ISOLATED
            )
            self.subnets = ec2.SubnetSelection(subnet_type=subnet_type)
        else:
            self.vpc = self._create_vpc(config=config, log_encryption_key=log_encryption_key)
            self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.subnet_ids: list[str] = self.vpc.select_subnets(
            subnet_type=self.subnets.subnet_type
        ).subnet_ids

        self.security_group: ec2.ISecurityGroup = ec2.SecurityGroup(
            self,
            "ModelSecurityGroup",
            vpc=self.vpc,
            description="zstc SageMaker models: no inbound, HTTPS out to AWS endpoints only",
            allow_all_outbound=False,
        )
        # In the created VPC there is no internet gateway or NAT, so HTTPS can only reach the VPC
        # endpoints; the S3 gateway endpoint serves S3's public address ranges, which is why the
        # destination cannot be narrowed to the VPC CIDR.
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), HTTPS, "HTTPS to S3 and the AWS service endpoints"
        )
        if existing_vpc_id is None:
            self._add_endpoints(vpc=self.vpc)
        # Deleted first on destroy: waits until SageMaker released the models' interfaces,
        # so the security group and subnets can go (cloudformation-coverage-roadmap#1327).
        self.interfaces_wait = ModelNetworkInterfacesWait(
            self,
            "ModelInterfacesWait",
            security_group=self.security_group,
            subnet_ids=self.subnet_ids,
            log_retention_days=config.log_retention_days,
            log_encryption_key=log_encryption_key,
        )

    def _create_vpc(self, *, config: ZstcConfig, log_encryption_key: kms.IKey | None) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=AVAILABILITY_ZONES,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            # Closing the default security group needs a custom-resource Lambda; nothing in zstc
            # uses the default group.
            restrict_default_security_group=False,
        )
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            retention=retention(config.log_retention_days),
            encryption_key=log_encryption_key,
            removal_policy=removal,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    def _add_endpoints(self, *, vpc: ec2.IVpc) -> None:
        """S3 gateway endpoint and the interface endpoints, reachable only from the models."""
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[isolated]
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="zstc VPC interface endpoints: HTTPS from the zstc model security group",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            self.security_group, HTTPS, "HTTPS from zstc SageMaker models"
        )
        for endpoint_id, service in INTERFACE_ENDPOINT_SERVICES.items():
            vpc.add_interface_endpoint(
                endpoint_id,
                service=service,
                subnets=isolated,
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                open=False,
            )
