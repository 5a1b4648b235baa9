"""The created VPC: isolated subnets, no route out, the endpoints SageMaker needs, flow logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cfn_resolve import resolve
from infra_synth import SynthesizedApp, resources_of_type, synth, vpc_create

from stacks.config import load_config
from stacks.network_stack import NetworkStack

INTERFACE_SERVICES = {
    "ecr.api",
    "ecr.dkr",
    "logs",
    "sts",
    "sagemaker.api",
    "sagemaker.runtime",
}


@pytest.fixture(scope="module")
def vpc_app(tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(vpc_create(tiny_nli_model_dir))


def _network(app: SynthesizedApp) -> tuple[Template, dict[str, Any]]:
    assert app.stacks.network is not None
    return app.template(app.stacks.network), app.templates[app.stacks.network.stack_name]


def test_subnets_are_isolated_in_two_zones_with_no_way_to_the_internet(
    vpc_app: SynthesizedApp,
) -> None:
    template, raw = _network(vpc_app)
    subnets = resources_of_type(raw, "AWS::EC2::Subnet").values()
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    routes = resources_of_type(raw, "AWS::EC2::Route")
    assert not routes, "isolated subnets have no default route"


def test_s3_gateway_and_the_interface_endpoints_sagemaker_needs(vpc_app: SynthesizedApp) -> None:
    _, raw = _network(vpc_app)
    endpoints = resources_of_type(raw, "AWS::EC2::VPCEndpoint").values()
    services = {
        resolve(e["Properties"]["ServiceName"], template=raw, region="eu-west-1").removeprefix(
            "com.amazonaws.eu-west-1."
        ): e["Properties"]
        for e in endpoints
    }
    assert set(services) == INTERFACE_SERVICES | {"s3"}
    assert services["s3"]["VpcEndpointType"] == "Gateway"
    for name in INTERFACE_SERVICES:
        assert services[name]["VpcEndpointType"] == "Interface"
        assert services[name]["PrivateDnsEnabled"] is True


def test_endpoints_admit_https_only_from_the_model_security_group(
    vpc_app: SynthesizedApp,
) -> None:
    template, raw = _network(vpc_app)
    groups = resources_of_type(raw, "AWS::EC2::SecurityGroup")
    (model_group_id,) = [
        logical_id
        for logical_id, group in groups.items()
        if group["Properties"]["GroupDescription"].startswith("zstc SageMaker models")
    ]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": {"Fn::GetAtt": [model_group_id, "GroupId"]},
        },
    )
    for group in groups.values():
        assert "SecurityGroupIngress" not in group["Properties"]
    model_group = groups[model_group_id]["Properties"]
    assert model_group["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to S3 and the AWS service endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(vpc_app: SynthesizedApp) -> None:
    template, raw = _network(vpc_app)
    # The flow log's group (the teardown wait's functions have groups of their own).
    (log_group_id,) = [
        logical_id
        for logical_id, group in resources_of_type(raw, "AWS::Logs::LogGroup").items()
        if "FlowLog" in group.get("Metadata", {}).get("aws:cdk:path", "")
    ]
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "RetentionInDays": 30,
                "KmsKeyId": {"Fn::ImportValue": Match.string_like_regexp("DataKey")},
            },
            "DeletionPolicy": "Delete",
        },
    )
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": {"Ref": log_group_id},
        },
    )


def test_existing_vpc_is_looked_up_and_gets_only_a_security_group() -> None:
    # Vpc.from_lookup needs an account and region; without cached context the CDK uses a
    # placeholder VPC, which is enough to check what zstc adds to someone else's network.
    config = load_config({"vpc": "vpc-0123456789abcdef0", "model_weights": "package"})
    app = cdk.App()
    stack = NetworkStack(
        app,
        "Existing-Network",
        config=config,
        env=cdk.Environment(account="111122223333", region="eu-west-1"),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    template.resource_count_is("AWS::EC2::FlowLog", 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("^zstc SageMaker models")},
    )
    assert stack.subnet_ids, "private subnets of the looked-up VPC are selected"
